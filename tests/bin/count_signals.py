"""Test child: takes every signal delivery one by one and prints its number.

usage: count_signals.py [--exit CODE] [--die-on SIG]

Blocks every catchable signal but the fault signals (SIGSEGV, SIGBUS...), prints
`ready <pid>`, then takes deliveries with sigwaitinfo: one line per delivery, with its
number, in the order taken.  Nothing runs a Python handler, whose per-signal flag would
merge two deliveries of one number into one: each queued real-time signal is a line.

On SIGTERM it prints `counts {"<number>": <deliveries>, ...}` (every delivery taken,
TERM's included) and exits with CODE (0 unless --exit says otherwise).  With --die-on SIG
it does the same on SIG but then dies of SIG, for a parent to report 128+SIG.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import Counter

FAULTS = {
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGFPE,
    signal.SIGILL,
    signal.SIGABRT,
    signal.SIGTRAP,
    signal.SIGSYS,
}
UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}


def option(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def signal_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    name = text.upper() if text.upper().startswith("SIG") else "SIG" + text.upper()
    return int(getattr(signal, name))


def die_of(signum: int) -> None:
    # The delivery that asked for this has been taken: send it again, with the default
    # action back and the signal unblocked, so that it is what ends the process.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
    os._exit(99)  # reached only for a signal whose default action is to be ignored


def main() -> None:
    exit_code = int(option("--exit", "0"))
    die_on = signal_number(option("--die-on", "0")) or None
    taken = set(signal.valid_signals()) - FAULTS - UNCATCHABLE
    signal.pthread_sigmask(signal.SIG_BLOCK, taken)
    counts: Counter[int] = Counter()
    os.write(1, f"ready {os.getpid()}\n".encode())
    while True:
        signum = signal.sigwaitinfo(taken).si_signo
        counts[signum] += 1
        os.write(1, f"{signum}\n".encode())
        if signum in (signal.SIGTERM, die_on):
            os.write(1, f"counts {json.dumps(dict(counts), sort_keys=True)}\n".encode())
            if signum == die_on:
                die_of(signum)
            sys.exit(exit_code)


main()
