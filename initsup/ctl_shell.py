"""`initsup ctl`'s shell, as supervisorctl's: `initsup ctl` with no command.

Like supervisorctl it runs `status` first, then reads commands with the prompt
`PROMPT> ` ([supervisorctl] prompt=, default "supervisor") until `quit`, `exit` or EOF,
and always exits 0.  With stdin a terminal it reads through readline (imported here
only), with history saved to history_file when one is set; with stdin a pipe it reads the
same way, line by line, printing the prompt as supervisorctl does.  `reload` asks first,
`open URL` talks to another server, `help` needs none.  Also here: `fg`'s client side,
which watches the terminal while it prints.
"""

from __future__ import annotations

import os
import select
import sys

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    # initsup.ctl.run: (target, words, login) -> exit code
    Runner = Callable[[Any, list[str], Callable[[Any], None]], int]


class Shell:
    """supervisorctl's command loop, each command run by initsup.ctl.run."""

    def __init__(self, target: Any, run: Runner, tty: bool) -> None:
        self.target = target
        self.run_command = run  # initsup.ctl.run: one command against a target
        self.tty = tty
        self.queue = [["status"]]

    def run(self) -> int:
        history = self.target.history_file if self.tty else None
        readline = _readline(history) if self.tty else None
        try:
            while True:
                words = self.queue.pop(0) if self.queue else self._read()
                if words is None or self.one(words):
                    break
        except KeyboardInterrupt:
            sys.stdout.write("\n")
        finally:
            if readline is not None and history:
                try:
                    readline.write_history_file(history)
                except OSError:
                    pass
        sys.stdout.flush()
        return 0  # supervisorctl: always 0 in the shell

    def _read(self) -> list[str] | None:
        """The next command's words ([] for a blank line); None at EOF (said with a newline)."""
        sys.stdout.flush()
        try:
            line = input(f"{self.target.prompt}> ")
        except EOFError:
            sys.stdout.write("\n")
            return None
        if line.startswith("?"):
            line = "help " + line[1:]
        return line.split()

    def one(self, words: list[str]) -> bool:
        """Run one command; True when it ends the shell."""
        if not words:
            return False
        command, args = words[0], words[1:]
        if command in ("exit", "quit"):
            sys.stdout.write("\n")
            return True
        if command == "reload" and not args and not self._really():
            return False
        if command == "open":
            self._open(args)
            return False
        self.run_command(self.target, words, login)
        return False

    def _really(self) -> bool:
        sys.stdout.flush()
        try:
            answer = input("Really restart the remote supervisord process y/N? ")
        except EOFError:
            return False
        return answer.lower().startswith("y")

    def _open(self, args: list[str]) -> None:
        """supervisorctl's `open URL`: talk to another server from now on, show its status."""
        url = " ".join(args).strip()
        if not url.startswith(("unix://", "http://")):
            sys.stdout.write("ERROR: url must be http:// or unix://\n")
            return
        from initsup.ctl_find import Target

        target = Target(url)
        target.prompt = self.target.prompt
        target.username, target.password = self.target.username, self.target.password
        target.history_file = self.target.history_file
        self.target = target
        self.run_command(self.target, ["status"], login)


def login(target: Any) -> None:
    """supervisorctl's shell after a 401: ask for a username and a password, keep them."""
    import getpass

    target.username = input("Username:")
    target.password = getpass.getpass(prompt="Password:")
    sys.stdout.write("\n")


def _readline(history: str | None) -> Any:
    """readline, with the history read in, or None where Python has none."""
    try:
        import readline
    except ImportError:
        return None
    if history:
        try:
            readline.read_history_file(history)
        except OSError:
            pass
    return readline


def print_fg(source: Any, args: list[str], print_reply: Callable[[bytes], int | None]) -> int:
    """Print `fg`'s answer while watching stdin once it follows.

    initsup's programs read /dev/null, so there is nothing to send a typed line to:
    supervisord refuses one (NO_FILE) and ends `fg`; so does this, saying why.  EOF on
    stdin ends it as it ends supervisorctl's.
    """
    buffered = b""
    following = False
    while True:
        watched = [source, sys.stdin] if following else [source]
        ready = [source] if getattr(source, "buffer", b"") else select.select(watched, [], [])[0]
        if sys.stdin in ready:
            typed = os.read(sys.stdin.fileno(), 4096)
            if typed:
                name = args[0] if args else ""
                sys.stdout.write(
                    f"ERROR: {name} has no stdin: initsup starts programs with /dev/null\n"
                )
            sys.stdout.write("Exiting foreground\n")
            return 1 if typed else 0
        chunk = source.recv(65536)
        if not chunk:
            sys.stderr.write("error: initsup closed the connection without an answer\n")
            return 1
        *lines, buffered = (buffered + chunk).split(b"\n")
        for line in lines:
            code = print_reply(line)
            if code is not None:
                return code
            following = following or b"Press Ctrl-C to exit" in line
