"""Unit tests for initsup.cli: option parsing, environment flags and the entry point."""

from __future__ import annotations

import signal

import pytest

from initsup import __version__, cli, single
from initsup.cli import parse
from initsup.errors import UsageError
from initsup.usage import HELP, USAGE


def options(args: list[str], env: dict[str, str] | None = None) -> single.Options:
    """Parse args with env (empty by default) into single-command options."""
    return parse(args, {} if env is None else env).single_options()


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> list[single.Options]:
    """Replace single.run so that cli.main never starts a real command; record its options."""
    calls: list[single.Options] = []

    def fake_run(opts: single.Options, held: frozenset[int] | None = None) -> int:
        calls.append(opts)
        if held is not None:  # main() held signals for the real run; give them back
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return 42

    monkeypatch.setattr(single, "run", fake_run)
    for name in ("INITSUP_KILL_PROCESS_GROUP", "INITSUP_LOG_FORMAT", "TINI_KILL_PROCESS_GROUP"):
        monkeypatch.delenv(name, raising=False)
    return calls


# -- where options end -----------------------------------------------------------------


def test_double_dash_ends_options() -> None:
    """Everything after `--` is the command, even words that look like options."""
    parsed = parse(["-g", "--", "-v", "cmd"], {})
    assert parsed.flags == {"g"}
    assert parsed.command == ["-v", "cmd"]


def test_only_first_double_dash_is_consumed() -> None:
    """A second `--` belongs to the command."""
    assert parse(["--", "--", "x"], {}).command == ["--", "x"]


def test_stops_at_first_non_option() -> None:
    """The first word that is not an option starts the command, so `cmd -x` keeps its -x."""
    parsed = parse(["-w", "cmd", "-x", "--bogus"], {})
    assert parsed.flags == {"w"}
    assert parsed.command == ["cmd", "-x", "--bogus"]


def test_lone_dash_is_a_command_word() -> None:
    """A bare `-` is not an option but the start of the command."""
    assert parse(["-", "x"], {}).command == ["-", "x"]


def test_no_arguments_gives_empty_command() -> None:
    """With no words at all there are no flags and no command."""
    parsed = parse([], {})
    assert parsed.command == []
    assert parsed.flags == set()


def test_double_dash_alone_gives_empty_command() -> None:
    """`--` with nothing after it leaves the command empty."""
    assert parse(["--"], {}).command == []


# -- short options ---------------------------------------------------------------------


def test_clustered_short_flags() -> None:
    """`-gw` sets both -g and -w."""
    parsed = parse(["-gw", "cmd"], {})
    assert parsed.flags == {"g", "w"}
    assert parsed.command == ["cmd"]


def test_cluster_ending_in_option_with_attached_value() -> None:
    """In `-ge143` the flag -g is set and -e takes the rest of the word as its value."""
    parsed = parse(["-ge143", "cmd"], {})
    assert parsed.flags == {"g"}
    assert parsed.values == [("e", "143")]
    assert parsed.command == ["cmd"]


def test_cluster_ending_in_option_takes_next_word() -> None:
    """In `-ge 143` the -e at the end of the cluster takes the next word."""
    parsed = parse(["-ge", "143", "cmd"], {})
    assert parsed.values == [("e", "143")]
    assert parsed.command == ["cmd"]


def test_attached_short_value() -> None:
    """`-e143` gives -e the value 143."""
    assert options(["-e143", "cmd"]).remap_exit == frozenset({143})


def test_separate_short_value() -> None:
    """`-e 143` gives -e the value 143 and does not take the command."""
    opts = options(["-e", "143", "cmd"])
    assert opts.remap_exit == frozenset({143})
    assert opts.command == ["cmd"]


def test_short_value_may_look_like_an_option() -> None:
    """The word after a value-taking option is its value even when it starts with a dash."""
    parsed = parse(["-p", "-g", "cmd"], {})
    assert parsed.values == [("p", "-g")]
    assert parsed.flags == set()


def test_verbose_counts() -> None:
    """Each -v (clustered or not, short or long) raises the verbosity by one."""
    assert parse(["-vv", "--verbose", "cmd"], {}).verbosity == 3


def test_short_flags_map_to_options() -> None:
    """-g, -w, -s and -v become kill_group, warn_on_reap, an accepted no-op and verbosity."""
    opts = options(["-g", "-w", "-s", "-v", "cmd"])
    assert opts.kill_group is True
    assert opts.warn_on_reap is True
    assert opts.verbosity == 1
    assert opts.command == ["cmd"]


def test_defaults() -> None:
    """Without options every setting has its default."""
    opts = options(["cmd", "arg"])
    assert opts.command == ["cmd", "arg"]
    assert opts.kill_group is False
    assert opts.remap_exit == frozenset()
    assert opts.parent_death_signal is None
    assert opts.warn_on_reap is False
    assert opts.verbosity == 0
    assert opts.log_format == "inherit"


# -- long options ----------------------------------------------------------------------


def test_long_option_with_equals_value() -> None:
    """`--remap-exit=3` gives the value after the equals sign."""
    assert options(["--remap-exit=3", "cmd"]).remap_exit == frozenset({3})


def test_long_option_with_separate_value() -> None:
    """`--log-format json` takes the next word as the value."""
    opts = options(["--log-format", "json", "cmd"])
    assert opts.log_format == "json"
    assert opts.command == ["cmd"]


def test_long_flags() -> None:
    """Long flag names set the same flags as their short forms."""
    parsed = parse(["--kill-process-group", "--warn-on-reap", "--subreaper", "cmd"], {})
    assert parsed.flags == {"g", "w", "s"}


def test_long_flag_with_value_is_usage_error() -> None:
    """A flag given a value (`--verbose=1`) is a usage error."""
    with pytest.raises(UsageError, match="takes no value"):
        parse(["--verbose=1", "cmd"], {})


def test_empty_long_value_is_kept() -> None:
    """`--remap-exit=` gives an empty value, which then fails as an exit code."""
    parsed = parse(["--remap-exit=", "cmd"], {})
    assert parsed.values == [("e", "")]
    with pytest.raises(UsageError):
        parsed.single_options()


# -- exit codes ------------------------------------------------------------------------


def test_remap_exit_is_repeatable() -> None:
    """Each -e adds one code to the set."""
    opts = options(["-e", "1", "-e2", "--remap-exit=143", "--remap-exit", "0", "cmd"])
    assert opts.remap_exit == frozenset({0, 1, 2, 143})


def test_remap_exit_bounds_accepted() -> None:
    """0 and 255 are valid exit codes."""
    assert options(["-e0", "-e255", "cmd"]).remap_exit == frozenset({0, 255})


@pytest.mark.parametrize("value", ["256", "-1", "abc", "", "1.5", " 3"])
def test_remap_exit_out_of_range(value: str) -> None:
    """An exit code that is not an integer from 0 to 255 is a usage error."""
    with pytest.raises(UsageError, match="0 to 255"):
        options(["-e", value, "cmd"])


def test_remap_exit_non_decimal_digit() -> None:
    """An exit code made of a non-decimal digit character (`-e ²`) is a usage error."""
    with pytest.raises(UsageError):
        options(["-e", "\u00b2", "cmd"])


# -- missing values and unknown options ------------------------------------------------


@pytest.mark.parametrize("args", [["-x"], ["-gx", "cmd"], ["-X", "cmd"]])
def test_unknown_short_option(args: list[str]) -> None:
    """An unknown short option, alone or in a cluster, is a usage error naming it."""
    with pytest.raises(UsageError, match="unknown option -"):
        parse(args, {})


@pytest.mark.parametrize("args", [["--nope", "cmd"], ["--nope=1"], ["--kill"], ["--help-me"]])
def test_unknown_long_option(args: list[str]) -> None:
    """An unknown (or abbreviated) long option is a usage error."""
    with pytest.raises(UsageError, match="unknown option --"):
        parse(args, {})


@pytest.mark.parametrize(
    "args", [["-e"], ["-p"], ["-ge"], ["--remap-exit"], ["--log-format"], ["--pdeath-signal"]]
)
def test_missing_value(args: list[str]) -> None:
    """An option that needs a value but ends the command line is a usage error."""
    with pytest.raises(UsageError, match="needs a value"):
        parse(args, {})


# -- parent-death signal ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["USR1", "SIGUSR1", "usr1", str(int(signal.SIGUSR1))])
def test_pdeath_signal_forms(value: str) -> None:
    """-p takes a signal name with or without SIG, in any case, or a number."""
    assert options(["-p", value, "cmd"]).parent_death_signal == signal.SIGUSR1


def test_pdeath_signal_long_form() -> None:
    """--pdeath-signal=TERM sets the parent-death signal."""
    assert options(["--pdeath-signal=TERM", "cmd"]).parent_death_signal == signal.SIGTERM


def test_pdeath_signal_last_wins() -> None:
    """When -p is given twice the later one counts."""
    assert options(["-p", "HUP", "-p", "INT", "cmd"]).parent_death_signal == signal.SIGINT


@pytest.mark.parametrize("value", ["NOPE", "0", "999", ""])
def test_pdeath_signal_invalid(value: str) -> None:
    """-p with something that is not a signal is a usage error."""
    with pytest.raises(UsageError, match="-p"):
        options(["-p", value, "cmd"])


# -- environment -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "On", " 1 "])
def test_kill_group_env_truthy(value: str) -> None:
    """INITSUP_KILL_PROCESS_GROUP set to a true word turns on kill_group."""
    assert options(["cmd"], {"INITSUP_KILL_PROCESS_GROUP": value}).kill_group is True


@pytest.mark.parametrize("value", ["0", "false", "No", "OFF", "", "  "])
def test_kill_group_env_falsy(value: str) -> None:
    """INITSUP_KILL_PROCESS_GROUP set to a false word (or empty) leaves kill_group off."""
    assert options(["cmd"], {"INITSUP_KILL_PROCESS_GROUP": value}).kill_group is False


def test_kill_group_env_false_does_not_undo_flag() -> None:
    """-g wins over INITSUP_KILL_PROCESS_GROUP=0."""
    assert options(["-g", "cmd"], {"INITSUP_KILL_PROCESS_GROUP": "0"}).kill_group is True


@pytest.mark.parametrize("value", ["maybe", "2", "enable"])
def test_kill_group_env_garbage(value: str) -> None:
    """INITSUP_KILL_PROCESS_GROUP set to something else is a usage error naming the variable."""
    with pytest.raises(UsageError, match="INITSUP_KILL_PROCESS_GROUP"):
        options(["cmd"], {"INITSUP_KILL_PROCESS_GROUP": value})


@pytest.mark.parametrize("value", ["1", "0", "", "false", "anything"])
def test_tini_kill_group_env_present_means_on(value: str) -> None:
    """TINI_KILL_PROCESS_GROUP turns kill_group on whatever its value, as in tini."""
    assert options(["cmd"], {"TINI_KILL_PROCESS_GROUP": value}).kill_group is True


@pytest.mark.parametrize("value", ["json", "text", "raw", "inherit"])
def test_log_format_env(value: str) -> None:
    """INITSUP_LOG_FORMAT chooses the log format."""
    assert options(["cmd"], {"INITSUP_LOG_FORMAT": value}).log_format == value


def test_log_format_env_empty_means_inherit() -> None:
    """An empty INITSUP_LOG_FORMAT means the default, inherit."""
    assert options(["cmd"], {"INITSUP_LOG_FORMAT": ""}).log_format == "inherit"


def test_log_format_option_beats_env() -> None:
    """--log-format overrides INITSUP_LOG_FORMAT."""
    opts = options(["--log-format=text", "cmd"], {"INITSUP_LOG_FORMAT": "json"})
    assert opts.log_format == "text"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--log-format", "xml", "cmd"], {}),
        (["--log-format=JSON", "cmd"], {}),
        (["cmd"], {"INITSUP_LOG_FORMAT": "yaml"}),
    ],
)
def test_bad_log_format(args: list[str], env: dict[str, str]) -> None:
    """A log format that is not inherit, json, text or raw is a usage error."""
    with pytest.raises(UsageError, match="--log-format must be one of"):
        options(args, env)


# -- main ------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_main_help(flag: str, capsys: pytest.CaptureFixture[str], no_run: list[object]) -> None:
    """-h and --help print the help text on stdout and return 0 without running anything."""
    assert cli.main([flag]) == 0
    out, err = capsys.readouterr()
    assert out == HELP
    assert out.startswith(USAGE)
    assert "--kill-process-group" in out
    assert err == ""
    assert no_run == []


def test_main_help_wins_over_command(
    capsys: pytest.CaptureFixture[str], no_run: list[object]
) -> None:
    """-h before a command prints help and does not run the command."""
    assert cli.main(["-h", "cmd"]) == 0
    assert capsys.readouterr().out == HELP
    assert no_run == []


def test_main_version(capsys: pytest.CaptureFixture[str], no_run: list[object]) -> None:
    """--version prints `initsup VERSION` and returns 0."""
    assert cli.main(["--version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"initsup {__version__}\n"
    assert err == ""
    assert no_run == []


@pytest.mark.parametrize("args", [["--bogus", "cmd"], ["-x"], ["-e"], ["--verbose=2", "cmd"]])
def test_main_usage_error(
    args: list[str], capsys: pytest.CaptureFixture[str], no_run: list[object]
) -> None:
    """A bad command line returns 2 with the error and the usage line on stderr."""
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("initsup: ")
    assert USAGE in err
    assert no_run == []


@pytest.mark.parametrize(
    "args",
    [
        ["-e", "256", "cmd"],
        ["-e", "abc", "cmd"],
        ["-p", "NOPE", "cmd"],
        ["--log-format=xml", "cmd"],
    ],
)
def test_main_bad_option_value(
    args: list[str], capsys: pytest.CaptureFixture[str], no_run: list[object]
) -> None:
    """A bad option value returns 2 with the usage line, not a traceback, and runs nothing."""
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("initsup: ")
    assert USAGE in err
    assert no_run == []


def test_main_bad_env_flag(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_run: list[object],
) -> None:
    """A garbage INITSUP_KILL_PROCESS_GROUP returns 2 with an error naming the variable."""
    monkeypatch.setenv("INITSUP_KILL_PROCESS_GROUP", "maybe")
    assert cli.main(["cmd"]) == 2
    err = capsys.readouterr().err
    assert "INITSUP_KILL_PROCESS_GROUP" in err
    assert USAGE in err
    assert no_run == []


@pytest.mark.parametrize("args", [[], ["--"], ["-g"], ["-e", "3"]])
def test_main_no_command(
    args: list[str], capsys: pytest.CaptureFixture[str], no_run: list[object]
) -> None:
    """Without a command main returns 2 and says so, with the usage line, on stderr."""
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "nothing to run" in err
    assert USAGE in err
    assert no_run == []


def test_main_runs_command_with_parsed_options(no_run: list[single.Options]) -> None:
    """With a valid command line main hands the parsed options to single.run."""
    assert cli.main(["-g", "-e", "3", "--", "cmd", "-x"]) == 42
    assert len(no_run) == 1
    assert no_run[0].command == ["cmd", "-x"]
    assert no_run[0].kill_group is True
    assert no_run[0].remap_exit == frozenset({3})
