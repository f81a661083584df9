"""[supervisord]'s process options: read from the file, INITSUP_<OPTION> variables and the
command line (which beats both), checked at load; and what initsup does with them at
start (initsup.daemon)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from initsup import daemon
from initsup.cli import parse
from initsup.config import ConfigError, load, packing


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "supervisord.conf"
    path.write_text(text)
    return str(path)


PROGRAMS = "[program:web]\ncommand=run\n[program:db]\ncommand=run\nuser=root\n"


def test_user_is_every_programs_without_its_own(tmp_path: Path) -> None:
    path = _write(tmp_path, f"[supervisord]\nuser=nobody\n{PROGRAMS}")
    config, _ = load(path, {})
    users = {p.name: p.user for p in config.processes()}
    assert users == {"web": "nobody", "db": "root"}
    config, _ = packing.decode(packing.answer(lambda: (config, [])))  # the forked reader's
    assert config.options.user == "nobody"
    assert {p.name: p.user for p in config.processes()} == users


def test_the_command_line_beats_variables_which_beat_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, f"[supervisord]\numask=002\nuser=root\nminfds=10\n{PROGRAMS}")
    environ = {"INITSUP_UMASK": "007", "INITSUP_MINFDS": "20"}
    config, _ = load(path, environ)
    assert (config.options.umask, config.options.minfds) == (0o007, 20)
    given = parse(["-c", path, "-m", "077", "--user=nobody", "--silent"], environ)
    config, _ = load(path, environ, None, given.supervisord_options())
    options = config.options
    assert (options.umask, options.minfds, options.user, options.silent) == (
        0o077,
        20,
        "nobody",
        True,
    )
    assert {p.name: p.user for p in config.processes()} == {"web": "nobody", "db": "root"}


def test_defaults_are_supervisords_or_unchanged(tmp_path: Path) -> None:
    options = load(_write(tmp_path, PROGRAMS), {})[0].options
    assert options.umask == 0o022
    assert (options.user, options.directory, options.pidfile) == (None, None, None)
    assert (options.minfds, options.minprocs, options.silent) == (None, None, False)


def test_bad_values_are_configuration_errors(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[supervisord]\nuser=no-such-user-here\numask=999\ndirectory=/no/such/dir\n"
        f"pidfile=/no/such/dir/x.pid\nminfds=0\nminprocs=lots\nnodaemon=perhaps\n{PROGRAMS}",
    )
    with pytest.raises(ConfigError) as caught:
        load(path, {})
    problems = "\n".join(caught.value.problems)
    for key in ("user", "umask", "directory", "pidfile", "minfds", "minprocs", "nodaemon"):
        assert f"[supervisord] {key} = " in problems
    assert len(caught.value.problems) == 7


def test_e_is_a_log_level_or_an_exit_code_by_its_value() -> None:
    assert parse(["-e", "debug", "-c", "f"], {}).supervisord_options() == {"loglevel": "debug"}
    assert parse(["-e", "3", "-c", "f"], {}).supervisord_options() == {}
    assert parse(["-e", "3", "--", "x"], {}).single_options().remap_exit == frozenset({3})
    assert parse(["-n", "-k", "-t", "-c", "f"], {}).supervisord_options() == {
        "nocleanup": "true",
        "strip_ansi": "true",
    }


class _Logger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))


def test_a_pid_file_is_written_and_removed(tmp_path: Path) -> None:
    logger: Any = _Logger()
    pidfile = daemon.PidFile(str(tmp_path / "initsup.pid"), logger)
    assert (tmp_path / "initsup.pid").read_text() == f"{os.getpid()}\n"
    pidfile.close()
    assert not (tmp_path / "initsup.pid").exists()
    daemon.PidFile(str(tmp_path / "no" / "x.pid"), logger).close()
    assert logger.lines[0][0] == "warning" and "could not write pidfile" in logger.lines[0][1]


class _Limits:
    """resource's getrlimit/setrlimit on a limit held here; set fails above `ceiling`."""

    RLIM_INFINITY = -1
    RLIMIT_NOFILE = 7
    RLIMIT_NPROC = 6

    def __init__(self, soft: int, hard: int, ceiling: int) -> None:
        self.limit = (soft, hard)
        self.ceiling = ceiling

    def getrlimit(self, _: int) -> tuple[int, int]:
        return self.limit

    def setrlimit(self, _: int, limit: tuple[int, int]) -> None:
        if limit[1] > self.ceiling:
            raise ValueError("not allowed")
        self.limit = limit


def test_limits_are_raised_as_supervisord_does_or_refused_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    logger: Any = _Logger()
    fake = _Limits(soft=100, hard=500, ceiling=500)
    monkeypatch.setitem(sys.modules, "resource", fake)
    monkeypatch.setattr(daemon, "_enough_already", lambda name, least: False)  # not /proc's
    daemon._raise_limit("RLIMIT_NOFILE", 300, 1024, logger)
    assert fake.limit == (300, 500)
    daemon._raise_limit("RLIMIT_NOFILE", None, 1024, logger)  # the default: as far as it can
    assert fake.limit == (500, 500)
    with pytest.raises(daemon.Refused, match="only allow you to open 500 file descriptors"):
        daemon._raise_limit("RLIMIT_NOFILE", 600, 1024, logger)
    assert logger.lines == [
        ("info", "Increased RLIMIT_NOFILE limit to 300"),
        ("info", "Increased RLIMIT_NOFILE limit to 500"),
    ]


def test_proc_limits_answer_without_resource_when_they_can() -> None:
    """/proc/self/limits says whether a soft limit is high enough; beyond what it shows,
    `resource` decides."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        assert daemon._enough_already("RLIMIT_NOFILE", 10**12)
    else:
        assert daemon._enough_already("RLIMIT_NOFILE", soft)
        assert not daemon._enough_already("RLIMIT_NOFILE", soft + 1)
