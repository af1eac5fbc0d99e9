"""Benchmark (not a test): the linearizability check of a storm, and each concurrency mutant's
detection rate.

    python benchmarks/bench_concurrency.py [--runs 20] [--calls 1000]

Prints, for the correct kernel, the seconds the check of one storm's history takes (target:
under 10 s for a 1000-call storm, about 3,500 operations), and for each mutant of the catalogue
that needs threads, in how many of --runs storms it was caught (target: at least 19 of 20).
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from helmmodel.concurrency.storm import StormConfig, check_storm, default_limit, run_storm
from helmmodel.kernel import Kernel
from helmmodel.mutants import CATALOGUE

CHECK_SECONDS_TARGET = 10.0
DETECTION_TARGET = 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="storms per mutant (default 20)")
    parser.add_argument("--calls", type=int, default=1000, help="calls per storm (default 1000)")
    parser.add_argument("--checks", type=int, default=5, help="correct storms to time (5)")
    args = parser.parse_args()
    config = StormConfig(calls=args.calls, limit=default_limit(args.calls))
    missed = False

    seconds, sizes = [], []
    for _ in range(args.checks):
        run = run_storm(Kernel, config)
        start = time.perf_counter()
        report = check_storm(run, config)
        seconds.append(time.perf_counter() - start)
        sizes.append(len(run.history))
        if not report.ok:
            print("the correct kernel broke a check:", *report.lines(), sep="\n  ")
            missed = True
    median = statistics.median(seconds)
    print(
        f"linearizability check of a {args.calls}-call storm ({statistics.median(sizes):.0f} "
        f"operations): median {median:.2f} s, worst {max(seconds):.2f} s over {args.checks} "
        f"storms (target: under {CHECK_SECONDS_TARGET:.0f} s)"
    )
    missed |= median >= CHECK_SECONDS_TARGET

    for mutant in (m for m in CATALOGUE if m.needs_threads):
        caught, undecided, took = 0, 0, []
        for _ in range(args.runs):
            start = time.perf_counter()
            report = check_storm(run_storm(mutant.factory, config), config)
            took.append(time.perf_counter() - start)
            caught += not report.ok
            undecided += report.checked.verdict.undecided
        print(
            f"{mutant.name}: caught in {caught} of {args.runs} storms "
            f"(linearizability undecided in {undecided}); seconds per storm: median "
            f"{statistics.median(took):.1f}, worst {max(took):.1f}"
        )
        missed |= caught < DETECTION_TARGET * args.runs
        sys.stdout.flush()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
