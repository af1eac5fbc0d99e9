"""Benchmark (not a test): the linearizability check of storms, on the correct kernel and on
each concurrency mutant.

    python benchmarks/bench_concurrency.py [--runs 20] [--calls 1000] [--checks 5]

For the correct kernel (--checks storms) and each mutant of the catalogue that needs threads
(--runs storms each), prints how many histories the check decided (linearizable, or refuted
with NOT linearizable) and how many it gave up on (undecided), and the seconds and
configurations the check took per storm. Targets: every history decided; the correct kernel's
storms all linearizable, each checked in under 10 s (median) for 1000 calls (about 3,500
operations); each mutant caught by the linearizability verdict itself in at least 19 of 20
storms. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import attrs

from helmmodel.concurrency.storm import StormConfig, check_storm, default_limit, run_storm
from helmmodel.kernel import Kernel
from helmmodel.mutants import CATALOGUE

CHECK_SECONDS_TARGET = 10.0
DETECTION_TARGET = 0.95


@attrs.define
class Tally:
    """The checks of one kernel's storms: verdicts, seconds and configurations explored."""

    linearizable: int = 0
    refuted: int = 0
    undecided: int = 0
    failed: int = 0  # storms that broke any check (linearizability or another)
    seconds: list[float] = attrs.Factory(list)
    explored: list[int] = attrs.Factory(list)
    operations: list[int] = attrs.Factory(list)

    @property
    def storms(self) -> int:
        return len(self.seconds)

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.storms} storms, decided {self.linearizable + self.refuted} "
            f"(linearizable {self.linearizable}, NOT linearizable {self.refuted}), undecided "
            f"{self.undecided}; a check broke in {self.failed}; check seconds median "
            f"{statistics.median(self.seconds):.2f}, worst {max(self.seconds):.2f}; "
            f"configurations median {statistics.median(self.explored):.0f}, worst "
            f"{max(self.explored)} (operations median {statistics.median(self.operations):.0f})"
        )


def tally(factory: Callable[..., Kernel], config: StormConfig, storms: int) -> Tally:
    """Run *storms* storms on kernels from *factory* and check each, timing the check."""
    counts = Tally()
    for _ in range(storms):
        run = run_storm(factory, config)
        start = time.perf_counter()
        report = check_storm(run, config)
        counts.seconds.append(time.perf_counter() - start)
        verdict = report.checked.verdict
        counts.explored.append(verdict.explored)
        counts.operations.append(verdict.operations)
        counts.linearizable += verdict.linearizable
        counts.refuted += not verdict.linearizable and not verdict.undecided
        counts.undecided += verdict.undecided
        counts.failed += not report.ok
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="storms per mutant (default 20)")
    parser.add_argument("--calls", type=int, default=1000, help="calls per storm (default 1000)")
    parser.add_argument("--checks", type=int, default=5, help="correct storms to time (5)")
    args = parser.parse_args()
    config = StormConfig(calls=args.calls, limit=default_limit(args.calls))

    correct = tally(Kernel, config, args.checks)
    print(correct.line("correct kernel"), flush=True)
    missed = correct.failed > 0 or correct.undecided > 0
    missed |= statistics.median(correct.seconds) >= CHECK_SECONDS_TARGET
    for mutant in (m for m in CATALOGUE if m.needs_threads):
        counts = tally(mutant.factory, config, args.runs)
        print(counts.line(mutant.name), flush=True)
        missed |= counts.undecided > 0 or counts.refuted < DETECTION_TARGET * args.runs
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
