"""Fixtures shared by every layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.supervised import Supervised


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    """Start initsup in supervisor mode (see Supervised); everything is killed afterwards."""
    started: list[Supervised] = []

    def start(**kwargs: Any) -> Supervised:
        instance = Supervised(tmp_path, **kwargs)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.close()
