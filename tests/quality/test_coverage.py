"""The coverage floor: a ci-profile run of the kernel machine reaches every rule and every
verdict, reason code, refusal code and HTTP status of the spec (a starved machine fails here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helmmodel.checker.coverage import EXPECTED_BY_PHASE, EXPECTED_OUTCOMES, EXPECTED_SHAPES
from helmmodel.harness import capture, profiles, runner

MACHINES = Path(__file__).resolve().parents[2] / "machines"


@pytest.fixture(scope="module")
def kernel_run() -> runner.MachineResult:
    """One ci-profile run of the kernel machine against the correct kernel."""
    machines = runner.load_machines(MACHINES)
    result = runner.run_machine(
        machines["kernel"], profile_settings=profiles.load("ci"), profile="ci"
    )
    if result.failures:  # a failure found here becomes a regression case, as in `nox -s model`
        capture.save_failures(result, MACHINES.parent / "tests" / "regressions", sys.stdout)
    return result


def test_correct_kernel_violates_nothing(kernel_run: runner.MachineResult) -> None:
    """The correct kernel breaks no invariant in the ci run."""
    assert None is kernel_run.error, [f.message for f in kernel_run.failures.values()]


def test_every_rule_runs(kernel_run: runner.MachineResult) -> None:
    """No rule of the kernel machine is starved by its bundles or guards."""
    assert [] == kernel_run.unreached().get("rules", [])


@pytest.mark.parametrize("facet", sorted(EXPECTED_OUTCOMES))
def test_every_outcome_is_reached(kernel_run: runner.MachineResult, facet: str) -> None:
    """Every expected value of each outcome facet (verdicts, codes, statuses) is reached."""
    assert [] == kernel_run.unreached().get(facet, [])


BY_PHASE = [
    pytest.param(where, facet, value, id=f"{where}-{facet}-{value}")
    for (where, facet), values in sorted(EXPECTED_BY_PHASE.items())
    for value in values
]


@pytest.mark.parametrize(("where", "facet", "value"), BY_PHASE)
def test_every_outcome_is_reached_where_it_arises(
    kernel_run: runner.MachineResult, where: str, facet: str, value: str
) -> None:
    """Each check is reached in the phase it belongs to: decide's BUDGET_EXCEEDED (its fresh
    re-check) is not begin's pre-check, and is counted apart."""
    assert kernel_run.stats.phases[(where, facet, value)] > 0


def test_every_policy_shape_is_evaluated(kernel_run: runner.MachineResult) -> None:
    """Each logic with leaves, with children only and empty, and a rule three sets deep, are
    evaluated by some decision (the policy generator reaches every shape the spec allows)."""
    evaluated = {shape for (shape, _), n in kernel_run.stats.shapes.items() if n}
    assert [] == [shape for shape in EXPECTED_SHAPES if shape not in evaluated]


def test_unreached_names_what_a_starved_run_misses() -> None:
    """A run that never reached something reports it, so this floor can fail."""
    machines = runner.load_machines(MACHINES)
    starved = runner.run_machine(
        machines["error_budget"],
        profile_settings=profiles.load("ci"),
        profile="ci",
        max_examples=5,
    )
    missing = starved.unreached()
    assert "ALLOW" in missing["verdict"]
    assert "execute_intent" not in missing.get("rules", [])  # not one of its rules
