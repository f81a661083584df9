"""The docker layer's plumbing: base images, test images, and containers seen from outside.

Nothing here fakes Docker: images are built by the engine, containers run under it, and
tests look at them as a user does, through `docker logs`, `docker exec`, `docker stop`,
`docker kill` and the exit status.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.helpers import ROOT
from tests.supervised import VALIDATOR, Record

T = TypeVar("T")

# The Debian releases the suite runs on, with the Python each one ships.
SUITES = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}
# Every container and image the suite makes carries LABEL with this run's id as its value,
# so a run cleans up after itself and after killed runs, never touching one still going.
LABEL = "initsup-test"
# A day is far longer than any run: whatever is older was left by a killed run.
LEFTOVER_AGE = 24 * 3600


def process_start(pid: int) -> str | None:
    """The start time of process pid (clock ticks since boot), or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def run_id(pid: int) -> str:
    """host:pid:start of the run in process pid: unique while the machine is up."""
    return f"{socket.gethostname()}:{pid}:{process_start(pid)}"


RUN = run_id(os.getpid())


def run_alive(label: str) -> bool:
    """Whether the run that labelled something label is still going."""
    host, _, rest = label.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return process_start(int(pid)) == start


def run_tag(name: str) -> str:
    """An image repository name of this run's own, so concurrent runs never share a tag."""
    _, pid, start = RUN.split(":")
    return f"{name}-{pid}-{start}"


def base_tag(suite: str) -> str:
    return f"initsup-base:{suite}"


def image_tag(suite: str) -> str:
    return f"{run_tag('initsup-test')}:{suite}"


def ensure_bases(client: Any, suites: list[str]) -> None:
    """Make the missing base images with images/make-base.sh, all at once (about 80 s).

    They stay in the engine under their names, so later runs reuse them.
    """
    import docker.errors

    missing = []
    for suite in suites:
        try:
            client.images.get(base_tag(suite))
        except docker.errors.ImageNotFound:
            missing.append(suite)
    if not missing:
        return
    script = str(ROOT / "images" / "make-base.sh")

    def make(suite: str) -> subprocess.CompletedProcess[str]:
        # "bookworm-procps": bookworm with procps installed beside python3.
        release, _, packages = suite.partition("-")
        argv = ["bash", script, release, base_tag(suite), packages.replace("-", ",")]
        return subprocess.run(argv, capture_output=True, text=True, timeout=900)

    with concurrent.futures.ThreadPoolExecutor(len(missing)) as pool:
        results = dict(zip(missing, pool.map(make, missing)))
    failed = {s: r.stderr[-2000:] for s, r in results.items() if r.returncode != 0}
    if failed:
        raise RuntimeError(f"images/make-base.sh failed: {failed}")


def build_context(directory: Path) -> Path:
    """A build context laid out like the repository: the single-file build in
    dist/initsup.pyz, tests/bin, examples and the Dockerfiles."""
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_pyz.py"),
            str(directory / "dist" / "initsup.pyz"),
        ],
        check=True,
        capture_output=True,
    )
    shutil.copytree(ROOT / "tests" / "bin", directory / "tests" / "bin")
    shutil.copytree(ROOT / "examples", directory / "examples")
    shutil.copytree(ROOT / "images", directory / "images")
    shutil.copy2(ROOT / "Dockerfile.example", directory / "Dockerfile.example")
    return directory


def build(
    client: Any, context: Path, dockerfile: str, tag: str, base: str, target: str | None = None
) -> str:
    """docker build -f DOCKERFILE --build-arg BASE=base [--target T] -t tag CONTEXT."""
    import docker.errors

    try:
        client.images.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs={"BASE": base},
            target=target,
            labels={LABEL: RUN},
            rm=True,
            forcerm=True,
        )
    except docker.errors.BuildError as error:
        log = "".join(str(chunk.get("stream", chunk)) for chunk in error.build_log)
        raise RuntimeError(f"docker build of {tag} failed:\n{log}") from error
    return tag


def make_images(client: Any) -> dict[str, str]:
    """The test image (images/Dockerfile) on every base: {suite: tag}."""
    ensure_bases(client, list(SUITES))
    with tempfile.TemporaryDirectory() as scratch:
        context = build_context(Path(scratch))
        tags = {
            suite: build(client, context, "images/Dockerfile", image_tag(suite), base_tag(suite))
            for suite in SUITES
        }
    return tags


SUPERLANCE_BASE = "bookworm-procps"


def make_superlance_image(client: Any) -> str:
    """images/superlance.Dockerfile on a base with procps, with the supervisor and
    superlance packages of the test environment: its tag."""
    import importlib.util

    ensure_bases(client, [SUPERLANCE_BASE])
    with tempfile.TemporaryDirectory() as scratch:
        context = build_context(Path(scratch))
        for package in ("supervisor", "superlance"):
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                raise RuntimeError(f"the {package} package is not in the test environment")
            shutil.copytree(
                Path(spec.origin).parent,
                context / "site" / package,
                ignore=shutil.ignore_patterns("__pycache__", "tests"),
            )
        tag = f"{run_tag('initsup-superlance')}:{SUPERLANCE_BASE}"
        base = base_tag(SUPERLANCE_BASE)
        return build(client, context, "images/superlance.Dockerfile", tag, base)


def remove_images(client: Any, tags: list[str]) -> None:
    """Remove this run's images (their layers stay cached for the next build)."""
    import docker.errors

    for tag in tags:
        try:
            client.images.remove(tag, force=True)
        except docker.errors.APIError:
            pass  # already gone


def remove_leftovers(client: Any) -> None:
    """Remove the containers and images of runs that ended without cleaning up: those whose
    process is gone, or (runs on another host sharing the engine) older than a day."""
    import docker.errors

    def left_over(labels: dict[str, str], created: str) -> bool:
        label = labels.get(LABEL, "")
        if label.partition(":")[0] == socket.gethostname():
            return not run_alive(label)
        return _age(created) > LEFTOVER_AGE

    for container in client.containers.list(all=True, filters={"label": LABEL}):
        if left_over(container.labels, container.attrs["Created"]):
            container.remove(force=True)
    for image in client.images.list(filters={"label": LABEL}):
        if left_over(image.labels, image.attrs["Created"]):
            try:
                client.images.remove(image.id, force=True)
            except docker.errors.APIError:
                pass  # in use by a container of a live run, or gone meanwhile


def _age(created: str) -> float:
    """Seconds since docker's Created timestamp (RFC 3339, nanoseconds)."""
    import datetime

    stamp = created[:19]  # seconds are enough
    then = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return (now - then).total_seconds()


def poll(predicate: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll predicate until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


class Box:
    """One running container, observed only from outside."""

    def __init__(self, container: Any) -> None:
        self.container = container

    @property
    def name(self) -> str:
        return str(self.container.name)

    def logs(self, stdout: bool = True, stderr: bool = True) -> str:
        """What `docker logs` shows so far."""
        data: bytes = self.container.logs(stdout=stdout, stderr=stderr)
        return data.decode("utf-8", "replace")

    def wait_logs(self, text: str, timeout: float = 30.0) -> str:
        """Poll `docker logs` until it contains text; return the logs."""

        def logs_with_text() -> str | None:
            logs = self.logs()
            return logs if text in logs else None

        return poll(logs_with_text, timeout, f"{text!r} in the logs of {self.name}")

    def records(self) -> list[Record]:
        """`docker logs` of stdout as records: every line one JSON object, valid against the
        log schema, and nothing at all on stderr."""
        assert self.logs(stdout=False) == "", self.logs(stdout=False)
        records = []
        for line in self.logs(stderr=False).splitlines():
            record = json.loads(line)
            assert isinstance(record, dict), line
            VALIDATOR.validate(record)
            records.append(record)
        return records

    def wait_record(self, event: str, timeout: float = 30.0, **fields: Any) -> Record:
        """Poll until a record with this event and these field values is in the logs."""

        def find() -> Record | None:
            for record in self.records():
                if record.get("event") == event and all(
                    record.get(k) == v for k, v in fields.items()
                ):
                    return record
            return None

        return poll(find, timeout, f"{event} {fields} in the logs of {self.name}")

    def exec(self, *command: str, user: str = "") -> tuple[int, str]:
        """docker exec C COMMAND: its exit code and output (stdout and stderr)."""
        result = self.container.exec_run(list(command), user=user)
        return int(result.exit_code), result.output.decode("utf-8", "replace")

    def zombies(self) -> list[str]:
        """The container's processes in state Z, as `pid comm` lines, read from /proc."""
        code, out = self.exec("python3", "-c", ZOMBIES)
        assert code == 0, out
        return out.split("\n")[:-1]

    def status(self) -> str:
        self.container.reload()
        return str(self.container.status)

    def health(self) -> str:
        """The result of the image's HEALTHCHECK as docker reports it ("" before any)."""
        self.container.reload()
        return str(self.container.attrs["State"].get("Health", {}).get("Status", ""))

    def stop(self, timeout: int = 10) -> float:
        """docker stop -t TIMEOUT C; returns how long it took, in seconds."""
        began = time.monotonic()
        self.container.stop(timeout=timeout)
        return time.monotonic() - began

    def exit_code(self, timeout: float = 30.0) -> int:
        """Wait (bounded) for the container to end; its exit status as docker reports it."""
        result = self.container.wait(timeout=timeout)
        return int(result["StatusCode"])


ZOMBIES = """
import os
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    if stat.rpartition(")")[2].split()[0] == "Z":
        print(pid, stat[stat.index("(") + 1 : stat.rindex(")")])
"""


def environment_reason() -> str | None:
    """Why the docker layer cannot run here, or None when it can."""
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed (pip install docker)"
    try:
        docker.from_env().ping()
    except Exception as error:
        return f"no Docker Engine answers ({error})"
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        import docker.errors

        client = docker.from_env()
        for suite in SUITES:
            try:
                client.images.get(base_tag(suite))
            except docker.errors.ImageNotFound:
                return f"{base_tag(suite)} is missing and making it needs root and debootstrap"
    return None
