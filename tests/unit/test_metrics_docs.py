"""docs/observability.md's "Metrics" section says what /metrics writes: every family it
writes has a row there and every row is a family it writes; and the section's PromQL
(the Grafana panels' queries, the alerting rules) is checked by Prometheus' own promtool
against series shaped as initsup writes them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

from initsup.control import metrics
from initsup.health.facts import Facts
from initsup.listeners import PoolBuffer
from tests.control_host import ControlHost
from tests.helpers import ROOT, unavailable

DOC = (ROOT / "docs" / "observability.md").read_text()
SECTION = DOC[DOC.index("\n## Metrics\n") : DOC.index("\n## Fleet dashboards\n")]


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", SECTION, re.MULTILINE | re.DOTALL)


def written() -> set[str]:
    """Every family name /metrics writes (text format: counters with _total), with a pool,
    a notifier, a health verdict and node_supervisord asked for: nothing left out."""
    host = ControlHost()
    process = host.add("web")
    process.start()
    host.advance(1)
    process.exited(1 << 8)
    process.facts = Facts("http")
    process.facts.healthy = True
    buffer = PoolBuffer("listener", frozenset({"PROCESS_STATE"}), 10, iter(range(9)), print)
    host.pools = SimpleNamespace(buffers={"listener": buffer})  # type: ignore[assignment]
    notifier = SimpleNamespace(
        config=SimpleNamespace(name="hook", kind="webhook"),
        outbox=SimpleNamespace(counts={"sent": 0, "failed": 0, "dropped": 0}),
    )
    host.alerts = SimpleNamespace(notifiers=[notifier])  # type: ignore[assignment]
    text = metrics.exposition(host, 1.0, {"node_supervisord"}, False)[0].decode()
    return set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))


def test_every_family_written_has_its_row_and_no_row_is_invented() -> None:
    rows = set(re.findall(r"^\| `([a-z_]+)(?:\{[a-z]+\})?` \|", SECTION, re.MULTILINE))
    assert rows == written()


def test_every_state_and_its_number_is_in_the_doc() -> None:
    from initsup.states import ProcessState

    for state in ProcessState:
        assert f"{int(state)} `{state.name}`" in SECTION
        assert f"`{state.name}`" in SECTION


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool", "promtool is not installed (Debian's prometheus package has it)")
    return found


# Series as initsup writes them, as the doc's scrape config labels them: web RUNNING all
# along; crashy restarting once a minute and down (BACKOFF) from minute 2; migrate done
# (not up, ready); tool never started; db unhealthy; 5 lines lost at minute 3.
SERIES = """
      - series: 'initsup_program_up{P,program="web"}'
        values: '1x15'
      - series: 'initsup_program_up{P,program="crashy"}'
        values: '1 1 0x13'
      - series: 'initsup_program_up{P,program="migrate"}'
        values: '0x15'
      - series: 'initsup_program_up{P,program="tool"}'
        values: '0x15'
      - series: 'initsup_program_ready{P,program="web"}'
        values: '1x15'
      - series: 'initsup_program_ready{P,program="crashy"}'
        values: '1 1 0x13'
      - series: 'initsup_program_ready{P,program="migrate"}'
        values: '1x15'
      - series: 'initsup_program_ready{P,program="tool"}'
        values: '0x15'
      - series: 'initsup_program_start_time_seconds{P,program="web"}'
        values: '1000x15'
      - series: 'initsup_program_start_time_seconds{P,program="crashy"}'
        values: '1000+60x15'
      - series: 'initsup_program_start_time_seconds{P,program="migrate"}'
        values: '1000x15'
      - series: 'initsup_program_restarts_total{P,program="crashy"}'
        values: '0+1x15'
      - series: 'initsup_program_restarts_total{P,program="web"}'
        values: '0x15'
      - series: 'initsup_program_healthy{P,program="db"}'
        values: '0x15'
      - series: 'initsup_program_healthy{P,program="web"}'
        values: '1x15'
      - series: 'initsup_output_dropped_lines_total{job="initsup",namespace="ns",pod="p1"}'
        values: '0 0 0 5x12'
""".replace("P,", 'job="initsup",namespace="ns",pod="p1",')
STATES = ["STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN"]
NOW = {"web": "RUNNING", "crashy": "BACKOFF", "migrate": "EXITED", "tool": "STOPPED"}
STATE_SERIES = "".join(
    f'      - series: \'initsup_program_state{{P,program="{program}",state="{state}"}}\'\n'
    f"        values: '{'1' if state == current else '0'}x15'\n"
    for program, current in NOW.items()
    for state in STATES
).replace("P,", 'job="initsup",namespace="ns",pod="p1",')
POD = 'job="initsup",namespace="ns",pod="p1"'
# What each of the section's promql blocks gives at minute 10, in the doc's order.
EXPECTED = [
    [("{}", 3)],  # crashy, migrate and tool are not up
    [
        ('{namespace="ns",pod="p1",program="crashy"}', 1),
        ('{namespace="ns",pod="p1",program="web"}', 0),
    ],
    [(f'{{{POD},program="{p}"}}', n) for p, n in (("web", 20), ("crashy", 30))]
    + [(f'{{{POD},program="{p}"}}', n) for p, n in (("migrate", 100), ("tool", 0))],
    [(f'{{__name__="initsup_program_healthy",{POD},program="db"}}', 0)],
]


def promql_tests() -> str:
    queries = blocks("promql")
    assert len(queries) == len(EXPECTED), "a query was added or removed: say what it gives"
    lines = []
    for query, expected in zip(queries, EXPECTED):
        lines.append("      - expr: |\n" + "".join(f"          {q}\n" for q in query.splitlines()))
        lines.append("        eval_time: 10m\n        exp_samples:\n")
        lines += [
            f"          - labels: '{labels}'\n            value: {v}\n" for labels, v in expected
        ]
    return "".join(lines)


def test_the_doc_s_queries_and_rules_give_what_it_says(tmp_path: Path) -> None:
    tool = promtool()
    (rules,) = [block for block in blocks("yaml") if block.startswith("groups:")]
    (tmp_path / "rules.yaml").write_text(rules)
    check = run([tool, "check", "rules", str(tmp_path / "rules.yaml")])
    assert check.returncode == 0, check.stdout + check.stderr
    pod = {"job": "initsup", "namespace": "ns", "pod": "p1", "severity": "warning"}
    tests = f"""
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{SERIES}{STATE_SERIES}
    alert_rule_test:
      - eval_time: 10m
        alertname: InitsupProgramDown
        exp_alerts:
          - exp_labels: {{{_flow(pod, program="crashy")}}}
            exp_annotations:
              summary: "crashy in p1 has not been up for 5 minutes"
      - eval_time: 10m
        alertname: InitsupDroppedOutputLines
        exp_alerts:
          - exp_labels: {{{_flow(pod)}}}
            exp_annotations:
              summary: "p1 lost 5 lines of program output to a log file"
      - eval_time: 15m
        alertname: InitsupDroppedOutputLines
        exp_alerts: []
    promql_expr_test:
{promql_tests()}"""
    (tmp_path / "tests.yaml").write_text(tests)
    result = run([tool, "test", "rules", str(tmp_path / "tests.yaml")])
    assert result.returncode == 0, result.stdout + result.stderr + tests


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _flow(labels: dict[str, str], **more: str) -> str:
    return ", ".join(f"{k}: {v}" for k, v in {**labels, **more}.items())
