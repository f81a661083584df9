"""`initsup ctl`: the client of a running initsup's control socket, as supervisorctl.

It finds the socket with no flags wherever initsup would have put it, sends one request,
prints what the server answers and exits with the code it gives.  The server words every
line as supervisorctl does; this side only prints.  supervisorctl's flags (`-c FILE`,
`-s URL`, `-u`, `-p`, `-i`, `-r`) and its shell are here too, each in a module imported
only when asked for (initsup.ctl_find, initsup.ctl_http, initsup.ctl_shell): this one
runs for every `docker exec ... initsup ctl status` and every Kubernetes exec probe.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.ctl_find import Target

USAGE = """usage: initsup ctl [OPTIONS] [COMMAND [ARG...]]

options (supervisorctl's):
  -c, --configuration FILE  read FILE's [supervisorctl] (serverurl, username, password,
                            prompt, history_file); without serverurl, its
                            [unix_http_server] file=
  -s, --serverurl URL       unix:///path/to/socket or http://host:port
  -u, --username USER       for an http:// server with [inet_http_server] username=
  -p, --password PASSWORD
  -i, --interactive         the shell, after a command too
  -r, --history-file FILE   the shell's history (readline)
  --socket PATH             the control socket (as -s unix://PATH)
  -h, --help                this text

commands (NAME is a process, GROUP:NAME, GROUP:* or all; `help CMD` for each):
  status [--json] [NAME...]   start NAME...      stop NAME...      restart NAME...
  signal SIG NAME...          pid [NAME|all]     tail [-f] [-BYTES] NAME [stdout|stderr]
  fg NAME                     maintail [-f] [-BYTES]               clear NAME...|all
  reread   update   avail   add NAME...   remove NAME...   reload   shutdown   version
  health                      exit 0 when every essential program (or, with none
                              essential, every autostart program) is RUNNING or done
  health --live|--ready|--startup [NAME]
                              Kubernetes' exec probes: exit 0 when live, ready or
                              started (those programs, or NAME), else 1 and why
  events [-f]                 recent lifecycle events as JSON (and, with -f, new ones)
  sendcomm TYPE DATA          send listeners a REMOTE_COMMUNICATION event

With no command: supervisorctl's shell when stdin is a terminal (or -i), else commands
read from stdin, one a line.  The socket: --socket, else INITSUP_SOCKET, else
/run/initsup.sock, else $TMPDIR/initsup.sock (or /tmp/initsup.sock).
"""

# Commands the server knows; anything else is supervisorctl's "*** Unknown syntax" here.
COMMANDS = frozenset(
    {
        "add", "avail", "clear", "events", "fg", "health", "maintail", "pid", "reload",
        "remove", "reread", "restart", "sendcomm", "shutdown", "signal", "start", "status",
        "stop", "tail", "update", "version",
    }
)  # fmt: skip
# Flags and whether they take a value, by every name they go by.
_FLAGS = {
    "-c": "c", "--configuration": "c", "-s": "s", "--serverurl": "s", "-u": "u",
    "--username": "u", "-p": "p", "--password": "p", "-r": "r", "--history-file": "r",
    "--history_file": "r", "--socket": "socket",
}  # fmt: skip
_SWITCHES = {"-i": "i", "--interactive": "i", "-h": "h", "--help": "h"}


def parse_flags(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """supervisorctl's options before the command, and the command's words after them;
    ValueError naming a flag that is not one or lacks its value."""
    flags: dict[str, str] = {}
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "-":
        word = args[index]
        if word == "--":
            index += 1
            break
        name, equals, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if len(name) > 2 and not name.startswith("--"):  # -cFILE, as getopt takes it
            name, equals, value = name[:2], "=", name[2:]
        if name in _SWITCHES and not equals:
            flags[_SWITCHES[name]] = ""
        elif name in _FLAGS:
            if not equals:
                index += 1
                if index >= len(args):
                    raise ValueError(f"option {name} requires argument")
                value = args[index]
            flags[_FLAGS[name]] = value
        else:
            raise ValueError(f"option {name} not recognized")
        index += 1
    return flags, args[index:]


def find_socket(environ: dict[str, str] | os._Environ[str]) -> str:
    """Where the running initsup listens (the first of the places it may have chosen)."""
    explicit = environ.get("INITSUP_SOCKET")
    if explicit:
        return explicit
    fallback = os.path.join(environ.get("TMPDIR") or "/tmp", "initsup.sock")
    for candidate in ("/run/initsup.sock", fallback, "/tmp/initsup.sock"):
        if os.path.exists(candidate):
            return candidate
    return "/run/initsup.sock"


def main(args: list[str]) -> int:
    """Run `initsup ctl`: one command, or the shell; returns the exit code."""
    try:
        flags, words = parse_flags(args)
    except ValueError as exc:
        sys.stdout.write(f"Error: {exc}\nFor help, use initsup ctl -h\n")
        return 2
    if "h" in flags:
        sys.stdout.write(USAGE)
        return 0
    try:
        target = _target(flags)
    except Exception as exc:  # ctl_find.FindError: a bad -s URL, an unreadable -c FILE
        sys.stdout.write(f"Error: {exc}\nFor help, use initsup ctl -h\n")
        return 2
    if words:  # supervisorctl: a command runs once, -i or not
        return run(target, words)
    from initsup.ctl_shell import Shell

    return Shell(target, run, tty="i" in flags or sys.stdin.isatty()).run()


def _target(flags: dict[str, str]) -> Target | _Socket:
    if not set(flags) & {"c", "s", "u", "p", "r"}:
        return _Socket(flags.get("socket") or find_socket(os.environ))
    from initsup.ctl_find import find

    return find(flags, os.environ, find_socket(os.environ))


class _Socket:
    """The usual target: the control socket, with nothing else to know (no import of
    initsup.ctl_find on the probe's path)."""

    username = password = history_file = None
    prompt = "supervisor"

    def __init__(self, path: str) -> None:
        self.socket_path: str | None = path
        self.url = "unix://" + path


def run(
    target: Target | _Socket, words: list[str], login: Callable[[Any], None] | None = None
) -> int:
    """One command against the target: the server's answer printed; its exit code.

    login(target), when given (the shell), asks for a username and password after a 401
    and the command is sent again, as supervisorctl's shell does.
    """
    command = words[0]
    if command not in COMMANDS:
        return _local(words)
    line = (json.dumps({"cmd": command, "args": words[1:]}) + "\n").encode()
    path = target.socket_path
    try:
        source = _over_socket(path, line) if path else _over_http(target, line, login)
    except OSError as exc:
        return _unreachable(target.url, command, exc)
    except _Refused as refused:
        return refused.code
    try:
        if command == "fg":
            from initsup.ctl_shell import print_fg

            return print_fg(source, words[1:], _print_reply)
        return _print_replies(source)
    except KeyboardInterrupt:  # ^C ends `tail -f`, `maintail -f`, `fg` and `events -f`
        if command == "fg":
            sys.stdout.write("Exiting foreground\n")
        elif command in ("tail", "maintail"):
            sys.stdout.write("\n")
        return 0
    except OSError as exc:
        sys.stdout.write(f"error: lost the connection to initsup: {exc}\n")
        return 1
    finally:
        source.close()


def _local(words: list[str]) -> int:
    """What needs no server of its own: help, exit and quit (one-shot), `open URL` (which
    names one), and unknown commands."""
    if words[0] == "help":
        from initsup.control.helptext import help_lines, listing

        topic = " ".join(words[1:]).strip()
        sys.stdout.write("\n".join(help_lines(topic) if topic else listing()) + "\n")
        return 0
    if words[0] in ("exit", "quit", "EOF"):
        sys.stdout.write("\n")
        return 0
    if words[0] == "open":  # one-shot: the other server's status, as supervisorctl's
        url = " ".join(words[1:]).strip()
        if not url.startswith(("unix://", "http://")):
            sys.stdout.write("ERROR: url must be http:// or unix://\n")
            return 1
        from initsup.ctl_find import Target

        run(Target(url), ["status"])
        return 0
    sys.stdout.write(f"*** Unknown syntax: {' '.join(words)}\n")
    return 1


class _Refused(Exception):
    """Already answered (an impostor's socket, an HTTP error): only the exit code is left."""

    def __init__(self, code: int) -> None:
        self.code = code


def _over_socket(path: str, line: bytes) -> Any:
    sock = _connect(path)
    owner = _server_uid(sock)
    if owner not in (0, os.geteuid()):
        sock.close()
        raise _Refused(_impostor(path, json.loads(line)["cmd"], owner))
    try:
        sock.sendall(line)
    except (BrokenPipeError, ConnectionResetError):
        pass  # turned away before the request went out: its answer says why
    return sock


def _over_http(target: Target | _Socket, line: bytes, login: Callable[[Any], None] | None) -> Any:
    from initsup.ctl_http import HttpError, request

    for attempt in range(3):
        try:
            return request(target.url, line, target.username, target.password)
        except HttpError as exc:
            sys.stdout.write(f"{exc}\n")
            if exc.status != 401 or login is None or attempt == 2:
                raise _Refused(exc.code) from None
            login(target)
    raise AssertionError("unreachable")  # pragma: no cover


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _server_uid(sock: socket.socket) -> int:
    """The uid of the process serving the socket (SO_PEERCRED, set when it listened)."""
    # struct ucred: pid, uid, gid, three 32-bit ints in the machine's order.
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder)


def _impostor(path: str, command: str, uid: int) -> int:
    """The server's rule, mirrored: only root or our own user may be talked to.

    A non-root initsup's socket may sit in a shared $TMPDIR, where another user could
    have bound it first; its answers (and our commands) must not be taken for initsup's.
    """
    sys.stderr.write(
        f"unix://{path} is served by uid {uid}, neither root nor uid {os.geteuid()}: "
        "not talking to it (another user's socket? see INITSUP_SOCKET)\n"
    )
    return 4 if command in ("status", "health") else 7


def _unreachable(url: str, command: str, exc: OSError) -> int:
    """supervisorctl's words and exit codes for a server that is not there (its line on
    stdout, as supervisorctl prints it; initsup's hint on stderr)."""
    if exc.errno == errno.ENOENT:
        reason = "no such file"
    elif exc.errno == errno.ECONNREFUSED:
        reason = "refused connection"
    elif exc.errno == errno.EACCES:
        reason = "permission denied"
    else:
        reason = exc.strerror or str(exc)
    if command == "shutdown":
        sys.stdout.write(f"ERROR: {url} {reason} (already shut down?)\n")
        return 1
    sys.stdout.write(f"{url} {reason}\n")
    hint = "see INITSUP_SOCKET" if url.startswith("unix://") else "see [inet_http_server]"
    sys.stderr.write(f"(is initsup running? {hint})\n")
    if command in ("status", "health") or exc.errno == errno.ECONNREFUSED:
        return 4
    return 7


MAX_LINE = 16 << 20  # a reply line longer than this is not initsup's


def _print_replies(source: Any) -> int:
    """Print the server's reply lines as they come; the exit code of the last one."""
    buffered = b""
    while True:
        chunk = source.recv(65536)
        if not chunk:
            sys.stderr.write("error: initsup closed the connection without an answer\n")
            return 1
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        if len(buffered) > MAX_LINE:
            lines.append(buffered[:200])
        for line in lines:
            code = _print_reply(line)
            if code is not None:
                return code


def _print_reply(line: bytes) -> int | None:
    """Print one reply line; its exit code when it is the last (1: malformed)."""
    try:
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise ValueError("not an object")
    except ValueError:
        sys.stderr.write(f"error: initsup sent a malformed answer: {line[:200]!r}\n")
        return 1
    if "out" in reply:
        sys.stdout.write(reply["out"] + "\n")
    if "err" in reply:
        sys.stderr.write(reply["err"] + "\n")
    if "data" in reply:
        sys.stdout.write(reply["data"])
    if "json" in reply:
        sys.stdout.write(json.dumps(reply["json"], ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return int(reply["exit"]) if "exit" in reply else None
