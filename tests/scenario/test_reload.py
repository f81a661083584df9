"""Reloads, told as stories: the file changes, initsup re-reads it and applies the Diff.

Groups are compared whole: an added group starts, a removed one stops and goes, a
changed one is stopped and started anew, and an unchanged one keeps running untouched
(the same pid).  `ctl reread` and `ctl update` answer with supervisorctl's lines; a file
that no longer reads is refused and changes nothing.  The configuration is read by a
real child process, reaped by the loop like any other.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.scenario.harness import Scenario

Story = Callable[..., Scenario]
SLEEPER = "command=sleep 30\nstartsecs=0\n"
BEFORE = f"[program:same]\n{SLEEPER}[program:edited]\n{SLEEPER}[program:gone]\n{SLEEPER}"
AFTER = (
    f"[program:same]\n{SLEEPER}"
    "[program:edited]\ncommand=sleep 31\nstartsecs=0\n"
    f"[program:new]\n{SLEEPER}"
)


class Answers:
    """What `ctl reread`/`ctl update` would be told: (lines, problems), once."""

    def __init__(self) -> None:
        self.given: list[tuple[list[str], list[str]]] = []

    def __call__(self, lines: list[str], problems: list[str]) -> None:
        self.given.append((lines, problems))


def running(s: Scenario, *programs: str) -> None:
    s.until(lambda: all(s.state(p) == "RUNNING" for p in programs))


def test_sighup_restarts_only_the_groups_whose_configuration_changed(story: Story) -> None:
    s = story(BEFORE).start()
    running(s, "same", "edited", "gone")
    same, edited = s.pid("same"), s.pid("edited")

    s.path.write_text(AFTER)
    s.signal(signal.SIGHUP)
    s.until(lambda: "new:new" in s.supervisor.processes and s.state("new") == "RUNNING")
    running(s, "edited")

    reloaded = s.find("configuration reloaded: 1 added, 1 changed, 1 removed")
    assert reloaded is not None
    assert (reloaded["added"], reloaded["changed"], reloaded["removed"]) == (
        ["new"],
        ["edited"],
        ["gone"],
    )
    assert sorted(s.supervisor.processes) == ["edited:edited", "new:new", "same:same"]
    assert s.pid("same") == same and starts(s, "same") == 1  # untouched
    assert s.pid("edited") != edited and starts(s, "edited") == 2
    assert s.events("gone")[-1] == "PROCESS_STATE_STOPPED"
    changes = [
        (r["event"][len("PROCESS_") :], r["group"])
        for r in s.records[reloaded_at(s) :]
        if r["event"] in ("PROCESS_GROUP_ADDED", "PROCESS_GROUP_REMOVED")
    ]
    assert [c for c in changes if c[1] == "edited"] == [
        ("GROUP_REMOVED", "edited"),
        ("GROUP_ADDED", "edited"),
    ]
    assert ("GROUP_REMOVED", "gone") in changes
    assert changes[-1] == ("GROUP_ADDED", "new")  # added groups once the others are done
    assert len(changes) == 4

    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def starts(s: Scenario, program: str) -> int:
    return s.events(program).count("PROCESS_STATE_STARTING")


def reloaded_at(s: Scenario) -> int:
    return next(
        i for i, r in enumerate(s.records) if r["event"].startswith("configuration reloaded")
    )


def test_reread_and_update_answer_with_supervisorctl_lines(story: Story) -> None:
    s = story(BEFORE).start()
    running(s, "same", "edited", "gone")
    s.path.write_text(AFTER)

    reread = Answers()
    s.turn(lambda: s.supervisor.reread(reread))
    s.until(lambda: reread.given)
    assert reread.given == [(["edited: changed", "gone: disappeared", "new: available"], [])]
    assert sorted(s.supervisor.processes) == ["edited:edited", "gone:gone", "same:same"]

    update = Answers()
    s.turn(lambda: s.supervisor.reread(update, apply=True))
    s.until(lambda: update.given)
    lines, problems = update.given[0]
    assert problems == []
    # Groups are stopped together, and each is reported when its stop is over; added
    # groups come last.
    assert sorted(lines[:4]) == [
        "edited: stopped",
        "edited: updated process group",
        "gone: removed process group",
        "gone: stopped",
    ]
    assert lines[4:] == ["new: added process group"]
    assert sorted(s.supervisor.processes) == ["edited:edited", "new:new", "same:same"]

    nothing = Answers()
    s.turn(lambda: s.supervisor.reread(nothing))
    s.until(lambda: nothing.given)
    assert nothing.given == [(["No config updates to processes"], [])]


def test_a_file_that_no_longer_reads_is_refused_and_changes_nothing(story: Story) -> None:
    s = story(f"[program:keep]\n{SLEEPER}").start()
    running(s, "keep")
    pid = s.pid("keep")

    s.path.write_text("[program:keep]\ncommand=sleep 30\nstartsecs=soon\n")
    s.signal(signal.SIGHUP)
    s.until(lambda: any(r["event"].startswith("reload refused:") for r in s.records))

    refused = next(r for r in s.records if r["event"].startswith("reload refused:"))
    assert "startsecs" in refused["event"] and "soon" in refused["event"]
    assert refused["level"] == "error"
    assert s.state("keep") == "RUNNING" and s.pid("keep") == pid
    assert starts(s, "keep") == 1
