"""supervisord's XML-RPC interface of a real initsup, as a client speaking raw XML-RPC sees
it: `xmlrpc.client.ServerProxy` over the unix socket (with supervisor's own
SupervisorTransport, as supervisorctl and childutils use it) and over TCP with Basic auth.
Every method, the fault codes, and the requests initsup refuses, after which it still
answers."""

from __future__ import annotations

import socket
import xmlrpc.client
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port, wait_for
from tests.supervised import Supervised

transport_module = pytest.importorskip("supervisor.xmlrpc", reason="supervisor is not installed")

USER, PASSWORD = "admin", "s3cret"

INI = """\
[unix_http_server]
file={dir}/http.sock
username={user}
password={password}

[inet_http_server]
port=127.0.0.1:{port}
username={user}
password={password}

[program:web]
command=sleep 1000
startsecs=0

[program:talker]
command=sh -c 'echo hello; echo oops >&2; exec sleep 1000'
startsecs=0

[program:idle]
command=sleep 1000
autostart=false
startsecs=0

[program:missing]
command=/nonexistent/command
autostart=false
startretries=0

[program:quick]
command=false
autostart=false
startsecs=1
startretries=0

[program:noexec]
command={dir}/not-executable
autostart=false

[program:slow]
command=sleep 1000
autostart=false
startsecs=30

[group:pool]
programs=web,talker
"""

STUBBORN = """
[program:stubborn]
command=sh -c 'trap "" TERM; while :; do sleep 0.1; done'
startsecs=0
stopwaitsecs=2
"""

# supervisord's getProcessInfo fields (supervisor/rpcinterface.py), all of them.
INFO_FIELDS = {
    "name", "group", "start", "stop", "now", "state", "statename", "spawnerr",
    "exitstatus", "logfile", "stdout_logfile", "stderr_logfile", "pid", "description",
}  # fmt: skip


class Running:
    """One initsup serving XML-RPC on a unix socket and on TCP."""

    def __init__(self, tmp_path: Path, more: str = "") -> None:
        self.port = free_port()
        self.dir = tmp_path
        (tmp_path / "not-executable").write_text("not a program\n")
        self.ini = INI.format(dir=tmp_path, port=self.port, user=USER, password=PASSWORD) + more
        self.initsup = Supervised(tmp_path, self.ini)
        self.socket = str(tmp_path / "http.sock")
        for name in ("web", "talker"):
            self.initsup.wait("PROCESS_STATE_RUNNING", program=name)

    def proxy(self, how: str, password: str = PASSWORD) -> Any:
        if how == "unix":
            transport = transport_module.SupervisorTransport(
                USER, password, f"unix://{self.socket}"
            )
            return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        url = f"http://{USER}:{password}@127.0.0.1:{self.port}/RPC2"
        return xmlrpc.client.ServerProxy(url)

    def raw(self, how: str, request: bytes) -> bytes:
        """One raw HTTP exchange: everything the server sends until it closes (bounded)."""
        if how == "unix":
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(self.socket)
        else:
            conn = socket.create_connection(("127.0.0.1", self.port))
        with conn:
            conn.settimeout(10)
            try:
                conn.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before it was all sent: the answer says why
            conn.shutdown(socket.SHUT_WR)
            answer = b""
            while len(answer) < 1 << 20:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
            return answer


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    served = Running(tmp_path_factory.mktemp("xmlrpc"))
    try:
        yield served
    finally:
        served.initsup.close()


def fault_code(call: Any, *args: Any) -> int:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call(*args)
    return int(caught.value.faultCode)


@pytest.mark.parametrize("how", ["unix", "tcp"])
def test_every_read_method_answers_as_supervisord(running: Running, how: str) -> None:
    rpc = running.proxy(how)
    assert rpc.supervisor.getAPIVersion() == "3.0"
    assert rpc.supervisor.getVersion() == "3.0"
    assert rpc.supervisor.getSupervisorVersion() == "4.3.0"
    assert rpc.supervisor.getIdentification() == "supervisor"
    assert rpc.supervisor.getState() == {"statecode": 1, "statename": "RUNNING"}
    assert rpc.supervisor.getPID() == running.initsup.pid
    infos = rpc.supervisor.getAllProcessInfo()
    assert {(i["group"], i["name"]) for i in infos} >= {("pool", "web"), ("idle", "idle")}
    assert all(set(i) >= INFO_FIELDS for i in infos), infos[0]
    web = rpc.supervisor.getProcessInfo("pool:web")
    assert web["statename"] == "RUNNING" and web["description"].startswith("pid ")
    configs = rpc.supervisor.getAllConfigInfo()
    names = {"web", "talker", "idle", "missing", "quick", "noexec", "slow"}
    assert {c["name"] for c in configs} == names
    assert all(c["inuse"] for c in configs)
    wait_for(lambda: "oops" in rpc.supervisor.readProcessStderrLog("pool:talker", 0, 100))
    assert "hello" in rpc.supervisor.readProcessStdoutLog("pool:talker", 0, 100)
    text, offset, overflow = rpc.supervisor.tailProcessStdoutLog("pool:talker", 0, 100)
    assert "hello" in text and offset == len("hello\n") and overflow is False
    assert "PROCESS_STATE_RUNNING" in rpc.supervisor.readLog(0, 0)
    methods = rpc.system.listMethods()
    assert "supervisor.getAllProcessInfo" in methods and "system.multicall" in methods
    assert "process" in rpc.system.methodHelp("supervisor.startProcess").lower()
    assert rpc.system.methodSignature("supervisor.getState") == ["struct"]  # one, as supervisord
    calls = [
        {"methodName": "supervisor.getAPIVersion", "params": []},
        {"methodName": "supervisor.getProcessInfo", "params": ["nosuch"]},
    ]
    version, missing = rpc.system.multicall(calls)
    assert version == "3.0" and missing["faultCode"] == 10


@pytest.mark.parametrize("how", ["unix", "tcp"])
def test_every_changing_method_acts_on_the_processes(running: Running, how: str) -> None:
    rpc = running.proxy(how)
    assert rpc.supervisor.stopProcess("pool:web") is True
    assert rpc.supervisor.getProcessInfo("pool:web")["statename"] == "STOPPED"
    assert rpc.supervisor.startProcess("pool:web") is True
    assert rpc.supervisor.getProcessInfo("pool:web")["statename"] == "RUNNING"
    assert rpc.supervisor.signalProcess("pool:web", "CONT") is True
    stopped = rpc.supervisor.stopProcessGroup("pool")
    assert {(r["name"], r["status"]) for r in stopped} == {("web", 80), ("talker", 80)}
    started = rpc.supervisor.startProcessGroup("pool", True)
    assert {(r["name"], r["status"]) for r in started} == {("web", 80), ("talker", 80)}
    assert {r["name"] for r in rpc.supervisor.signalProcessGroup("pool", "CONT")} == {
        "web",
        "talker",
    }
    assert {r["name"] for r in rpc.supervisor.signalAllProcesses("CONT")} == {"web", "talker"}
    assert rpc.supervisor.clearProcessLogs("pool:talker") is True
    assert rpc.supervisor.readProcessStdoutLog("pool:talker", 0, 100) == ""
    assert isinstance(rpc.supervisor.clearAllProcessLogs(), list)
    assert rpc.supervisor.clearLog() is True
    assert rpc.supervisor.sendRemoteCommEvent("note", "hi") is True
    assert rpc.supervisor.reloadConfig() == [[[], [], []]]
    assert rpc.supervisor.removeProcessGroup("idle") is True
    assert "idle" not in {i["group"] for i in rpc.supervisor.getAllProcessInfo()}
    assert rpc.supervisor.addProcessGroup("idle") is True
    assert rpc.supervisor.startAllProcesses(False) != []  # slow (startsecs=30) too
    assert rpc.supervisor.stopAllProcesses(True) != []
    assert rpc.supervisor.startProcessGroup("pool", True) != []


def test_fault_codes(running: Running) -> None:
    rpc = running.proxy("unix")
    assert fault_code(rpc.supervisor._update) == 1  # private: never an attribute lookup
    assert fault_code(getattr(rpc.supervisor, "options.mood")) == 1
    assert fault_code(rpc.nosuch.method) == 1
    assert fault_code(rpc.supervisor.getProcessInfo) == 2
    assert fault_code(rpc.supervisor.getProcessInfo, "nosuch") == 10
    assert fault_code(rpc.supervisor.signalProcess, "pool:web", "NOSUCHSIG") == 11
    assert fault_code(rpc.supervisor.startProcess, "missing") == 20
    assert fault_code(rpc.supervisor.startProcess, "noexec") == 21
    assert fault_code(rpc.supervisor.startProcess, "quick") == 50
    assert fault_code(rpc.supervisor.startProcess, "pool:web") == 60
    assert fault_code(rpc.supervisor.stopProcess, "idle") == 70
    assert fault_code(rpc.supervisor.sendProcessStdin, "idle", "x") == 70
    assert fault_code(rpc.supervisor.sendProcessStdin, "pool:web", "x") == 20
    assert fault_code(rpc.supervisor.addProcessGroup, "pool") == 90
    assert fault_code(rpc.supervisor.addProcessGroup, "nosuch") == 10
    assert fault_code(rpc.supervisor.removeProcessGroup, "pool") == 91
    config = running.dir / "initsup.ini"
    config.write_text(running.ini + "\n[program:broken]\nautostart=maybe\n")
    try:
        assert fault_code(rpc.supervisor.reloadConfig) == 92
    finally:
        config.write_text(running.ini)


REFUSED = {
    "wrong password": (b"POST /RPC2 HTTP/1.1\r\nAuthorization: Basic YWRtaW46bm8=\r\n"
                       b"Content-Length: 0\r\n\r\n", b" 401 "),
    "no credentials": (b"POST /RPC2 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b" 401 "),
}  # fmt: skip

AUTH = b"Authorization: Basic YWRtaW46czNjcmV0\r\n"  # admin:s3cret
HEAD = b"POST /RPC2 HTTP/1.1\r\n" + AUTH


def post(body: bytes, extra: bytes = b"") -> bytes:
    head = b"POST /RPC2 HTTP/1.1\r\n" + AUTH + extra
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


BAD_BODIES = {
    "oversized": (HEAD + b"Content-Length: 5000000\r\n\r\n", b" 413 "),
    "chunked": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", b" 411 "),
    "malformed": (post(b"<methodCall><methodName>x</methodCall"), b" 400 "),
    "doctype": (post(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodCall>'
                     b"<methodName>supervisor.getState</methodName></methodCall>"), b" 400 "),
    "entity": (post(b"<!ENTITY lol 'lol'><methodCall><methodName>supervisor.getState"
                    b"</methodName></methodCall>"), b" 400 "),
}  # fmt: skip


@pytest.mark.parametrize("how", ["unix", "tcp"])
@pytest.mark.parametrize("case", [*REFUSED, *BAD_BODIES])
def test_bad_requests_are_refused_and_initsup_answers_on(
    running: Running, how: str, case: str
) -> None:
    request, status = {**REFUSED, **BAD_BODIES}[case]
    answer = running.raw(how, request)
    assert answer.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1" + status.rstrip()), answer[:200]
    assert running.proxy(how).supervisor.getState()["statename"] == "RUNNING"
    assert running.initsup.proc.popen.poll() is None


def test_wrong_credentials_through_the_client_are_a_401(running: Running) -> None:
    for how in ("unix", "tcp"):
        with pytest.raises(xmlrpc.client.ProtocolError) as caught:
            running.proxy(how, password="wrong").supervisor.getState()
        assert caught.value.errcode == 401


def test_refusals_are_logged(running: Running) -> None:
    running.raw("unix", BAD_BODIES["doctype"][0])
    running.raw("tcp", REFUSED["wrong password"][0])
    fault_code(running.proxy("tcp").supervisor._dispatch)
    running.initsup.read_available(0.5)
    events = [str(r["event"]) for r in running.initsup.records]
    assert any("refused" in e and "DOCTYPE" in e for e in events), events[-10:]
    assert any("refused" in e and "credentials wrong" in e for e in events), events[-10:]
    assert any("supervisor._dispatch" in e and "no such method" in e for e in events)


def test_a_start_stopped_while_starting_is_an_abnormal_termination(running: Running) -> None:
    """startProcess(wait) of a program with startsecs=30, stopped from another client
    while it starts: supervisord's ABNORMAL_TERMINATION."""
    with ThreadPoolExecutor(1) as pool:
        start = pool.submit(fault_code, running.proxy("unix").supervisor.startProcess, "slow")
        rpc = running.proxy("tcp")
        wait_for(lambda: rpc.supervisor.getProcessInfo("slow")["statename"] == "STARTING")
        assert rpc.supervisor.stopProcess("slow") is True
        assert start.result(timeout=30) == 40


def test_shutdown_over_xmlrpc_ends_initsup(tmp_path: Path) -> None:
    """shutdown answers True; while a program that ignores SIGTERM holds the shutdown up,
    getState says SHUTDOWN and other methods fault SHUTDOWN_STATE; it ends killed (137)."""
    served = Running(tmp_path, STUBBORN)
    try:
        served.initsup.wait("PROCESS_STATE_RUNNING", program="stubborn")
        rpc = served.proxy("tcp")
        assert rpc.supervisor.shutdown() is True
        assert rpc.supervisor.getState() == {"statecode": -1, "statename": "SHUTDOWN"}
        assert fault_code(rpc.supervisor.getProcessInfo, "stubborn") == 6
        assert served.initsup.finish() == 137
    finally:
        served.initsup.close()
