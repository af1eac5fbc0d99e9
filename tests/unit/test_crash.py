"""A crash is a counterexample: a kernel operation that raises anything but its typed refusals
violates ``no_unexpected_exception`` at that step, and the case is saved, 1-minimal, and replays.

The crashing kernel is ``planted-crash`` (tests/fixtures/planted_crash.py), registered by importing
its module, as ``--import`` does. Commands run in-process through ``helmmodel.cli.main``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from machines.world import WorldMachine

from helmmodel import cli
from helmmodel.checker.ghost import Crash
from helmmodel.checker.invariants import View, no_unexpected_exception
from helmmodel.errors import InvariantViolation, UsageError
from helmmodel.harness.replay import still_fails
from helmmodel.harness.runner import load_machines
from helmmodel.harness.stateful import kernel_frame, machine_for, replay_steps, transition
from helmmodel.kernel.guardian import PendingCall
from tests.fixtures import planted_crash

REPO = Path(__file__).resolve().parents[2]
MACHINES = REPO / "machines"
CRASH_LINE = next(
    number
    for number, line in enumerate(Path(planted_crash.__file__).read_text().splitlines(), 1)
    if "# the planted crash" in line
)
WHERE = f"tests/fixtures/planted_crash.py:{CRASH_LINE}"


def main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``helmmodel ARGV`` in-process; its exit status and stdout."""
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


@pytest.fixture
def saved(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, Path]:
    """Run budget_contention against the crashing kernel: exit status, output, the saved case."""
    monkeypatch.chdir(REPO)
    code, out = main(
        capsys,
        "run",
        "budget_contention",
        "--kernel",
        planted_crash.NAME,
        "--import",
        "tests.fixtures.planted_crash",
        "--profile",
        "ci",
        "--no-shrink",
        "--machines",
        str(MACHINES),
        "--corpus",
        str(tmp_path),
    )
    (path,) = tmp_path.glob("budget_contention/*.json")
    return code, out, path


def test_a_run_reports_the_crash_with_its_exception_and_kernel_line(saved):
    """The run fails on no_unexpected_exception, naming the exception and the kernel's line."""
    code, out, _ = saved
    result = re.search(r"result: VIOLATED (\w+) .*", out)
    assert result is not None
    assert (1, "no_unexpected_exception") == (code, result.group(1))
    assert f"raised ZeroDivisionError: division by zero (at {WHERE})" in result.group(0)


def test_the_saved_case_ends_with_the_crashing_step_and_is_one_minimal(saved):
    """The saved trace's last step is the crash, its outcome the exception; dropping any step
    makes it pass."""
    _, _, path = saved
    case = json.loads(path.read_text())
    steps = case["steps"]
    last = steps[-1]
    assert ("no_unexpected_exception", WHERE in case["message"]) == (case["invariant"], True)
    assert {"exception": "ZeroDivisionError", "message": "division by zero"} == last["outcome"]
    machine = machine_for(
        load_machines(MACHINES)["budget_contention"],
        planted_crash.NAME,
        planted_crash.PlantedCrashKernel,
    )
    fails = still_fails(machine, "no_unexpected_exception")
    shorter = [steps[:n] + steps[n + 1 :] for n in range(len(steps))]
    assert (True, [False] * len(steps)) == (fails(steps), [fails(s) for s in shorter])


def test_the_saved_case_replays_as_reproduced(saved, capsys, monkeypatch):
    """``helmmodel replay`` reproduces the saved crash."""
    _, _, path = saved
    code, out = main(
        capsys,
        "replay",
        "--import",
        "tests.fixtures.planted_crash",
        "--machines",
        str(MACHINES),
        str(path),
    )
    assert (0, True) == (code, "reproduced (ok): no_unexpected_exception" in out)


# --- which exceptions are crashes of the kernel --------------------------------------------------


class Probe(WorldMachine):
    """Rules that raise from the checker and from the machine, not from the kernel."""

    @transition()
    def look_up_nothing(self) -> tuple[dict[str, Any], Any]:
        return {}, self.ghost.begun_by_call["call-none"]  # KeyError, in the machine's code

    @transition()
    def decide_foreign_call(self) -> tuple[dict[str, Any], Any]:
        call = PendingCall.__new__(PendingCall)
        object.__setattr__(call, "call_id", "call-foreign")
        self.driver.decide(call)
        return {}, None


def test_an_exception_the_checker_raises_is_not_a_crash_of_the_kernel():
    """A UsageError from the driver propagates as it is: no step, no crash recorded."""
    machine = Probe.for_replay()
    with pytest.raises(UsageError, match="was not begun through this driver"):
        replay_steps(Probe, [{"rule": "decide_foreign_call", "args": {}}], instance=machine)
    assert ([], []) == (machine.trace, machine.ghost.crashes)


def test_an_exception_the_machine_raises_is_not_a_crash_of_the_kernel():
    """An exception raised in the machine's own code propagates as it is."""
    machine = Probe.for_replay()
    with pytest.raises(KeyError):
        replay_steps(Probe, [{"rule": "look_up_nothing", "args": {}}], instance=machine)
    assert ([], []) == (machine.trace, machine.ghost.crashes)


def test_kernel_frame_is_none_for_a_traceback_that_never_reached_the_kernel():
    """An exception raised here, with no driver frame, has no kernel line."""
    try:
        raise ValueError("here")
    except ValueError as error:
        assert None is kernel_frame(error)


# --- the invariant --------------------------------------------------------------------------------


def test_no_unexpected_exception_holds_without_a_crash_and_fires_on_one():
    """The invariant names the step, the rule, the exception and the kernel line of a crash."""
    machine = Probe.for_replay()
    view = View(machine.kernel, machine.ghost, {})
    assert None is no_unexpected_exception(view)
    machine.ghost.crashes.append(
        Crash(step=3, rule="begin_call", error="KeyError", message="'b9'", where="k.py:7")
    )
    with pytest.raises(InvariantViolation) as caught:
        no_unexpected_exception(view)
    assert (3, "begin_call: the kernel raised KeyError: 'b9' (at k.py:7)") == (
        caught.value.step,
        caught.value.detail,
    )
