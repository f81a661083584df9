"""Properties of the configuration loader: whatever the file and the environment hold, load()
returns a Config or raises a ConfigError whose every problem (and warning) is one line
saying where it is; never another exception, never unbounded time.

In-process on config.load (a fork per example would cost 100 times more); the same inputs
through a fresh interpreter are in tests/integration/test_config_hostile.py.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from initsup import config, model
from initsup.config import programs
from initsup.errors import ConfigError

_GENERAL = (
    "no programs to supervise",
    "the command given after -- is empty",
)
_KEYS = sorted(
    {
        *programs.PROGRAM_KEYS,
        *programs.LISTENER_KEYS,
        "programs",
        "files",
        "log_format",
        "loglevel",
        "identifier",
        "file",
        "chmod",
        "comand",
    }
)
_TITLES = [
    "program:a",
    "program:b",
    "eventlistener:l",
    "group:g",
    "include",
    "supervisord",
    "initsup",
    "unix_http_server",
    "fcgi-program:f",
    "mystery",
]
# Characters that matter to the reader and the converters, and some that should not.
_CHARACTERS = [*"%()sdx01289 ,=:;#\"'\\\n\t\0/.*?[]-_aAzZ", "\u00b2", "\u00e9"]
_ALPHABET = st.sampled_from(_CHARACTERS)
_SAMPLES = [
    "%(program_name)s",
    "%(process_num)02d",
    "%(ENV_HOME)s",
    "%(here)s/x",
    "%(program_name)300000000000s",
    "/dev/zero",
    "true",
    "999999999999",
    "-1",
    "1e999",
    "nan",
    "syslog",
    "sh -c 'echo hi'",
    'A=1,B="two words"',
]
_VALUES = st.one_of(
    st.text(_ALPHABET, max_size=40), st.text(max_size=20), st.sampled_from(_SAMPLES)
)
# No environment variable can hold a NUL: drawn without one rather than filtered.
_ENV_VALUES = st.one_of(
    st.text(st.sampled_from([c for c in _CHARACTERS if c != "\0"]), max_size=40),
    st.text(st.characters(blacklist_characters="\0"), max_size=20),
    st.sampled_from(_SAMPLES),
)
_NAMES = st.sampled_from(["a", "b", "x", "web", "a b", "a:b", "", "É", "_"])


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """One directory for every example's files (module scope: Hypothesis reruns the body)."""
    with tempfile.TemporaryDirectory(prefix="initsup-fuzz-config-") as name:
        yield Path(name)


def _check_outcome(path: str | None, environ: dict[str, str]) -> None:
    """load() gives a Config or a ConfigError, every line of which is well formed."""
    start = time.monotonic()
    try:
        loaded, warnings = config.load(path, environ)
    except ConfigError as exc:
        assert exc.problems
        lines, warnings = exc.problems, exc.warnings
    else:
        assert isinstance(loaded, model.Config)
        lines = []
    assert time.monotonic() - start < 10
    for line in [*lines, *warnings]:
        assert isinstance(line, str) and line
        assert "\n" not in line and "\r" not in line, line
        assert (
            (path is not None and line.startswith(path))
            or line.startswith("INITSUP_")
            or line.startswith(_GENERAL)
            # an included file's own name: an absolute path (/dev/zero, a glob's match)
            or (path is not None and line.startswith("/") and ": " in line)
        ), line


@given(text=st.text(max_size=400))
def test_any_text_as_a_file(workdir: Path, text: str) -> None:
    """Arbitrary text (surrogates aside: a file holds UTF-8) as the configuration file."""
    path = workdir / "any.ini"
    path.write_text(text, encoding="utf-8", errors="replace")
    _check_outcome(str(path), {})


@given(
    sections=st.lists(
        st.tuples(
            st.sampled_from(_TITLES),
            st.lists(st.tuples(st.sampled_from(_KEYS), _VALUES), max_size=5),
        ),
        max_size=4,
    )
)
def test_structured_files(workdir: Path, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
    """Real sections and keys with hostile values, continuation lines included."""
    lines = []
    for title, options in sections:
        lines.append(f"[{title}]")
        lines.extend(f"{key} = {value}" for key, value in options)
    path = workdir / "structured.ini"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="replace")
    _check_outcome(str(path), {"HOME": "/root"})


@given(key=st.sampled_from(_KEYS), value=_VALUES)
def test_any_value_for_any_program_key(workdir: Path, key: str, value: str) -> None:
    """Every converter: a valid program plus one key with an arbitrary value."""
    path = workdir / "value.ini"
    text = f"[program:a]\ncommand=sh -c true\n{key}={value}\n"
    path.write_text(text, encoding="utf-8", errors="replace")
    _check_outcome(str(path), {})


@given(
    environ=st.dictionaries(
        st.builds(
            lambda kind, name, option: f"INITSUP_{kind}{name}{option}",
            st.sampled_from(["PROGRAM_", "EVENTLISTENER_", "GROUP_", "", "LOG_FORMAT", "X_"]),
            _NAMES,
            st.sampled_from(["", "__COMMAND", "__NUMPROCS", "__PROCESS_NAME", "__EVENTS"])
            | st.builds(lambda k: "__" + k.upper(), st.sampled_from(_KEYS)),
        ),
        _ENV_VALUES,
        max_size=6,
    )
)
def test_any_initsup_environment(environ: dict[str, str]) -> None:
    """INITSUP_* variables alone: programs, options, globals, unknown ones."""
    _check_outcome(None, environ)
