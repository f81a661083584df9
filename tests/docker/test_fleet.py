"""A fleet dashboard from PyPI over three containers, each with initsup as PID 1:
multivisor's web server runs on this machine, and its agent, multivisor-rpc, runs in each
container as initsup's [eventlistener], reaching initsup's XML-RPC through
SUPERVISOR_SERVER_URL and serving zerorpc on a port published on 127.0.0.1. Through
multivisor's REST API (what its page shows and sends) the test sees every container's
processes in their states, restarts one, stops and starts another, and reads a tail;
through initsup's own XML-RPC on [inet_http_server]'s published port, and `initsup ctl`,
it checks that initsup did it.

multivisor-rpc and its C extensions (gevent, pyzmq) come from the test environment,
mounted read-only at the same path into a base whose Python matches this one (bookworm's
3.11 for a 3.11 environment): nothing is installed in the image.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import tempfile
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import fleet
from tests.docker import engine
from tests.docker.engine import Box
from tests.helpers import wait_for

USER, PASSWORD = "fleet", "s3cret"
NAMES = ("c1", "c2", "c3")
SITE = sysconfig.get_paths()["purelib"]  # the test environment's site-packages

INI = f"""
[supervisord]
identifier={{name}}

[inet_http_server]
port=*:9001
username={USER}
password={PASSWORD}

[program:web]
command=python3 -c "import time; print('web up', flush=True); time.sleep(100000)"
startsecs=0

[program:worker]
command=sleep 100000
numprocs=2
process_name=%(program_name)s_%(process_num)d
startsecs=0

[program:once]
command=true
startsecs=0
autorestart=false

[program:idle]
command=sleep 100000
autostart=false

{fleet.listener("tcp://*:9002", python="python3", environment=f'PYTHONPATH="{SITE}"')}
"""

# What multivisor should show of each container at the start, by GROUP:NAME.
STATES = {
    "web:web": "RUNNING",
    "worker:worker_0": "RUNNING",
    "worker:worker_1": "RUNNING",
    "once:once": "EXITED",
    "idle:idle": "STOPPED",
    "multivisor:multivisor": "RUNNING",
}


def suite() -> str:
    """The Debian release whose Python is this one, so the environment's C extensions
    load in the container; a skip (a failure under CI) when there is none, or when the
    tests do not run in a virtual environment (its directory is what is mounted)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for name, python in engine.SUITES.items():
        if python == version and sys.prefix != sys.base_prefix:
            return name
    reason = f"no base image has Python {version}, which the mounted multivisor needs"
    if sys.prefix == sys.base_prefix:
        reason = "the tests run outside a virtual environment: there is none to mount"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


class Member:
    """One container of the fleet, seen from this machine."""

    def __init__(self, name: str, box: Box) -> None:
        self.name = name
        self.box = box
        box.container.reload()
        ports = box.container.ports
        self.rpc_port = int(ports["9002/tcp"][0]["HostPort"])  # multivisor-rpc's zerorpc
        self.http_port = int(ports["9001/tcp"][0]["HostPort"])  # initsup's XML-RPC

    def wait_listening(self) -> None:
        """Until multivisor-rpc serves zerorpc (multivisor's web server retries a refused
        connection only after 10 s)."""
        what = f"multivisor-rpc serving in {self.name}"
        engine.poll(lambda: fleet.listening(self.box.records()), 60, what)

    def proxy(self, password: str = PASSWORD) -> Any:
        """An XML-RPC client of initsup's [inet_http_server], on its published port."""
        return xmlrpc.client.ServerProxy(f"http://{USER}:{password}@127.0.0.1:{self.http_port}")

    def xmlrpc(self, password: str = PASSWORD) -> Any:
        return self.proxy(password).supervisor

    def info(self, name: str) -> dict[str, Any]:
        """getProcessInfo(name) from initsup's own XML-RPC."""
        info: dict[str, Any] = self.xmlrpc().getProcessInfo(name)
        return info

    def wait_running(self, name: str, other_than: int) -> dict[str, Any]:
        """Poll initsup's XML-RPC until name is RUNNING with a pid other than other_than."""

        def running() -> dict[str, Any]:
            info = self.info(name)
            return info if info["statename"] == "RUNNING" and info["pid"] != other_than else {}

        return wait_for(running, timeout=30, interval=0.1)

    def ctl_status(self) -> dict[str, dict[str, Any]]:
        """`docker exec C initsup ctl status --json`, by process name."""
        _, out = self.box.exec("initsup", "ctl", "status", "--json")
        return {p["name"]: p for p in json.loads(out)}


class Fleet:
    def __init__(self, members: dict[str, Member], dashboard: fleet.Dashboard) -> None:
        self.members = members
        self.dashboard = dashboard


@pytest.fixture(scope="module")
def fleet_image(client: Any) -> Iterator[str]:
    """images/Dockerfile (initsup.pyz, tests/bin) on the base matching this Python."""
    fleet.require()
    name = suite()
    engine.ensure_bases(client, [name])
    with tempfile.TemporaryDirectory() as scratch:
        built = engine.build_context(Path(scratch))
        tag = f"{engine.run_tag('initsup-fleet')}:{name}"
        engine.build(client, built, "images/Dockerfile", tag, engine.base_tag(name))
    yield tag
    engine.remove_images(client, [tag])


@pytest.fixture(scope="module")
def three(
    client: Any, fleet_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    """Three containers, their multivisor-rpc listening, and multivisor's web server
    watching them; all removed or killed at the end."""
    directory = tmp_path_factory.mktemp("fleet")
    started: list[Any] = []
    dashboard = None
    try:
        members = {}
        for name in NAMES:
            config = directory / f"{name}.ini"
            config.write_text(INI.format(name=name))
            container = client.containers.run(
                fleet_image,
                detach=True,
                labels={engine.LABEL: engine.RUN},
                volumes={
                    str(config): {"bind": "/etc/initsup.ini", "mode": "ro"},
                    sys.prefix: {"bind": sys.prefix, "mode": "ro"},
                },
                ports={"9001/tcp": ("127.0.0.1", None), "9002/tcp": ("127.0.0.1", None)},
            )
            started.append(container)
            members[name] = Member(name, Box(container))
        for member in members.values():
            member.wait_listening()
        agents = {name: f"127.0.0.1:{m.rpc_port}" for name, m in members.items()}
        dashboard = fleet.Dashboard(directory, agents)
        yield Fleet(members, dashboard)
    finally:
        if dashboard is not None:
            dashboard.close()
        for container in started:
            container.remove(force=True)


def test_multivisor_sees_every_container_and_process_in_its_state(three: Fleet) -> None:
    dashboard = three.dashboard

    def all_seen() -> bool:
        shown = dashboard.processes()
        return all(
            shown.get(f"{name}:{spec}", {}).get("statename") == state
            for name in NAMES
            for spec, state in STATES.items()
        )

    wait_for(all_seen, timeout=60, interval=0.1)
    supervisors = dashboard.data()["supervisors"]
    assert sorted(supervisors) == list(NAMES)
    for name, member in three.members.items():
        shown = supervisors[name]
        # initsup is PID 1 of each, and says which container it is ([supervisord] identifier).
        assert (shown["running"], shown["pid"], shown["identification"]) == (True, 1, name)
        assert (shown["api_version"], shown["supervisor_version"]) == ("3.0", "4.3.0")
        assert sorted(shown["processes"]) == sorted(f"{name}:{spec}" for spec in STATES)
        status = member.ctl_status()
        for spec in STATES:
            process = shown["processes"][f"{name}:{spec}"]
            assert process["pid"] == status[process["name"]]["pid"], (name, spec)
    # Without the password, initsup's XML-RPC on the published port answers nothing.
    with pytest.raises(xmlrpc.client.ProtocolError) as refused:
        three.members["c1"].xmlrpc(password="wrong").getState()
    assert refused.value.errcode == 401


def test_a_restart_through_multivisor_gives_a_new_pid_running(three: Fleet) -> None:
    dashboard, members = three.dashboard, three.members
    before = {name: m.info("web:web")["pid"] for name, m in members.items()}
    assert dashboard.act("restart", "c2:web:web") == "OK"

    pid = members["c2"].wait_running("web:web", other_than=before["c2"])["pid"]
    assert members["c2"].ctl_status()["web"]["pid"] == pid
    dashboard.wait_process("c2:web:web", statename="RUNNING", pid=pid)
    # Only that one: the other containers' web kept its pid.
    for name in ("c1", "c3"):
        assert members[name].info("web:web")["pid"] == before[name]
        assert dashboard.processes()[f"{name}:web:web"]["pid"] == before[name]


def test_a_stop_then_a_start_through_multivisor(three: Fleet) -> None:
    dashboard, member = three.dashboard, three.members["c3"]
    uid = "c3:worker:worker_1"
    before = member.info("worker:worker_1")["pid"]
    assert dashboard.act("stop", uid) == "OK"
    assert member.info("worker:worker_1")["statename"] == "STOPPED"  # stopProcess waits
    dashboard.wait_process(uid, statename="STOPPED", pid=0)
    # multivisor's page starts a stopped process with its restart button.
    assert dashboard.act("restart", uid) == "OK"
    pid = member.wait_running("worker:worker_1", other_than=before)["pid"]
    assert pid != 0
    dashboard.wait_process(uid, statename="RUNNING", pid=pid)
    assert member.info("worker:worker_0")["statename"] == "RUNNING"


def test_multivisors_tail_shows_a_programs_output(three: Fleet) -> None:
    message = three.dashboard.tail("c1:web:web")
    assert "web up\n" in message["message"]
    assert message["size"] >= len("web up\n")


# The 14 fields of supervisord's process info: cesi fails with a KeyError on a missing one.
INFO_FIELDS = {
    "name", "group", "start", "stop", "now", "state", "statename", "spawnerr",
    "exitstatus", "logfile", "stdout_logfile", "stderr_logfile", "pid", "description",
}  # fmt: skip


def test_cesis_calls_answer_as_it_expects(three: Fleet) -> None:
    """cesi's calls (control-surface.md), replayed: it is not on PyPI here."""
    member = three.members["c1"]
    server = member.proxy()
    assert "supervisor.getAllProcessInfo" in server.system.listMethods()
    infos = server.supervisor.getAllProcessInfo()
    assert all(set(info) == INFO_FIELDS for info in infos)
    running = server.supervisor.getProcessInfo("web")
    # cesi reads the uptime from the description of a RUNNING process.
    assert running["description"].startswith(f"pid {running['pid']}, uptime ")
    assert "web up\n" in server.supervisor.tailProcessStdoutLog("web", 0, 500)[0]
    # Its restart is a stop, then a start, each waiting.
    assert server.supervisor.stopProcess("worker:worker_0") is True
    assert server.supervisor.startProcess("worker:worker_0") is True
    assert member.info("worker:worker_0")["statename"] == "RUNNING"


def test_supervisord_monitors_calls_answer_as_it_expects(three: Fleet) -> None:
    """supervisord-monitor's calls (a PHP page, not on PyPI), replayed: `wait` given as
    1, names GROUP:NAME when the group has another name, the whole container stopped
    and started."""
    member = three.members["c3"]
    rpc = member.xmlrpc()
    assert rpc.getSupervisorVersion() == "4.3.0"
    infos = {f"{i['group']}:{i['name']}": i for i in rpc.getAllProcessInfo()}
    pid, uptime = infos["web:web"]["description"].split(",")
    assert (pid, uptime[:8]) == (f"pid {infos['web:web']['pid']}", " uptime ")
    assert rpc.readProcessStderrLog("worker:worker_0", -1000, 0) == ""
    assert rpc.clearProcessLogs("web") is True
    assert rpc.stopProcess("worker:worker_0", 1) is True
    assert rpc.startProcess("worker:worker_0", 1) is True
    stopped = rpc.stopAllProcesses(1)
    assert {r["name"] for r in stopped} == {"web", "worker_0", "worker_1", "multivisor"}
    assert {(r["status"], r["description"]) for r in stopped} == {(80, "OK")}
    started = rpc.startAllProcesses(1)
    assert {r["name"] for r in started} == {n.partition(":")[2] for n in STATES}
    assert {(r["status"], r["description"]) for r in started} == {(80, "OK")}

    def states() -> dict[str, str]:
        return {f"{i['group']}:{i['name']}": i["statename"] for i in rpc.getAllProcessInfo()}

    # once (`true`) is RUNNING at its spawn (startsecs=0), then EXITED.
    wanted = {**STATES, "idle:idle": "RUNNING"}
    wait_for(lambda: states() == wanted, timeout=30, interval=0.1)
