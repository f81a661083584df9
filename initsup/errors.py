"""What ends a run before it starts: a command line or a configuration initsup cannot use.

Both end initsup with exit code 2 and a message on stderr.  They live here, apart from the
command line and the configuration package, because both sides raise and catch them: the
configuration's reader (in a forked child) reports either one back to the command line.
"""

from __future__ import annotations


class UsageError(Exception):
    """The command line or an INITSUP_* variable cannot be understood."""


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds every reason, one line each.

    `warnings` are the loader's warnings about the same files: they often explain a
    problem (`comand=` is an unknown key, hence "command: required").
    """

    def __init__(self, problems: list[str], warnings: list[str] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.warnings = warnings or []
