"""Unit tests for initsup.config.convert: supervisord's converters and %(name)s expansion."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from initsup import model
from initsup.config import limits, load
from initsup.config.convert import autorestart as _autorestart
from initsup.config.convert import boolean as _boolean
from initsup.config.convert import byte_size as _byte_size
from initsup.config.convert import command as _command
from initsup.config.convert import count as _count
from initsup.config.convert import directory as _directory
from initsup.config.convert import exit_codes as _exitcodes
from initsup.config.convert import expand as _expand
from initsup.config.convert import integer as _integer
from initsup.config.convert import key_value_pairs as _environment
from initsup.config.convert import log_format as _log_format
from initsup.config.convert import logfile as _logfile
from initsup.config.convert import loglevel as _loglevel
from initsup.config.convert import name as _name
from initsup.config.convert import octal_mode as _umask
from initsup.config.convert import positive_int
from initsup.config.convert import seconds as _seconds
from initsup.config.convert import signal_number as _signal
from initsup.config.convert import signal_set as _signals
from initsup.config.convert import user as _user
from tests.unit.configs import (
    NO_SUCH_USER,
    _commands_resolve,  # noqa: F401  (autouse: the made-up commands resolve)
    problems,
    program,
    write,
)

_numprocs = positive_int(limits.MAX_NUMPROCS)  # the converter numprocs= takes


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
