"""The Kubernetes scrape config of docs/observability.md, run by a real Prometheus (Debian's
`prometheus` binary) against a real initsup behind credentials: the pod marked by its
annotations is kept, its address gets the annotated port, the one not marked is dropped,
the password comes from the file, and the doc's panel queries answer from what it
scraped.  Debian builds Prometheus without Kubernetes discovery, so the pods come from a
static_configs entry carrying the labels that discovery would give them.

`Prometheus` here is also what the docker layer's test_prometheus.py runs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, free_port, unavailable, wait_for
from tests.supervised import Supervised

TIMEOUT = 60.0


def prometheus_binary() -> str:
    """Where the prometheus binary is, or a skip (a failure under CI) saying it is not."""
    found = shutil.which("prometheus")
    if found is None:
        unavailable("the Prometheus test", "Debian's prometheus package is not installed")
    return found


class Prometheus:
    """A Prometheus on 127.0.0.1:<free port> with its own config and storage in `home`."""

    def __init__(self, binary: str, home: Path, config: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "prometheus.yml").write_text(config)
        self.port = free_port()
        self.log = home / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={home / 'prometheus.yml'}",
                    f"--storage.tsdb.path={home / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(self.ready, TIMEOUT, interval=0.1)
        except BaseException:
            self.close()
            raise

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5):
                return True
        except OSError:
            return False

    def api(self, path: str, **query: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            document = json.load(answer)
        assert document["status"] == "success", document
        return document["data"]

    def values(self, expression: str, key: str = "instance") -> dict[str, float]:
        """An instant query's answer: {the `key` label of each series: its value}."""
        result = self.api("query", query=expression)["result"]
        return {r["metric"].get(key, ""): float(r["value"][1]) for r in result}

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def prometheus_at(tmp_path: Path) -> Iterator[Callable[[str], Prometheus]]:
    """Start a Prometheus on a config text; each is killed and reaped at the end."""
    binary = prometheus_binary()
    started: list[Prometheus] = []

    def start(config: str) -> Prometheus:
        started.append(Prometheus(binary, tmp_path / f"prometheus-{len(started)}", config))
        return started[-1]

    yield start
    for prometheus in started:
        prometheus.close()


DOC = (ROOT / "docs" / "observability.md").read_text()
SECTION = DOC[DOC.index("\n## Metrics\n") : DOC.index("\n## Fleet dashboards\n")]
INI = """\
[inet_http_server]
port=127.0.0.1:{port}
username=prometheus
password=change-me

[program:web]
command=sleep 1000
startsecs=0
"""


def the_doc_s_config(port: int, password_file: Path) -> str:
    """The doc's scrape config, with two pods as discovery would give them (one marked,
    one not) in place of kubernetes_sd_configs, and a 1 s scrape interval."""
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with kubernetes-validate")
    blocks = re.findall(r"^```yaml\n(.*?)^```$", SECTION, re.MULTILINE | re.DOTALL)
    (block,) = [b for b in blocks if b.startswith("scrape_configs:")]
    config = yaml.safe_load(block)
    (job,) = config["scrape_configs"]
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    assert job["basic_auth"]["password_file"] == "/etc/prometheus/initsup/password"
    job["basic_auth"]["password_file"] = str(password_file)
    pod = {
        "__meta_kubernetes_namespace": "shop",
        "__meta_kubernetes_pod_container_name": "app",
        "__meta_kubernetes_pod_annotation_initsup_io_port": str(port),
    }
    job["static_configs"] = [
        {  # discovery gives a pod's address with a port of its own: the annotation's wins
            "targets": ["127.0.0.1:1"],
            "labels": {
                **pod,
                "__meta_kubernetes_pod_name": "marked",
                "__meta_kubernetes_pod_annotation_initsup_io_scrape": "true",
            },
        },
        {"targets": ["127.0.0.1:2"], "labels": {**pod, "__meta_kubernetes_pod_name": "other"}},
    ]
    config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s"}
    return json.dumps(config)  # YAML reads JSON


def test_the_doc_s_scrape_config_keeps_the_marked_pod_and_logs_in(
    supervise: Callable[..., Supervised],
    prometheus_at: Callable[[str], Prometheus],
    tmp_path: Path,
) -> None:
    port = free_port()
    initsup = supervise(ini=INI.format(port=port))
    initsup.wait("PROCESS_STATE_RUNNING", program="web")
    secret = tmp_path / "password"
    secret.write_text("change-me\n")  # a Secret's file often ends with a newline
    prometheus = prometheus_at(the_doc_s_config(port, secret))

    def scraped() -> list[dict[str, Any]]:
        targets = prometheus.api("targets")
        active = targets["activeTargets"]
        return active if active and active[0]["health"] == "up" else []

    (target,) = wait_for(scraped, TIMEOUT, interval=0.1)
    assert target["labels"] == {
        "instance": f"127.0.0.1:{port}",
        "job": "initsup",
        "namespace": "shop",
        "pod": "marked",
        "container": "app",
    }
    assert len(prometheus.api("targets")["droppedTargets"]) == 1
    assert prometheus.values('initsup_program_up{program="web"}', "pod") == {"marked": 1.0}
    queries = re.findall(r"^```promql\n(.*?)^```$", SECTION, re.MULTILINE | re.DOTALL)
    timeline = next(q for q in queries if "initsup_program_state" in q)
    assert prometheus.values(timeline, "program") == {"web": 20.0}  # RUNNING
    not_up = next(q for q in queries if "initsup_program_up" in q)
    assert prometheus.values(not_up, "program") == {}  # no sample: every program is up
