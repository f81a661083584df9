"""A real Prometheus (Debian's `prometheus` binary, on the host) scrapes three initsup
containers, PID 1 each, one per Debian base, one of them behind Basic auth and asked for
node_exporter's old names too: through Prometheus' HTTP API the three targets are up, the
series are there, and a program killed in one container shows its restart and its
`initsup_program_up` going 0 and back to 1."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker import engine
from tests.integration.test_metrics_prometheus import Prometheus, prometheus_binary

USER, PASSWORD = "prom", "s3cret"
INI = """
[inet_http_server]
port=:9001
{auth}

[program:web]
command=sleep 1000
startsecs=0

[program:crashy]
command=sleep 1000
startsecs=4
autorestart=true
"""
# Prometheus scrapes every second; crashy stays STARTING (down) for 4 s after a crash, so
# several scrapes see it down.
CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: open
    static_configs:
      - targets: [{open}]
  - job_name: guarded
    basic_auth:
      username: {user}
      password: {password}
    params:
      compat: [node_supervisord]
    static_configs:
      - targets: ['{guarded}']
"""
TIMEOUT = 60.0


@pytest.fixture
def prometheus_at(tmp_path: Path) -> Iterator[Callable[[str], Prometheus]]:
    binary = prometheus_binary()
    started: list[Prometheus] = []

    def start(config: str) -> Prometheus:
        started.append(Prometheus(binary, tmp_path / "prometheus", config))
        return started[-1]

    yield start
    for prometheus in started:
        prometheus.close()


@pytest.fixture
def published(client: Any, tmp_path: Path) -> Iterator[Callable[[str, bool], tuple[Any, str]]]:
    """Start a container of an image whose [inet_http_server] is published on 127.0.0.1:
    (the container, its host:port); each is removed at the end."""
    started: list[Any] = []

    def start(image: str, auth: bool) -> tuple[Any, str]:
        config = tmp_path / f"initsup-{len(started)}.ini"
        credentials = f"username={USER}\npassword={PASSWORD}" if auth else ""
        config.write_text(INI.format(auth=credentials))
        container = client.containers.run(
            image,
            detach=True,
            labels={engine.LABEL: engine.RUN},
            ports={"9001/tcp": ("127.0.0.1", None)},
            volumes={str(config): {"bind": "/etc/initsup.ini", "mode": "ro"}},
        )
        started.append(container)
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["9001/tcp"][0]["HostPort"]
        return container, f"127.0.0.1:{port}"

    yield start
    for container in started:
        container.remove(force=True)


def test_prometheus_scrapes_three_containers(
    images: dict[str, str],
    published: Callable[[str, bool], tuple[Any, str]],
    prometheus_at: Callable[[str], Prometheus],
) -> None:
    first, second, guarded = (
        published(images["bullseye"], False),
        published(images["trixie"], False),
        published(images["bookworm"], True),
    )
    targets = [first[1], second[1], guarded[1]]
    for container, _ in (first, second, guarded):  # crashy RUNNING before the first scrape
        engine.Box(container).wait_record(
            "PROCESS_STATE_RUNNING", timeout=TIMEOUT, program="crashy"
        )
    prometheus = prometheus_at(
        CONFIG.format(
            open=", ".join(f"'{t}'" for t in targets[:2]),
            guarded=targets[2],
            user=USER,
            password=PASSWORD,
        )
    )

    def all_up() -> bool:
        active = prometheus.api("targets")["activeTargets"]
        return sorted(t["labels"]["instance"] for t in active if t["health"] == "up") == sorted(
            targets
        )

    engine.poll(all_up, TIMEOUT, "the three targets up")

    def series_up(name: str) -> dict[str, float] | None:
        values = prometheus.values(f'initsup_program_up{{program="{name}"}}')
        return values if len(values) == 3 and set(values.values()) == {1.0} else None

    for name in ("web", "crashy"):
        engine.poll(functools.partial(series_up, name), TIMEOUT, f"{name} up everywhere")
    build = prometheus.values("initsup_build_info")
    assert sorted(build) == sorted(targets)
    running = prometheus.values('initsup_program_state{program="web",state="RUNNING"}')
    assert running == dict.fromkeys(targets, 1.0)
    assert prometheus.values("initsup_program_restarts_total") == dict.fromkeys(targets, 0.0)
    # the node_supervisord series only where the scrape asks for them
    assert prometheus.values('node_supervisord_up{name="web"}') == {targets[2]: 1.0}
    assert prometheus.values('node_supervisord_state{name="web"}') == {targets[2]: 20.0}

    # crashy killed in the guarded container: restarted, down for startsecs, up again
    container = guarded[0]
    code, output = container.exec_run(["initsup", "ctl", "signal", "KILL", "crashy"])
    assert code == 0, output
    where = f'program="crashy",instance="{targets[2]}"'
    engine.poll(
        lambda: prometheus.values(f"initsup_program_up{{{where}}}") == {targets[2]: 0.0},
        TIMEOUT,
        "crashy down in Prometheus",
    )
    assert prometheus.values(f"initsup_program_last_exit_code{{{where}}}") == {targets[2]: 137.0}
    engine.poll(
        lambda: prometheus.values(f"initsup_program_up{{{where}}}") == {targets[2]: 1.0},
        TIMEOUT,
        "crashy up again in Prometheus",
    )
    restarts = prometheus.values('initsup_program_restarts_total{program="crashy"}')
    assert restarts == {targets[0]: 0.0, targets[1]: 0.0, targets[2]: 1.0}
    flips = prometheus.values(f"changes(initsup_program_up{{{where}}}[5m])")
    assert flips == {targets[2]: 2.0}  # 1 -> 0 -> 1
    increase = prometheus.values(f"increase(initsup_program_restarts_total{{{where}}}[5m])")
    assert increase[targets[2]] > 0
    # the others saw nothing of it
    assert prometheus.values("changes(initsup_program_up[5m]) > 0") == {targets[2]: 2.0}
