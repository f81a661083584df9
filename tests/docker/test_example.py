"""Dockerfile.example builds, and each of its variants runs as its comments say."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker import engine
from tests.docker.engine import Box

FETCH = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/').status)"


@pytest.fixture(scope="session")
def example(client: Any, images: dict[str, str]) -> Iterator[Callable[[str], str]]:
    """The tag of one target of Dockerfile.example, built FROM the bookworm base."""
    built: dict[str, str] = {}
    scratch = tempfile.TemporaryDirectory()
    context = engine.build_context(Path(scratch.name))

    def target(name: str) -> str:
        if name not in built:
            tag = f"{engine.run_tag('initsup-example')}:{name}"
            base = engine.base_tag("bookworm")
            built[name] = engine.build(client, context, "Dockerfile.example", tag, base, name)
        return built[name]

    yield target
    engine.remove_images(client, list(built.values()))
    scratch.cleanup()


def serving(box: Box) -> bool:
    code, out = box.exec("python3", "-c", FETCH)
    return code == 0 and out == "200\n"


def test_single_runs_its_command_and_stops_with_its_status(
    run: Callable[..., Box], example: Callable[[str], str]
) -> None:
    box = run(example("single"))
    engine.poll(lambda: serving(box), 30, "http.server answering in the container")
    box.stop()
    assert box.exit_code() == 128 + 15  # http.server dies of the SIGTERM passed on to it
    assert run(example("single"), ["sh", "-c", "exit 7"]).exit_code() == 7


def test_ini_runs_the_demo_as_nobody_and_ends_with_its_essential_program(
    run: Callable[..., Box], example: Callable[[str], str]
) -> None:
    box = run(example("ini"))
    box.wait_record("PROCESS_STATE_RUNNING", program="web")
    code, out = box.exec("initsup", "ctl", "pid")
    assert code == 0 and out == "1\n", out
    assert box.exec("id", "-u") == (0, "65534\n")
    assert box.exit_code(timeout=60) == 0  # `tour` ends after 6 s, with 0
    records = box.records()
    assert any(r.get("path") == "/items/0" for r in records)  # web.py's JSON merged
    stopped = {r["program"] for r in records if r["event"] == "PROCESS_STATE_STOPPED"}
    assert {"web", "worker_0", "worker_1"} <= stopped


def test_env_runs_the_programs_of_its_variables(
    run: Callable[..., Box], example: Callable[[str], str]
) -> None:
    # The image's HEALTHCHECK command, run every 0.5 s instead of every 10 s.
    box = run(
        example("env"),
        environment={"INITSUP_PROGRAM_EXTRA": "sleep 1000"},
        healthcheck={"interval": 500_000_000},
    )
    for program in ["web", "ticker", "extra"]:
        box.wait_record("PROCESS_STATE_RUNNING", program=program)
    engine.poll(lambda: serving(box), 30, "http.server answering in the container")
    code, out = box.exec("initsup", "ctl", "status")
    assert code == 0 and out.count("RUNNING") == 3, out
    # Docker's own health check runs `initsup ctl health`.
    engine.poll(lambda: box.health() == "healthy", 30, "docker reporting it healthy")
    health = box.container.attrs["State"]["Health"]["Log"][-1]
    assert health["ExitCode"] == 0 and health["Output"].startswith("healthy:"), health
    box.stop()
    assert box.exit_code() == 0
