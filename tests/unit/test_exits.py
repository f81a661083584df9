"""Wait statuses decoded once: the shell's code, supervisord's exitstatus, the words."""

from __future__ import annotations

from initsup import exits


def test_exit_code_of_normal_exit() -> None:
    """A normal exit's status decodes to its exit code."""
    assert exits.decode(7 << 8).code == 7
    assert exits.decode(0).code == 0


def test_exit_code_of_signal_death_is_128_plus_signal() -> None:
    """A death by signal N decodes to 128+N, core dump or not."""
    assert exits.decode(15).code == 143
    assert exits.decode(9).code == 137
    assert exits.decode(11 | 0x80).code == 139


def test_describe_in_words() -> None:
    """Statuses are described as supervisord words them."""
    assert exits.decode(3 << 8).words == "exit status 3"
    assert exits.decode(9).words == "terminated by SIGKILL"
    assert exits.decode(11 | 0x80).words == "terminated by SIGSEGV (core dumped)"


def test_exitstatus_is_supervisords_minus_one_for_a_signal() -> None:
    """supervisord's exitstatus, which exitcodes= is compared with: the code, -1 if signalled."""
    assert exits.decode(3 << 8).exitstatus == 3
    assert exits.decode(9).exitstatus == -1
    assert exits.decode(11 | 0x80).exitstatus == -1


def test_record_fields_name_the_signal_only_when_one_ended_it() -> None:
    """`exit_code` always, `signal` by name only for a death by signal."""
    assert exits.decode(3 << 8).fields() == {"exit_code": 3}
    assert exits.decode(9).fields() == {"exit_code": 137, "signal": "SIGKILL"}
    assert exits.decode(9).signum == 9
    assert exits.decode(3 << 8).signum == 0


def test_core_dumped_only_for_a_signal_with_the_core_bit() -> None:
    """WCOREDUMP's bit is read for signal deaths; an exit code never has it."""
    assert exits.decode(11 | 0x80).core_dumped is True
    assert exits.decode(11).core_dumped is False
    assert exits.decode(6 | 0x80).core_dumped is True
    assert exits.decode(0x80 << 8).core_dumped is False  # exit status 128, not a dump


def test_record_fields_say_core_dumped_only_when_it_did() -> None:
    """A dump adds `core_dumped: true`; every other end's fields stay as they were."""
    assert exits.decode(11 | 0x80).fields() == {
        "exit_code": 139,
        "signal": "SIGSEGV",
        "core_dumped": True,
    }
    assert exits.decode(11).fields() == {"exit_code": 139, "signal": "SIGSEGV"}
    assert exits.decode(1 << 8).fields() == {"exit_code": 1}
