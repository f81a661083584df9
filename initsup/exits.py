"""What a wait status means: decoded once per exit, in every form initsup reports it.

A reaped child's status is read four ways, and each has its reader: supervisord's
`exitstatus` (the exit code, or -1 when a signal ended it) is what `exitcodes=` compares;
the shell's code (the exit code, or 128 + the signal) is what initsup exits with and what
records carry as `exit_code`; the signal's name goes in records as `signal`; and the
words ("exit status 3", "terminated by SIGKILL") are supervisord's, in log lines.  One
decoder keeps those four from ever telling different stories about one exit.  Whether the
end dumped core rides along: the give-up policy (`max_tries_if_coredumped`) counts it and
records and alerts report it.
"""

from __future__ import annotations

import os

from initsup.signals import signal_name


class Exit:
    """How one process ended, in each form initsup reports it."""

    __slots__ = ("code", "core_dumped", "exitstatus", "signum", "words")

    def __init__(
        self, code: int, exitstatus: int, signum: int, words: str, core_dumped: bool = False
    ) -> None:
        self.code = code  # the shell's: the exit code, or 128 + the signal
        self.exitstatus = exitstatus  # supervisord's: the exit code, or -1 for a signal
        self.signum = signum  # the signal that ended it, or 0 for an exit
        self.words = words  # supervisord's: "exit status 3", "terminated by SIGKILL"
        self.core_dumped = core_dumped  # the kernel wrote a core file (WCOREDUMP)

    def fields(self) -> dict[str, object]:
        """The record fields of this end: `exit_code`, `signal` when one ended it, and
        `core_dumped` only when it dumped core (ordinary ends keep their records as they
        were)."""
        if not self.signum:
            return {"exit_code": self.code}
        fields: dict[str, object] = {"exit_code": self.code, "signal": signal_name(self.signum)}
        if self.core_dumped:
            fields["core_dumped"] = True
        return fields


def decode(status: int) -> Exit:
    """Decode a raw wait status (as os.waitpid returns it)."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        dumped = os.WCOREDUMP(status)
        words = f"terminated by {signal_name(signum)}" + (" (core dumped)" if dumped else "")
        return Exit(128 + signum, -1, signum, words, dumped)
    code = os.WEXITSTATUS(status)
    return Exit(code, code, 0, f"exit status {code}")
