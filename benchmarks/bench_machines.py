"""Benchmark: what checking costs on top of Hypothesis's own stateful engine.

Run with ``nox -s bench``. Prints, measured side by side in one run:

- steps/s of the kernel machine (the rule mix of ``nox -s model``) against a no-op machine with
  the same rules and argument strategies but empty bodies, no invariants and no trace, and their
  ratio (target: at least 0.6);
- the share of the kernel machine's steps that sign or verify with Ed25519;
- the invariants' cost per step with 100 and with 10,000 steps of history behind them (target:
  the cost at 10,000 at most 1.5 x the cost at 100: incremental checking must not grow with the
  history).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from helmmodel.checker.driver import Driver
from helmmodel.checker.invariants import ALL_INVARIANTS, Checker
from helmmodel.harness import profiles, runner
from helmmodel.harness.stateful import Ref, TracedMachine, machine_for
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.key_ring import KeyRing

RATIO_TARGET = 0.6
GROWTH_TARGET = 1.5
MACHINES = Path(__file__).resolve().parents[1] / "machines"


class CountingKeyRing(KeyRing):
    """A key ring that counts its Ed25519 operations (signs and verifications)."""

    operations = 0

    def sign(self, signature_type: str, message: bytes) -> str:
        CountingKeyRing.operations += 1
        return super().sign(signature_type, message)

    def verify(self, signature_type: object, message: bytes, signature: object) -> None:
        CountingKeyRing.operations += 1
        super().verify(signature_type, message, signature)


class CountingKernel(Kernel):
    key_ring_class = CountingKeyRing


def noop_of(machine: type[TracedMachine]) -> type[TracedMachine]:
    """*machine*'s rules and strategies with empty bodies, no invariants and no trace."""

    class Keys:
        count = 1

    class GhostStub:
        keys = Keys()

    class Noop(machine):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super(TracedMachine, self).__init__()
            self.ghost = GhostStub()  # type: ignore[assignment]

        def run_transition(self, rule_name: str, function: Any, target: Any, kwargs: Any) -> Any:
            type(self).run_state.stats.count(rule_name, {})  # type: ignore[union-attr]
            # Keep the bundles flowing as in the real machine, so the rule mix matches.
            return None if target is None else Ref("value", None)

        def invariants_hold(self) -> None:
            pass

        def teardown(self) -> None:
            pass

    Noop.__name__ = f"Noop{machine.__name__}"
    return Noop


def steps_per_second(machine: type[TracedMachine], examples: int) -> float:
    run = machine_for(machine, "correct", Kernel)
    base = profiles.load("ci")
    start = time.perf_counter()
    run_state_machine_as_test(run, settings=settings(base, max_examples=examples))
    assert run.run_state is not None
    return run.run_state.stats.steps / (time.perf_counter() - start)


def crypto_share(machine: type[TracedMachine], examples: int) -> float:
    """The share of steps during which the kernel signed or verified at least once."""
    counted = machine_for(machine, "counting", CountingKernel)
    touched = 0
    steps = 0
    original = counted.run_transition

    def watched(self: TracedMachine, *args: Any) -> Any:
        nonlocal touched, steps
        before = CountingKeyRing.operations
        result = original(self, *args)
        if self.check_replay:
            steps += 1
            touched += CountingKeyRing.operations != before
        return result

    counted.run_transition = watched  # type: ignore[method-assign]
    run_state_machine_as_test(
        counted, settings=settings(profiles.load("ci"), max_examples=examples)
    )
    return touched / steps if steps else 0.0


def workload_step(driver: Driver, i: int) -> None:
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
    """Median µs of one incremental check of every invariant, after *history* steps."""
    driver = Driver.start(Kernel, KernelConfig())
    driver.register_tool("echo", {"type": "object"})
    driver.register_tool("sum", {"type": "object"}, behaviour="sum")
    for tool in ("echo", "sum"):
        rules = {**driver.ghost.rules, tool: {"id": "open"}}
        driver.mutate_policy("put", lambda t=tool: driver.kernel.put_rule(t, {"id": "open"}), rules)
    driver.create_budget("b0", 10**9)
    checker = Checker(driver.kernel, driver.ghost)
    for i in range(history):
        workload_step(driver, i)
        if i % 50 == 0:  # keep the memos current, as a run does after every step
            for invariant in ALL_INVARIANTS[:-1]:
                checker.check(invariant)
    for invariant in ALL_INVARIANTS[:-1]:
        checker.check(invariant)
    samples = []
    for i in range(history, history + probes):
        workload_step(driver, i)
        start = time.perf_counter()
        for invariant in ALL_INVARIANTS[:-1]:
            checker.check(invariant)
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=150, help="examples per machine round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    args = parser.parse_args(argv)

    kernel_machine = runner.load_machines(MACHINES)["kernel"]
    noop = noop_of(kernel_machine)
    real: list[float] = []
    empty: list[float] = []
    for _ in range(args.rounds):
        empty.append(steps_per_second(noop, args.examples))
        real.append(steps_per_second(kernel_machine, args.examples))
    real_rate, empty_rate = statistics.median(real), statistics.median(empty)
    ratio = real_rate / empty_rate
    share = crypto_share(kernel_machine, args.examples)
    at_100 = invariant_cost_us(100, 300)
    at_10k = invariant_cost_us(10_000, 300)
    growth = at_10k / at_100

    print(f"medians of {args.rounds} interleaved rounds of {args.examples} examples")
    print(f"  kernel machine                     {real_rate:9.0f} steps/s")
    print(f"  no-op machine (same rules)         {empty_rate:9.0f} steps/s")
    ok = "ok" if ratio >= RATIO_TARGET else "UNDER TARGET"
    print(f"  ratio                              {ratio:9.2f}  (target >= {RATIO_TARGET})  {ok}")
    print(f"  steps that sign or verify          {share:9.1%}")
    print(f"  invariants per step, 100 steps     {at_100:9.1f} µs")
    print(f"  invariants per step, 10,000 steps  {at_10k:9.1f} µs")
    ok = "ok" if growth <= GROWTH_TARGET else "OVER TARGET"
    print(f"  growth                             {growth:9.2f}  (target <= {GROWTH_TARGET})  {ok}")
    return 0 if ratio >= RATIO_TARGET and growth <= GROWTH_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
