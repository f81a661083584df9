"""Unit tests for initsup.config: converters, expansion, files, groups, variables, messages."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from initsup import config, model
from initsup.config import (
    ConfigError,
    _autorestart,
    _boolean,
    _byte_size,
    _command,
    _count,
    _directory,
    _environment,
    _exitcodes,
    _expand,
    _integer,
    _log_format,
    _logfile,
    _loglevel,
    _name,
    _numprocs,
    _seconds,
    _signal,
    _signals,
    _umask,
    _user,
    find_config,
    load,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def _commands_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands here are made up (`run`, `web`): their warning is tested in test_checks."""
    from initsup import checks

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


# -- converters --------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["true", "YES", "On", "1", " true "])
def test_boolean_true_words(word: str) -> None:
    """supervisord's true words are true in any case."""
    assert _boolean(word) is True


@pytest.mark.parametrize("word", ["false", "No", "OFF", "0"])
def test_boolean_false_words(word: str) -> None:
    """supervisord's false words are false in any case."""
    assert _boolean(word) is False


@pytest.mark.parametrize("word", ["", "maybe", "2", "tru"])
def test_boolean_rejects_other_words(word: str) -> None:
    """Anything else is an error naming the accepted words."""
    with pytest.raises(ValueError, match="must be true or false"):
        _boolean(word)


def test_integer_accepts_negative_and_rejects_fractions() -> None:
    """Priorities are whole numbers and may be negative."""
    assert _integer("-1") == -1
    assert _integer(" 999 ") == 999
    for bad in ("1.5", "", "x"):
        with pytest.raises(ValueError, match="whole number"):
            _integer(bad)


def test_count_is_zero_or_more() -> None:
    """startretries, backups and numprocs_start take 0 and up."""
    assert _count("0") == 0
    assert _count("3") == 3
    for bad in ("-1", "x", "1.0"):
        with pytest.raises(ValueError, match="0 or more"):
            _count(bad)


def test_numprocs_is_one_or_more() -> None:
    """numprocs takes 1 and up."""
    assert _numprocs("1") == 1
    assert _numprocs("4") == 4
    for bad in ("0", "-2", "two"):
        with pytest.raises(ValueError, match="from 1 to 10000"):
            _numprocs(bad)


@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("1", 1.0), ("0.5", 0.5), ("10", 10.0)])
def test_seconds_accepts_fractions(text: str, value: float) -> None:
    """startsecs and stopwaitsecs may be fractions (supervisord wants integers)."""
    assert _seconds(text) == value


@pytest.mark.parametrize("text", ["-1", "abc", "", "nan", "inf"])
def test_seconds_rejects_negative_and_non_finite(text: str) -> None:
    """Negative, NaN, infinite and non-numbers are errors."""
    with pytest.raises(ValueError, match="must be a non-negative number"):
        _seconds(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", "true"),
        ("false", "false"),
        ("unexpected", "unexpected"),
        ("UNEXPECTED", "unexpected"),
        ("yes", "true"),
        ("on", "true"),
        ("0", "false"),
        ("off", "false"),
    ],
)
def test_autorestart_normalises_boolean_words(text: str, value: str) -> None:
    """Boolean words become true/false; unexpected stays."""
    assert _autorestart(text) == value


def test_autorestart_rejects_other_words() -> None:
    """Anything else names the three values."""
    with pytest.raises(ValueError, match="true, false or unexpected"):
        _autorestart("sometimes")


def test_exitcodes() -> None:
    """A comma list of 0..255; empty means none is expected."""
    assert _exitcodes("0") == frozenset({0})
    assert _exitcodes("0, 2,255") == frozenset({0, 2, 255})
    assert _exitcodes("") == frozenset()
    for bad in ("256", "-1", "0,x", "0,,2"):
        with pytest.raises(ValueError, match="exit codes 0 to 255"):
            _exitcodes(bad)


def test_signal_by_name_or_number() -> None:
    """TERM, SIGINT, sigint and 9 are signals; FOO is not."""
    assert _signal("TERM") == signal.SIGTERM
    assert _signal("SIGINT") == signal.SIGINT
    assert _signal("sighup") == signal.SIGHUP
    assert _signal("9") == signal.SIGKILL
    with pytest.raises(ValueError, match="must be a signal"):
        _signal("FOO")


def test_signals_list() -> None:
    """forward_signals: commas or spaces, names or numbers; empty is none."""
    assert _signals("HUP,USR1") == frozenset({signal.SIGHUP, signal.SIGUSR1})
    assert _signals(" hup  10 ") == frozenset({signal.SIGHUP, 10})
    assert _signals("") == frozenset()
    with pytest.raises(ValueError, match="'FOO' is not one"):
        _signals("HUP,FOO")


def test_signals_cannot_forward_uncatchable() -> None:
    """KILL and STOP cannot be caught, so they cannot be passed on."""
    with pytest.raises(ValueError, match="cannot include SIGKILL"):
        _signals("HUP,KILL")
    with pytest.raises(ValueError, match="cannot include SIGSTOP"):
        _signals("STOP")


def test_umask_octal() -> None:
    """An octal mode from 000 to 777; empty means unset."""
    assert _umask("022") == 0o22
    assert _umask("0") == 0
    assert _umask("777") == 0o777
    assert _umask("") is None
    for bad in ("8", "1000", "rwx"):
        with pytest.raises(ValueError, match="octal mode"):
            _umask(bad)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("1024", 1024),
        ("1KB", 1024),
        ("50MB", 50 * 1024 * 1024),
        ("50mb", 50 * 1024 * 1024),
        ("2GB", 2 * 1024**3),
        ("5 MB", 5 * 1024 * 1024),
    ],
)
def test_byte_size(text: str, value: int) -> None:
    """supervisord's sizes: a number, optionally with KB, MB or GB (any case)."""
    assert _byte_size(text) == value


@pytest.mark.parametrize("text", ["-1", "abc", "10TB", "", "1.5MB"])
def test_byte_size_rejects_others(text: str) -> None:
    """Negative sizes, other suffixes and fractions are errors."""
    with pytest.raises(ValueError, match="size in bytes"):
        _byte_size(text)


def test_user_name_or_uid() -> None:
    """A name must be in the passwd database; any numeric uid is accepted; empty is unset."""
    assert _user("root") == "root"
    assert _user("0") == "0"
    assert _user("123456") == "123456"
    assert _user("") is None
    with pytest.raises(ValueError, match="passwd database"):
        _user(NO_SUCH_USER)


def test_directory_empty_is_unset() -> None:
    """A directory is kept as given; empty means unset."""
    assert _directory("/srv/app") == "/srv/app"
    assert _directory("") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", {}),
        ("A=1", {"A": "1"}),
        ('A=1,B="two words"', {"A": "1", "B": "two words"}),
        ("A='x,y',B=2", {"A": "x,y", "B": "2"}),
        (
            "PATH=/usr/local/bin:/usr/bin,V=1.2-3+b",
            {"PATH": "/usr/local/bin:/usr/bin", "V": "1.2-3+b"},
        ),
        ("A=1, B=2", {"A": "1", "B": "2"}),
        ("A=1,", {"A": "1"}),
        ('A="x#y"', {"A": "x#y"}),
    ],
)
def test_environment_pairs(text: str, value: dict[str, str]) -> None:
    """KEY=value pairs with supervisord's quoting and word characters."""
    assert _environment(text) == value


@pytest.mark.parametrize("text", ["A", "A=", "A=1,B", "=1", 'A="open', "A=b c", "A=1;B=2", "A=x#y"])
def test_environment_rejects_malformed(text: str) -> None:
    """Missing values, open quotes and anything but a comma between pairs are errors."""
    with pytest.raises(ValueError, match="KEY=value pairs"):
        _environment(text)


def test_command_split_like_a_shell() -> None:
    """Commands split with shlex: quotes group words."""
    assert _command('sh -c "echo hi; sleep 1"') == ["sh", "-c", "echo hi; sleep 1"]
    with pytest.raises(ValueError, match="must not be empty"):
        _command("   ")
    with pytest.raises(ValueError, match="cannot be split into words"):
        _command("echo 'open")


def test_name_rules() -> None:
    """Names may not be empty or contain spaces, ':' or '/'."""
    assert _name(" web ") == "web"
    for bad in ("a b", "a:b", "a/b"):
        with pytest.raises(ValueError, match="spaces, ':' or '/'"):
            _name(bad)
    with pytest.raises(ValueError, match="empty"):
        _name("")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "AUTO",
        "auto",
        "/dev/stdout",
        "/dev/stderr",
        "/dev/fd/1",
        "/dev/fd/2",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
    ],
)
def test_logfile_stream(text: str) -> None:
    """Unset, AUTO and the container's own stdout/stderr all mean initsup's stream."""
    assert _logfile(text) == model.TO_STREAM


@pytest.mark.parametrize("text", ["NONE", "none", "None", "OFF", "off"])
def test_logfile_nowhere(text: str) -> None:
    """NONE (and supervisord's OFF), any case, discards the output."""
    assert _logfile(text) == model.TO_NOWHERE


def test_logfile_path() -> None:
    """Anything else is a file; ~ is expanded as supervisord does."""
    assert _logfile("/var/log/web.log") == "/var/log/web.log"
    assert _logfile("~/web.log") == os.path.expanduser("~/web.log")


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("critical", "critical"),
        ("error", "error"),
        ("warn", "warning"),
        ("WARN", "warning"),
        ("warning", "warning"),
        ("info", "info"),
        ("debug", "debug"),
        ("trace", "debug"),
        ("blather", "debug"),
    ],
)
def test_loglevel_maps_supervisord_levels(text: str, level: str) -> None:
    """supervisord's seven levels map onto initsup's five."""
    assert _loglevel(text) == level


def test_loglevel_and_log_format_reject_others() -> None:
    """Unknown levels and formats name the accepted ones."""
    with pytest.raises(ValueError, match="blather"):
        _loglevel("loud")
    assert _log_format("TEXT") == "text"
    with pytest.raises(ValueError, match="json, text or raw"):
        _log_format("inherit")


# -- expansion ---------------------------------------------------------------------------


def test_expand_formats_like_python() -> None:
    """%(name)s, %(n)02d and %% work as Python %-formatting."""
    names: dict[str, object] = {"ENV_HOME": "/root", "process_num": 3}
    assert _expand("%(ENV_HOME)s/x", names) == "/root/x"
    assert _expand("w%(process_num)02d", names) == "w03"
    assert _expand("100%% sure", names) == "100% sure"
    assert _expand("no percent", {}) == "no percent"


def test_expand_errors_name_the_problem() -> None:
    """An unknown name, a missing variable or a lone % is a ValueError saying so."""
    with pytest.raises(ValueError, match=r"unknown name %\(nope\)s \(known: here, "):
        _expand("%(nope)s", {"here": "/", "program_name": "x"})
    with pytest.raises(ValueError, match="no environment variable MISSING"):
        _expand("%(ENV_MISSING)s", {})
    with pytest.raises(ValueError, match="write %% for a literal %"):
        _expand("date +%Y", {})


def test_expansions_in_a_program(tmp_path: Path) -> None:
    """ENV_X, here, program_name, group_name, host_node_name, numprocs reach every option."""
    path = write(
        tmp_path,
        """\
        [program:web]
        command=run %(ENV_APP)s --name %(program_name)s --group %(group_name)s
        directory=%(here)s/app
        user=%(ENV_RUNAS)s
        stdout_logfile=%(here)s/%(program_name)s-%(host_node_name)s.log
        stderr_logfile=%(here)s/err-%(numprocs)d.log
        environment=NAME="%(program_name)s",HOME="%(ENV_HOME)s"
        startsecs=%(ENV_SECS)s
        """,
    )
    cfg, _ = load(path, {"APP": "shop", "RUNAS": "root", "HOME": "/root", "SECS": "2.5"})
    [process] = cfg.processes()
    assert process.command == ["run", "shop", "--name", "web", "--group", "web"]
    assert process.directory == f"{tmp_path}/app"
    assert process.user == "root"
    assert process.stdout.path == f"{tmp_path}/web-{os.uname().nodename}.log"
    assert process.stderr.path == f"{tmp_path}/err-1.log"
    assert process.environment == {"NAME": "web", "HOME": "/root"}
    assert process.startsecs == 2.5


def test_program_environment_is_env_for_its_other_values(tmp_path: Path) -> None:
    """As supervisord: a program's environment= entries are %(ENV_X)s for its own options."""
    process = program(tmp_path, "command=serve --port %(ENV_PORT)s\nenvironment=PORT=8080\n")
    assert process.command == ["serve", "--port", "8080"]


def test_literal_percent(tmp_path: Path) -> None:
    """%% in a value is a literal %."""
    process = program(tmp_path, "command=date +%%Y-%%m-%%d\n")
    assert process.command == ["date", "+%Y-%m-%d"]


def test_unknown_expansion_is_a_problem(tmp_path: Path) -> None:
    """An unknown %(name)s names the file, section, key, value and the name."""
    path = write(tmp_path, "[program:web]\ncommand=run %(ENV_NOPE)s\n")
    assert problems(path) == [
        f"{path}: [program:web] command = 'run %(ENV_NOPE)s':"
        " refers to %(ENV_NOPE)s, but there is no environment variable NOPE"
    ]
    path = write(tmp_path, "[program:web]\ncommand=run\ndirectory=%(nothing)s\n")
    [line] = problems(path)
    assert line.startswith(f"{path}: [program:web] directory = '%(nothing)s': refers to unknown")
    assert "%(nothing)s" in line
    assert "program_name" in line


def test_inline_comments_need_whitespace(tmp_path: Path) -> None:
    """`;` and `#` start a comment only after whitespace, as in supervisord."""
    process = program(tmp_path, "command=echo a;b c#d   ; the comment\nstartsecs=3 # seconds\n")
    assert process.command == ["echo", "a;b", "c#d"]
    assert process.startsecs == 3.0


# -- program options and defaults -------------------------------------------------------


def test_defaults_are_supervisords(tmp_path: Path) -> None:
    """A program with only a command gets supervisord's defaults (and initsup's own)."""
    process = program(tmp_path, "command=/bin/app --flag\n")
    assert process == model.ProcessConfig("web", ["/bin/app", "--flag"], program="web")
    assert process.group == "web"
    assert process.priority == 999
    assert process.autostart is True
    assert process.autorestart == "unexpected"
    assert process.startsecs == 1.0
    assert process.startretries == 3
    assert process.exitcodes == frozenset({0})
    assert process.stopsignal == signal.SIGTERM
    assert process.stopwaitsecs == 10.0
    assert process.stopasgroup is False
    assert process.killasgroup is False
    assert process.user is None
    assert process.directory is None
    assert process.umask is None
    assert process.environment == {}
    assert process.redirect_stderr is False
    assert process.essential is False
    assert process.forward_signals == frozenset()
    assert process.backoff_max == 60.0
    assert process.backoff_reset == 60.0
    for target in (process.stdout, process.stderr):
        assert target == model.LogTarget(model.TO_STREAM, 50 * 1024 * 1024, 10, 0, False)


def test_every_option_converted(tmp_path: Path) -> None:
    """Every program option is converted to its model value."""
    process = program(
        tmp_path,
        """\
        command=worker --queue a
        priority=-5
        autostart=no
        autorestart=on
        startsecs=0.25
        startretries=0
        exitcodes=0,3
        stopsignal=QUIT
        stopwaitsecs=2.5
        stopasgroup=true
        user=0
        directory=/srv
        umask=027
        environment=A=1
        redirect_stderr=yes
        stdout_logfile=/var/log/w.log
        stdout_logfile_maxbytes=1MB
        stdout_logfile_backups=2
        stdout_capture_maxbytes=1KB
        stdout_events_enabled=true
        stderr_logfile=NONE
        stderr_logfile_maxbytes=0
        stderr_logfile_backups=0
        stderr_capture_maxbytes=0
        stderr_events_enabled=false
        serverurl=AUTO
        essential=true
        forward_signals=HUP,USR1
        backoff_max=30
        backoff_reset=0.5
        """,
    )
    assert process.priority == -5
    assert process.autostart is False
    assert process.autorestart == "true"
    assert process.startsecs == 0.25
    assert process.startretries == 0
    assert process.exitcodes == frozenset({0, 3})
    assert process.stopsignal == signal.SIGQUIT
    assert process.stopwaitsecs == 2.5
    assert process.stopasgroup is True
    assert process.killasgroup is True  # defaults to stopasgroup
    assert process.user == "0"
    assert process.directory == "/srv"
    assert process.umask == 0o27
    assert process.environment == {"A": "1"}
    assert process.redirect_stderr is True
    assert process.stdout == model.LogTarget("/var/log/w.log", 1024 * 1024, 2, 1024, True)
    assert process.stderr == model.LogTarget(model.TO_NOWHERE, 0, 0, 0, False)
    assert process.essential is True
    assert process.forward_signals == frozenset({signal.SIGHUP, signal.SIGUSR1})
    assert process.backoff_max == 30.0
    assert process.backoff_reset == 0.5


def test_option_names_are_case_insensitive(tmp_path: Path) -> None:
    """Keys are lowercased as configparser does; section names keep their case."""
    path = write(tmp_path, "[program:Web]\nCOMMAND=run\nStartSecs=4\n")
    [process] = load(path, {})[0].processes()
    assert process.name == "Web"
    assert process.startsecs == 4.0


def test_stopasgroup_without_killasgroup_is_a_problem(tmp_path: Path) -> None:
    """stopasgroup=true with killasgroup=false is an error, as in supervisord."""
    path = write(tmp_path, "[program:web]\ncommand=run\nstopasgroup=true\nkillasgroup=false\n")
    assert problems(path) == [
        f"{path}: [program:web] killasgroup = 'false':"
        " must not be false when stopasgroup is true (as supervisord)"
    ]


def test_killasgroup_alone_is_fine(tmp_path: Path) -> None:
    """killasgroup=true without stopasgroup is allowed."""
    process = program(tmp_path, "command=run\nkillasgroup=true\n")
    assert (process.stopasgroup, process.killasgroup) == (False, True)


def test_missing_and_empty_command(tmp_path: Path) -> None:
    """A program needs a non-empty command."""
    path = write(tmp_path, "[program:web]\nstartsecs=1\n[program:api]\ncommand=\n")
    assert problems(path) == [
        f"{path}: [program:web] command: required",
        f"{path}: [program:api] command = '': must not be empty",
    ]


def test_unknown_user_is_a_problem(tmp_path: Path) -> None:
    """A user name that is not in the passwd database is a problem."""
    path = write(tmp_path, f"[program:web]\ncommand=run\nuser={NO_SUCH_USER}\n")
    [line] = problems(path)
    assert line.startswith(f"{path}: [program:web] user = '{NO_SUCH_USER}': must be a user")


def test_redirect_stderr_with_stderr_file_warns(tmp_path: Path) -> None:
    """As supervisord: a stderr_logfile file is ignored when stderr is redirected."""
    path = write(
        tmp_path, "[program:web]\ncommand=run\nredirect_stderr=true\nstderr_logfile=/tmp/e.log\n"
    )
    assert warnings_of(path) == [
        f"{path}: [program:web] stderr_logfile = '/tmp/e.log':"
        " is ignored: redirect_stderr=true sends stderr to stdout"
    ]


# -- numprocs ----------------------------------------------------------------------------


def test_numprocs_names_each_process(tmp_path: Path) -> None:
    """numprocs expands process_name and every option once per process_num."""
    path = write(
        tmp_path,
        """\
        [program:worker]
        command=work --slot %(process_num)d --of %(numprocs)d
        process_name=%(program_name)s_%(process_num)02d
        numprocs=3
        numprocs_start=8
        """,
    )
    cfg, _ = load(path, {})
    [group] = cfg.groups
    assert group.name == "worker"
    assert [p.name for p in group.processes] == ["worker_08", "worker_09", "worker_10"]
    assert [p.command for p in group.processes] == [
        ["work", "--slot", str(n), "--of", "3"] for n in (8, 9, 10)
    ]
    assert {p.program for p in group.processes} == {"worker"}


def test_numprocs_needs_process_num_in_process_name(tmp_path: Path) -> None:
    """numprocs > 1 needs %(process_num) in process_name, as supervisord."""
    path = write(tmp_path, "[program:w]\ncommand=run\nnumprocs=2\n")
    [line] = problems(path)
    assert line.startswith(f"{path}: [program:w] numprocs = '2': needs a process_name containing")
    path = write(
        tmp_path, "[program:w]\ncommand=run\nnumprocs=2\nprocess_name=w_%(program_name)s\n"
    )
    assert problems(path) == [
        f"{path}: [program:w] process_name = 'w_%(program_name)s':"
        " must contain %(process_num) when numprocs > 1"
    ]


def test_numprocs_problem_reported_once(tmp_path: Path) -> None:
    """A bad value in a numprocs program is reported once, not once per process."""
    path = write(
        tmp_path,
        "[program:w]\ncommand=run\nnumprocs=3\nprocess_name=w%(process_num)d\nstartsecs=x\n",
    )
    assert len(problems(path)) == 1


def test_invalid_process_name(tmp_path: Path) -> None:
    """An expanded process name with a space, ':' or '/' is a problem."""
    path = write(tmp_path, "[program:web]\ncommand=run\nprocess_name=web %(program_name)s\n")
    assert problems(path) == [
        f"{path}: [program:web] process_name = 'web %(program_name)s':"
        " must not contain spaces, ':' or '/'"
    ]


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


# -- [initsup] / [supervisord] -----------------------------------------------------------


def test_global_options(tmp_path: Path) -> None:
    """[supervisord] is read; [initsup] wins key by key; loglevel is mapped."""
    path = write(
        tmp_path,
        """\
        [supervisord]
        loglevel=blather
        identifier=old
        environment=A=1,B=2
        [initsup]
        identifier=new
        log_format=text
        [program:web]
        command=run
        environment=B=3
        """,
    )
    cfg, _ = load(path, {})
    assert cfg.options == model.InitOptions("text", "debug", "new", {"A": "1", "B": "2"})
    # the global environment is under each program's own
    assert cfg.processes()[0].environment == {"A": "1", "B": "3"}


def test_global_defaults() -> None:
    """Without [initsup] the options are initsup's defaults."""
    cfg, _ = load(None, {"INITSUP_PROGRAM_WEB": "run"})
    assert cfg.options == model.InitOptions()
    assert cfg.options.log_format == "json"
    assert cfg.options.loglevel == "info"
    assert cfg.options.identifier == "supervisor"


def test_global_environment_is_env_for_programs(tmp_path: Path) -> None:
    """As supervisord 4: [supervisord] environment= entries are %(ENV_X)s in programs."""
    path = write(
        tmp_path, "[supervisord]\nenvironment=ROOT=/srv\n[program:web]\ncommand=%(ENV_ROOT)s/run\n"
    )
    assert load(path, {})[0].processes()[0].command == ["/srv/run"]


def test_supervisord_only_keys_warn_once(tmp_path: Path) -> None:
    """logfile, pidfile, nodaemon and friends are accepted with one warning naming them."""
    path = write(
        tmp_path,
        """\
        [supervisord]
        logfile=/var/log/supervisord.log
        pidfile=/run/supervisord.pid
        nodaemon=true
        bogus=1
        [program:web]
        command=run
        """,
    )
    assert warnings_of(path) == [
        f"{path}: [supervisord] bogus = '1': is not an option initsup knows, ignored",
        f"{path}: [supervisord] logfile, pidfile, nodaemon: supervisord options with no"
        " meaning in initsup (it logs to stdout and never daemonizes), ignored",
    ]


# -- sections and warnings ----------------------------------------------------------------


def test_ignored_sections_one_warning(tmp_path: Path) -> None:
    """Sections initsup does not use give one warning in total; unknown ones one each."""
    path = write(
        tmp_path,
        """\
        [unix_http_server]
        file=/run/supervisor.sock
        [inet_http_server]
        port=9001
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        [supervisorctl]
        serverurl=unix:///run/supervisor.sock
        [fcgi-program:php]
        command=php-fpm
        socket=tcp://localhost:9000
        [mystery]
        a=1
        [program:web]
        command=run
        """,
    )
    assert warnings_of(path) == [
        f"{path}: [fcgi-program:php]: initsup does not run FastCGI programs:"
        " the processes of this section will NOT run",
        f"{path}: [mystery]: not a section initsup knows, ignored",
        f"{path}: [inet_http_server], [rpcinterface:supervisor],"
        " [supervisorctl]: sections initsup does not use, ignored",
    ]


def test_unix_http_server_places_the_control_socket(tmp_path: Path) -> None:
    """[unix_http_server] file= and chmod= become the control socket's path and mode."""
    path = write(
        tmp_path,
        """\
        [unix_http_server]
        file=%(here)s/ctl.sock
        chmod=0660
        chown=nobody:nogroup
        [program:web]
        command=run
        """,
    )
    cfg, warnings = load(path, {})
    assert cfg.options.socket == str(tmp_path / "ctl.sock")
    assert cfg.options.socket_mode == 0o660
    assert any("chown" in w and "not used" in w for w in warnings)


def test_unknown_program_key_and_syslog_warnings(tmp_path: Path) -> None:
    """Unknown keys warn one by one; *_syslog is accepted with one warning for the section."""
    process_body = "command=run\ncolour=blue\nstdout_syslog=true\nstderr_syslog=true\n"
    path = write(tmp_path, "[program:web]\n" + process_body)
    assert warnings_of(path) == [
        f"{path}: [program:web] colour = 'blue': is not an option initsup knows, ignored",
        f"{path}: [program:web] stdout_syslog, stderr_syslog: not supported, ignored",
    ]


# -- event listeners ----------------------------------------------------------------------


def listener_group(
    tmp_path: Path, body: str, environ: dict[str, str] | None = None
) -> model.GroupConfig:
    """The one group of an [eventlistener:mail] section with body (keys are dedented)."""
    path = write(tmp_path, "[eventlistener:mail]\n" + textwrap.dedent(body))
    [group] = load(path, environ or {})[0].groups
    return group


def test_listener_defaults(tmp_path: Path) -> None:
    """A listener is a pool of its own with priority -1 and buffer_size 10, and no warning."""
    path = write(tmp_path, "[eventlistener:mail]\ncommand=crashmail -a\nevents=PROCESS_STATE\n")
    cfg, warnings = load(path, {})
    assert warnings == []
    [group] = cfg.groups
    assert group == model.GroupConfig(
        "mail",
        -1,
        [model.ProcessConfig("mail", ["crashmail", "-a"], program="mail", priority=-1)],
        listener=model.ListenerConfig(frozenset({"PROCESS_STATE"}), 10),
    )
    assert group.listener is not None
    assert group.listener.buffer_size == 10
    assert group.processes[0].group == "mail"


def test_listener_takes_program_options(tmp_path: Path) -> None:
    """Every [program:x] option works in [eventlistener:x], priority included."""
    group = listener_group(
        tmp_path,
        """\
        command=listen --pool %(program_name)s --group %(group_name)s
        events=TICK_60
        priority=5
        autostart=false
        autorestart=true
        startsecs=0
        startretries=9
        exitcodes=0,2
        stopsignal=QUIT
        stopwaitsecs=3
        stopasgroup=true
        user=0
        directory=/srv
        umask=022
        environment=A=1
        stderr_logfile=/var/log/mail.err
        stderr_logfile_maxbytes=1KB
        stderr_logfile_backups=1
        essential=true
        forward_signals=HUP
        """,
    )
    assert group.priority == 5
    [process] = group.processes
    assert process.command == ["listen", "--pool", "mail", "--group", "mail"]
    assert process.priority == 5
    assert (process.autostart, process.autorestart, process.startsecs) == (False, "true", 0.0)
    assert (process.startretries, process.exitcodes) == (9, frozenset({0, 2}))
    assert (process.stopsignal, process.stopwaitsecs) == (signal.SIGQUIT, 3.0)
    assert (process.stopasgroup, process.killasgroup) == (True, True)
    assert (process.user, process.directory, process.umask) == ("0", "/srv", 0o22)
    assert process.environment == {"A": "1"}
    assert process.stderr == model.LogTarget("/var/log/mail.err", 1024, 1)
    assert (process.essential, process.forward_signals) == (True, frozenset({signal.SIGHUP}))


def test_listener_events_any_case_and_abstract_types(tmp_path: Path) -> None:
    """events= is a comma list in any case; abstract types like EVENT and TICK are allowed."""
    group = listener_group(
        tmp_path, "command=l\nevents=process_state, Tick ,EVENT,process_log_stdout,\n"
    )
    assert group.listener == model.ListenerConfig(
        frozenset({"PROCESS_STATE", "TICK", "EVENT", "PROCESS_LOG_STDOUT"})
    )


def test_listener_unknown_events(tmp_path: Path) -> None:
    """An unknown name, the removed EVENT_BUFFER_OVERFLOW and an empty list are problems."""
    path = write(tmp_path, "[eventlistener:mail]\ncommand=l\nevents=PROCESS_STATE,BOGUS\n")
    assert problems(path) == [
        f"{path}: [eventlistener:mail] events = 'PROCESS_STATE,BOGUS': unknown event type 'BOGUS'"
    ]
    path = write(tmp_path, "[eventlistener:mail]\ncommand=l\nevents=event_buffer_overflow,x\n")
    assert problems(path) == [
        f"{path}: [eventlistener:mail] events = 'event_buffer_overflow,x':"
        " unknown event types 'event_buffer_overflow', 'x'"
        " (supervisord 3.0 removed EVENT_BUFFER_OVERFLOW)"
    ]
    path = write(tmp_path, "[eventlistener:mail]\ncommand=l\nevents= ,\n")
    assert problems(path) == [
        f"{path}: [eventlistener:mail] events = ',':"
        " must name at least one event type, e.g. PROCESS_STATE,TICK_60"
    ]


def test_listener_missing_events(tmp_path: Path) -> None:
    """events= is required, in a file and from variables."""
    path = write(tmp_path, "[eventlistener:mail]\ncommand=l\n")
    assert problems(path) == [f"{path}: [eventlistener:mail] events: required"]
    assert problems(None, {"INITSUP_EVENTLISTENER_MAIL": "l"}) == [
        "INITSUP_EVENTLISTENER_MAIL: event listener 'mail' has no events: set"
        " INITSUP_EVENTLISTENER_MAIL__EVENTS=<event types> or add [eventlistener:mail] events="
    ]


def test_listener_buffer_size(tmp_path: Path) -> None:
    """buffer_size= is a whole number from 1 to 1,000,000 (a pool sized for a whole run's
    events, as the benchmark's is, is legal)."""
    group = listener_group(tmp_path, "command=l\nevents=TICK_5\nbuffer_size=20010\n")
    assert group.listener == model.ListenerConfig(frozenset({"TICK_5"}), 20010)
    for bad in ("0", "-1", "many", "1000001"):
        path = write(
            tmp_path, f"[eventlistener:mail]\ncommand=l\nevents=TICK_5\nbuffer_size={bad}\n"
        )
        assert problems(path) == [
            f"{path}: [eventlistener:mail] buffer_size = '{bad}':"
            " must be a whole number from 1 to 1000000"
        ]


def test_listener_redirect_stderr_refused(tmp_path: Path) -> None:
    """As supervisord: a listener's stdout is the protocol, so stderr cannot be redirected."""
    path = write(tmp_path, "[eventlistener:mail]\ncommand=l\nevents=TICK\nredirect_stderr=yes\n")
    assert problems(path) == [
        f"{path}: [eventlistener:mail] redirect_stderr = 'yes': must be false for an event"
        " listener: its stdout carries the listener protocol (as supervisord)"
    ]
    group = listener_group(tmp_path, "command=l\nevents=TICK\nredirect_stderr=false\n")
    assert group.processes[0].redirect_stderr is False


def test_listener_stdout_options_warn_once(tmp_path: Path) -> None:
    """stdout_* options of a listener are ignored, unchecked, with one warning for the section."""
    path = write(
        tmp_path,
        """\
        [eventlistener:mail]
        command=l
        events=TICK
        stdout_logfile=/var/log/mail.log
        stdout_logfile_maxbytes=lots
        stdout_events_enabled=true
        stdout_syslog=true
        stderr_syslog=true
        stderr_events_enabled=true
        """,
    )
    cfg, warnings = load(path, {})
    assert warnings == [
        f"{path}: [eventlistener:mail] stderr_syslog: not supported, ignored",
        f"{path}: [eventlistener:mail] stdout_logfile, stdout_logfile_maxbytes,"
        " stdout_events_enabled, stdout_syslog: ignored for an event listener"
        " (its stdout carries the listener protocol)",
    ]
    [process] = cfg.processes()
    assert process.stdout == model.LogTarget()
    assert process.stderr == model.LogTarget(events_enabled=True)


def test_listener_result_handler_warns(tmp_path: Path) -> None:
    """result_handler= is ignored with a warning, unless it names supervisord's default."""
    path = write(
        tmp_path, "[eventlistener:mail]\ncommand=l\nevents=TICK\nresult_handler=mine:handle\n"
    )
    assert warnings_of(path) == [
        f"{path}: [eventlistener:mail] result_handler = 'mine:handle':"
        " is ignored: initsup always uses supervisord's default handler"
    ]
    path = write(
        tmp_path,
        "[eventlistener:mail]\ncommand=l\nevents=TICK\n"
        "result_handler=supervisor.dispatchers:default_handler\n",
    )
    assert warnings_of(path) == []


def test_listener_unknown_key_warns(tmp_path: Path) -> None:
    """A key neither programs nor listeners know is a warning, as for a program."""
    path = write(tmp_path, "[eventlistener:mail]\ncommand=l\nevents=TICK\ncolour=red\n")
    assert warnings_of(path) == [
        f"{path}: [eventlistener:mail] colour = 'red': is not an option initsup knows, ignored"
    ]


def test_listener_numprocs_pool(tmp_path: Path) -> None:
    """numprocs makes a pool of several listeners, all in the group named after the section."""
    group = listener_group(
        tmp_path,
        "command=l %(process_num)d\nevents=TICK\nnumprocs=2\n"
        "process_name=%(program_name)s_%(process_num)d\n",
    )
    assert group.name == "mail"
    assert [(p.name, p.group, p.program) for p in group.processes] == [
        ("mail_0", "mail", "mail"),
        ("mail_1", "mail", "mail"),
    ]
    assert [p.command for p in group.processes] == [["l", "0"], ["l", "1"]]
    path = write(tmp_path, "[eventlistener:mail]\ncommand=l\nevents=TICK\nnumprocs=2\n")
    [line] = problems(path)
    assert line.startswith(f"{path}: [eventlistener:mail] numprocs = '2': needs a process_name")


def test_listener_duplicate_process_names(tmp_path: Path) -> None:
    """Two processes of one pool may not share a name."""
    path = write(
        tmp_path,
        "[eventlistener:mail]\ncommand=l\nevents=TICK\nnumprocs=2\n"
        "process_name=x%(process_num).0s\n",
    )
    assert problems(path) == [
        f"{path}: [eventlistener:mail]: process name 'x' is already used in group 'mail'"
        " by [eventlistener:mail]"
    ]


def test_listeners_from_variables() -> None:
    """INITSUP_EVENTLISTENER_<NAME>[__<OPTION>] work like the INITSUP_PROGRAM_* scheme."""
    environ = {
        "INITSUP_EVENTLISTENER_MEM_MON": "memmon -a 200MB",
        "INITSUP_EVENTLISTENER_MEM_MON__COMMAND": "loses",
        "INITSUP_EVENTLISTENER_MEM_MON__EVENTS": "tick_60",
        "INITSUP_EVENTLISTENER_MEM_MON__BUFFER_SIZE": "3",
        "INITSUP_EVENTLISTENER_MEM_MON__STARTSECS": "0",
    }
    cfg, warnings = load(None, environ)
    assert warnings == []
    [group] = cfg.groups
    assert (group.name, group.priority) == ("mem_mon", -1)
    assert group.listener == model.ListenerConfig(frozenset({"TICK_60"}), 3)
    [process] = group.processes
    assert (process.name, process.command, process.startsecs) == (
        "mem_mon",
        ["memmon", "-a", "200MB"],
        0.0,
    )
    assert "INITSUP_EVENTLISTENER_MEM_MON__EVENTS" in cfg.sources


def test_listener_variables_override_the_file(tmp_path: Path) -> None:
    """A variable wins over an [eventlistener:x] key; other keys keep the file's values."""
    path = write(
        tmp_path, "[eventlistener:mail]\ncommand=old\nevents=TICK\nbuffer_size=4\npriority=3\n"
    )
    environ = {"INITSUP_EVENTLISTENER_MAIL": "new", "INITSUP_EVENTLISTENER_MAIL__EVENTS": "EVENT"}
    [group] = load(path, environ)[0].groups
    assert group.listener == model.ListenerConfig(frozenset({"EVENT"}), 4)
    assert (group.priority, group.processes[0].command) == (3, ["new"])


def test_listener_variable_problems() -> None:
    """An option without a command, a malformed name and a bad value name the variable."""
    assert problems(None, {"INITSUP_EVENTLISTENER_MAIL__EVENTS": "TICK"}) == [
        "INITSUP_EVENTLISTENER_MAIL__EVENTS='TICK': sets an option of event listener 'mail',"
        " which has no command: set INITSUP_EVENTLISTENER_MAIL=<command>"
        " or add [eventlistener:mail] command="
    ]
    assert problems(None, {"INITSUP_EVENTLISTENER_": "x", "INITSUP_PROGRAM_A": "a"}) == [
        "INITSUP_EVENTLISTENER_='x': expected INITSUP_EVENTLISTENER_<NAME>__<OPTION>=<value>"
        " or INITSUP_EVENTLISTENER_<NAME>=<command>"
    ]
    environ = {"INITSUP_EVENTLISTENER_MAIL": "l", "INITSUP_EVENTLISTENER_MAIL__EVENTS": "NOPE"}
    assert problems(None, environ) == [
        "INITSUP_EVENTLISTENER_MAIL__EVENTS='NOPE': events unknown event type 'NOPE'"
    ]


def test_listener_cannot_be_in_a_group(tmp_path: Path) -> None:
    """A [group:x] naming a listener is a problem: a pool is a group of its own."""
    path = write(
        tmp_path,
        "[program:a]\ncommand=a\n[eventlistener:mail]\ncommand=l\nevents=TICK\n"
        "[group:g]\nprograms=a,mail\n",
    )
    assert problems(path) == [
        f"{path}: [group:g] programs = 'a,mail': names event listener 'mail',"
        " which cannot be in a [group:x] (its pool is a group of its own)"
    ]


def test_listener_name_clashes(tmp_path: Path) -> None:
    """A listener may not share its name with a program, a [group:x] or the main command."""
    path = write(
        tmp_path, "[program:mail]\ncommand=m\n[eventlistener:mail]\ncommand=l\nevents=TICK\n"
    )
    assert problems(path) == [
        f"{path}: [eventlistener:mail]: the name 'mail' is taken by [program:mail]:"
        " one name cannot mean both a program and an event listener pool"
    ]
    environ = {
        "INITSUP_PROGRAM_A": "a",
        "INITSUP_GROUP_MAIL__PROGRAMS": "a",
        "INITSUP_EVENTLISTENER_MAIL": "l",
        "INITSUP_EVENTLISTENER_MAIL__EVENTS": "TICK",
    }
    assert problems(None, environ) == [
        "INITSUP_EVENTLISTENER_MAIL: forms event listener pool 'mail',"
        " but [group:mail] is a group of that name too"
    ]
    path = write(tmp_path, "[eventlistener:main]\ncommand=l\nevents=TICK\n")
    assert problems(path, main=["app"]) == [
        f"{path}: [eventlistener:main]: the name 'main' is taken by the command given after --"
    ]


def test_invalid_listener_name(tmp_path: Path) -> None:
    """A listener's name follows the rules of program names."""
    path = write(tmp_path, "[eventlistener:a b]\ncommand=l\nevents=TICK\n")
    assert problems(path) == [
        f"{path}: [eventlistener:a b]: the name 'a b' must not contain spaces, ':' or '/'"
    ]


def test_pools_sort_with_other_groups(tmp_path: Path) -> None:
    """Pools are ordered with the other groups by (priority, name)."""
    path = write(
        tmp_path,
        """\
        [program:web]
        command=w
        priority=-1
        [eventlistener:zlisten]
        command=z
        events=TICK
        [eventlistener:alisten]
        command=a
        events=TICK
        [eventlistener:late]
        command=l
        events=TICK
        priority=1000
        """,
    )
    cfg, _ = load(path, {})
    assert [(g.name, g.priority, g.listener is not None) for g in cfg.groups] == [
        ("alisten", -1, True),
        ("web", -1, False),
        ("zlisten", -1, True),
        ("late", 1000, True),
    ]


def test_listeners_alone_are_enough() -> None:
    """A configuration with listeners and no programs is fine, as in supervisord."""
    cfg, _ = load(None, {"INITSUP_EVENTLISTENER_L": "l", "INITSUP_EVENTLISTENER_L__EVENTS": "TICK"})
    assert [g.name for g in cfg.groups] == ["l"]


def test_listener_in_equality_and_as_dict() -> None:
    """GroupConfig equality and as_dict include listener; events are listed sorted."""
    process = model.ProcessConfig("mail", ["l"], priority=-1)
    plain = model.GroupConfig("mail", -1, [process])
    pool = model.GroupConfig(
        "mail", -1, [process], listener=model.ListenerConfig(frozenset({"TICK", "EVENT"}))
    )
    assert plain.listener is None
    assert plain != pool
    assert pool == model.GroupConfig(
        "mail", -1, [process], model.ListenerConfig(frozenset({"EVENT", "TICK"}), 10)
    )
    assert pool != model.GroupConfig(
        "mail", -1, [process], model.ListenerConfig(frozenset({"EVENT", "TICK"}), 11)
    )
    assert plain.as_dict()["listener"] is None
    assert pool.as_dict()["listener"] == {"buffer_size": 10, "events": ["EVENT", "TICK"]}
    assert pool.as_dict()["processes"] == [process.as_dict()]


# -- groups ------------------------------------------------------------------------------


def test_groups_and_ordering(tmp_path: Path) -> None:
    """[group:x] gathers programs; groups and their processes sort by (priority, name)."""
    path = write(
        tmp_path,
        """\
        [program:zeta]
        command=z
        priority=1
        [program:alpha]
        command=a
        [program:beta]
        command=b
        priority=500
        [program:gamma]
        command=g
        priority=100
        [program:delta]
        command=d
        [group:shop]
        programs=delta, beta,gamma
        priority=50
        """,
    )
    cfg, _ = load(path, {})
    assert [(g.name, g.priority) for g in cfg.groups] == [
        ("zeta", 1),
        ("shop", 50),
        ("alpha", 999),
    ]
    shop = cfg.groups[1]
    assert [p.name for p in shop.processes] == ["gamma", "beta", "delta"]
    assert {p.group for p in shop.processes} == {"shop"}
    assert [p.name for p in cfg.processes()] == ["zeta", "gamma", "beta", "delta", "alpha"]


def test_group_priority_default_and_group_name_expansion(tmp_path: Path) -> None:
    """A group's priority defaults to 999; %(group_name)s is the group's name."""
    path = write(
        tmp_path, "[program:a]\ncommand=run %(group_name)s\npriority=1\n[group:g]\nprograms=a\n"
    )
    [group] = load(path, {})[0].groups
    assert (group.name, group.priority) == ("g", 999)
    assert group.processes[0].command == ["run", "g"]


def test_group_problems(tmp_path: Path) -> None:
    """Unknown programs, a program in two groups and clashing group names are problems."""
    path = write(
        tmp_path,
        """\
        [program:a]
        command=a
        [program:b]
        command=b
        [group:one]
        programs=a,ghost
        [group:two]
        programs=a
        [group:b]
        programs=
        [group:bad name]
        programs=b
        """,
    )
    assert problems(path) == [
        f"{path}: [group:one] programs = 'a,ghost': names unknown program 'ghost'",
        f"{path}: [group:two] programs = 'a': names program 'a', which [group:one] names too",
        f"{path}: [group:bad name]: the name 'bad name' must not contain spaces, ':' or '/'",
    ]
    assert (
        f"{path}: [group:b]: names no programs (programs=a,b), ignored"
        in (load(write(tmp_path, "[program:a]\ncommand=a\n[group:b]\nprograms=\n"), {})[1])
    )


def test_own_group_clashing_with_a_group(tmp_path: Path) -> None:
    """A program in no group may not share its name with a [group:x]."""
    path = write(
        tmp_path, "[program:web]\ncommand=w\n[program:api]\ncommand=a\n[group:web]\nprograms=api\n"
    )
    assert problems(path) == [
        f"{path}: [program:web]: is in no [group:x], so it forms group 'web',"
        " but [group:web] is a group of that name too"
    ]


def test_group_named_like_its_program_is_fine(tmp_path: Path) -> None:
    """[group:web] programs=web,api is allowed: web leaves its own group."""
    path = write(
        tmp_path,
        "[program:web]\ncommand=w\n[program:api]\ncommand=a\n[group:web]\nprograms=web,api\n",
    )
    [group] = load(path, {})[0].groups
    assert [p.name for p in group.processes] == ["api", "web"]


def test_duplicate_process_names_in_a_group(tmp_path: Path) -> None:
    """Two processes of one group may not share a name."""
    path = write(
        tmp_path,
        """\
        [program:a]
        command=a
        process_name=same
        [program:b]
        command=b
        process_name=same
        [group:g]
        programs=a,b
        """,
    )
    assert problems(path) == [
        f"{path}: [program:b]: process name 'same' is already used in group 'g' by [program:a]"
    ]


def test_invalid_program_name(tmp_path: Path) -> None:
    """A program's name follows the same rules as process names."""
    path = write(tmp_path, "[program:a/b]\ncommand=a\n[program:ok]\ncommand=b\n")
    assert problems(path) == [
        f"{path}: [program:a/b]: the name 'a/b' must not contain spaces, ':' or '/'"
    ]


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


# -- everything at once ------------------------------------------------------------------


def test_all_problems_at_once(tmp_path: Path) -> None:
    """A file with three different mistakes yields three lines naming file, section, key, value."""
    path = write(
        tmp_path,
        """\
        [program:web]
        command=run
        startsecs=soon
        stopsignal=NOPE
        [program:api]
        command=api
        exitcodes=0,300
        """,
    )
    assert problems(path) == [
        f"{path}: [program:web] startsecs = 'soon':"
        " must be a non-negative number (seconds, e.g. 1 or 0.5)",
        f"{path}: [program:web] stopsignal = 'NOPE':"
        " must be a signal of this system: TERM, SIGTERM, 15, ...",
        f"{path}: [program:api] exitcodes = '0,300':"
        " must be a comma-separated list of exit codes 0 to 255, e.g. 0,2",
    ]


def test_config_error_joins_problems() -> None:
    """str(ConfigError) is its problems, one per line."""
    error = ConfigError(["a: one", "b: two"])
    assert error.problems == ["a: one", "b: two"]
    assert str(error) == "a: one\nb: two"


def test_no_programs() -> None:
    """Nothing to supervise is a problem."""
    [line] = problems(None, {"PATH": "/bin"})
    assert line.startswith("no programs to supervise")


# -- main command ------------------------------------------------------------------------


def test_main_command(tmp_path: Path) -> None:
    """The command after -- is process and group main: essential, never restarted."""
    path = write(tmp_path, "[supervisord]\nenvironment=A=1\n[program:web]\ncommand=web\n")
    cfg, _ = load(path, {}, ["python", "-m", "app"])
    main = next(g for g in cfg.groups if g.name == "main")
    assert main.priority == 999
    assert main.processes == [
        model.ProcessConfig(
            "main",
            ["python", "-m", "app"],
            program="main",
            group="main",
            essential=True,
            autorestart="false",
            startsecs=0,
            environment={"A": "1"},
        )
    ]


def test_main_command_alone() -> None:
    """A command after -- is enough to supervise, without a file or variables."""
    cfg, _ = load(None, {}, ["sleep", "1"])
    assert [p.name for p in cfg.processes()] == ["main"]


def test_main_command_name_clash(tmp_path: Path) -> None:
    """A program named main cannot be used alongside the command after --."""
    path = write(tmp_path, "[program:main]\ncommand=x\n")
    assert problems(path, main=["y"]) == [
        f"{path}: [program:main]: the name 'main' is taken by the command given after --"
    ]
    assert load(path, {})[0].processes()[0].name == "main"


# -- a real supervisord.conf --------------------------------------------------------------


def test_unchanged_supervisord_conf_loads() -> None:
    """A typical container supervisord.conf loads with the expected warnings only."""
    path = str(FIXTURES / "supervisord.conf")
    cfg, warnings = load(path, {"PORT": "8000", "WEB_WORKERS": "4", "HOME": "/root"})
    assert warnings == [
        f"{path}: [rpcinterface:supervisor], [supervisorctl]:"
        " sections initsup does not use, ignored",
        f"{path}: [supervisord] logfile, pidfile, childlogdir, nodaemon, user:"
        " supervisord options with no meaning in initsup (it logs to stdout and never"
        " daemonizes), ignored",
    ]
    assert cfg.sources == [path, str(FIXTURES / "conf.d" / "cron.conf")]
    assert [(g.name, g.priority) for g in cfg.groups] == [
        ("cron", 5),
        ("web", 10),
        ("worker", 999),
    ]
    cron, web, worker0, worker1 = cfg.processes()
    assert cron.command == ["/usr/sbin/cron", "-f"]
    assert web.command[:5] == ["gunicorn", "--workers", "4", "--bind", "0.0.0.0:8000"]
    assert web.directory == str(FIXTURES)
    assert web.environment == {
        "DJANGO_SETTINGS_MODULE": "shop.settings.production",
        "PYTHONUNBUFFERED": "1",
    }
    assert (web.stopasgroup, web.killasgroup, web.autorestart) == (True, True, "true")
    assert web.stdout == model.LogTarget(model.TO_STREAM, maxbytes=0)
    assert [worker0.name, worker1.name] == ["worker_00", "worker_01"]
    assert worker0.command[5] == f"worker@{os.uname().nodename}"
    assert worker0.stderr == model.LogTarget(model.TO_STREAM, maxbytes=0)
    assert worker0.stopwaitsecs == 60.0


def test_group_from_variables_only() -> None:
    """INITSUP_GROUP_<NAME>__PROGRAMS and __PRIORITY make a group without a file."""
    environ = {
        "INITSUP_PROGRAM_A": "a",
        "INITSUP_PROGRAM_B": "b",
        "INITSUP_GROUP_PAIR__PROGRAMS": "a,b",
        "INITSUP_GROUP_PAIR__PRIORITY": "3",
    }
    [group] = load(None, environ)[0].groups
    assert (group.name, group.priority) == ("pair", 3)
    assert [(p.name, p.group) for p in group.processes] == [("a", "pair"), ("b", "pair")]


def test_global_variable_overrides_the_file(tmp_path: Path) -> None:
    """INITSUP_LOGLEVEL wins over [supervisord] loglevel= and [initsup] loglevel=."""
    path = write(
        tmp_path,
        "[supervisord]\nloglevel=error\n[initsup]\nloglevel=info\n[program:a]\ncommand=a\n",
    )
    assert load(path, {})[0].options.loglevel == "info"
    assert load(path, {"INITSUP_LOGLEVEL": "trace"})[0].options.loglevel == "debug"


def test_unknown_keys_in_group_and_include_warn(tmp_path: Path) -> None:
    """[group:x] and [include] warn about keys they do not know."""
    path = write(
        tmp_path,
        "[program:a]\ncommand=a\n[group:g]\nprograms=a\ncolour=red\n[include]\nfiles=x\nmode=1\n",
    )
    assert warnings_of(path) == [
        f"{path}: [include] mode = '1': is not an option initsup knows, ignored",
        f"{path}: [group:g] colour = 'red': is not an option initsup knows, ignored",
    ]


def test_group_may_name_an_ignored_fcgi_program(tmp_path: Path) -> None:
    """A group naming an [fcgi-program:x] is not an error: that section is ignored already."""
    path = write(
        tmp_path,
        "[program:a]\ncommand=a\n[fcgi-program:php]\ncommand=php\n[group:g]\nprograms=a,php\n",
    )
    cfg, warnings = load(path, {})
    assert [p.name for p in cfg.processes()] == ["a"]
    assert warnings == [
        f"{path}: [fcgi-program:php]: initsup does not run FastCGI programs:"
        " the processes of this section will NOT run"
    ]


def test_a_loaded_configuration_survives_pack_marshal_unpack(tmp_path: Path) -> None:
    """What the loading child sends (model.pack through marshal) rebuilds an equal Config."""
    import marshal

    ini = tmp_path / "c.ini"
    ini.write_text(
        textwrap.dedent(
            """\
            [initsup]
            log_format = text
            [program:web]
            command = python3 -m http.server
            numprocs = 2
            process_name = %(program_name)s_%(process_num)s
            stopsignal = INT
            environment = A="1",B="two"
            stdout_logfile = NONE
            stdout_capture_maxbytes = 1KB
            [eventlistener:alerts]
            command = python3 listener.py
            events = PROCESS_STATE_EXITED,TICK_5
            [group:front]
            programs = web
            priority = 5
            """
        )
    )
    loaded, warnings = config.load(str(ini), {}, ["sleep", "1"])
    packed = marshal.loads(marshal.dumps(model.pack((loaded, warnings))))
    rebuilt, rebuilt_warnings = model.unpack(packed)
    assert rebuilt == loaded
    assert rebuilt_warnings == warnings
    web = next(g for g in rebuilt.groups if g.name == "front").processes[0]
    assert web.stopsignal == signal.SIGINT and type(web.stopsignal) is int


def test_configuration_problems_come_back_from_the_loading_child(tmp_path: Path) -> None:
    """cli loads in a forked child; its ConfigError reaches the caller with every problem."""
    from initsup import cli

    ini = tmp_path / "bad.ini"
    ini.write_text(
        "[program:a]\ncommand = x\nstartsecs = soon\nautorestart = maybe\ncolour = blue\n"
    )
    parsed = cli.parse(["-c", str(ini)], {})
    with pytest.raises(model.ConfigError) as caught:
        cli._load_apart(parsed)
    assert len(caught.value.problems) == 2
    assert all(str(ini) in problem for problem in caught.value.problems)
    # The warnings come along: they may explain the problems.
    assert caught.value.warnings == [
        f"{ini}: [program:a] colour = 'blue': is not an option initsup knows, ignored"
    ]


def test_the_caller_works_while_the_child_loads(tmp_path: Path) -> None:
    """meanwhile() runs in the calling process while the child reads the configuration."""
    from initsup import cli

    ini = tmp_path / "one.ini"
    ini.write_text("[program:a]\ncommand = sleep 1\n")
    ran_in: list[int] = []
    loaded, _ = cli._load_apart(cli.parse(["-c", str(ini)], {}), lambda: ran_in.append(os.getpid()))
    assert ran_in == [os.getpid()]
    assert [p.name for p in loaded.processes()] == ["a"]


def test_the_loading_child_is_waited_for_when_meanwhile_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception from meanwhile() propagates, and the child is reaped all the same."""
    from initsup import cli

    ini = tmp_path / "one.ini"
    ini.write_text("[program:a]\ncommand = sleep 1\n")
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    def fail() -> None:
        raise RuntimeError("import failed")

    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(RuntimeError, match="import failed"):
        cli._load_apart(cli.parse(["-c", str(ini)], {}), fail)
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):  # already waited for: no zombie left behind
        os.waitpid(forked[0], os.WNOHANG)


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
