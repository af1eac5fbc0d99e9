"""Scenario 4's storm: 1000 concurrent calls on a thread pool, then everything checked.

The calls are charged to one budget whose limit is below their number, some re-execute their
decision, and mid-storm a PRG mutation bumps the epoch, then a new key is made and the first one
revoked. Afterwards: the budget is charged exactly its ALLOW decisions and never above its limit,
some calls were denied ``BUDGET_EXCEEDED``, no decision ran twice, every refusal has a code the
storm can cause, chains and ProofGraph are intact, and the history is linearizable.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from helmmodel.concurrency.history import Recorder
from helmmodel.concurrency.programs import (
    FIRST_KEY,
    Call,
    Checked,
    Command,
    PutRule,
    RevokeKey,
    RotateKey,
    check_run,
    fast_switching,
    model_factory,
    perform,
    setup,
)
from helmmodel.concurrency.programs import Run as ProgramRun
from helmmodel.kernel import Decision, KernelConfig, KernelFactory, PendingCall, Receipt

BUDGET = "storm"
# The refusals a storm can cause, by phase: the epoch bump refuses in-flight intents, and the
# revocation invalidates what the first key signed.
INTENT_REFUSALS = frozenset({"POLICY_EPOCH_CHANGED", "DECISION_SIGNATURE_INVALID"})
EXECUTION_REFUSALS = frozenset({"DECISION_SIGNATURE_INVALID", "INTENT_SIGNATURE_INVALID"})


def default_limit(calls: int) -> int:
    """The budget's limit for *calls* calls when none is given: 70% of them, so they contend."""
    return max(1, calls * 7 // 10)


@attrs.frozen
class StormConfig:
    """The storm's shape."""

    calls: int = 1000
    limit: int = 700
    workers: int = 16
    sessions: int = 8
    retry_every: int = 10  # every n-th call executes its decision twice

    def tasks(self) -> list[tuple[Command, ...]]:
        """The work list: one task per call, with the mutation and the key change among them.

        The rotation and the revocation of the key it replaces are one task, so that the
        revocation never lands first (that would leave nothing to sign with).
        """
        work: list[tuple[Command, ...]] = [
            (
                Call(
                    principal=f"p{i % 5}",
                    x=i % 100,
                    budget=BUDGET,
                    session=f"s{i % self.sessions}",
                    retries=1 if i % self.retry_every == 0 else 0,
                ),
            )
            for i in range(self.calls)
        ]
        # Late enough that calls are in flight, early enough that the budget still has room.
        work.insert(int(self.calls * 0.30), (PutRule("echo", "x-le-1000"),))
        work.insert(int(self.calls * 0.45), (RotateKey(), RevokeKey(FIRST_KEY)))
        return work


@attrs.frozen
class StormReport:
    """What one storm did, and every problem the checks found."""

    config: StormConfig
    checked: Checked
    tally: Counter[str]
    consumed: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        lines = [
            f"{self.config.calls} calls on {self.config.workers} threads, budget limit "
            f"{self.config.limit}: consumed {self.consumed}",
            "  " + " · ".join(f"{key} {value}" for key, value in sorted(self.tally.items())),
            *(f"  {line}" for line in self.checked.verdict.lines()),
        ]
        if self.ok:
            lines.append("  result: every check held")
        else:
            lines.extend(f"  PROBLEM: {problem}" for problem in self.problems)
        return lines


def run_storm(factory: KernelFactory, config: StormConfig) -> ProgramRun:
    """Run the storm on a fresh kernel from *factory* and record its history."""
    budgets = {BUDGET: config.limit}
    kernel = setup(factory(KernelConfig()), budgets)
    recorder = Recorder(kernel)
    work = list(enumerate(config.tasks()))
    start = threading.Barrier(min(config.workers, len(work)))

    def task(item: tuple[int, tuple[Command, ...]]) -> None:
        index, commands = item
        if index < start.parties:
            start.wait(timeout=60)
        results: dict[int, Any] = {}
        for command in commands:
            perform(recorder, f"task{index}", command, results)

    with fast_switching(), ThreadPoolExecutor(max_workers=config.workers) as pool:
        for _ in pool.map(task, work):
            pass
    return ProgramRun(kernel, recorder.history(), model_factory(budgets))


def tally(run: ProgramRun) -> Counter[str]:
    """How the storm's calls ended, and its refusals by phase and code."""
    counts: Counter[str] = Counter()
    for operation in run.history:
        value: Any = operation.value
        if operation.name == "decide":
            if isinstance(value, Decision):
                counts[f"decide {value.verdict} {value.reason_code}".rstrip()] += 1
            else:
                counts[f"decide raised {operation.answer[2]}"] += 1
        elif operation.name in ("issue_intent", "execute") and operation.answer[0] == "raised":
            counts[f"{operation.name} refused {operation.answer[2]}"] += 1
        elif operation.name == "execute" and isinstance(value, Receipt):
            counts["execute receipt"] += 1
        elif operation.name == "begin" and not isinstance(value, PendingCall):
            counts[f"begin raised {operation.answer[2]}"] += 1
    return counts


def storm_problems(run: ProgramRun, config: StormConfig, counts: Counter[str]) -> list[str]:
    """The storm's own checks, beyond linearizability and the final-state invariants (which
    include that the budget is charged exactly its ALLOW decisions)."""
    problems = []
    budget = run.kernel.budgets.get(BUDGET)
    consumed = budget.consumed if budget is not None else 0
    if consumed > config.limit:
        problems.append(f"the budget consumed {consumed}, above its limit {config.limit}")
    if not counts["decide DENY BUDGET_EXCEEDED"]:
        problems.append("no call was denied BUDGET_EXCEEDED: the storm never contended")
    decided = sum(n for key, n in counts.items() if key.startswith("decide"))
    if decided != config.calls:
        problems.append(f"{decided} decide phases ran for {config.calls} calls")
    for key in sorted(counts):
        phase, _, rest = key.partition(" ")
        code = rest.removeprefix("refused ").removeprefix("raised ")
        if (phase == "issue_intent" and code not in INTENT_REFUSALS) or (
            phase == "execute" and rest.startswith("refused") and code not in EXECUTION_REFUSALS
        ):
            problems.append(f"{counts[key]} x {key}: a refusal the storm cannot cause")
        if phase in ("begin", "decide") and rest.startswith("raised"):
            problems.append(f"{counts[key]} x {key}: nothing in the storm should fail there")
    return problems


def check_storm(run: ProgramRun, config: StormConfig) -> StormReport:
    """Every check of the storm on one run."""
    checked = check_run(run)
    counts = tally(run)
    budget = run.kernel.budgets.get(BUDGET)
    problems = [*checked.problems, *storm_problems(run, config, counts)]
    return StormReport(config, checked, counts, budget.consumed if budget else 0, tuple(problems))
