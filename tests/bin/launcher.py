"""Test helper: sets up an unusual signal state, then execs the given command.

usage: launcher.py --ignore SIGA,SIGB --block SIGC,SIGD -- CMD ARGS...
"""

import os
import signal
import sys


def signals(names: str) -> list[int]:
    return [int(getattr(signal, n)) for n in names.split(",") if n]


args = sys.argv[1:]
split = args.index("--")
options, command = args[:split], args[split + 1 :]
for option, value in zip(options[::2], options[1::2]):
    if option == "--ignore":
        for number in signals(value):
            signal.signal(number, signal.SIG_IGN)
    elif option == "--block":
        signal.pthread_sigmask(signal.SIG_BLOCK, signals(value))
os.execvp(command[0], command)
