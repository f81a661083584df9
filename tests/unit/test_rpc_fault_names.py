"""The name in the fault string of a one-process start, stop or signal is the name as the
client wrote it, as supervisord words it: dashboards such as multivisor and cesi always
write GROUP:NAME, and cesi shows the fault string to its user. Group answers name each
process as supervisorctl does (NAME when the group has its name), as supervisord's do."""

from __future__ import annotations

from initsup.process import SpawnFailed
from tests.control_host import ControlHost
from tests.unit.test_xmlrpc import fault, request, value


def test_start_faults_name_the_process_as_written() -> None:
    host = ControlHost()
    host.add("web")
    host.add("w1", group="pool")
    assert value(request(host, "supervisor.startProcess", "web:web", False)) is True
    assert value(request(host, "supervisor.startProcess", "pool:w1", False)) is True
    for name in ("web", "web:web", "pool:w1"):
        answer = request(host, "supervisor.startProcess", name)
        assert fault(answer) == (60, f"ALREADY_STARTED: {name}")


def test_stop_and_signal_faults_name_the_process_as_written() -> None:
    host = ControlHost()
    host.add("web")
    for name in ("web", "web:web"):
        assert fault(request(host, "supervisor.stopProcess", name)) == (70, f"NOT_RUNNING: {name}")
        answer = request(host, "supervisor.signalProcess", name, "HUP")
        assert fault(answer) == (70, f"NOT_RUNNING: {name}")


def test_a_failed_start_names_the_process_as_written() -> None:
    host = ControlHost()
    host.add("web")
    host.fail_spawns.append(SpawnFailed("couldn't spawn web: EMFILE", 126))
    answer = request(host, "supervisor.startProcess", "web:web", False)
    assert fault(answer) == (50, "SPAWN_ERROR: web:web")
    host = ControlHost()
    host.add("web")
    answer = request(host, "supervisor.startProcess", "web:web")
    host.exit("web", 1)
    assert fault(answer) == (50, "SPAWN_ERROR: web:web")
    host = ControlHost()
    host.add("web")
    answer = request(host, "supervisor.startProcess", "web:web")
    assert value(request(host, "supervisor.stopProcess", "web:web", False)) is True
    assert fault(answer) == (40, "ABNORMAL_TERMINATION: web:web")


def test_group_answers_keep_supervisorctls_names() -> None:
    host = ControlHost()
    host.add("w1", group="pool")
    host.fail_spawns.append(SpawnFailed("couldn't spawn w1: EMFILE", 126))
    answer = value(request(host, "supervisor.startProcessGroup", "pool", False))
    assert answer == [
        {"name": "w1", "group": "pool", "status": 50, "description": "SPAWN_ERROR: pool:w1"}
    ]
