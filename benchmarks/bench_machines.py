"""Benchmark: what a step costs, and where its time goes, against a baseline commit in one run.

Run with ``nox -s bench`` (or ``python benchmarks/bench_machines.py``, from the repository root,
in a checkout with git). The baseline (``--baseline``, by default the commit before issue #18's
work) is exported with ``git archive`` into a temporary folder; each measurement then runs in a
child process whose ``PYTHONPATH`` puts either that tree or this one first, alternately, for
``--rounds`` rounds, and the medians are compared. Both trees are measured by this file's code,
so a figure changes only with the tree it measures. Printed:

- steps/s of the kernel machine (the ci profile's rule mix) and of a no-op machine with the same
  rules and argument strategies but empty bodies, no invariants and no trace (target: the no-op
  machine at least 2 x the baseline's: the strategies' own cost; and the kernel machine at least
  0.8 x the no-op machine: what checking adds);
- the invariants' cost per step with 100 and 10,000 steps of history (target: at most 100 µs at
  both: incremental checking does not grow with the history);
- where a kernel-machine step's time goes: Hypothesis choosing the rule and drawing its
  arguments, the rule's body (driver and kernel), the trace and counts, the invariants, the
  end-of-run checks with the fresh-kernel replay, and each example's set-up.

Exit status 1 when a target is missed (every figure is printed either way).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The last commit before issue #18's work: the figures it asks for are ratios against it.
BASELINE = "906eea1"
NOOP_TARGET = 2.0  # no-op machine, this tree / baseline
RATIO_TARGET = 0.8  # kernel machine / no-op machine, this tree
INVARIANTS_TARGET_US = 100.0
PARTS = ("draw", "rule body", "trace", "invariants", "end of run", "set-up")


# --- measured in a child process, against whichever tree PYTHONPATH puts first -------------------


def noop_of(machine: type[Any]) -> type[Any]:
    """*machine*'s rules and strategies with empty bodies, no invariants and no trace."""
    from helmmodel.checker.ghost import Ghost
    from helmmodel.harness import stateful
    from helmmodel.harness.stateful import Ref, TracedMachine

    # The machine's own choice of rules, where its tree has one (the baseline's is Hypothesis's).
    rule_choice = getattr(stateful, "RuleChoice", None)

    class Noop(machine):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super(TracedMachine, self).__init__()
            if rule_choice is not None:
                self._rules_strategy = rule_choice(self)
            # A fresh ghost, never changed: what the rules' guards read, at no kernel's cost.
            config = type(self).config
            self.ghost = Ghost.for_seed(config.seed, config.ttl_ms, config.keys_max)

        def run_transition(self, rule_name: str, function: Any, target: Any, kwargs: Any) -> Any:
            type(self).run_state.stats.count(rule_name, {})
            # Keep the bundles flowing as in the real machine, so the rule mix matches.
            return None if target is None else Ref("value", None)

        def invariants_hold(self) -> None:
            pass

        def teardown(self) -> None:
            pass

    Noop.__name__ = f"Noop{machine.__name__}"
    return Noop


def steps_per_second(machine: type[Any], examples: int) -> float:
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    from helmmodel.harness import profiles
    from helmmodel.harness.stateful import machine_for
    from helmmodel.kernel import Kernel

    run = machine_for(machine, "correct", Kernel)
    start = time.perf_counter()
    run_state_machine_as_test(run, settings=settings(profiles.load("ci"), max_examples=examples))
    return float(run.run_state.stats.steps / (time.perf_counter() - start))


def breakdown(machine: type[Any], examples: int) -> dict[str, float]:
    """Seconds per step spent in each of PARTS, for one ci run of *machine*."""
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    from helmmodel.harness import profiles
    from helmmodel.harness.stateful import TracedMachine, machine_for
    from helmmodel.kernel import Kernel

    spent = dict.fromkeys(PARTS, 0.0)
    open_parts: list[list[Any]] = []  # [part, started, seconds spent in nested parts]

    def timed(part: str, method: Callable[..., Any]) -> Callable[..., Any]:
        """*method*, its time (less that of the parts nested in it) added to *part*; inside
        the end of run, all of it is the end of run's (the replay makes and drives a kernel)."""

        @functools.wraps(method)  # Hypothesis seeds a derandomized run from __init__'s signature
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if any(entry[0] == "end of run" for entry in open_parts):
                return method(*args, **kwargs)
            open_parts.append([part, time.perf_counter(), 0.0])
            try:
                return method(*args, **kwargs)
            finally:
                _, started, nested = open_parts.pop()
                elapsed = time.perf_counter() - started
                spent[part] += elapsed - nested
                if open_parts:
                    open_parts[-1][2] += elapsed

        return wrapper

    run = machine_for(machine, "correct", Kernel)
    run_transition = run.run_transition

    def transition(self: Any, name: str, function: Any, target: Any, kwargs: Any) -> Any:
        return run_transition(self, name, timed("rule body", function), target, kwargs)

    run.run_transition = timed("trace", transition)
    # Hypothesis keeps its own reference to invariants_hold: what it calls is timed instead.
    run.check = timed("invariants", run.check)
    run.teardown = timed("end of run", run.teardown)
    run.__init__ = timed("set-up", TracedMachine.__init__)
    start = time.perf_counter()
    run_state_machine_as_test(run, settings=settings(profiles.load("ci"), max_examples=examples))
    total = time.perf_counter() - start
    spent["draw"] = total - sum(spent.values())
    steps = run.run_state.stats.steps
    return {part: seconds / steps for part, seconds in spent.items()}


def workload_step(driver: Any, i: int) -> None:
    """One step of a fixed, varied workload (calls, HTTP, mutations, clock and signer moves)."""
    driver.ghost.step += 1
    kind = i % 8
    if kind in (0, 1, 2):
        driver.whole_call("alice", "echo", {"x": i % 12}, {"session_id": f"s{i % 3}"})
    elif kind == 3:
        call, _ = driver.begin("bob", "sum", {"a": i, "b": 1}, {"budget_id": "b0"})
        if call is not None:
            decision, _ = driver.decide(call)
            if decision is not None and decision.verdict == "ALLOW":
                intent, _ = driver.issue_intent(decision, call.effect)
                driver.execute(decision, intent, call.effect)
    elif kind == 4:
        driver.http("POST", "/v1/tools/execute", {}, b'{"tool":"echo","args":{"x":%d}}' % (i % 12))
    elif kind == 5:
        driver.set_budget_limit("b0", 10**9 if i % 16 else 0)
    elif kind == 6:
        driver.set_guardian_time(i)
    else:
        driver.http("GET", "/api/ops/status", {}, b"")


def invariant_cost_us(history: int, probes: int) -> float:
    """Median µs of one incremental check of every invariant checked after each step, after
    *history* steps of the workload."""
    from helmmodel.checker.driver import Driver
    from helmmodel.checker.invariants import ALL_INVARIANTS, Checker
    from helmmodel.harness.stateful import END_OF_RUN_INVARIANTS
    from helmmodel.kernel import Kernel, KernelConfig

    step_invariants = [fn for fn in ALL_INVARIANTS if fn.__name__ not in END_OF_RUN_INVARIANTS]
    driver = Driver.start(Kernel, KernelConfig())
    driver.register_tool("echo", {"type": "object"})
    driver.register_tool("sum", {"type": "object"}, behaviour="sum")
    for tool in ("echo", "sum"):
        rules = {**driver.ghost.rules, tool: {"id": "open"}}
        driver.mutate_policy("put", lambda t=tool: driver.kernel.put_rule(t, {"id": "open"}), rules)
    driver.create_budget("b0", 10**9)
    checker = Checker(driver.kernel, driver.ghost)

    def check_all() -> None:
        for invariant in step_invariants:
            checker.check(invariant)

    for i in range(history):
        workload_step(driver, i)
        if i % 50 == 0:  # keep the memos current, as a run does after every step
            check_all()
    check_all()
    samples = []
    for i in range(history, history + probes):
        workload_step(driver, i)
        start = time.perf_counter()
        check_all()
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def measure(tree: Path, examples: int) -> dict[str, Any]:
    """Every figure of one round, for the tree the imports come from."""
    from helmmodel.harness import runner

    kernel_machine = runner.load_machines(tree / "machines")["kernel"]
    return {
        "noop": steps_per_second(noop_of(kernel_machine), examples),
        "kernel": steps_per_second(kernel_machine, examples),
        "invariants_100": invariant_cost_us(100, 300),
        "invariants_10k": invariant_cost_us(10_000, 300),
        "breakdown": breakdown(kernel_machine, examples),
    }


# --- the parent: both trees, alternately, then the table -----------------------------------------


def export(revision: str, into: Path) -> Path:
    """The tree of *revision* (from this repository's git) in a folder under *into*."""
    archive = into / "baseline.tar"
    try:
        with archive.open("wb") as out:
            subprocess.run(["git", "archive", revision], cwd=ROOT, stdout=out, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"bench_machines: cannot export --baseline {revision!r}: {exc}") from None
    tree = into / "baseline"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def round_of(tree: Path, examples: int) -> dict[str, Any]:
    """One round measured in a child process that imports helmmodel from *tree*."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(tree)])}
    command = [sys.executable, __file__, "--measure", str(tree), "--examples", str(examples)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench_machines: measuring {tree} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    figures = {
        key: statistics.median(r[key] for r in rounds) for key in rounds[0] if key != "breakdown"
    }
    figures["breakdown"] = {
        part: statistics.median(r["breakdown"][part] for r in rounds) for part in PARTS
    }
    return figures


def report(old: dict[str, Any], new: dict[str, Any], rounds: int, examples: int) -> bool:
    print(f"medians of {rounds} interleaved rounds of {examples} examples (baseline {BASELINE})")
    print(f"  {'':36}{'baseline':>12}{'this tree':>12}{'ratio':>8}")

    def row(label: str, key: str, unit: str) -> None:
        ratio = new[key] / old[key]
        print(f"  {label:36}{old[key]:>12,.0f}{new[key]:>12,.0f}{ratio:>8.2f}  {unit}")

    row("kernel machine", "kernel", "steps/s")
    row("no-op machine (same rules)", "noop", "steps/s")
    row("invariants per step, 100 steps", "invariants_100", "µs")
    row("invariants per step, 10,000 steps", "invariants_10k", "µs")
    print("  where a kernel-machine step's time goes (µs per step):")
    old_total, new_total = sum(old["breakdown"].values()), sum(new["breakdown"].values())
    for part in PARTS:
        before, after = old["breakdown"][part] * 1e6, new["breakdown"][part] * 1e6
        share = new["breakdown"][part] / new_total
        print(f"    {part:34}{before:>12,.0f}{after:>12,.0f}{share:>8.0%}")
    print(f"    {'total':34}{old_total * 1e6:>12,.0f}{new_total * 1e6:>12,.0f}")

    checks = [
        ("no-op machine / baseline's", new["noop"] / old["noop"], ">=", NOOP_TARGET),
        ("kernel machine / no-op machine", new["kernel"] / new["noop"], ">=", RATIO_TARGET),
        ("invariants per step, 100 steps (µs)", new["invariants_100"], "<=", INVARIANTS_TARGET_US),
        ("invariants per step, 10,000 (µs)", new["invariants_10k"], "<=", INVARIANTS_TARGET_US),
    ]
    met_all = True
    print("  targets:")
    for label, value, sense, target in checks:
        met = value >= target if sense == ">=" else value <= target
        met_all &= met
        verdict = "ok" if met else "MISSED"
        print(f"    {label:36}{value:>10.2f}  (target {sense} {target:g})  {verdict}")
    return met_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=150, help="examples per machine round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare against")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's mode
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.examples)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-machines-") as folder:
        baseline = export(args.baseline, Path(folder))
        old: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for number in range(1, args.rounds + 1):
            old.append(round_of(baseline, args.examples))
            new.append(round_of(ROOT, args.examples))
            print(
                f"  round {number}: kernel machine {old[-1]['kernel']:,.0f} -> "
                f"{new[-1]['kernel']:,.0f} steps/s",
                flush=True,
            )
    return 0 if report(medians(old), medians(new), args.rounds, args.examples) else 1


if __name__ == "__main__":
    sys.exit(main())
