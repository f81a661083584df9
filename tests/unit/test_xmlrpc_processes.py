"""supervisord's start, stop and signal methods in-process, over the fake host's clock:
each answer, each fault, and when a waiting answer comes (only once the processes have
settled)."""

from __future__ import annotations

import signal

from initsup.process import SpawnFailed
from tests.control_host import ControlHost
from tests.unit.test_xmlrpc import fault, request, value


def _pool(host: ControlHost) -> None:
    host.add("w1", group="pool")
    host.add("w2", group="pool")


def test_start_waits_for_running_unless_told_not_to() -> None:
    host = ControlHost()
    a, b = host.add("a"), host.add("b")
    answers = request(host, "supervisor.startProcess", "a")
    assert answers == [] and a.state.name == "STARTING"
    host.advance(0.5)
    assert answers == []
    host.advance(0.5)
    assert value(answers) is True and a.state.name == "RUNNING"
    assert value(request(host, "supervisor.startProcess", "b", False)) is True
    assert b.state.name == "STARTING"
    assert fault(request(host, "supervisor.startProcess", "a")) == (60, "ALREADY_STARTED: a")


def test_names_are_read_as_supervisord_reads_them() -> None:
    """NAME means group NAME's process NAME: a process of another group is not found by
    its name alone, nor is `all` a name (initsup ctl allows both)."""
    host = ControlHost()
    _pool(host)
    for name in ("w1", "all", "nope", "pool:nope", "nope:*", "pool:w1:x"):
        assert fault(request(host, "supervisor.startProcess", name)) == (10, f"BAD_NAME: {name}")
    assert fault(request(host, "supervisor.startProcessGroup", "w1")) == (10, "BAD_NAME: w1")
    assert value(request(host, "supervisor.startProcess", "pool:w1", False)) is True


def test_a_command_that_does_not_exist_is_no_file() -> None:
    host = ControlHost()
    host.add("a")
    host.fail_spawns.append(SpawnFailed("can't find command '/usr/bin/a'", 127))
    answers = request(host, "supervisor.startProcess", "a")
    assert fault(answers) == (20, "NO_FILE: can't find command '/usr/bin/a'")


def test_a_failed_spawn_is_spawn_error_with_or_without_wait() -> None:
    host = ControlHost()
    host.add("a")
    host.fail_spawns.append(SpawnFailed("couldn't spawn a: EMFILE", 126))
    assert fault(request(host, "supervisor.startProcess", "a", False)) == (50, "SPAWN_ERROR: a")


def test_exiting_during_startsecs_is_a_spawn_error() -> None:
    host = ControlHost()
    host.add("a")
    answers = request(host, "supervisor.startProcess", "a")
    host.exit("a", 1)
    assert fault(answers) == (50, "SPAWN_ERROR: a")


def test_stopped_while_starting_is_abnormal_termination() -> None:
    host = ControlHost()
    host.add("a")
    answers = request(host, "supervisor.startProcess", "a")
    assert value(request(host, "supervisor.stopProcess", "a", False)) is True
    assert fault(answers) == (40, "ABNORMAL_TERMINATION: a")


def test_group_start_lists_the_processes_it_started_once_all_have() -> None:
    host = ControlHost()
    _pool(host)
    host.add("w3", group="pool", startsecs=3)
    assert value(request(host, "supervisor.startProcess", "pool:w2", False)) is True
    host.advance(1)
    answers = request(host, "supervisor.startProcess", "pool:*")
    host.advance(1)
    assert answers == []  # w3 has startsecs 3
    host.advance(2)
    ok = {"group": "pool", "status": 80, "description": "OK"}
    assert value(answers) == [{"name": "w1", **ok}, {"name": "w3", **ok}]
    assert value(request(host, "supervisor.startProcessGroup", "pool")) == []


def test_start_all_without_wait_answers_at_once() -> None:
    host = ControlHost()
    _pool(host)
    host.add("a")
    results = value(request(host, "supervisor.startAllProcesses", False))
    assert [(r["group"], r["name"], r["status"]) for r in results] == [
        ("pool", "w1", 80),
        ("pool", "w2", 80),
        ("a", "a", 80),
    ]


def test_group_results_carry_each_fault() -> None:
    host = ControlHost()
    _pool(host)
    host.fail_spawns.append(SpawnFailed("no", 126))
    answers = request(host, "supervisor.startProcessGroup", "pool")
    host.advance(1)
    assert value(answers) == [
        {"name": "w1", "group": "pool", "status": 50, "description": "SPAWN_ERROR: pool:w1"},
        {"name": "w2", "group": "pool", "status": 80, "description": "OK"},
    ]


def test_stop_waits_for_the_exit() -> None:
    host = ControlHost()
    host.add("a")
    request(host, "supervisor.startProcess", "a")
    host.advance(1)
    answers = request(host, "supervisor.stopProcess", "a")
    assert answers == [] and host.sent[-1][1] == signal.SIGTERM
    host.exit("a", 0)
    assert value(answers) is True
    assert fault(request(host, "supervisor.stopProcess", "a")) == (70, "NOT_RUNNING: a")


def test_stop_group_and_all_list_the_running_processes_they_stopped() -> None:
    host = ControlHost()
    _pool(host)
    host.add("a")
    value(request(host, "supervisor.startProcess", "pool:w1", False))
    host.advance(1)
    answers = request(host, "supervisor.stopProcess", "pool:")
    host.exit("pool:w1", 0)
    assert value(answers) == [{"name": "w1", "group": "pool", "status": 80, "description": "OK"}]
    value(request(host, "supervisor.startProcess", "a", False))
    results = value(request(host, "supervisor.stopAllProcesses", False))
    assert [r["name"] for r in results] == ["a"]
    assert fault(request(host, "supervisor.stopProcessGroup", "nope")) == (10, "BAD_NAME: nope")


def test_signal_checks_the_signal_before_the_state() -> None:
    host = ControlHost()
    host.add("a")
    assert fault(request(host, "supervisor.signalProcess", "a", "NOPE")) == (
        11,
        "BAD_SIGNAL: NOPE",
    )
    assert fault(request(host, "supervisor.signalProcess", "a", "HUP")) == (70, "NOT_RUNNING: a")
    request(host, "supervisor.startProcess", "a", False)
    assert value(request(host, "supervisor.signalProcess", "a", "USR1")) is True
    assert value(request(host, "supervisor.signalProcess", "a", 10)) is True
    assert [s for _, s, _ in host.sent] == [signal.SIGUSR1, 10]


def test_signal_group_and_all_list_the_processes_that_could_be_signalled() -> None:
    host = ControlHost()
    _pool(host)
    request(host, "supervisor.startProcess", "pool:w2", False)
    results = value(request(host, "supervisor.signalProcessGroup", "pool", "HUP"))
    assert results == [{"name": "w2", "group": "pool", "status": 80, "description": "OK"}]
    results = value(request(host, "supervisor.signalAllProcesses", "BOGUS"))
    assert results == [
        {"name": "w2", "group": "pool", "status": 11, "description": "BAD_SIGNAL: BOGUS"}
    ]
    assert value(request(host, "supervisor.signalProcess", "pool:*", "TERM"))[0]["status"] == 80


def test_a_client_may_give_wait_as_an_int() -> None:
    """supervisord-monitor sends startProcess(name, 1)."""
    host = ControlHost()
    host.add("a")
    answers = request(host, "supervisor.startProcess", "a", 1)
    assert answers == []
    host.advance(1)
    assert value(answers) is True


def test_nothing_starts_while_shutting_down() -> None:
    host = ControlHost()
    a = host.add("a")
    host.shutting_down = True
    assert fault(request(host, "supervisor.startProcess", "a")) == (6, "SHUTDOWN_STATE")
    assert a.state.name == "STOPPED"
