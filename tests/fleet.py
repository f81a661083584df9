"""multivisor, a fleet dashboard from PyPI, run for the tests as its users run it.

multivisor has two halves. `multivisor-rpc` runs beside each supervisor as an event
listener: it takes PROCESS_STATE and SUPERVISOR_STATE_CHANGE events on its stdin, calls
the supervisor's XML-RPC through `supervisor.childutils` (SUPERVISOR_SERVER_URL), and
serves both over zerorpc (ZeroMQ). The web server (`multivisor`) connects to every
listener named in its config file and serves the page and a REST API over what they say.

Here: the [eventlistener] section that runs multivisor-rpc under initsup (`listener`),
the web server on a free port of 127.0.0.1 with its REST API (`Dashboard`), and
multivisor's own zerorpc client in a child interpreter (`zerorpc_session`), since it
needs gevent, which the test process should not import.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers import PYTHON, Proc, free_port, unavailable, wait_for

# multivisor's scripts, in the environment that runs the tests (a virtual environment,
# which the docker test mounts into its containers at the same path).
VENV = Path(sys.prefix)
RPC_SCRIPT = VENV / "bin" / "multivisor-rpc"
WEB_SCRIPT = VENV / "bin" / "multivisor"
EVENTS = "PROCESS_STATE,SUPERVISOR_STATE_CHANGE"  # what multivisor's README subscribes to


def missing() -> str | None:
    """Why multivisor cannot run here, or None when it can."""
    if importlib.util.find_spec("multivisor") is None:
        return "multivisor is not installed (pip install 'multivisor[web,rpc]')"
    for script in (RPC_SCRIPT, WEB_SCRIPT):
        if not script.exists():
            return f"multivisor's script {script} is missing"
    return None


def require() -> None:
    """Skip the test when multivisor is missing; under CI that is a failure."""
    reason = missing()
    if reason is not None:
        unavailable("the multivisor test", reason)


def listener(bind: str, python: str = PYTHON, environment: str = "") -> str:
    """The [eventlistener:multivisor] section running multivisor-rpc, serving zerorpc at
    bind (tcp://HOST:PORT). Its buffer holds 100 events, not supervisord's default 10:
    every program's STARTING and RUNNING wait there while multivisor-rpc starts, and an
    overflow drops the oldest (docs/observability.md, "Fleet dashboards")."""
    extra = f"environment={environment}\n" if environment else ""
    return (
        "[eventlistener:multivisor]\n"
        f"command={python} {RPC_SCRIPT} --bind {bind}\n"
        f"events={EVENTS}\nbuffer_size=100\n{extra}"
    )


def listening(records: list[dict[str, Any]]) -> bool:
    """Whether multivisor-rpc's zerorpc server is up, by its own log lines: it handles
    events only once its server is bound."""
    return any(
        r.get("program") == "multivisor" and "handling PROCESS_STATE" in str(r.get("event"))
        for r in records
    )


class Dashboard:
    """multivisor's web server on a free port of 127.0.0.1, watching the given
    supervisors ({name: "host:port" of its multivisor-rpc}); its output in a file."""

    def __init__(self, tmp_path: Path, supervisors: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp_path / "multivisor.conf"
        sections = [f"[supervisor:{name}]\nurl={url}\n" for name, url in supervisors.items()]
        config.write_text("[global]\nname=fleet\n\n" + "\n".join(sections))
        self.log_path = tmp_path / "multivisor.log"
        with open(self.log_path, "wb") as log:
            argv = [PYTHON, str(WEB_SCRIPT), "--bind", f"127.0.0.1:{self.port}", "-c", str(config)]
            self.proc = Proc(argv, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        try:
            wait_for(self._answers, timeout=30, interval=0.05)
        except BaseException:
            self.close()
            raise

    def _answers(self) -> bool:
        assert self.proc.popen.poll() is None, self.log()
        try:
            self.data()
        except OSError:
            return False
        return True

    def log(self) -> str:
        """What the web server logged, without its access lines."""
        lines = self.log_path.read_text(errors="replace").splitlines(keepends=True)
        return "".join(line for line in lines if '"GET /api/' not in line)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return json.loads(answer.read())

    def data(self) -> dict[str, Any]:
        """GET /api/data: the supervisors, each with its processes by uid."""
        data: dict[str, Any] = self.get("/api/data")
        return data

    def processes(self) -> dict[str, dict[str, Any]]:
        """Every process multivisor knows of, by its uid (SUPERVISOR:GROUP:NAME)."""
        found: dict[str, dict[str, Any]] = {}
        for supervisor in self.data()["supervisors"].values():
            found.update(supervisor["processes"])
        return found

    def act(self, action: str, *uids: str) -> str:
        """POST /api/process/ACTION (restart, stop) with uid=a,b: what the page's buttons
        send. multivisor answers once it has made its calls."""
        body = urllib.parse.urlencode({"uid": ",".join(uids)}).encode()
        request = urllib.request.Request(f"{self.url}/api/process/{action}", data=body)
        with urllib.request.urlopen(request, timeout=60) as answer:
            return str(answer.read().decode())

    def wait_process(self, uid: str, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
        """Poll /api/data until process uid has these field values; return it."""

        def matching() -> dict[str, Any]:
            process = self.processes().get(uid) or {}
            if all(process.get(k) == v for k, v in fields.items()):
                return process
            return {}

        try:
            return wait_for(matching, timeout=timeout, interval=0.1)
        except AssertionError:
            raise AssertionError(
                f"{uid} never had {fields}: {self.processes().get(uid)}\n{self.log()[-3000:]}"
            ) from None

    def tail(self, uid: str, stream: str = "out") -> dict[str, Any]:
        """The first message of the page's log tail of uid (an event stream multivisor
        fills from tailProcessStdoutLog or tailProcessStderrLog)."""
        path = f"/api/process/log/{stream}/tail/{uid}"
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            for line in answer:
                if line.startswith(b"data: "):
                    message: dict[str, Any] = json.loads(line[len(b"data: ") :])
                    return message
        raise AssertionError(f"no message in the tail of {uid}")

    def close(self) -> None:
        """Kill the web server and reap it."""
        self.proc.kill()


# multivisor's zerorpc client, as its web server uses it, run in a child interpreter:
# argv is the address, the calls as JSON [[method, [args...]], ...] and the event to wait
# for after them as JSON [eventname, processname] (or null). It prints one JSON object:
# each call's result (or {"fault": message}) and the events the stream brought.
CLIENT = r"""
import json, sys
import gevent, gevent.event
from multivisor import zerorpc

address, calls, watch = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
events, subscribed, seen = [], gevent.event.Event(), gevent.event.Event()

def follow():
    client = zerorpc.Client(timeout=30)
    client.connect(address)
    for number, event in enumerate(client.event_stream()):
        if number == 0:  # multivisor's greeting, sent to open the stream
            subscribed.set()
            continue
        events.append(event)
        payload = event.get("payload", {})
        if watch and [event["eventname"], payload.get("processname")] == watch:
            seen.set()
            return

follower = gevent.spawn(follow)
if not subscribed.wait(30):
    sys.exit("the event stream did not open")
client = zerorpc.Client(timeout=30)
client.connect(address)
results = []
for method, args in calls:
    try:
        results.append(getattr(client, method)(*args))
    except zerorpc.RemoteError as error:
        results.append({"fault": f"{error.name}: {error.msg}"})
if watch and not seen.wait(30):
    sys.exit(f"no {watch} within 30 s; events: {events!r}")
follower.kill()
print(json.dumps({"results": results, "events": events}, default=repr))
"""


def zerorpc_session(
    address: str, calls: list[tuple[str, list[Any]]], watch: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Make calls on multivisor-rpc at address (tcp://HOST:PORT) with multivisor's own
    zerorpc client, following its event stream meanwhile until watch is seen."""
    argv = [PYTHON, "-c", CLIENT, address, json.dumps(calls), json.dumps(watch)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer
