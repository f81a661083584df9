"""The control surface's group changes, told as stories: reloadConfig's read that applies
nothing, addProcessGroup and removeProcessGroup, and supervisord's restart (supervisorctl
`reload`): every program stops in shutdown tiers, the file is read again, and everything
starts anew while initsup itself stays.
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
Names = tuple[list[str], list[str], list[str]]


class Diffs:
    """What reloadConfig would be told: (names, problems), once."""

    def __init__(self) -> None:
        self.given: list[tuple[Names | None, list[str]]] = []

    def __call__(self, names: Names | None, problems: list[str]) -> None:
        self.given.append((names, problems))


def running(s: Scenario, *programs: str) -> None:
    s.until(lambda: all(s.state(p) == "RUNNING" for p in programs))


def configured(s: Scenario) -> list[str]:
    return [g.name for g in s.supervisor.configured]


def test_reread_diff_names_the_groups_keeps_the_file_and_applies_nothing(story: Story) -> None:
    s = story(BEFORE).start()
    running(s, "same", "edited", "gone")
    assert configured(s) == ["edited", "gone", "same"]
    pids = {p: s.pid(p) for p in ("same", "edited", "gone")}

    s.path.write_text(AFTER)
    diffs = Diffs()
    s.turn(lambda: s.supervisor.reread_diff(diffs))
    s.until(lambda: diffs.given)

    assert diffs.given == [((["new"], ["edited"], ["gone"]), [])]
    assert configured(s) == ["edited", "new", "same"]  # kept: addProcessGroup adds from it
    assert sorted(s.supervisor.processes) == ["edited:edited", "gone:gone", "same:same"]
    assert {p: s.pid(p) for p in pids} == pids

    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_reread_diff_of_a_refused_file_gives_every_reason(story: Story) -> None:
    s = story(f"[program:keep]\n{SLEEPER}").start()
    running(s, "keep")
    s.path.write_text("[program:keep]\ncommand=sleep 30\nstartsecs=soon\n")

    diffs = Diffs()
    s.turn(lambda: s.supervisor.reread_diff(diffs))
    s.until(lambda: diffs.given)

    names, problems = diffs.given[0]
    assert names is None and any("soon" in p for p in problems)
    assert configured(s) == ["keep"]  # a refused read changes nothing
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_groups_are_added_from_the_configuration_read_and_removed_once_stopped(
    story: Story,
) -> None:
    s = story(BEFORE).start()
    running(s, "same", "edited", "gone")
    s.path.write_text(AFTER)
    diffs = Diffs()
    s.turn(lambda: s.supervisor.reread_diff(diffs))
    s.until(lambda: diffs.given)

    sup = s.supervisor
    assert sup.add_configured_group("gone") == "BAD_NAME"  # runs, but no longer configured
    assert sup.add_configured_group("nothing") == "BAD_NAME"
    assert sup.add_configured_group("same") == "ALREADY_ADDED"
    added: list[str] = []
    s.turn(lambda: added.append(sup.add_configured_group("new")))
    assert added == ["ADDED"]
    running(s, "new")  # autostart: started at once
    assert s.find("PROCESS_GROUP_ADDED", group="new") is not None

    assert sup.remove_stopped_group("nothing") == "BAD_NAME"
    assert sup.remove_stopped_group("gone") == "STILL_RUNNING"

    def stop_gone() -> None:
        sup.processes["gone:gone"].stop()

    s.turn(stop_gone)
    s.until(lambda: s.state("gone") == "STOPPED")
    removed: list[str] = []
    s.turn(lambda: removed.append(sup.remove_stopped_group("gone")))
    assert removed == ["REMOVED"]
    assert "gone:gone" not in sup.processes and "gone" not in sup.groups
    assert s.find("PROCESS_GROUP_REMOVED", group="gone") is not None

    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_removing_a_group_calls_off_a_pending_restart(story: Story) -> None:
    s = story("[program:flaky]\ncommand=sh -c 'exit 3'\nstartsecs=0\nautorestart=true\n")
    s.start()
    s.until(lambda: s.state("flaky") == "EXITED")
    removed: list[str] = []
    s.turn(lambda: removed.append(s.supervisor.remove_stopped_group("flaky")))
    assert removed == ["REMOVED"]
    starts = s.events("flaky").count("PROCESS_STATE_STARTING")
    s.advance(120)  # any backoff would have run out
    assert s.events("flaky").count("PROCESS_STATE_STARTING") == starts
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_restart_stops_everything_reads_the_file_and_starts_it_anew(story: Story) -> None:
    s = story(BEFORE).start()
    running(s, "same", "edited", "gone")
    old = {p: s.pid(p) for p in ("same", "edited", "gone")}
    s.path.write_text(AFTER)

    s.turn(s.supervisor.restart)
    assert s.supervisor.restarting and s.supervisor.shutting_down
    s.until(lambda: not s.supervisor.restarting)
    running(s, "same", "edited", "new")

    sup = s.supervisor
    assert sorted(sup.processes) == ["edited:edited", "new:new", "same:same"]
    assert configured(s) == ["edited", "new", "same"]
    assert s.pid("same") != old["same"]  # even an unchanged program starts anew
    assert s.events("gone")[-1] == "PROCESS_STATE_STOPPED"
    names = [r["event"] for r in s.records]
    stopping = names.index("SUPERVISOR_STATE_CHANGE_STOPPING")
    again = names.index("SUPERVISOR_STATE_CHANGE_RUNNING", stopping)
    assert names[stopping + 1 : again].count("PROCESS_STATE_STOPPED") == 3
    assert names.count("SUPERVISOR_STATE_CHANGE_RUNNING") == 2

    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_a_refused_file_at_restart_is_logged_and_the_previous_one_starts(story: Story) -> None:
    s = story(f"[program:keep]\n{SLEEPER}").start()
    running(s, "keep")
    pid = s.pid("keep")
    s.path.write_text("[program:keep]\ncommand=sleep 30\nstartsecs=soon\n")

    s.turn(s.supervisor.restart)
    s.until(lambda: not s.supervisor.restarting)
    running(s, "keep")

    refused = next(r for r in s.records if r["event"].startswith("restart refused:"))
    assert "soon" in refused["event"] and refused["level"] == "error"
    assert s.find("restart: starting the previous configuration again") is not None
    assert s.pid("keep") != pid
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_sigterm_during_a_restart_ends_initsup(story: Story) -> None:
    slow = "[program:slow]\ncommand=sh -c 'trap \"\" TERM; sleep 30'\nstartsecs=0\n"
    s = story(slow + "stopwaitsecs=5\n").start()
    running(s, "slow")
    s.turn(s.supervisor.restart)
    s.until(lambda: s.state("slow") == "STOPPING")
    s.turn(s.supervisor.restart)  # a second restart is the same one
    assert s.find("restart asked while restarting: one restart is under way") is not None

    s.signal(signal.SIGTERM)
    assert not s.supervisor.restarting
    s.advance(5)  # stopwaitsecs: SIGKILL
    assert s.finish() == 137
    names = [r["event"] for r in s.records]
    assert names.count("SUPERVISOR_STATE_CHANGE_STOPPING") == 1
    assert names.count("SUPERVISOR_STATE_CHANGE_RUNNING") == 1
    assert s.events("slow").count("PROCESS_STATE_STARTING") == 1


def test_ctl_rereads_and_sighup_during_a_restart_are_refused(story: Story) -> None:
    s = story(f"[program:keep]\n{SLEEPER}stopwaitsecs=5\n").start()
    running(s, "keep")
    s.turn(s.supervisor.restart)
    answers: list[tuple[list[str], list[str]]] = []
    s.turn(lambda: s.supervisor.reread(lambda lines, problems: answers.append((lines, problems))))
    s.signal(signal.SIGHUP)
    s.until(lambda: answers)
    assert answers == [([], ["initsup is restarting"])]
    assert s.find("received SIGHUP while restarting: the restart reads the file") is not None
    s.until(lambda: not s.supervisor.restarting)
    running(s, "keep")
    s.signal(signal.SIGTERM)
    assert s.finish() == 0


def test_a_restart_during_an_update_starts_each_program_once(story: Story) -> None:
    slow = "command=sh -c 'trap \"exit 0\" TERM; sleep 30 & wait'\nstartsecs=0\nstopwaitsecs=5\n"
    s = story(f"[program:edited]\n{slow}[program:same]\n{SLEEPER}").start()
    running(s, "edited", "same")
    s.path.write_text(f"[program:edited]\n{slow}environment=NEW=1\n[program:same]\n{SLEEPER}")
    updated: list[tuple[list[str], list[str]]] = []
    s.turn(
        lambda: s.supervisor.reread(lambda lines, problems: updated.append((lines, problems)), True)
    )
    s.until(lambda: s.state("edited") in ("STOPPING", "STOPPED"))
    s.turn(s.supervisor.restart)
    s.until(lambda: updated and not s.supervisor.restarting)
    running(s, "edited", "same")
    assert sorted(s.supervisor.processes) == ["edited:edited", "same:same"]
    assert s.supervisor.groups["edited"].processes[0].environment.get("NEW") == "1"
    # Nothing started while the restart stopped everything: one start before, one after.
    assert s.events("edited").count("PROCESS_STATE_STARTING") == 2
    assert s.events("same").count("PROCESS_STATE_STARTING") == 2
    s.signal(signal.SIGTERM)
    assert s.finish() == 0
