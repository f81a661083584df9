"""Unit tests for initsup.config.build: [initsup] options, sections, groups, the main program."""

from __future__ import annotations

import os
from pathlib import Path

from initsup import model
from initsup.config import ConfigError, load, packing
from tests.unit.configs import (
    FIXTURES,
    _commands_resolve,  # noqa: F401  (autouse: the made-up commands resolve)
    problems,
    warnings_of,
    write,
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
    """logfile and friends are accepted with one warning per reason; pidfile and
    nodaemon are read."""
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
        f"{path}: [supervisord] logfile: ignored: initsup's own log is its stdout"
        " (readLog reads it from memory)",
    ]
    assert load(path, {})[0].options.pidfile == "/run/supervisord.pid"


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
        [rpcinterface:twiddler]
        supervisor.rpcinterface_factory = supervisor_twiddler.rpcinterface:make_twiddler
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
        f"{path}: [rpcinterface:twiddler]: sections initsup does not use, ignored",
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
    assert warnings == []  # chown= is served now
    (server,) = cfg.options.http_servers
    assert (server.kind, server.address, server.mode) == ("unix", str(tmp_path / "ctl.sock"), 0o660)
    assert (server.owner, server.group) == ("nobody", "nogroup")


def test_http_servers_and_supervisorctl(tmp_path: Path) -> None:
    """The inet server's port forms and credentials, and [supervisorctl], reach the model."""
    sha = "{SHA}" + "a" * 40
    path = write(
        tmp_path,
        f"""\
        [inet_http_server]
        port=*:9001
        username=u
        password={sha}
        [supervisorctl]
        serverurl=unix://%(here)s/s.sock
        prompt=box
        [program:web]
        command=run
        """,
    )
    cfg, _ = load(path, {})
    assert cfg.options.http_servers == [
        model.HttpServerConfig("inet", address="", port=9001, username="u", password=sha)
    ]
    assert cfg.options.ctl == model.CtlConfig(f"unix://{tmp_path}/s.sock", prompt="box")


def test_http_servers_survive_the_forked_readers_packing(tmp_path: Path) -> None:
    """What the reader's child sends back is the same Config, HTTP servers included."""
    path = write(
        tmp_path,
        """\
        [unix_http_server]
        file=%(here)s/rpc.sock
        chmod=0770
        [inet_http_server]
        port=127.0.0.1:9001
        username=u
        password=p
        [supervisorctl]
        serverurl=http://127.0.0.1:9001
        [program:web]
        command=run
        """,
    )
    cfg, warnings = load(path, {})
    again, warned = packing.decode(packing.answer(lambda: (cfg, warnings)))
    assert again == cfg and warned == warnings
    assert [s.kind for s in again.options.http_servers] == ["unix", "inet"]
    assert again.options.http_servers[0].mode == 0o770
    assert again.options.ctl == cfg.options.ctl


def test_http_server_errors_all_at_once(tmp_path: Path) -> None:
    """A bad port, a bad {SHA} password and a username alone are each said."""
    path = write(
        tmp_path,
        """\
        [inet_http_server]
        port=host:
        password={SHA}xyz
        [supervisorctl]
        serverurl=ftp://x
        [program:web]
        command=run
        """,
    )
    said = problems(path)
    assert len(said) == 4
    assert "names no port number" in said[0]
    assert "{SHA} followed by 40 hex digits" in said[1]
    assert "give both, or neither" in said[2]
    assert "unix:///path/to/socket or http://host:port" in said[3]


def test_unknown_program_key_and_syslog_warnings(tmp_path: Path) -> None:
    """Unknown keys warn one by one; *_syslog is accepted with one warning for the section."""
    process_body = "command=run\ncolour=blue\nstdout_syslog=true\nstderr_syslog=true\n"
    path = write(tmp_path, "[program:web]\n" + process_body)
    assert warnings_of(path) == [
        f"{path}: [program:web] colour = 'blue': is not an option initsup knows, ignored",
        f"{path}: [program:web] stdout_syslog, stderr_syslog: not supported, ignored",
    ]


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
    assert warnings == [  # [rpcinterface:supervisor] asks for what initsup serves
        f"{path}: [supervisord] logfile: ignored: initsup's own log is its stdout"
        " (readLog reads it from memory)",
        f"{path}: [supervisord] childlogdir: ignored: AUTO child logs go to initsup's"
        " stdout, not to files",
    ]
    assert cfg.options.user == "root"
    assert all(p.user == "root" for p in cfg.processes())
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


def test_a_bare_inet_port_is_loopback_and_an_explicit_any_address_is_kept(tmp_path: Path) -> None:
    """port=9001 listens on 127.0.0.1 (supervisord: every address); *:9001 and :9001 mean
    every address because the file says so."""
    for port, address in (("9001", "127.0.0.1"), ("*:9001", ""), (":9001", "")):
        path = write(tmp_path, f"[inet_http_server]\nport={port}\n[program:web]\ncommand=run\n")
        (server,) = load(path, {})[0].options.http_servers
        assert (server.address, server.port) == (address, 9001), port


def test_an_inet_server_without_a_port_is_an_error(tmp_path: Path) -> None:
    """As supervisord: [inet_http_server] must say where to listen."""
    path = write(tmp_path, "[inet_http_server]\n[program:web]\ncommand=run\n")
    assert problems(path) == [f"{path}: [inet_http_server]: has no port (e.g. port=127.0.0.1:9001)"]
