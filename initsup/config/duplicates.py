"""Sections and keys given twice in one INI file, which configparser merges without a word.

supervisord reads with `strict=False` too, so a repeated section is merged and a repeated
key keeps its last value; an existing file must still load, but a second `command=` or a
second `[program:web]` is usually a mistake (a pasted block, a merge), so each one is a
warning naming both lines.
"""

from __future__ import annotations

import configparser

_COMMENTS = ("#", ";")


def find(text: str, file: str) -> list[str]:
    """A warning for each section or key that repeats an earlier one in text."""
    warnings = []
    sections: dict[str, int] = {}
    keys: dict[str, int] = {}  # of the current section, every part of it
    keys_of: dict[str, dict[str, int]] = {}
    title = ""
    key_indent = -1  # indentation of the current key's line; deeper lines continue it
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENTS):
            continue
        indent = len(line) - len(line.lstrip())
        if key_indent >= 0 and indent > key_indent:
            continue  # a continuation line of the value
        key_indent = -1
        header = configparser.RawConfigParser.SECTCRE.match(stripped)
        if header is not None:
            title = header.group("header")
            first = sections.setdefault(title, number)
            if first != number:
                warnings.append(
                    f"{file}: line {number}: [{title}] appears again (first at line {first}):"
                    " its keys are merged into one section, as supervisord does"
                )
            keys = keys_of.setdefault(title, {})
            continue
        option = configparser.RawConfigParser.OPTCRE.match(stripped)
        if option is None or not title:
            continue  # configparser reports those lines itself
        key = option.group("option").strip().lower()
        key_indent = indent
        first = keys.setdefault(key, number)
        if first != number:
            warnings.append(
                f"{file}: line {number}: [{title}] {key} is set again (first at line {first}):"
                " the last value counts, as in supervisord"
            )
    return warnings
