"""Unit tests for initsup.config.programs: program and event listener sections, numprocs."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest

from initsup import model
from initsup.config import load
from tests.unit.configs import (
    NO_SUCH_USER,
    _commands_resolve,  # noqa: F401  (autouse: the made-up commands resolve)
    problems,
    program,
    warnings_of,
    write,
)

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
    assert process.serverurl is None  # AUTO: initsup's own server
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


# -- the give-up policy (meetbill/supervise's keys) --------------------------------------


def test_give_up_keys_default_to_no_limit(tmp_path: Path) -> None:
    process = program(tmp_path, "command=/bin/app\n")
    assert (process.max_tries, process.max_tries_window, process.max_tries_if_coredumped) == (
        0,
        60.0,
        0,
    )


def test_give_up_keys_converted(tmp_path: Path) -> None:
    body = "command=/bin/app\nmax_tries=3\nmax_tries_window=2.5\nmax_tries_if_coredumped=1\n"
    process = program(tmp_path, body)
    assert (process.max_tries, process.max_tries_window, process.max_tries_if_coredumped) == (
        3,
        2.5,
        1,
    )
    assert warnings_of(write(tmp_path, "[program:web]\n" + body)) == []


def test_give_up_keys_from_variables() -> None:
    cfg, warnings = load(
        None,
        {
            "INITSUP_PROGRAM_WEB": "/bin/app",
            "INITSUP_PROGRAM_WEB__MAX_TRIES": "5",
            "INITSUP_PROGRAM_WEB__MAX_TRIES_WINDOW": "30",
            "INITSUP_PROGRAM_WEB__MAX_TRIES_IF_COREDUMPED": "2",
        },
    )
    [process] = cfg.processes()
    assert (process.max_tries, process.max_tries_window, process.max_tries_if_coredumped) == (
        5,
        30.0,
        2,
    )
    assert warnings == []


def test_give_up_variables_override_the_file(tmp_path: Path) -> None:
    process = program(
        tmp_path, "command=/bin/app\nmax_tries=3\n", {"INITSUP_PROGRAM_WEB__MAX_TRIES": "7"}
    )
    assert process.max_tries == 7


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("max_tries=-1", "max_tries = '-1': must be a whole number, 0 or more"),
        ("max_tries=2.5", "max_tries = '2.5': must be a whole number, 0 or more"),
        ("max_tries=many", "max_tries = 'many': must be a whole number, 0 or more"),
        (
            "max_tries_if_coredumped=-3",
            "max_tries_if_coredumped = '-3': must be a whole number, 0 or more",
        ),
        ("max_tries_window=0", "max_tries_window = '0': must be a number of seconds above 0"),
        ("max_tries_window=-5", "max_tries_window = '-5': must be a non-negative number"),
        ("max_tries_window=nan", "max_tries_window = 'nan': must be a non-negative number"),
        ("max_tries_window=inf", "max_tries_window = 'inf': must be a non-negative number"),
    ],
)
def test_bad_give_up_values_name_file_section_key_and_value(
    tmp_path: Path, line: str, said: str
) -> None:
    path = write(tmp_path, f"[program:web]\ncommand=/bin/app\n{line}\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}: [program:web] {said}")


def test_bad_give_up_variable_is_named(tmp_path: Path) -> None:
    found = problems(
        None, {"INITSUP_PROGRAM_WEB": "/bin/app", "INITSUP_PROGRAM_WEB__MAX_TRIES": "x"}
    )
    assert found == [
        "INITSUP_PROGRAM_WEB__MAX_TRIES='x': max_tries must be a whole number, 0 or more"
    ]


def test_listeners_take_the_give_up_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [eventlistener:mon]
        command=/bin/mon
        events=PROCESS_STATE
        max_tries=2
        max_tries_window=10
        max_tries_if_coredumped=1
        """,
    )
    cfg, warnings = load(path, {})
    [process] = cfg.processes()
    assert (process.max_tries, process.max_tries_window, process.max_tries_if_coredumped) == (
        2,
        10.0,
        1,
    )
    assert warnings == []
