"""The status page's actions: start, stop and restart of a process, a group or all, through
the control API, and a short outcome in supervisorctl's words for the page to show.

As `initsup ctl` acts (initsup.control.commands): a start of a group or all starts only
what is not running, and finds a command that cannot run before spawning anything; a
stop of a group passes over what is not running; restart is stop, then start once every
stop has settled.  A browser should not hang on a slow stop or a long startsecs, so the
answer comes when the action has settled or after ANSWER_WITHIN seconds, whichever is
first; an action still under way goes on after the answer (a restart's start too).
"""

from __future__ import annotations

from initsup.control import api
from initsup.states import RUNNING_STATES

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.control.api import Host, Result
    from initsup.process import Process

    Then = Callable[[list[str]], None]  # the outcome's lines, once the step settled

ACTIONS = ("start", "stop", "restart")
ANSWER_WITHIN = 5.0  # seconds a POST waits for its action to settle
MAX_LINES = 12  # outcome lines kept for the page; the rest are counted

# supervisorctl's words after "NAME: " for each outcome.
WORDS = {
    api.STARTED: "started",
    api.SPAWN_ERROR: "ERROR (spawn error)",
    api.ALREADY_STARTED: "ERROR (already started)",
    api.STOPPED: "stopped",
    api.NOT_RUNNING: "ERROR (not running)",
    api.NO_FILE: "ERROR (no such file)",
    api.NOT_EXECUTABLE: "ERROR (file is not executable)",
}
_MISSES = {
    api.NO_SUCH_GROUP: "ERROR (no such group)",
    api.NO_SUCH_PROCESS: "ERROR (no such process)",
    api.AMBIGUOUS: "ERROR (ambiguous name)",
}


def act(host: Host, action: str, name: str, answer: Callable[[str], None]) -> None:
    """Run action ("start", "stop", "restart") on what name means (NAME, GROUP:NAME,
    GROUP:*, all); answer(outcome text) exactly once, when done or after ANSWER_WITHIN."""
    answered = [False]
    lines: list[str] = []

    def once(text: str) -> None:
        if not answered[0]:
            answered[0] = True
            timer.cancel()
            answer(text)

    def finish(more: list[str]) -> None:
        lines.extend(more)
        once(summary(lines, f"{name}: {action} done"))

    def overdue() -> None:
        once(summary([*lines, f"{name}: {action} still under way"], ""))

    timer = host.loop.call_later(ANSWER_WITHIN, overdue)
    found, missed = api.resolve(host, name)
    if missed is not None:
        finish([f"{missed[0]}: {_MISSES[missed[1]]}"])
        return
    group = api.is_group(name)
    if action == "start":
        _start(host, found, group, finish)
    elif action == "stop":
        _stop(host, found, group, finish)
    else:

        def then(stopped: list[str]) -> None:
            lines.extend(stopped)
            _start(host, found, group, finish)

        _stop(host, found, group, then)


def summary(lines: list[str], empty: str) -> str:
    """The outcome's lines, at most MAX_LINES of them and a count of the rest."""
    if not lines:
        return empty
    shown = lines[:MAX_LINES]
    if len(lines) > MAX_LINES:
        shown.append(f"... and {len(lines) - MAX_LINES} more")
    return "\n".join(shown)


def _line(result: Result) -> str:
    process, outcome = result
    return f"{api.namespec(process)}: {WORDS[outcome]}"


def _failed(then: Then) -> Callable[[BaseException], None]:
    # A failure while waiting is this action's, never the supervisor's: it is told.
    def on_error(exc: BaseException) -> None:
        then([f"ERROR while waiting: {exc}"])

    return on_error


def _start(host: Host, processes: list[Process], group: bool, then: Then) -> None:
    lines: list[str] = []
    startable = []
    for p in processes:
        if p.state in RUNNING_STATES and group:
            continue  # a group start starts what is not running
        why = None if p.state in RUNNING_STATES else api.unstartable(p)
        if why is not None:
            lines.append(f"{api.namespec(p)}: {WORDS[why[0]]}")
        else:
            startable.append(p)

    def refused(result: Result) -> None:
        lines.append(_line(result))

    def done(results: list[Result]) -> None:
        then(lines + [_line(result) for result in results])

    if api.start(host, startable, refused, done, _failed(then)) is None:
        then([*lines, "ERROR: initsup is shutting down"])


def _stop(host: Host, processes: list[Process], group: bool, then: Then) -> None:
    lines: list[str] = []

    def refused(result: Result) -> None:
        if not group:  # a group stop passes over what is not running
            lines.append(_line(result))

    def done(results: list[Result]) -> None:
        then(lines + [_line(result) for result in results])

    api.stop(host, processes, refused, done, _failed(then))
