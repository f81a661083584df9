"""The standard modules supervisor mode needs, which a minimal Python may lack.

Debian's python3-minimal (and images built on it) has no shlex, json or ctypes.
Single-command mode needs none of them; supervisor mode and `initsup check` need shlex
(commands and environment= are split like a shell) and json (the records, `check
--json`).  Without this check the first missing import surfaced as a configuration
error, which sends the user to a file that is fine.
"""

from __future__ import annotations

import sys

SUPERVISOR_MODULES = ("json", "shlex")
# Not 2 (a usage or configuration error): the configuration may be fine; the image is not.
EXIT_MISSING_MODULES = 3


def missing(names: tuple[str, ...]) -> list[str]:
    """The names that cannot be imported, found without importing them (start-up time)."""
    result = []
    for name in names:
        if name in sys.modules:
            if sys.modules[name] is None:  # import blocked on purpose: `import` would fail
                result.append(name)
            continue
        if not any(_finds(finder, name) for finder in sys.meta_path):
            result.append(name)
    return result


def _finds(finder: object, name: str) -> bool:
    find_spec = getattr(finder, "find_spec", None)
    if find_spec is None:
        return False
    try:
        return find_spec(name, None) is not None
    except Exception:  # a broken finder on the path finds nothing; the import would say more
        return False


def message(names: list[str]) -> str:
    """What to tell the user: which modules, which Python, what to install."""
    plural = "s" if len(names) > 1 else ""
    version = ".".join(str(part) for part in sys.version_info[:3])
    return (
        f"initsup: supervisor mode needs the Python module{plural} {', '.join(names)},"
        f" which this Python ({sys.executable or 'python'} {version}) does not have:"
        " install the full Python (Debian, Ubuntu: apt-get install python3;"
        " python3-minimal is not enough; Alpine: apk add python3)."
        " Single-command mode (initsup -- COMMAND) works without them.\n"
    )


def check() -> int:
    """0, or after saying on stderr which modules supervisor mode lacks, its exit code."""
    names = missing(SUPERVISOR_MODULES)
    if not names:
        return 0
    sys.stderr.write(message(names))
    return EXIT_MISSING_MODULES
