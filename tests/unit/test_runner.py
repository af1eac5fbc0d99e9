"""The runner and `helmmodel run`: machine loading, reports, and clear errors for bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from helmmodel import cli
from helmmodel.checker import coverage
from helmmodel.errors import InvariantViolation, RunnerError
from helmmodel.harness import kernels, replay, runner, trace
from helmmodel.harness.stateful import Failure, Stats, machine_for

MACHINES = Path(__file__).resolve().parents[2] / "machines"


def result_with(error: BaseException | None, failures: dict[str, Failure]) -> runner.MachineResult:
    """A MachineResult as a run that ended with *error* would leave it."""
    return runner.MachineResult(
        machine="kernel",
        kernel="correct",
        profile="ci",
        seconds=1.0,
        stats=Stats(),
        rules=("begin_call",),
        failures=failures,
        error=error,
    )


def test_report_prints_the_verdict_and_hypothesis_program() -> None:
    """A violated run's report names the invariant and prints the program Hypothesis attached."""
    violation = InvariantViolation("freeze_respected", 3, "dec-000001 was allowed while frozen")
    violation.add_note("Failing test case: <state machine>")
    violation.add_note("state = KernelMachine()")
    violation.add_note("begun_0 = state.begin_call(principal='alice')")
    failures = {"freeze_respected": Failure("freeze_respected", str(violation), [{}, {}, {}])}
    out = io.StringIO()
    runner.report(result_with(ExceptionGroup("bugs", [violation]), failures), out)
    text = out.getvalue()
    assert "result: VIOLATED freeze_respected (shortest trace 3 steps)" in text
    assert "Hypothesis's shrunk program:\n    state = KernelMachine()\n" in text
    assert "    begun_0 = state.begin_call(principal='alice')" in text


def test_report_of_a_clean_run_says_so() -> None:
    """A run without a violation ends its report with 'no invariant violated'."""
    out = io.StringIO()
    runner.report(result_with(None, {}), out)
    assert out.getvalue().rstrip().endswith("result: no invariant violated")


def test_load_machines_finds_every_named_machine() -> None:
    """The repository's machine directory yields the kernel machine and one per scenario."""
    names = set(runner.load_machines(MACHINES))
    expected = {"kernel", "error_budget", "signer_outage", "clock_drift", "budget_contention"}
    assert expected | {"policy_mutation", "malformed_input"} <= names


def test_load_machines_of_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A directory that does not exist is refused with a message naming it and --machines."""
    with pytest.raises(RunnerError, match="--machines DIR"):
        runner.load_machines(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nosuch", "--machines", str(MACHINES)], "unknown machine 'nosuch'"),
        (["run", "--kernel", "nosuch", "--machines", str(MACHINES)], "unknown kernel 'nosuch'"),
        (["run", "--profile", "fast", "--machines", str(MACHINES)], "unknown profile 'fast'"),
        (["run", "--import", "no.such.module"], "cannot import 'no.such.module'"),
    ],
)
def test_bad_run_arguments_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown machines, kernels, profiles and modules exit 2 with one line naming the value."""
    assert 2 == cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert 1 == len(err.splitlines())
    assert message in err


def test_run_list_names_each_machine_with_its_docstring(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`helmmodel run --list` prints each machine with the first line of its module docstring."""
    assert 0 == cli.main(["run", "--list", "--machines", str(MACHINES)])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("kernel ") and "every operation family" in line for line in lines)


def test_other_kernels_never_write_into_the_repository_corpus(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run against another kernel refuses tests/regressions as its corpus (exit 2)."""
    monkeypatch.chdir(MACHINES.parent)
    argv = [
        "run",
        "kernel",
        "--kernel",
        "ids-counted-on-the-class",
        "--corpus",
        "tests/regressions",
    ]
    assert 2 == cli.main(argv)
    assert "never go into the repository's corpus" in capsys.readouterr().err


def test_ctrl_c_reports_what_ran_and_exits_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a run stops it with a report of what ran and exit status 130."""

    def interrupted(machine: object, settings: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_state_machine_as_test", interrupted)
    assert 130 == cli.main(["run", "kernel", "--machines", str(MACHINES)])
    out = capsys.readouterr().out
    assert "stopped by Ctrl-C: the figures above cover the examples run until then" in out
    assert out.rstrip().endswith("(stopped by Ctrl-C)")


def test_ctrl_c_keeps_a_violation_found_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A violation found before Ctrl-C is still made 1-minimal and saved into the corpus."""
    import json

    import tests.fixtures.planted  # noqa: F401 (registers the planted kernel)

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "kernel"
    steps = json.loads(next(fixture.glob("freeze_respected-*.json")).read_text())["steps"]

    def found_then_interrupted(machine: type, settings: object) -> None:
        machine.run_state.failures["freeze_respected"] = Failure("freeze_respected", "found", steps)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_state_machine_as_test", found_then_interrupted)
    argv = ["run", "kernel", "--kernel", "planted-freeze", "--corpus", str(tmp_path)]
    assert 130 == cli.main([*argv, "--machines", str(MACHINES)])
    assert "1-minimal 3 steps, saved to" in capsys.readouterr().out
    assert 1 == len(list((tmp_path / "kernel").glob("freeze_respected-*.json")))


def test_each_variant_has_a_run_of_its_own_and_keeps_the_machines_source() -> None:
    """machine_for makes a class with a RunState of its own, whose source and signature (what
    Hypothesis derives a derandomized run's seed from) are the machine's own."""
    import inspect

    from machines.kernel_machine import KernelMachine

    first = machine_for(KernelMachine, "correct", kernels.kernel_factory("correct"))
    second = machine_for(KernelMachine, "correct", kernels.kernel_factory("correct"))
    assert first.run_state is not None and second.run_state is not None
    assert first.run_state is not second.run_state
    assert None is KernelMachine.run_state
    assert inspect.getsource(KernelMachine) == inspect.getsource(first)
    assert inspect.signature(KernelMachine) == inspect.signature(first)
    assert {} == dict(inspect.signature(first).parameters)
    first()
    assert (1, 0) == (first.run_state.stats.examples, second.run_state.stats.examples)


def test_a_replay_counts_no_example_and_records_no_failure() -> None:
    """Replaying a failing trace on a run's variant leaves the run's figures and failures as
    they were."""
    import tests.fixtures.planted as planted

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "kernel"
    case = trace.load(next(fixture.glob("freeze_respected-*.json")))
    variant = machine_for(
        runner.load_machines(MACHINES)["kernel"], planted.NAME, kernels.kernel_factory(planted.NAME)
    )
    assert variant.run_state is not None
    replayed = replay.replay(variant, case.steps)
    assert replayed.violation is not None
    assert (0, 0, {}) == (
        variant.run_state.stats.examples, variant.run_state.stats.steps, variant.run_state.failures
    )  # fmt: skip


def test_stats_count_every_facet_of_the_coverage_table_and_nothing_else() -> None:
    """A step counts the value of each facet the coverage table names, and of no other key."""
    stats = Stats()
    stats.count("begin_call", {**{f.name: "x" for f in coverage.FACETS}, "tool": "echo"})
    assert {(f.name, "x"): 1 for f in coverage.FACETS} == dict(stats.outcomes)


def test_the_report_titles_each_reached_facet_by_its_label_in_table_order() -> None:
    """Each reached facet with a label gets a line titled by it, in the table's order, its
    expected values first; a facet without a label is counted but not shown."""
    result = result_with(None, {})
    for facet in coverage.FACETS:
        result.stats.count("begin_call", {facet.name: "zz"})
        if facet.expected:
            result.stats.count("begin_call", {facet.name: facet.expected[-1]})
    out = io.StringIO()
    runner.report(result, out)
    lines = [line.strip() for line in out.getvalue().splitlines()]
    # The facet lines run from after the rules line to the reach lines, acceptance first.
    reach = [number for number, line in enumerate(lines) if line.startswith("acceptance: ")]
    assert 1 == len(reach), lines
    shown = lines[2 : reach[0]]
    assert [f"{f.label}: {f.expected[-1]} 1 · zz 1" for f in coverage.REPORTED] == shown
    assert [f for f in coverage.FACETS if f.label is None]  # counted only: begun, intent, error
