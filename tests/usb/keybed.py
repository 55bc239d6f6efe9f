#!/usr/bin/python3
"""A simulated USB bus for the end-to-end tests: runs a command (the agent service) on a umockdev
testbed holding a root hub, and plugs or unplugs the simulated clé REAL (a CCID smart-card reader)
while it runs, so that the agent's real rusb code sees the key come and go.

Run as `umockdev-wrapper /usr/bin/python3 keybed.py USB_DIR` (Debian's python3 with python3-gi and
gir1.2-umockdev-1.0; USB_DIR holds root-hub.umockdev and gemalto-ccid-reader.umockdev). Reads one
command per line on standard input and answers one line on standard output:

    start {"argv": [...], "env": {...}, "log": "/path"}   -> started PID
    kill                                                 -> killed   (SIGKILL, like kill -9)
    stop                                                 -> stopped CODE   (SIGTERM, then wait)
    plug | unplug                                        -> plugged | unplugged
    exit                                                 -> (kills the command, exits)
"""

import json
import os
import signal
import subprocess
import sys

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402


def main():
    usb_dir = sys.argv[1]

    def read(name):
        with open(os.path.join(usb_dir, name), encoding="utf-8") as f:
            return f.read()

    testbed = UMockdev.Testbed.new()
    if not testbed.add_from_string(read("root-hub.umockdev")):
        sys.exit("cannot add the root hub")
    reader = read("gemalto-ccid-reader.umockdev")
    sysfs = "/sys" + reader.splitlines()[0].removeprefix("P: ")
    child = None
    plugged = False

    def answer(text):
        print(text, flush=True)

    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "start":
            spec = json.loads(argument)
            env = dict(os.environ)
            env["UMOCKDEV_DIR"] = testbed.get_root_dir()
            env.update(spec.get("env", {}))
            log = open(spec["log"], "ab")
            child = subprocess.Popen(spec["argv"], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            answer("started %d" % child.pid)
        elif command == "kill":
            if child is not None:
                child.send_signal(signal.SIGKILL)
                child.wait()
            answer("killed")
        elif command == "stop":
            code = None
            if child is not None:
                child.send_signal(signal.SIGTERM)
                code = child.wait(timeout=60)
            answer("stopped %s" % code)
        elif command == "plug":
            if not plugged:
                if not testbed.add_from_string(reader):
                    sys.exit("cannot add the reader")
                testbed.uevent(sysfs, "add")
                plugged = True
            answer("plugged")
        elif command == "unplug":
            if plugged:
                testbed.uevent(sysfs, "remove")
                testbed.remove_device(sysfs)
                plugged = False
            answer("unplugged")
        elif command == "exit":
            break
        else:
            answer("unknown command %r" % command)
    if child is not None and child.poll() is None:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main()
