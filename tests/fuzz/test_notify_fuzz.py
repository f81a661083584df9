"""sd_notify datagrams (initsup.health.notify.parse) on any bytes: parse never raises, keeps
its caps, and returns only well-formed keys with the value each one was last given; the
socket itself, fed any datagram, hands on exactly what parse says and never raises."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from initsup.health import notify
from initsup.health.notify import NotifySocket, parse
from initsup.loop import EventLoop
from initsup.signals import SignalReceiver

_KEYS = st.sampled_from(
    [b"READY", b"STATUS", b"STOPPING", b"RELOADING", b"MAINPID", b"WATCHDOG", b"FDSTORE"]
)
_NEAR_KEYS = st.sampled_from([b"ready", b"", b"1A", b"A B", b"X_Y", b"READY\0", b"\xff"])
_VALUES = st.one_of(
    st.sampled_from([b"1", b"0", b"", b"=", b"a=b", b"\r", b"\0"]),
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
_LINES = st.one_of(
    st.tuples(_KEYS | _NEAR_KEYS, st.sampled_from([b"=", b"", b"=="]), _VALUES).map(b"".join),
    st.binary(max_size=30),
)
DATAGRAMS = st.one_of(
    st.lists(_LINES, max_size=12).map(b"\n".join),
    st.binary(max_size=300),
)


def _is_key(key: str) -> bool:
    return (
        0 < len(key) <= 64
        and not key[0].isdigit()
        and all(c == "_" or "A" <= c <= "Z" or "0" <= c <= "9" for c in key)
    )


@given(DATAGRAMS)
def test_parse_never_raises_and_keeps_well_formed_assignments(data: bytes) -> None:
    result = parse(data)
    assert len(result) <= notify.MAX_ASSIGNMENTS
    for key, value in result.items():
        assert _is_key(key)
        assert len(value) <= notify.MAX_VALUE
        assert "\n" not in value and "\0" not in value
        # the value is the one the last well-formed line naming that key gave
        lines = [
            line
            for line in data.split(b"\n")
            if line.startswith(key.encode() + b"=") and b"\0" not in line
        ]
        expected = lines[-1].partition(b"=")[2].decode("utf-8", "replace")
        assert value == expected[: notify.MAX_VALUE]


@given(DATAGRAMS, st.integers(0, 3 * notify.MAX_DATAGRAM))
def test_parse_of_huge_input_is_bounded(data: bytes, times: int) -> None:
    result = parse((data + b"\n") * (times // (len(data) + 1)))
    assert len(result) <= notify.MAX_ASSIGNMENTS
    assert all(len(value) <= notify.MAX_VALUE for value in result.values())


class _Heard:
    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.errors: list[Any] = []


@given(st.lists(DATAGRAMS, min_size=1, max_size=5))
def test_the_socket_hands_on_what_parse_says(tmp_path_factory: Any, datagrams: list[bytes]) -> None:
    path = str(Path(tmp_path_factory.mktemp("notify")) / "n.sock")
    heard = _Heard()
    receiver = SignalReceiver()
    loop = EventLoop(receiver, on_error=lambda where, exc: heard.errors.append((where, exc)))
    sock = NotifySocket(
        loop,
        path,
        lambda pid, assignments: heard.messages.append(assignments) if pid == os.getpid() else None,
        lambda *args, **fields: None,
    )
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            for data in datagrams:
                sender.sendto(data, path)
        expected = [parse(data) for data in datagrams]
        expected = [assignments for assignments in expected if assignments]
        for _ in range(len(datagrams) + 1):
            loop.run_once(0)
        assert heard.errors == []
        assert heard.messages == expected
    finally:
        sock.close()
        loop.close()
        receiver.close()
