"""Unit tests for initsup.config.sources: files, [include], INITSUP_* variables, repeats."""

from __future__ import annotations

from pathlib import Path

import pytest

from initsup import config, model
from initsup.config import find_config, load
from tests.unit.configs import (
    _commands_resolve,  # noqa: F401  (autouse: the made-up commands resolve)
    problems,
    warnings_of,
    write,
)

# -- files and includes -----------------------------------------------------------------


def test_include_relative_to_including_file(tmp_path: Path) -> None:
    """[include] files= globs are relative to the including file; here is each file's own."""
    main = write(tmp_path, "[program:a]\ncommand=a\n[include]\nfiles=conf.d/*.conf extra.ini\n")
    write(tmp_path, "[program:b]\ncommand=b %(here)s\n", "conf.d/b.conf")
    write(tmp_path, "[program:c]\ncommand=c\n", "conf.d/c.conf")
    write(tmp_path, "[program:d]\ncommand=d\n", "extra.ini")
    cfg, warnings = load(main, {})
    assert [p.name for p in cfg.processes()] == ["a", "b", "c", "d"]
    assert cfg.processes()[1].command == ["b", f"{tmp_path}/conf.d"]
    assert cfg.sources == [
        main,
        f"{tmp_path}/conf.d/b.conf",
        f"{tmp_path}/conf.d/c.conf",
        f"{tmp_path}/extra.ini",
    ]
    assert warnings == []


def test_include_recursive_with_cycle(tmp_path: Path) -> None:
    """Included files may include others; a cycle reads each file once."""
    main = write(tmp_path, "[program:a]\ncommand=a\n[include]\nfiles=one.conf\n")
    write(tmp_path, "[program:b]\ncommand=b\n[include]\nfiles=sub/two.conf\n", "one.conf")
    write(tmp_path, "[program:c]\ncommand=c\n[include]\nfiles=../*.conf\n", "sub/two.conf")
    cfg, _ = load(main, {})
    assert sorted(p.name for p in cfg.processes()) == ["a", "b", "c"]
    assert len(cfg.sources) == 3


def test_include_matching_nothing_is_fine(tmp_path: Path) -> None:
    """A pattern that matches no file is neither a problem nor a warning."""
    main = write(tmp_path, "[program:a]\ncommand=a\n[include]\nfiles=conf.d/*.conf\n")
    assert warnings_of(main) == []


def test_include_without_files_and_with_bad_expansion(tmp_path: Path) -> None:
    """[include] needs files=; its value is expanded with ENV_X and here."""
    main = write(tmp_path, "[program:a]\ncommand=a\n[include]\n")
    assert problems(main) == [f"{main}: [include] files: required"]
    main = write(tmp_path, "[program:a]\ncommand=a\n[include]\nfiles=%(ENV_CONF)s/*.conf\n")
    write(tmp_path, "[program:b]\ncommand=b\n", "elsewhere/b.conf")
    cfg, _ = load(main, {"CONF": f"{tmp_path}/elsewhere"})
    assert [p.name for p in cfg.processes()] == ["a", "b"]


def test_section_defined_in_two_files(tmp_path: Path) -> None:
    """The same section in two files is a problem naming both."""
    main = write(tmp_path, "[program:a]\ncommand=a\n[include]\nfiles=more.conf\n")
    more = write(tmp_path, "[program:a]\ncommand=b\n", "more.conf")
    assert problems(main) == [f"{more}: [program:a]: already defined in {main}"]


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    """A missing file, a line that is not key = value, and text before any section."""
    missing = str(tmp_path / "missing.conf")
    assert problems(missing) == [f"{missing}: cannot read: No such file or directory"]
    bad = write(tmp_path, "[program:a]\ncommand=a\nthis is not a key\nstartsecs=x\n")
    assert problems(bad) == [
        f"{bad}: line 3: 'this is not a key' is not `key = value`",
        f"{bad}: [program:a] startsecs = 'x':"
        " must be a non-negative number (seconds, e.g. 1 or 0.5)",
    ]
    headless = write(tmp_path, "command=a\n[program:a]\n")
    assert problems(headless) == [f"{headless}: line 1: 'command=a' comes before any [section]"]


def test_find_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """INITSUP_CONFIG first, then the first existing file of the search path, else None."""
    first = tmp_path / "initsup.ini"
    second = tmp_path / "supervisord.conf"
    monkeypatch.setattr(config, "SEARCH_PATH", (str(first), str(second)))
    assert find_config({"INITSUP_CONFIG": "/x.ini"}) == "/x.ini"
    assert find_config({}) is None
    second.write_text("")
    assert find_config({"INITSUP_CONFIG": ""}) == str(second)
    first.write_text("")
    assert find_config({}) == str(first)


def test_default_search_path() -> None:
    """initsup's own file first, then supervisord's places."""
    assert config.SEARCH_PATH == (
        "/etc/initsup.ini",
        "/etc/supervisord.conf",
        "/etc/supervisor/supervisord.conf",
    )


# -- the environment scheme ---------------------------------------------------------------


def test_programs_from_variables_only() -> None:
    """A three-program container from INITSUP_* variables alone."""
    environ = {
        "INITSUP_PROGRAM_WEB": "gunicorn app:app",
        "INITSUP_PROGRAM_WEB__PRIORITY": "10",
        "INITSUP_PROGRAM_WEB__ESSENTIAL": "true",
        "INITSUP_PROGRAM_WORKER": "celery -A app worker",
        "INITSUP_PROGRAM_WORKER__NUMPROCS": "2",
        "INITSUP_PROGRAM_WORKER__PROCESS_NAME": "%(program_name)s_%(process_num)d",
        "INITSUP_PROGRAM_WORKER__STOPWAITSECS": "30",
        "INITSUP_PROGRAM_WEB_APP__COMMAND": "node server.js",
        "INITSUP_PROGRAM_WEB_APP__STARTSECS": "0.5",
        "INITSUP_LOG_FORMAT": "text",
        "INITSUP_LOGLEVEL": "warn",
        "INITSUP_IDENTIFIER": "shop",
        "INITSUP_ENVIRONMENT": "TZ=UTC",
        "INITSUP_CONFIG": "",
        "INITSUP_SOCKET": "/run/i.sock",
        "INITSUP_KILL_PROCESS_GROUP": "1",
        "PATH": "/usr/bin",
    }
    cfg, warnings = load(None, environ)
    assert warnings == []
    assert cfg.options == model.InitOptions("text", "warning", "shop", {"TZ": "UTC"})
    assert [(g.name, g.priority) for g in cfg.groups] == [
        ("web", 10),
        ("web_app", 999),
        ("worker", 999),
    ]
    web, web_app, worker0, worker1 = cfg.processes()
    assert (web.command, web.essential, web.environment) == (
        ["gunicorn", "app:app"],
        True,
        {"TZ": "UTC"},
    )
    assert (web_app.name, web_app.command, web_app.startsecs) == (
        "web_app",
        ["node", "server.js"],
        0.5,
    )
    assert [worker0.name, worker1.name] == ["worker_0", "worker_1"]
    assert worker0.stopwaitsecs == 30.0
    assert "INITSUP_PROGRAM_WEB" in cfg.sources
    assert "INITSUP_SOCKET" not in cfg.sources


def test_variables_override_the_file(tmp_path: Path) -> None:
    """A variable wins over the file key by key; other keys keep the file's values."""
    path = write(
        tmp_path,
        "[program:web]\ncommand=old\nstartsecs=5\nstopwaitsecs=3\n[group:g]\nprograms=web\n",
    )
    environ = {
        "INITSUP_PROGRAM_WEB": "new --fast",
        "INITSUP_PROGRAM_WEB__STARTSECS": "0",
        "INITSUP_PROGRAM_API": "api",
        "INITSUP_GROUP_G__PROGRAMS": "web,api",
        "INITSUP_GROUP_G__PRIORITY": "7",
    }
    cfg, _ = load(path, environ)
    [group] = cfg.groups
    assert (group.name, group.priority) == ("g", 7)
    api, web = group.processes
    assert web.command == ["new", "--fast"]
    assert (web.startsecs, web.stopwaitsecs) == (0.0, 3.0)
    assert api.command == ["api"]


def test_plain_command_variable_wins(tmp_path: Path) -> None:
    """INITSUP_PROGRAM_X wins over INITSUP_PROGRAM_X__COMMAND when both are set."""
    environ = {"INITSUP_PROGRAM_X": "plain", "INITSUP_PROGRAM_X__COMMAND": "option"}
    assert load(None, environ)[0].processes()[0].command == ["plain"]
    assert load(None, {"INITSUP_PROGRAM_X__COMMAND": "option"})[0].processes()[0].command == [
        "option"
    ]


def test_option_variable_without_a_command() -> None:
    """An option variable for a program with no command anywhere is a problem."""
    assert problems(None, {"INITSUP_PROGRAM_GHOST__STARTSECS": "5"}) == [
        "INITSUP_PROGRAM_GHOST__STARTSECS='5': sets an option of program 'ghost', which has no"
        " command: set INITSUP_PROGRAM_GHOST=<command> or add [program:ghost] command="
    ]


def test_variable_problem_names_variable_and_value() -> None:
    """A bad value from a variable names the variable, its value and the option."""
    environ = {"INITSUP_PROGRAM_WEB": "run", "INITSUP_PROGRAM_WEB__STARTSECS": "abc"}
    [line] = problems(None, environ)
    assert line.startswith(
        "INITSUP_PROGRAM_WEB__STARTSECS='abc': startsecs must be a non-negative number"
    )
    [line] = problems(None, {"INITSUP_PROGRAM_WEB": "run", "INITSUP_LOG_FORMAT": "inherit"})
    assert line == "INITSUP_LOG_FORMAT='inherit': log_format must be json, text or raw"


def test_variable_warnings() -> None:
    """Unknown INITSUP_* variables and unknown program options from variables warn."""
    environ = {"INITSUP_PROGRAM_WEB": "run", "INITSUP_PROGRAM_WEB__COLOUR": "red", "INITSUP_X": "1"}
    assert warnings_of(None, environ) == [
        "INITSUP_X: not a variable initsup knows, ignored",
        "INITSUP_PROGRAM_WEB__COLOUR='red': colour is not an option initsup knows, ignored",
    ]


def test_malformed_variable_names() -> None:
    """A program or group variable without a name or option is a problem."""
    assert problems(None, {"INITSUP_PROGRAM_": "x", "INITSUP_GROUP_G": "a"}) == [
        "INITSUP_GROUP_G='a': expected INITSUP_GROUP_<NAME>__<OPTION>=<value>",
        "INITSUP_PROGRAM_='x': expected INITSUP_PROGRAM_<NAME>__<OPTION>=<value>"
        " or INITSUP_PROGRAM_<NAME>=<command>",
        "no programs to supervise: add a [program:NAME] section,"
        " set INITSUP_PROGRAM_<NAME>=<command>, or give a command after --",
    ]


def test_variable_values_are_expanded() -> None:
    """Values from variables get the same %(name)s expansion as the file's."""
    environ = {"INITSUP_PROGRAM_WEB": "serve --port %(ENV_PORT)s %(program_name)s", "PORT": "80"}
    assert load(None, environ)[0].processes()[0].command == ["serve", "--port", "80", "web"]


def test_duplicates_warn_with_both_lines_and_continuations_are_not_keys(tmp_path: Path) -> None:
    """A repeated key (also in a repeated section) warns; a continuation line is a value."""
    path = write(
        tmp_path,
        """\
        [program:web]
        command=run
          command = not a key
        ; command=commented
        [group:g]
        programs=web
        [program:web]
        Command=again
        """,
    )
    cfg, warnings = load(path, {})
    assert cfg.processes()[0].command == ["again"]
    assert warnings == [
        f"{path}: line 7: [program:web] appears again (first at line 1):"
        " its keys are merged into one section, as supervisord does",
        f"{path}: line 8: [program:web] command is set again (first at line 2):"
        " the last value counts, as in supervisord",
    ]


def test_a_value_with_a_lone_surrogate_is_an_error() -> None:
    """Found by tests/fuzz: INITSUP_PROGRAM_A='\\udd00' no longer reaches os.stat at load.

    A real environment holds only \\udc80-\\udcff (undecodable bytes, which pass on as they
    came); any other surrogate cannot be passed to a program.
    """
    assert problems(None, {"INITSUP_PROGRAM_A": "\udd00"}) == [
        "INITSUP_PROGRAM_A='\\udd00': command holds '\\udd00', which is no character"
    ]
    cfg, _ = load(None, {"INITSUP_PROGRAM_A": "echo \udcff"})
    assert cfg.processes()[0].command == ["echo", "\udcff"]
