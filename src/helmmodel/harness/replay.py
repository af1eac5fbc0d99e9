"""Replay a saved trace by calling the machine's rule methods, with no Hypothesis engine.

The verdict of one file:

- ``reproduced``: the recorded invariant is violated again;
- ``fixed``: no invariant is violated, and every step answered as recorded;
- ``diverged``: another invariant is violated, or a step answered otherwise than recorded;
- ``invalid``: the trace cannot be replayed (unknown machine, kernel, rule or argument, a wrong
  argument type, a dangling reference, a guard that does not hold), with the reason.

A file *matches* when an ``open`` case is reproduced or a ``fixed`` case is fixed. State digests
that differ while every outcome is the same are reported as drift (the kernel's state is encoded
differently after a kernel change), not as a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from helmmodel.checker.invariants import PAGE_CLAIM_NAMES
from helmmodel.errors import HelmModelError, InvariantViolation, ReplayError
from helmmodel.harness.kernels import kernel_factory
from helmmodel.harness.minimize import minimize
from helmmodel.harness.stateful import TracedMachine, machine_for, replay_steps, transitions
from helmmodel.harness.trace import STATUS_FIXED, STATUS_OPEN, Trace

REPRODUCED = "reproduced"
FIXED = "fixed"
DIVERGED = "diverged"
INVALID = "invalid"
EXPECTED_VERDICT = {STATUS_OPEN: REPRODUCED, STATUS_FIXED: FIXED}


@attrs.define
class Replayed:
    """What replaying a list of steps did."""

    steps: list[dict[str, Any]]  # the steps as replayed, with their new outcomes and digests
    violation: InvariantViolation | None = None
    invalid: str | None = None


def replay(machine: type[TracedMachine], steps: Sequence[Mapping[str, Any]]) -> Replayed:
    """Replay *steps* on a fresh *machine*, checking every invariant, ending with the full check."""
    instance = machine.for_replay()
    try:
        replay_steps(machine, steps, check=True, finish=True, instance=instance)
    except InvariantViolation as violation:
        return Replayed(instance.trace, violation=violation)
    except ReplayError as error:
        return Replayed(instance.trace, invalid=str(error))
    except HelmModelError as error:
        return Replayed(instance.trace, invalid=f"{type(error).__name__}: {error}")
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        step = len(instance.trace) + 1
        return Replayed(
            instance.trace,
            invalid=f"step {step} ({steps[step - 1].get('rule') if step <= len(steps) else '?'}): "
            f"its arguments do not fit the rule ({type(error).__name__}: {error})",
        )
    return Replayed(instance.trace)


@attrs.define
class Verdict:
    """The replay verdict of one trace, and why."""

    verdict: str
    detail: str
    drift: list[int] = attrs.field(factory=list)  # steps whose state digest changed
    replayed: Replayed | None = None

    def matches(self, status: str) -> bool:
        return EXPECTED_VERDICT.get(status) == self.verdict

    def passes(self) -> bool:
        """Whether no invariant was violated (fixed, or diverged only in its outcomes, as a
        fixed kernel answers otherwise than the buggy one did)."""
        return self.verdict in (FIXED, DIVERGED) and (
            self.replayed is not None and self.replayed.violation is None
        )


def machine_of(
    trace: Trace, machines: Mapping[str, type[TracedMachine]]
) -> type[TracedMachine] | str:
    """The machine class to replay *trace* on (against its kernel), or why there is none."""
    machine = machines.get(trace.machine)
    if machine is None:
        return f"unknown machine {trace.machine!r}; known machines: {', '.join(sorted(machines))}"
    try:
        factory = kernel_factory(trace.kernel)
    except HelmModelError as error:
        return str(error)
    claims = (trace.invariant,) if trace.invariant in PAGE_CLAIM_NAMES else ()
    return machine_for(machine, trace.kernel, factory, trace.semantics, claims)


def judge(trace: Trace, machines: Mapping[str, type[TracedMachine]]) -> Verdict:
    """Replay *trace* and decide reproduced, fixed, diverged or invalid."""
    machine = machine_of(trace, machines)
    if isinstance(machine, str):
        return Verdict(INVALID, machine)
    replayed = replay(machine, trace.steps)
    if replayed.invalid is not None:
        return Verdict(INVALID, replayed.invalid, replayed=replayed)
    drift: list[int] = []
    for number, (recorded, again) in enumerate(zip(trace.steps, replayed.steps, strict=False), 1):
        if recorded["outcome"] != again["outcome"]:
            return Verdict(
                DIVERGED,
                f"step {number} ({recorded['rule']}) answered {again['outcome']}, "
                f"recorded {recorded['outcome']}",
                replayed=replayed,
            )
        if recorded["digest"] != again["digest"]:
            drift.append(number)
    violation = replayed.violation
    if violation is None:
        return Verdict(FIXED, "no invariant is violated", drift, replayed)
    if violation.invariant == trace.invariant:
        return Verdict(REPRODUCED, str(violation), drift, replayed)
    return Verdict(
        DIVERGED,
        f"{violation.invariant} is violated instead of {trace.invariant}: {violation}",
        drift,
        replayed,
    )


def still_fails(
    machine: type[TracedMachine], invariant: str
) -> Callable[[Sequence[Mapping[str, Any]]], bool]:
    """A test for the minimizer: do these steps still violate *invariant*?"""

    def test(steps: Sequence[Mapping[str, Any]]) -> bool:
        replayed = replay(machine, steps)
        return replayed.violation is not None and replayed.violation.invariant == invariant

    return test


Test = Callable[[Sequence[Mapping[str, Any]]], bool]


@attrs.frozen
class Minimal:
    """A failing trace made 1-minimal, as replayed, and the message its violation gives."""

    steps: list[dict[str, Any]]
    message: str


def minimal_failure(
    machine: type[TracedMachine],
    invariant: str,
    steps: Sequence[Mapping[str, Any]],
    message: str,
    guard: Callable[[Test], Test] | None = None,
) -> Minimal | None:
    """*steps* made 1-minimal while they still violate *invariant*, with the message the minimal
    steps give (*message* if they give none); None if *steps* do not fail again.

    *guard* wraps the minimizer's test (a campaign's gives up when its time is over).
    """
    fails = still_fails(machine, invariant)
    if not fails(steps):
        return None
    choices = {name: spec.choices for name, spec in transitions(machine).items()}
    test = guard(fails) if guard is not None else fails
    final = replay(machine, minimize(steps, test, choices=choices))
    violation = final.violation
    return Minimal(final.steps, str(violation) if violation is not None else message)
