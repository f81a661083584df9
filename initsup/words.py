"""Words a user writes both on the command line (or an INITSUP_* flag) and in the
configuration: boolean words and log-format names.

One table each, so that `INITSUP_KILL_PROCESS_GROUP=on` and `autostart=on` accept the same
words, and `--log-format` and `log_format=` the same names.  A module of its own, with no
imports, because single-command mode needs these words and must not pay for the
configuration package.
"""

from __future__ import annotations

# supervisord's boolean words, compared in lower case.  The order is the one the command
# line lists them in when it refuses a value.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

# How initsup writes records (its own and its programs' output) on stdout.
LOG_FORMATS = ("json", "text", "raw")
