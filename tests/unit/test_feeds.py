"""OutputFeeds: the recent output of each stream (for `ctl tail`) and its followers."""

from __future__ import annotations

from collections.abc import Callable

from initsup.feeds import RECENT_OUTPUT, OutputFeeds

KEY = ("web:web", "stdout")


def test_a_stream_never_written_is_empty() -> None:
    """recent() of an unknown key is b"", not an error."""
    assert OutputFeeds().recent(KEY) == b""


def test_recent_keeps_only_the_last_bytes() -> None:
    """The ring keeps the newest RECENT_OUTPUT bytes of each stream, apart."""
    feeds = OutputFeeds()
    feeds.record(KEY, b"a" * RECENT_OUTPUT)
    feeds.record(KEY, b"bc")
    feeds.record(("web:web", "stderr"), b"err")
    assert len(feeds.recent(KEY)) == RECENT_OUTPUT
    assert feeds.recent(KEY).endswith(b"abc")
    assert feeds.recent(("web:web", "stderr")) == b"err"


def test_followers_get_new_chunks_until_forgotten() -> None:
    """A follower hears what comes after it started following, of its key only."""
    feeds = OutputFeeds()
    feeds.record(KEY, b"before")
    heard: list[bytes] = []
    forget = feeds.follow(KEY, heard.append)
    feeds.record(KEY, b"one")
    feeds.record(("web:web", "stderr"), b"other")
    forget()
    forget()
    feeds.record(KEY, b"two")
    assert heard == [b"one"]


def test_a_follower_may_forget_itself_while_told() -> None:
    """A send that drops its client removes the follower mid-loop: the others still hear."""
    feeds = OutputFeeds()
    heard: list[bytes] = []
    forgets: list[Callable[[], None]] = []

    def leaving(data: bytes) -> None:
        forgets[0]()

    forgets.append(feeds.follow(KEY, leaving))
    feeds.follow(KEY, heard.append)
    feeds.record(KEY, b"x")
    feeds.record(KEY, b"y")
    assert heard == [b"x", b"y"]
