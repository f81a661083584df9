"""Test child: says `ready pid=P pgid=G ppid=Q`, then prints each signal number it gets.

Catches every signal it can except SIGCHLD.  With --exit-on N it exits 0 after signal N.
"""

import os
import signal
import sys

exit_on = int(sys.argv[sys.argv.index("--exit-on") + 1]) if "--exit-on" in sys.argv else None


def report(signum: int, frame: object) -> None:
    os.write(1, f"{signum}\n".encode())
    if signum == exit_on:
        os._exit(0)


for number in signal.valid_signals():
    if number not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
        signal.signal(number, report)
os.write(1, f"ready pid={os.getpid()} pgid={os.getpgrp()} ppid={os.getppid()}\n".encode())
while True:
    signal.pause()
