#!/usr/bin/python3
"""A screen reader's view of the desktop, for tests/src/e2e/window_screen_reader.rs.

Reads the accessibility tree over AT-SPI (libatspi's GObject bindings, Debian's
gir1.2-atspi-2.0 and python3-gi) on the session bus named by DBUS_SESSION_BUS_ADDRESS, and
records the events a screen reader acts on: announcements (`object:announcement`), focus
changes, names changed. Answers one command per line on stdin with one JSON line on stdout:

- `tree`: every application's windows (frames), each with its nodes in document order:
  `{"apps": [{"app": name, "frames": [{"role", "name", "active", "nodes": [{"role", "name",
  "focused"}]}]}]}` (`active`: the window has the keyboard focus);
- `events`: the events recorded since the last `events`, then forgets them:
  `{"events": [{"type", "role", "name", "text"}]}`.
"""

import json
import sys

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, GLib  # noqa: E402

EVENTS = [
    "object:announcement",
    "object:state-changed:focused",
    "object:property-change:accessible-name",
]

recorded = []


def describe(accessible):
    try:
        return accessible.get_role_name(), accessible.get_name()
    except GLib.Error:
        return "", ""


def on_event(event):
    role, name = describe(event.source)
    if event.type.startswith("object:state-changed:focused") and not event.detail1:
        return
    text = event.any_data if isinstance(event.any_data, str) else ""
    recorded.append({"type": event.type, "role": role, "name": name, "text": text})


def nodes(accessible, out):
    try:
        count = accessible.get_child_count()
    except GLib.Error:
        return
    for index in range(count):
        child = accessible.get_child_at_index(index)
        if child is None:
            continue
        role, name = describe(child)
        try:
            focused = child.get_state_set().contains(Atspi.StateType.FOCUSED)
        except GLib.Error:
            focused = False
        out.append({"role": role, "name": name, "focused": focused})
        nodes(child, out)


def tree():
    desktop = Atspi.get_desktop(0)
    apps = []
    for index in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(index)
        if app is None:
            continue
        app.clear_cache()
        frames = []
        for frame_index in range(app.get_child_count()):
            frame = app.get_child_at_index(frame_index)
            if frame is None:
                continue
            found = []
            nodes(frame, found)
            try:
                active = frame.get_state_set().contains(Atspi.StateType.ACTIVE)
            except GLib.Error:
                active = False
            role, name = describe(frame)
            frames.append({"role": role, "name": name, "active": active, "nodes": found})
        apps.append({"app": describe(app)[1], "frames": frames})
    return {"apps": apps}


def on_command(source, condition):
    global recorded
    line = sys.stdin.readline()
    if not line:
        loop.quit()
        return False
    command = line.strip()
    if command == "tree":
        answer = tree()
    elif command == "events":
        answer = {"events": recorded}
        recorded = []
    else:
        answer = {"error": "unknown command " + command}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return True


Atspi.init()
listener = Atspi.EventListener.new(on_event)
for kind in EVENTS:
    listener.register(kind)
loop = GLib.MainLoop()
GLib.io_add_watch(sys.stdin, GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_command)
sys.stdout.write(json.dumps({"ready": True}) + "\n")
sys.stdout.flush()
loop.run()
