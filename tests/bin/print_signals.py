"""Test child: says `ready pid=P pgid=G ppid=Q`, then prints each signal number it gets.

Catches every signal it can except SIGCHLD.  With --exit-on N it exits 0 after signal N.
"""

import os
import select
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
# Waiting in signal.pause() would lose the wake-up of a signal that lands after the last
# handler ran but before pause() blocks; the wakeup fd gets a byte for it either way.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
os.write(1, f"ready pid={os.getpid()} pgid={os.getpgrp()} ppid={os.getppid()}\n".encode())
while True:
    select.select([wake_r], [], [])  # handlers run as it returns
    os.read(wake_r, 512)
