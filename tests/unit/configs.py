"""Helpers shared by the configuration's unit tests (test_convert, test_sources,
test_programs, test_build): write an INI file, load it, and read its problems or warnings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from initsup import model
from initsup.config import ConfigError, load

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def _commands_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands here are made up (`run`, `web`): their warning is tested in test_checks."""
    from initsup.config import checks

    monkeypatch.setattr(checks, "command", lambda argv, path: None)


NO_SUCH_USER = "initsup-no-such-user"


def write(tmp_path: Path, text: str, name: str = "supervisord.conf") -> str:
    """Write dedented INI text to tmp_path/name and return the path as a string."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def problems(
    path: str | None, environ: dict[str, str] | None = None, main: list[str] | None = None
) -> list[str]:
    """The problem lines load raises for path and environ."""
    with pytest.raises(ConfigError) as info:
        load(path, environ or {}, main)
    return info.value.problems


def program(
    tmp_path: Path, body: str, environ: dict[str, str] | None = None
) -> model.ProcessConfig:
    """The one process of a [program:web] section with body (indented keys are dedented)."""
    path = write(tmp_path, "[program:web]\n" + textwrap.dedent(body))
    cfg, _ = load(path, environ or {})
    [process] = cfg.processes()
    return process


def warnings_of(path: str | None, environ: dict[str, str] | None = None) -> list[str]:
    """The warnings load returns for path and environ."""
    return load(path, environ or {})[1]
