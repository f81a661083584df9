"""The docker layer needs a Docker Engine; it skips with the reason elsewhere, never under CI."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.docker import engine
from tests.docker.engine import SUITES, Box


@functools.cache
def unavailable_reason() -> str | None:
    return engine.environment_reason()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/docker/" in item.nodeid:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def client() -> Any:
    """The Docker Engine, or a skip (a failure under CI) saying why there is none."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the docker layer must run under CI, but: {reason}")
        pytest.skip(reason)
    import docker

    client = docker.from_env(timeout=300)
    engine.remove_leftovers(client)  # of earlier runs that were killed, never of live ones
    return client


@pytest.fixture(scope="session")
def images(client: Any) -> Iterator[dict[str, str]]:
    """{suite: tag} of images/Dockerfile built on each base (bases made when missing),
    tagged for this run alone and removed at its end."""
    tags = engine.make_images(client)
    yield tags
    engine.remove_images(client, list(tags.values()))


@pytest.fixture(params=list(SUITES), ids=[f"{s}-py{v}" for s, v in SUITES.items()])
def image(request: pytest.FixtureRequest, images: dict[str, str]) -> str:
    """The test image on one base; tests using it run once per Python version."""
    return images[request.param]


@pytest.fixture
def run(client: Any) -> Iterator[Callable[..., Box]]:
    """docker run -d IMAGE ARGS...: starts a container; every one is removed afterwards."""
    started: list[Any] = []

    def start(image: str, command: list[str] | None = None, **options: Any) -> Box:
        container = client.containers.run(
            image,
            command,
            detach=True,
            labels={engine.LABEL: engine.RUN},
            network_mode="none",
            **options,
        )
        started.append(container)
        return Box(container)

    yield start
    for container in started:
        container.remove(force=True)
