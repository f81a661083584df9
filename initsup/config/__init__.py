"""Configuration: a supervisord-style INI file plus INITSUP_* variables, checked into a Config.

The file is read the way supervisord reads it, so an existing supervisord.conf loads
unchanged; variables add programs or override any option, key by key.  Every value is
converted once: the model holds numbers, sets and signal numbers, never text to parse
later.  Nothing partial is ever returned: every problem is collected, each as one line
naming the file (or variable), section, key and value, and all are raised together in a
ConfigError; warnings are returned next to the config.

This module is the package's two doors and stays light, because initsup's own process
imports it (to look for a file, and as the parent of reader.py): `load` imports the parts
only when called, which happens in the forked reader (reader.py), so configparser and
shlex never enter the supervisor's own process.

The parts, bottom up: limits.py (bounds), convert.py (text -> value), sources.py (files,
[include], variables -> raw values that know where they were set), programs.py and
build.py (raw sections -> model), checks.py and duplicates.py (what a run would trip over;
keys given twice), packing.py and reader.py (the forked reader and its answer).
"""

from __future__ import annotations

import os

from initsup.errors import ConfigError

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Mapping

    from initsup.model import Config

__all__ = ["ConfigError", "find_config", "load"]

# Where initsup looks when neither -c nor INITSUP_CONFIG names a file: its own file first,
# then the places supervisord's own search ends at.
SEARCH_PATH = ("/etc/initsup.ini", "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf")


def find_config(environ: Mapping[str, str]) -> str | None:
    """INITSUP_CONFIG if set; else the first existing file of SEARCH_PATH; else None."""
    path = environ.get("INITSUP_CONFIG")
    if path:
        return path
    for candidate in SEARCH_PATH:
        if os.path.exists(candidate):
            return candidate
    return None


def load(
    path: str | None,
    environ: Mapping[str, str],
    main_command: list[str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> tuple[Config, list[str]]:
    """Read path (None: variables only) and environ; return (config, warnings) or raise.

    overrides: [supervisord] keys given on the command line, which beat both.
    """
    from initsup.config import build

    return build.load(path, environ, main_command, overrides)
