"""/metrics (initsup.control.metrics) over a known host: every family, its type and its
values, read back by prometheus_client's parser of the text format and by its strict
OpenMetrics parser; hostile names; Accept, gzip, compat=node_supervisord, refusals."""

from __future__ import annotations

import gzip
import itertools
import os
import resource
import signal
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

from initsup import __version__
from initsup.control import metrics
from initsup.control.counts import started_wall
from initsup.control.http_connection import Request
from initsup.health.facts import Facts
from initsup.listeners import PoolBuffer
from initsup.states import ProcessState
from tests.control_host import ControlHost
from tests.fakes import WALL_OFFSET, killed
from tests.whole_responder import WholeResponder

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
PROMETHEUS_ACCEPT = (  # what Prometheus 2.42 sends
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(
    host: ControlHost, query: str = "", method: str = "GET", **headers: str
) -> tuple[int, bytes, str, dict[str, str]]:
    handler = metrics.handlers(host)["/metrics"]
    responder = WholeResponder()
    handler(Request(method, "/metrics", query, headers, b""), responder)
    assert len(responder.answers) == 1
    return responder.answers[0]


def parsed(body: bytes, openmetrics: bool) -> tuple[dict[str, str], Samples]:
    """({family: type}, {(sample name, sorted labels): value}) as prometheus_client reads it."""
    parse = openmetrics_families if openmetrics else text_families
    types, samples = {}, {}
    for family in parse(body.decode()):
        types[family.name] = family.type
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"{key} twice"
            samples[key] = s.value
    return types, samples


def run(host: ControlHost, name: str, **options: Any) -> Any:
    process = host.add(name, **options)
    process.start()
    host.advance(process.config.startsecs)
    return process


@pytest.fixture
def host() -> ControlHost:
    """web RUNNING (essential, healthy), crashy restarted twice after a SIGKILL and an
    exit 3, tool never started, db RUNNING with a failing check, a listener pool and a
    notifier with counts, output and an orphan counted."""
    host = ControlHost()
    host.clock.now = 100.0
    web = run(host, "web", essential=True)
    web.facts = Facts("http")
    web.facts.ready, web.facts.healthy = True, True
    crashy = run(host, "crashy", group="jobs", autorestart="true", backoff_max=0)
    for status in (killed(signal.SIGKILL), 3 << 8):
        crashy.exited(status)
        host.advance(0)  # the restart, at once (backoff_max=0)
        host.advance(1)  # RUNNING again
    host.add("tool", autostart=False)
    db = run(host, "db")
    db.facts = Facts("command")
    db.facts.healthy = False
    buffer = PoolBuffer("listener", frozenset({"PROCESS_STATE"}), 10, itertools.count(), print)
    buffer.waiting.extend([None, None])  # type: ignore[list-item]
    buffer.overflowed = 4
    host.pools = SimpleNamespace(buffers={"listener": buffer})  # type: ignore[assignment]
    notifier = SimpleNamespace(
        config=SimpleNamespace(name="hook", kind="webhook"),
        outbox=SimpleNamespace(counts={"sent": 5, "failed": 2, "dropped": 1}),
    )
    host.alerts = SimpleNamespace(notifiers=[notifier])  # type: ignore[assignment]
    host.output.record(("web:web", "stdout"), b"one\ntwo\n")
    host.output.lost(7)
    host.owners.unknown_reaped = 3
    return host


FAMILIES = {
    "initsup_program_state": "gauge",
    "initsup_program_up": "gauge",
    "initsup_program_restarts": "counter",
    "initsup_program_last_exit_code": "gauge",
    "initsup_program_start_time_seconds": "gauge",
    "initsup_program_healthy": "gauge",
    "initsup_program_ready": "gauge",
    "initsup_program_essential": "gauge",
    "initsup_start_time_seconds": "gauge",
    "initsup_reaped_orphans": "counter",
    "initsup_output_lines": "counter",
    "initsup_output_bytes": "counter",
    "initsup_output_dropped_lines": "counter",
    "initsup_listener_queue_depth": "gauge",
    "initsup_listener_queue_capacity": "gauge",
    "initsup_listener_discarded_events": "counter",
    "initsup_notifier_sent": "counter",
    "initsup_notifier_failed": "counter",
    "initsup_notifier_dropped": "counter",
    "process_cpu_seconds": "counter",
    "process_start_time_seconds": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
}


@pytest.mark.parametrize("openmetrics", [False, True])
def test_every_family_parses_with_its_type(host: ControlHost, openmetrics: bool) -> None:
    accept = PROMETHEUS_ACCEPT if openmetrics else ""
    status, body, content_type, _ = scrape(host, accept=accept)
    assert (status, content_type) == (200, OPENMETRICS if openmetrics else TEXT)
    types, _ = parsed(body, openmetrics)
    build = {"initsup_build": "info"} if openmetrics else {"initsup_build_info": "gauge"}
    assert types == {**FAMILIES, **build}
    text = body.decode()
    assert text.endswith("# EOF\n") == openmetrics
    for name, kind in FAMILIES.items():  # HELP and TYPE for each, as each format names them
        title = name + ("_total" if kind == "counter" and not openmetrics else "")
        assert f"\n# TYPE {title} {kind}\n" in "\n" + text
        assert f"\n# HELP {title} " in "\n" + text


@pytest.mark.parametrize("openmetrics", [False, True])
def test_values_of_a_known_host(host: ControlHost, openmetrics: bool) -> None:
    body = metrics.exposition(host, 1234.5, set(), openmetrics)[0]
    _, samples = parsed(body, openmetrics)

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    web, crashy = {"program": "web", "group": "web"}, {"program": "crashy", "group": "jobs"}
    tool, db = {"program": "tool", "group": "tool"}, {"program": "db", "group": "db"}
    for labels, current in ((web, "RUNNING"), (crashy, "RUNNING"), (tool, "STOPPED")):
        for state in ProcessState:
            expected = 1.0 if state.name == current else 0.0
            assert value("initsup_program_state", **labels, state=state.name) == expected
    assert [value("initsup_program_up", **p) for p in (web, crashy, tool, db)] == [1, 1, 0, 1]
    restarts = [value("initsup_program_restarts_total", **p) for p in (web, crashy, tool)]
    assert restarts == [0, 2, 0]
    # the last end: exit 3 (the SIGKILL before it was 137); none for those never ended
    codes = [value("initsup_program_last_exit_code", **p) for p in (web, crashy, tool)]
    assert codes == [None, 3, None]
    assert value("initsup_program_start_time_seconds", **web) == int(WALL_OFFSET + 100)
    assert value("initsup_program_start_time_seconds", **crashy) == int(WALL_OFFSET + 103)
    assert value("initsup_program_start_time_seconds", **tool) is None
    healthy = [value("initsup_program_healthy", **p) for p in (web, crashy, tool, db)]
    assert healthy == [1, None, None, 0]  # only for programs with a verdict
    ready = [value("initsup_program_ready", **p) for p in (web, crashy, tool, db)]
    assert ready == [1, 1, 0, 0]
    essential = [value("initsup_program_essential", **p) for p in (web, crashy, tool)]
    assert essential == [1, 0, 0]
    assert value("initsup_start_time_seconds") == 1234.5
    assert value("initsup_build_info", version=__version__) == 1
    assert value("initsup_reaped_orphans_total") == 3
    assert value("initsup_output_lines_total") == 2
    assert value("initsup_output_bytes_total") == 8
    assert value("initsup_output_dropped_lines_total") == 7
    assert value("initsup_listener_queue_depth", pool="listener") == 2
    assert value("initsup_listener_queue_capacity", pool="listener") == 10
    assert value("initsup_listener_discarded_events_total", pool="listener") == 4
    hook = {"notifier": "hook", "type": "webhook"}
    assert value("initsup_notifier_sent_total", **hook) == 5
    assert value("initsup_notifier_failed_total", **hook) == 2
    assert value("initsup_notifier_dropped_total", **hook) == 1


def test_process_metrics_are_those_of_the_process_itself(host: ControlHost) -> None:
    """/metrics runs in initsup's process; here, in the test's."""
    before = os.times()
    _, samples = parsed(metrics.exposition(host, 1234.5, set(), False)[0], False)
    after = os.times()
    cpu = samples[("process_cpu_seconds_total", ())]
    assert before.user + before.system <= cpu <= after.user + after.system
    assert samples[("process_start_time_seconds", ())] == 1234.5
    rss = samples[("process_resident_memory_bytes", ())]
    assert 1 << 20 < rss < samples[("process_virtual_memory_bytes", ())]
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    assert abs(rss - kib * 1024) < 8 << 20
    assert 3 <= samples[("process_open_fds", ())] <= len(os.listdir("/proc/self/fd")) + 1
    assert samples[("process_max_fds", ())] == resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_a_signal_s_end_is_128_plus_its_number(host: ControlHost) -> None:
    host.processes["jobs:crashy"].exited(killed(signal.SIGKILL))
    _, samples = parsed(metrics.exposition(host, 0, set(), False)[0], False)
    key = ("initsup_program_last_exit_code", (("group", "jobs"), ("program", "crashy")))
    assert samples[key] == 137


def test_no_start_time_when_proc_cannot_tell(host: ControlHost) -> None:
    text = metrics.exposition(host, None, set(), False)[0].decode()
    assert "# TYPE initsup_start_time_seconds gauge\n" in text
    assert "\ninitsup_start_time_seconds " not in text


HOSTILE = ['quo"te', "back\\slash", "new\nline", 'all\\"\n\\n', "ünï⚙", "bad\udcffbyte"]


@pytest.mark.parametrize("openmetrics", [False, True])
def test_hostile_names_are_escaped_and_read_back(openmetrics: bool) -> None:
    host = ControlHost()
    for name in HOSTILE:
        host.add(name, group="g" + name)
    body = metrics.exposition(host, None, set(), openmetrics)[0]
    _, samples = parsed(body, openmetrics)
    programs = {dict(labels)["program"] for name, labels in samples if name == "initsup_program_up"}
    # an undecodable byte comes back as its escape text: UTF-8 cannot hold it
    assert programs == {*HOSTILE[:-1], "bad\\udcffbyte"}
    groups = {dict(labels)["group"] for name, labels in samples if name == "initsup_program_up"}
    assert groups == {"g" + name for name in HOSTILE[:-1]} | {"gbad\\udcffbyte"}


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        ("", False),
        ("*/*", False),
        ("text/plain", False),
        ("application/openmetrics-text", True),
        ("application/openmetrics-text; version=1.0.0", True),
        ('application/openmetrics-text; version="1.0.0"; charset=utf-8', True),
        ("APPLICATION/OpenMetrics-Text;Version=1.0.0", True),
        (PROMETHEUS_ACCEPT, True),
        # Prometheus with scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]
        ("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4", False),
        ("application/openmetrics-text;q=0", False),
        ("application/openmetrics-text;version=2.0.0", False),  # a version not written
        ("application/openmetrics-text;q=0.5, text/plain;q=0.9", False),
        ("application/openmetrics-text;q=0.5, */*;q=0.9", False),
        ("application/openmetrics-text;q=0.5, */*;q=0.4", True),
        ("application/openmetrics-text, text/plain", True),  # equal: the one named first
        ("application/openmetrics-text;q=nan", False),
        ("application/openmetrics-text;q=2", False),
        ("application/json", False),  # nothing initsup writes: the text format anyway
    ],
)
def test_accept_chooses_the_format(host: ControlHost, accept: str, openmetrics: bool) -> None:
    status, body, content_type, headers = scrape(host, accept=accept)
    assert (status, content_type) == (200, OPENMETRICS if openmetrics else TEXT)
    parsed(body, openmetrics)
    assert headers["Vary"] == "Accept, Accept-Encoding"


@pytest.mark.parametrize(
    ("encoding", "zipped"),
    [("gzip", True), ("gzip, deflate", True), ("*", True), ("identity", False),
     ("", False), ("gzip;q=0", False), ("*;q=0.1, gzip;q=0", False), ("x-gzip", True)],
)  # fmt: skip
def test_gzip_when_the_client_takes_it(host: ControlHost, encoding: str, zipped: bool) -> None:
    status, body, _, headers = scrape(host, **{"accept-encoding": encoding})
    plain = metrics.exposition(host, started_wall(), set(), False)[0]
    assert status == 200
    assert headers.get("Content-Encoding") == ("gzip" if zipped else None)
    got = gzip.decompress(body) if zipped else body
    assert steady(got) == steady(plain)
    if zipped:
        assert len(body) * 4 < len(plain)


def steady(exposition: bytes) -> list[bytes]:
    """The lines but the process_* samples, which change from one scrape to the next."""
    return [line for line in exposition.split(b"\n") if not line.startswith(b"process_")]


def test_anything_but_get_and_head_is_405(host: ControlHost) -> None:
    for method in ("POST", "PUT", "DELETE"):
        status, _, _, headers = scrape(host, method=method)
        assert (status, headers["Allow"]) == (405, "GET, HEAD")
    assert scrape(host, method="HEAD")[0] == 200  # the server sends its head alone


def node_values(samples: Samples, name: str, rows: list[tuple[str, str]]) -> list[Any]:
    """The node_supervisord_<name> sample of each (name, group) row, None when absent."""
    found = []
    for program, group in rows:
        labels = (("group", group), ("name", program))
        # prometheus_client's text parser adds _total to a counter's samples itself
        total = samples.get((f"node_supervisord_{name}_total", labels))
        found.append(samples.get((f"node_supervisord_{name}", labels), total))
    return found


@pytest.mark.parametrize("openmetrics", [False, True])
def test_node_supervisord_series_when_asked(host: ControlHost, openmetrics: bool) -> None:
    host.add("stopping", startsecs=0).start()
    host.processes["stopping:stopping"].stop()  # STOPPING: up, for node_exporter
    gone = run(host, "gone", autorestart="false")
    gone.exited(killed(signal.SIGTERM))  # EXITED for good
    assert b"node_supervisord" not in scrape(host)[1]
    body = metrics.exposition(host, None, {"node_supervisord"}, openmetrics)[0]
    types, samples = parsed(body, openmetrics)
    start_type = "gauge" if openmetrics else "counter"  # OpenMetrics would add _total
    assert {k: v for k, v in types.items() if k.startswith("node_")} == {
        "node_supervisord_up": "gauge",
        "node_supervisord_state": "gauge",
        "node_supervisord_exit_status": "gauge",
        "node_supervisord_start_time_seconds": start_type,
    }
    rows = [("web", "web"), ("crashy", "jobs"), ("tool", "tool"), ("stopping", "stopping")]
    rows.append(("gone", "gone"))
    assert node_values(samples, "up", rows) == [1, 1, 0, 1, 0]
    assert node_values(samples, "state", rows) == [20, 20, 0, 40, 100]
    assert node_values(samples, "exit_status", rows) == [0, 3, 0, 0, -1]
    starts = node_values(samples, "start_time_seconds", rows)
    assert starts == [WALL_OFFSET + 100, WALL_OFFSET + 103, None, WALL_OFFSET + 105, None]


@pytest.mark.parametrize(
    "query",
    ["compat=node_supervisord", "compat=node%5Fsupervisord", "compat=node_supervisord,",
     "x=1&compat=+node_supervisord+", "compat=&compat=node_supervisord"],
)  # fmt: skip
def test_compat_query_forms(host: ControlHost, query: str) -> None:
    status, body, _, _ = scrape(host, query)
    assert status == 200
    assert b"\nnode_supervisord_up{" in body


def test_an_unknown_compat_name_is_400(host: ControlHost) -> None:
    status, body, _, _ = scrape(host, "compat=node_supervisor&compat=" + "x" * 5000)
    assert status == 400
    shown = "'node_supervisor', '" + "x" * 40 + "'"  # the client's words, cut short
    assert (
        body.decode() == f"Bad Request: no such compat name: {shown} (there is node_supervisord)\n"
    )
    assert scrape(host, "other=1&compat=")[0] == 200  # other fields, empty names: ignored


def test_a_thousand_programs_in_order(host: ControlHost) -> None:
    big = ControlHost()
    for n in range(1000):
        big.add(f"worker_{n:03d}", group="workers")
    _, samples = parsed(metrics.exposition(big, None, set(), True)[0], True)
    ups = [dict(labels)["program"] for name, labels in samples if name == "initsup_program_up"]
    assert ups == [f"worker_{n:03d}" for n in range(1000)]
