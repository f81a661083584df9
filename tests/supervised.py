"""Running initsup in supervisor mode for a test, and reading its JSON stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema

from tests.helpers import INITSUP, ROOT, Proc, env, kill_tree

Record = dict[str, Any]
SCHEMA = json.loads((ROOT / "docs" / "log-record.schema.json").read_text())
# One validator for every record: jsonschema.validate() re-checks the schema itself on
# each call, which costs more than the record.
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)


class Supervised:
    """initsup started on an INI text and/or INITSUP_* variables, with its records at hand."""

    def __init__(
        self,
        tmp_path: Path,
        ini: str | None = None,
        variables: dict[str, str] | None = None,
        args: Sequence[str] = (),
        prefix: Sequence[str] = (),
    ) -> None:
        argv = [*prefix, *INITSUP]
        if ini is not None:
            path = tmp_path / "initsup.ini"
            path.write_text(ini)
            argv += ["-c", str(path)]
        # Each instance its own control socket: tests must not share /run/initsup.sock.
        variables = {"INITSUP_SOCKET": str(tmp_path / "initsup.sock"), **(variables or {})}
        self.socket = variables["INITSUP_SOCKET"]
        self.proc = Proc([*argv, *args], env=env(**variables))
        self.records: list[Record] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def next(self, timeout: float = 10.0) -> Record:
        """The next record on stdout: one JSON object, valid against the log schema."""
        record: Record = json.loads(self.proc.readline(timeout))
        VALIDATOR.validate(record)
        assert list(record)[:4] == ["timestamp", "level", "event", "logger"], record
        self.records.append(record)
        return record

    def read_available(self, wait: float = 0.05) -> None:
        """Read the records that come within `wait` seconds of each other, then return."""
        try:
            while True:
                self.next(wait)
        except AssertionError:
            pass  # nothing more for now

    def wait(self, event: str, timeout: float = 15.0, **fields: Any) -> Record:
        """Read records until one has this event and these field values; return it."""
        for record in self.records:
            if _matches(record, event, fields) and not record.get("_seen"):
                record["_seen"] = True
                return record
        while True:
            record = self.next(timeout)
            if _matches(record, event, fields):
                record["_seen"] = True
                return record

    def wait_prefix(self, prefix: str, timeout: float = 15.0) -> Record:
        """Read records until one's event starts with prefix (initsup's own messages)."""
        for record in self.records:
            if str(record["event"]).startswith(prefix):
                return record
        while True:
            record = self.next(timeout)
            if str(record["event"]).startswith(prefix):
                return record

    def events(self, program: str | None = None) -> list[str]:
        """Names of the lifecycle events read so far (for one program if given)."""
        return [
            r["event"]
            for r in self.records
            if r["event"].startswith(("PROCESS_", "SUPERVISOR_"))
            and (program is None or r.get("program") == program)
        ]

    def finish(self, timeout: float = 30.0) -> int:
        """Read everything until initsup exits; return its exit code."""
        try:
            while True:
                self.next(timeout)
        except EOFError:
            pass
        return self.proc.wait(timeout)

    def ctl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run `initsup ctl ARGS` against this initsup; stdout and stderr as text."""
        return subprocess.run(
            [*INITSUP, "ctl", *args],
            env=env(INITSUP_SOCKET=self.socket),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM initsup, read the rest of its output, return its exit code."""
        os.kill(self.pid, signal.SIGTERM)
        return self.finish(timeout)

    def close(self) -> None:
        """Kill initsup and everything under it."""
        if self.proc.popen.poll() is None:  # a reaped pid may belong to someone else now
            kill_tree(self.pid)
        self.proc.kill()


def seconds(stamp: str) -> float:
    """A record's RFC 3339 UTC timestamp as seconds since the epoch."""
    import calendar
    import time

    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float(stamp[19:-1])


def _matches(record: Record, event: str, fields: dict[str, Any]) -> bool:
    return record.get("event") == event and all(record.get(k) == v for k, v in fields.items())
