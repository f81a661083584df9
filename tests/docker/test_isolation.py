"""Runs of the suite on one engine leave each other alone: a run removes only what runs
that have ended left behind."""

from __future__ import annotations

import subprocess
from typing import Any

import docker.errors

from tests.docker import engine


def _container(client: Any, label: str) -> Any:
    return client.containers.run(
        engine.base_tag("bookworm"),
        ["sleep", "600"],
        detach=True,
        labels={engine.LABEL: label},
        network_mode="none",
    )


def _exists(client: Any, container: Any) -> bool:
    try:
        client.containers.get(container.id)
    except docker.errors.NotFound:
        return False
    return True


def test_leftovers_of_ended_runs_go_and_live_runs_keep_theirs(
    client: Any, images: dict[str, str]
) -> None:
    ended = subprocess.Popen(["sleep", "600"])
    ended_label = engine.run_id(ended.pid)
    ended.kill()
    ended.wait()
    live = subprocess.Popen(["sleep", "600"])
    started = []
    try:
        started.append(_container(client, engine.run_id(live.pid)))
        started.append(_container(client, ended_label))
        ours, theirs = started[0], started[1]
        engine.remove_leftovers(client)
        assert _exists(client, ours), "a live run's container was removed"
        assert not _exists(client, theirs), "an ended run's container was left"
        for tag in images.values():
            client.images.get(tag)  # this run's own images are still there
    finally:
        live.kill()
        live.wait()
        for container in started:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


def test_each_run_tags_its_images_apart() -> None:
    assert engine.image_tag("bookworm").startswith("initsup-test-")
    assert engine.RUN.split(":")[1] in engine.image_tag("bookworm")
    assert engine.run_alive(engine.RUN)
