"""The one owner of initsup's output format: records are dicts, rendered as JSON lines or text.

A record's first keys are structlog's (`timestamp`, `level`, `event`, `logger`) so log
pipelines that already parse structlog output read initsup's unchanged; context follows.
The schema is `docs/log-record.schema.json`.

The JSON codec (initsup.jsoncodec) is imported only when a JSON record is rendered or a
line is parsed: single-command mode with its output inherited never pays for it.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Record = dict[str, Any]

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


def timestamp(wall: float) -> str:
    """RFC 3339 in UTC with microseconds and a `Z`: 2026-11-23T04:43:22.123456Z."""
    seconds = int(wall)
    micros = int((wall - seconds) * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def render_json(record: Mapping[str, Any]) -> bytes:
    """One record as one line of strict JSON (RFC 8259); values JSON cannot hold (objects,
    NaN, infinities) fall back to their repr, and a value that cannot be rendered at all
    costs that value, never the record."""
    from initsup.jsoncodec import dumps_record

    try:
        text = dumps_record(record)
    except Exception:  # NaN, a repr that fails, nesting too deep: value by value
        text = dumps_record(_renderable(record))
    return json_bytes(text + "\n")


def json_bytes(text: str) -> bytes:
    """JSON text as UTF-8, with no lone surrogate left: RFC 8259 parsers such as serde's
    reject them.  Python holds an undecodable byte of a name or an environment value as a
    lone surrogate (0xff as U+DCFF), written as the text `\\xff` as child lines show
    such bytes; a program's JSON escape of one (`\\ud800`) is written as that text too.
    Surrogates occur only inside JSON strings, where an escaped backslash is the text.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    return "".join(map(_surrogate_as_text, text)).encode("utf-8")


def _surrogate_as_text(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as surrogateescape holds it
        return f"\\\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:
        return f"\\\\u{code:04x}"
    return char


def _renderable(record: Mapping[str, Any]) -> Record:
    from initsup.jsoncodec import dumps_record

    safe: Record = {}
    for key, value in record.items():
        try:
            dumps_record(value)
            safe[str(key)] = value
        except Exception:
            safe[str(key)] = _describe(value)
    return safe


def _describe(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a repr that fails, or recursion too deep to show
        return f"<unrenderable {type(value).__name__}>"


def decode_line(data: bytes) -> str:
    """Bytes from a child as text; invalid UTF-8 is escaped (\\xff), never dropped."""
    return data.decode("utf-8", "backslashreplace")


def child_record(
    line: bytes,
    program: str,
    pid: int,
    stream: str,
    group: str | None = None,
    part: int = 0,
    last: bool = True,
) -> Record:
    """The record for one line of a child's output.

    A line that is itself a JSON object (a structlog app, say) is merged as fields, its own
    `timestamp`, `level` and `event` kept where they are valid (see merge_fields); a
    line that is not strict JSON (RFC 8259) is a text line.  initsup's context keys
    always win, so a record can be traced to its program.  A line split for length
    carries `part` (from 1) and `last`.
    """
    text = decode_line(line)
    fields: Record | None = None
    if part == 0 and text[:1] == "{" and text.rstrip()[-1:] == "}":
        fields = _json_object(text)
    record: Record = {
        "timestamp": timestamp(time.time()),
        "level": "info",
        "event": text,
        "logger": program,
    }
    if fields is not None:
        record["event"] = ""  # unless the line brings a valid one
        merge_fields(record, fields)
    record.update(program=program, group=group or program, pid=pid, stream=stream)
    if part:
        record.update(part=part, last=last)
    return record


def _json_object(text: str) -> Record | None:
    from initsup.jsoncodec import loads

    try:
        value = loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# A child's record: keys initsup sets itself after the merge (the program's values are
# kept under another name), and the values the record schema allows for the keys it
# constrains.  A value outside its key's rule is kept under another name too, so that
# every record stays valid against docs/log-record.schema.json.
CONTEXT_KEYS = frozenset(("program", "group", "pid", "stream", "part", "last"))
# states.ProcessState's names, written out: logs serves single-command mode too, which
# must not import enum for them.
_STATES = frozenset(
    ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")
)
_DIGITS = frozenset("0123456789")


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_timestamp(value: Any) -> bool:
    """RFC 3339 in UTC as initsup writes it: 2026-11-23T04:43:22.123456Z."""
    if not isinstance(value, str) or len(value) != 27:
        return False
    shape = "dddd-dd-ddTdd:dd:dd.ddddddZ"
    return all(c in _DIGITS if s == "d" else c == s for c, s in zip(value, shape))


_FIELD_RULES: dict[str, Callable[[Any], bool]] = {
    "timestamp": _is_timestamp,
    "level": _is_str,
    "event": _is_str,
    "logger": _is_str,
    "exception": _is_str,
    "message": _is_str,
    "from_state": lambda v: isinstance(v, str) and v in _STATES,
    "tries": _is_count,
    "expected": lambda v: isinstance(v, bool),
    "exit_code": _is_count,
    "signal": lambda v: isinstance(v, str) and v.startswith("SIG"),
    "delay": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
}
MOVED_SUFFIX = "_original"


def merge_fields(record: Record, fields: Mapping[str, Any]) -> None:
    """Merge a program's JSON object into its record without losing any of it.

    A key initsup sets itself (CONTEXT_KEYS), or whose value the record schema does not
    allow there (a numeric `event`, a `timestamp` in another format), is kept under its
    name plus `_original` (plus another `_original` while that name is taken).
    """
    moved = []
    for key, value in fields.items():
        rule = _FIELD_RULES.get(key)
        if key in CONTEXT_KEYS or (rule is not None and not rule(value)):
            moved.append((key, value))
        else:
            record[key] = value
    for key, value in moved:
        name = key + MOVED_SUFFIX
        while name in record:
            name += MOVED_SUFFIX
        record[name] = value


class LineRenderer:
    """Renders the lines of one child stream: one at a time, or a block of whole lines.

    `__call__(line, part, last)` renders one line (or one part of a split long line);
    `block(data)` renders data made of complete lines, each ending in a newline and none
    longer than the splitter's limit, with one call for the whole block.  This class is
    the raw format: bytes as they came.
    """

    def __call__(self, line: bytes, part: int, last: bool) -> bytes:
        return line + b"\n" if last else line

    def block(self, data: bytes) -> bytes:
        return data

    def plain(self, line: bytes, part: int, last: bool) -> bytes:
        """The line as plain text, never interpreted: what a line whose rendering failed
        becomes, so that one line's fault costs nothing but its interpretation."""
        return self(line, part, last)


class TextLineRenderer(LineRenderer):
    """`program | line`."""

    def __init__(self, program: str) -> None:
        self._prefix = program.encode("utf-8", "backslashreplace") + b" | "

    def __call__(self, line: bytes, part: int, last: bool) -> bytes:
        return self._prefix + line + b"\n"

    def block(self, data: bytes) -> bytes:
        prefix = self._prefix
        return prefix + data[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


class JsonLineRenderer(LineRenderer):
    """Renders the lines of one child stream as JSON records, with little work per line.

    The record's tail (logger, program, group, pid, stream) never changes for a stream, so
    it is rendered once; each line costs a timestamp (its seconds part cached) and one
    C-level string escape.  A block of plain lines is decoded, escaped and joined in a few
    C-level calls, its lines stamped with the one time initsup read them.  Lines that may
    be JSON objects take the general path, child_record(), which the rest must match
    exactly.
    """

    def __init__(self, program: str, group: str, pid: int, stream: str) -> None:
        from initsup.jsoncodec import dumps_record, encode_string

        self._escape: Callable[[str], str] = encode_string
        tail = dumps_record(
            {"logger": program, "program": program, "group": group, "pid": pid, "stream": stream}
        )
        self._tail = "," + tail[1:] + "\n"
        self._context = (program, group, pid, stream)
        self._second = -1
        self._prefix = ""

    def _head(self) -> str:
        """A record's start up to its event's value, stamped now."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = '{"timestamp":"' + time.strftime(
                "%Y-%m-%dT%H:%M:%S", time.gmtime(second)
            )
        micros = int((now - second) * 1_000_000)
        return f'{self._prefix}.{micros:06d}Z","level":"info","event":'

    def __call__(self, line: bytes, part: int, last: bool) -> bytes:
        if not part and line[:1] == b"{":
            program, group, pid, stream = self._context
            return render_json(child_record(line, program, pid, stream, group))
        return self.plain(line, part, last)

    def plain(self, line: bytes, part: int, last: bool) -> bytes:
        text = line.decode("utf-8", "backslashreplace")
        tail = self._tail
        if part:
            tail = f'{tail[:-2]},"part":{part},"last":{"true" if last else "false"}}}\n'
        return json_bytes(self._head() + self._escape(text) + tail)

    def block(self, data: bytes) -> bytes:
        # Decoding the block at once gives what decoding line by line gives: a newline is
        # never part of a UTF-8 sequence, so no invalid sequence spans two lines.
        text = data[:-1].decode("utf-8", "backslashreplace")
        if text[:1] == "{" or "\n{" in text:
            return b"".join([self(line, 0, True) for line in data[:-1].split(b"\n")])
        head, tail = self._head(), self._tail
        return json_bytes(head + (tail + head).join(map(self._escape, text.split("\n"))) + tail)


def line_renderer(fmt: str, program: str, group: str, pid: int, stream: str) -> LineRenderer:
    """The renderer of one child stream's lines in the given format."""
    if fmt == "json":
        return JsonLineRenderer(program, group, pid, stream)
    if fmt == "text":
        return TextLineRenderer(program)
    return LineRenderer()  # raw: bytes as they came


def text_message(record: Mapping[str, Any]) -> str:
    """An initsup record as words: its message (or event), level-prefixed, then any traceback.

    Every event initsup writes says what happened by itself; the fields repeat it for
    machines, in the JSON format.  Lifecycle events carry supervisord's log line as
    `message`, which says more to a person than the event's name.
    """
    level = record.get("level", "info")
    words = record.get("message") or record["event"]
    text = str(words) if level == "info" else f"{level}: {words}"
    if "exception" in record:
        text += "\n" + str(record["exception"]).rstrip("\n")
    return text


def text_record(record: Mapping[str, Any]) -> bytes:
    """An initsup record in the text format: `initsup | event`."""
    return f"initsup | {text_message(record)}\n".encode("utf-8", "backslashreplace")


def messages_on_stdout(log_format: str) -> bool:
    """Whether initsup's own records share stdout with the programs' records: in json and
    text, yes; in raw (and single-command mode's inherit) they go to stderr, out of the way
    of output that has no format."""
    return log_format in ("json", "text")


def message_renderer(log_format: str) -> Callable[[Mapping[str, Any]], bytes]:
    """How initsup's own records are rendered for a stream in log_format: a JSON line for
    json, an `initsup | message` line for every other format."""
    return render_json if log_format == "json" else text_record


class Logger:
    """initsup's own messages: builds records and hands them to one sink."""

    def __init__(self, sink: Callable[[Record], None], level: str = "info") -> None:
        self._sink = sink
        self._threshold = LEVELS[level]

    def set_level(self, level: str) -> None:
        """Write messages at level and above from now on (a restart's new loglevel)."""
        self._threshold = LEVELS[level]

    def enabled(self, level: str) -> bool:
        """Whether messages at level are written."""
        return LEVELS[level] >= self._threshold

    def log(self, level: str, event: str, **fields: Any) -> None:
        """Write one record with `logger` = initsup."""
        if LEVELS[level] < self._threshold:
            return
        record: Record = {
            "timestamp": timestamp(time.time()),
            "level": level,
            "event": event,
            "logger": "initsup",
        }
        record.update(fields)
        self._sink(record)

    def debug(self, event: str, **fields: Any) -> None:
        self.log("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.log("error", event, **fields)

    def exception(self, event: str, exc: BaseException) -> None:
        """An error record carrying the exception's traceback."""
        import traceback

        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        self.log("error", event, exception="".join(lines))

    def internal_error(self, where: str, exc: BaseException) -> None:
        """A bug in one of initsup's handlers, which the loop survived: `where` names it."""
        self.exception(f"internal error in {where}; initsup carries on", exc)


class StderrSink:
    """Plain `initsup: message` lines on stderr, for when the child owns stdout."""

    def __init__(self, fd: int = 2) -> None:
        self._fd = fd

    def __call__(self, record: Record) -> None:
        data = f"initsup: {text_message(record)}\n".encode("utf-8", "backslashreplace")
        try:
            os.write(self._fd, data)
        except OSError:
            pass  # nowhere left to report to; losing a diagnostic must not kill PID 1
