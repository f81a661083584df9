"""multivisor's agent, multivisor-rpc from PyPI, as an event listener of a real initsup:
it finds initsup's XML-RPC through SUPERVISOR_SERVER_URL and the server's credentials,
answers multivisor's own zerorpc client with what initsup says, and streams initsup's
events with each process's info, so a restart made through it is seen as the dashboard
sees it. No docker: tests/docker/test_fleet.py runs the whole dashboard on containers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import fleet
from tests.helpers import free_port, wait_for
from tests.supervised import Supervised

INI = """\
[unix_http_server]
file={dir}/http.sock
username=fleet
password=s3cret

[program:web]
command=python3 -c "import time; print('web up', flush=True); time.sleep(1000)"
startsecs=0

[program:worker]
command=sleep 1000
numprocs=2
process_name=%(program_name)s_%(process_num)d
startsecs=0

[program:idle]
command=sleep 1000
autostart=false

"""


class Agent:
    """initsup with multivisor-rpc as its listener, serving zerorpc on a free port."""

    def __init__(self, tmp_path: Path) -> None:
        self.address = f"tcp://127.0.0.1:{free_port()}"
        ini = INI.format(dir=tmp_path) + fleet.listener(self.address)
        self.initsup = Supervised(tmp_path, ini)
        wait_for(self._listening, timeout=30, interval=0.05)

    def _listening(self) -> bool:
        self.initsup.read_available()
        return fleet.listening(self.initsup.records)

    def pid(self, name: str) -> int:
        """The pid `initsup ctl status --json` gives name."""
        done = self.initsup.ctl("status", "--json")
        return next(int(p["pid"]) for p in json.loads(done.stdout) if p["name"] == name)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    fleet.require()
    agent = Agent(tmp_path)
    yield agent
    agent.initsup.close()


def test_multivisor_rpc_answers_with_what_initsup_says(agent: Agent) -> None:
    calls: list[tuple[str, list[Any]]] = [
        ("getPID", []),
        ("getIdentification", []),
        ("getAPIVersion", []),
        ("getSupervisorVersion", []),
        ("getAllProcessInfo", []),
        ("getProcessInfo", ["worker:worker_1"]),
        ("startProcess", ["web:web", False]),
        ("stopProcess", ["nosuch"]),
    ]
    results = fleet.zerorpc_session(agent.address, calls)["results"]
    pid, identification, api, version, infos, worker, started, unknown = results
    assert (pid, identification, api, version) == (agent.initsup.pid, "supervisor", "3.0", "4.3.0")
    states = {(p["group"], p["name"]): p["statename"] for p in infos}
    assert states == {
        ("web", "web"): "RUNNING",
        ("worker", "worker_0"): "RUNNING",
        ("worker", "worker_1"): "RUNNING",
        ("idle", "idle"): "STOPPED",
        ("multivisor", "multivisor"): "RUNNING",
    }
    assert worker["pid"] == agent.pid("worker_1")
    assert worker["description"].startswith(f"pid {worker['pid']}, uptime ")
    # Faults reach multivisor as errors it shows, with supervisord's fault strings.
    assert "ALREADY_STARTED: web:web" in started["fault"]
    assert "BAD_NAME: nosuch" in unknown["fault"]


def test_a_restart_through_multivisor_rpc_streams_each_state_with_the_new_pid(
    agent: Agent,
) -> None:
    before = agent.pid("web")
    # What multivisor's web server does for "restart": stop, then start without waiting.
    calls: list[tuple[str, list[Any]]] = [
        ("stopProcess", ["web:web"]),
        ("startProcess", ["web:web", False]),
    ]
    session = fleet.zerorpc_session(agent.address, calls, ("PROCESS_STATE_RUNNING", "web"))
    assert session["results"] == [True, True]
    events = [e for e in session["events"] if e["payload"].get("processname") == "web"]
    names = [e["eventname"] for e in events]
    assert names == [
        "PROCESS_STATE_STOPPING",
        "PROCESS_STATE_STOPPED",
        "PROCESS_STATE_STARTING",
        "PROCESS_STATE_RUNNING",
    ]
    running = events[-1]
    after = agent.pid("web")
    assert after != before
    # The listener's header and payload, as multivisor-rpc parsed them, and the process
    # info it fetched over XML-RPC for the dashboard.
    header = (running["ver"], running["pool"], running["server"])
    assert header == ("3.0", "multivisor", "supervisor")
    assert running["payload"]["groupname"] == "web"
    assert running["payload"]["from_state"] == "STARTING"
    assert running["payload"]["pid"] == str(after)
    info = running["payload"]["process"]
    assert (info["statename"], info["pid"]) == ("RUNNING", after)
    stopped = events[1]["payload"]["process"]
    assert (stopped["statename"], stopped["pid"]) == ("STOPPED", 0)


def test_a_shutdown_asked_through_multivisor_rpc_is_answered_before_it_is_stopped(
    agent: Agent,
) -> None:
    """multivisor's Shutdown button: multivisor-rpc asks initsup to shut down, and is a
    listener initsup stops at the end of it; it is stopped only once it has heard the
    stops before its own, so the dashboard gets its answer instead of a timeout."""
    session = fleet.zerorpc_session(agent.address, [("shutdown", [])])
    assert session["results"] == [True]
    assert agent.initsup.finish() == 0
