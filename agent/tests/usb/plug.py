#!/usr/bin/python3
"""Plugs and unplugs the simulated REAL key while `sesame-agent key-status --watch` runs.

Run by agent/tests/key_usb.rs as `umockdev-wrapper /usr/bin/python3 plug.py AGENT USB_DIR`
(Debian's python3 with python3-gi and gir1.2-umockdev-1.0). The testbed starts with the root hub;
the watcher must print: no key, key, no key, key, as the reader is added, removed and added again.
Exits 0 when it did, 1 with the lines seen otherwise.
"""

import os
import queue
import subprocess
import sys
import threading

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

TIMEOUT_S = 60
ABSENT = "Aucune clé REAL branchée"
PRESENT = "Clé REAL branchée (08e6:3437 bus 1 port 1-1)"


def main():
    agent, usb_dir = sys.argv[1], sys.argv[2]

    def read(name):
        with open(os.path.join(usb_dir, name), encoding="utf-8") as f:
            return f.read()

    testbed = UMockdev.Testbed.new()
    if not testbed.add_from_string(read("root-hub.umockdev")):
        sys.exit("cannot add the root hub")
    reader = read("gemalto-ccid-reader.umockdev")
    sysfs = "/sys" + reader.splitlines()[0].removeprefix("P: ")

    watch = subprocess.Popen(
        [agent, "key-status", "--watch", "--poll-ms", "200"],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.rstrip("\n")) for l in watch.stdout], daemon=True).start()
    seen = []

    def expect(text):
        try:
            line = lines.get(timeout=TIMEOUT_S)
        except queue.Empty:
            line = "(nothing within %d s)" % TIMEOUT_S
        seen.append(line)
        print(line, flush=True)
        if line != text:
            watch.kill()
            sys.exit("expected %r, saw %r" % (text, seen))

    def plug():
        if not testbed.add_from_string(reader):
            sys.exit("cannot add the reader")
        testbed.uevent(sysfs, "add")

    def unplug():
        testbed.uevent(sysfs, "remove")
        testbed.remove_device(sysfs)

    expect(ABSENT)
    plug()
    expect(PRESENT)
    unplug()
    expect(ABSENT)
    plug()
    expect(PRESENT)
    watch.terminate()
    watch.wait(timeout=TIMEOUT_S)


if __name__ == "__main__":
    main()
