"""Capture: a failing trace made 1-minimal, saved into a corpus, and printed as a program."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from helmmodel.harness.replay import minimal_failure
from helmmodel.harness.runner import MachineResult
from helmmodel.harness.show import step_lines
from helmmodel.harness.trace import Trace, git_commit, save


def save_failures(
    result: MachineResult, corpus: Path, out: TextIO, seed: int | None = None
) -> dict[str, Path]:
    """Make each violated invariant's shortest trace 1-minimal and save it into *corpus*.

    Prints the lengths before and after and the path; attaches the paths to the run's error.
    """
    assert result.variant is not None
    for invariant, failure in sorted(result.failures.items()):
        minimal = minimal_failure(result.variant, invariant, failure.steps, failure.message)
        if minimal is None:
            print(
                f"  {invariant}: the shortest trace ({len(failure.steps)} steps) does not fail "
                "again on replay, so it is not saved (a failure that depends on more than the "
                "trace records: report it as a checker bug)",
                file=out,
            )
            continue
        steps, message = minimal
        trace = Trace(
            machine=result.machine,
            kernel=result.kernel,
            invariant=invariant,
            message=message,
            steps=steps,
            profile=result.profile,
            seed=seed,
            git_commit=git_commit(),
        )
        path = save(trace, corpus)
        result.saved[invariant] = path
        print(
            f"  {invariant}: failing trace {len(failure.steps)} steps, 1-minimal "
            f"{len(steps)} steps, saved to {path}",
            file=out,
        )
        print(f"    state = {trace.machine_class_name()}()", file=out)
        for line in step_lines(trace):
            print(f"    {line}", file=out)
        print(f"    # -> {trace.message}", file=out)
        if result.error is not None:
            result.error.add_note(f"helmmodel: {invariant} counterexample saved to {path}")
    return result.saved
