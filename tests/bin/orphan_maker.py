"""Test child: orphans N short-lived grandchildren, then checks that all of them were reaped.

A middle process forks the grandchildren and exits at once, so they are re-parented to
the nearest subreaper or PID 1 (initsup, under test).  This process then polls /proc until
no other member of its process group is left, and exits 0, or 1 if any stayed a zombie
(listing them), after the deadline.  tini's reaping test (T3) works the same way.
With --stay it reports and then waits for a signal instead of exiting, so that the
container it runs in can be inspected from outside.
"""

import os
import signal
import sys
import time

stay = "--stay" in sys.argv
numbers = [arg for arg in sys.argv[1:] if arg != "--stay"]
count = int(numbers[0]) if numbers else 100
deadline_seconds = float(numbers[1]) if len(numbers) > 1 else 60.0


def finish(code: int) -> None:
    while stay:
        signal.pause()
    sys.exit(code)


def group_members() -> dict[int, str]:
    """Other processes in our process group, with their states."""
    members = {}
    me = os.getpid()
    group = os.getpgrp()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            members[int(name)] = fields[0]
    return members


middle = os.fork()
if middle == 0:
    for i in range(count):
        if os.fork() == 0:
            time.sleep((i % 10) / 100)  # let some of them die before the middle does
            os._exit(0)
    os._exit(0)
os.waitpid(middle, 0)

deadline = time.monotonic() + deadline_seconds
while True:
    left = group_members()
    if not left:
        print(f"all {count} orphans reaped", flush=True)
        finish(0)
    if time.monotonic() > deadline:
        zombies = sorted(pid for pid, st in left.items() if st == "Z")
        print(f"left after deadline: {len(left)}, zombies: {zombies[:20]}", flush=True)
        finish(1)
    time.sleep(0.01)
