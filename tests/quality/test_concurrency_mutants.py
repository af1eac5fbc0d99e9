"""Concurrency mutants must be caught: by the storm, and by generated concurrent programs.

Thread schedules are not inputs, so detection is a rate. `nox -s bench` measures it (each mutant
was caught in 20 of 20 storms of 300 calls when these bounds were set); at a rate of 0.9 or more
per storm, STORMS_MAX storms all miss with probability 0.1**4 = 1e-4, rarer than one CI run in
a thousand even with both mutants counted.
"""

from __future__ import annotations

import pytest

from helmmodel.concurrency.programs import search
from helmmodel.concurrency.storm import StormConfig, check_storm, run_storm
from helmmodel.mutants import CATALOGUE, Mutant

THREADED = [mutant for mutant in CATALOGUE if mutant.needs_threads]
STORMS_MAX = 4
CONFIG = StormConfig(calls=300, limit=210)


def test_the_catalogue_has_the_two_concurrency_mutants() -> None:
    assert {"facade-budget-check-not-atomic", "facade-chain-append-interleaves"} == {
        mutant.name for mutant in THREADED
    }


@pytest.mark.parametrize("mutant", THREADED, ids=lambda mutant: mutant.name)
def test_the_storm_catches_it(mutant: Mutant) -> None:
    reports = []
    while len(reports) < STORMS_MAX and (not reports or reports[-1].ok):
        reports.append(check_storm(run_storm(mutant.factory, CONFIG), CONFIG))
    report = reports[-1]
    assert not report.ok, f"{mutant.name} survived {STORMS_MAX} storms"
    # Caught by the linearizability verdict itself, decided: not only by a final-state check
    # (for the budget mutant, the ledger: the budget charged fewer than its ALLOW decisions),
    # and not by the search giving up.
    verdict = report.checked.verdict
    assert not verdict.linearizable and not verdict.undecided
    assert verdict.lines()[0].startswith("NOT linearizable")
    assert "the history is not linearizable" in report.problems
    print(f"{mutant.name}: caught in storm {len(reports)}", *report.lines(), sep="\n")


@pytest.mark.parametrize("mutant", THREADED, ids=lambda mutant: mutant.name)
def test_generated_programs_catch_it_and_shrink_to_two_calls(mutant: Mutant) -> None:
    failure = search(mutant.factory, runs=5, max_examples=300, seed=0)
    assert failure is not None, f"{mutant.name} survived 300 generated programs"
    assert not failure.checked.verdict.linearizable
    # Shrunk: two branches of one call each is the smallest program with a race in it (a
    # schedule that does not race can stop shrinking one step short).
    assert 2 == len(failure.program.branches)
    assert failure.program.size() <= 4
