"""What a wait status means: decoded once per exit, in every form initsup reports it.

A reaped child's status is read four ways, and each has its reader: supervisord's
`exitstatus` (the exit code, or -1 when a signal ended it) is what `exitcodes=` compares;
the shell's code (the exit code, or 128 + the signal) is what initsup exits with and what
records carry as `exit_code`; the signal's name goes in records as `signal`; and the
words ("exit status 3", "terminated by SIGKILL") are supervisord's, in log lines.  One
decoder keeps those four from ever telling different stories about one exit.
"""

from __future__ import annotations

import os

from initsup.signals import signal_name


class Exit:
    """How one process ended, in each form initsup reports it."""

    __slots__ = ("code", "exitstatus", "signum", "words")

    def __init__(self, code: int, exitstatus: int, signum: int, words: str) -> None:
        self.code = code  # the shell's: the exit code, or 128 + the signal
        self.exitstatus = exitstatus  # supervisord's: the exit code, or -1 for a signal
        self.signum = signum  # the signal that ended it, or 0 for an exit
        self.words = words  # supervisord's: "exit status 3", "terminated by SIGKILL"

    def fields(self) -> dict[str, object]:
        """The record fields of this end: `exit_code`, and `signal` when one ended it."""
        if self.signum:
            return {"exit_code": self.code, "signal": signal_name(self.signum)}
        return {"exit_code": self.code}


def decode(status: int) -> Exit:
    """Decode a raw wait status (as os.waitpid returns it)."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        core = " (core dumped)" if os.WCOREDUMP(status) else ""
        return Exit(128 + signum, -1, signum, f"terminated by {signal_name(signum)}{core}")
    code = os.WEXITSTATUS(status)
    return Exit(code, code, 0, f"exit status {code}")
