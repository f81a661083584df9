"""Recent output of every process, and who follows it: what `initsup ctl tail` reads.

The relays record each chunk a program writes, as it is written; this keeps the last
RECENT_OUTPUT bytes of each stream (a bounded ring, so a chatty program costs a fixed
amount) and passes each chunk on to the followers of that stream (`tail -f`).  Keys are
("group:name", "stdout" | "stderr").  initsup's own records are a feed too (MAIN_LOG,
for readLog and `maintail`), fed by `own_records`, the sink its logger writes through.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.logs import Record
    from initsup.output import OutputWriter

    Key = tuple[str, str]

RECENT_OUTPUT = 65536  # bytes of each process's stdout and stderr kept for `ctl tail`

# The records initsup itself writes (its main log: supervisord's readLog, `maintail`).  No
# process has this key: a process's always holds a colon.
MAIN_LOG: Key = ("initsup", "log")


def key(group: str, name: str, stream: str) -> Key:
    """The feed of one stream of process group:name."""
    return f"{group}:{name}", stream


class OutputFeeds:
    """The recent output of each stream and its followers."""

    def __init__(self) -> None:
        self._recent: dict[Key, bytearray] = {}
        self._followers: dict[Key, list[Callable[[bytes], None]]] = {}
        self._written: dict[Key, int] = {}
        # Since start, never cleared (for /metrics): every program's output, and the
        # lines a log file had to drop (a full disk, a FIFO whose reader does not keep up).
        self.lines = 0
        self.bytes = 0
        self.dropped_lines = 0

    def record(self, key: Key, data: bytes) -> None:
        """Keep data as the newest output of key, and hand it to key's followers."""
        recent = self._recent.get(key)
        if recent is None:
            recent = self._recent[key] = bytearray()
        recent.extend(data)
        self.lines += data.count(b"\n")
        self.bytes += len(data)
        self._written[key] = self._written.get(key, 0) + len(data)
        if len(recent) > RECENT_OUTPUT:
            del recent[: len(recent) - RECENT_OUTPUT]
        followers = self._followers.get(key)
        if followers:  # a copy only when someone follows: a send may drop its client
            for follower in list(followers):
                follower(data)

    def lost(self, lines: int) -> None:
        """A log file dropped lines (counted, for /metrics)."""
        self.dropped_lines += lines

    def recent(self, key: Key) -> bytes:
        """The last RECENT_OUTPUT bytes of key (b"" for a stream never written)."""
        return bytes(self._recent.get(key, b""))

    def written(self, key: Key) -> int:
        """Bytes key got since it was first written or last cleared.

        recent(key) holds the last of them: offsets written - len(recent) to written, which
        is how supervisord's offsets into a log file map onto the ring.
        """
        return self._written.get(key, 0)

    def clear(self, key: Key) -> None:
        """Forget key's recent output and count from 0 again, as a truncated log file does;
        its followers go on following."""
        self._recent.pop(key, None)
        self._written.pop(key, None)

    def follow(self, key: Key, callback: Callable[[bytes], None]) -> Callable[[], None]:
        """Call callback(data) with every chunk key gets from now on; returns `forget`."""
        followers = self._followers.setdefault(key, [])
        followers.append(callback)

        def forget() -> None:
            if callback in followers:
                followers.remove(callback)

        return forget


def own_records(
    render: Callable[[Record], bytes], out: OutputWriter, feeds: OutputFeeds, silent: bool
) -> Callable[[Record], None]:
    """The sink of initsup's own records: each, as rendered, is written (unless silent=)
    and kept in the main log's feed (readLog, `maintail`).  Programs' output never
    passes here."""

    def write(record: Record) -> None:
        data = render(record)
        feeds.record(MAIN_LOG, data)
        if not silent:
            out.write(data)

    return write
