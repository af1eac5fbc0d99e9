"""Chaos scenario 4 (spec section 10): 1000 concurrent tool calls without races.

Method: fire the calls from a thread pool with a tiny switch interval (so threads change often,
between and inside phases), charge them to a budget whose limit is below the number of calls, then
check the budget, the receipts, the dispatch log, every chain and the ProofGraph.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from helmmodel.concurrency.programs import chain_problems, graph_problems
from helmmodel.concurrency.storm import StormConfig, check_storm, run_storm
from helmmodel.kernel import (
    ALLOW,
    DENY,
    CallOutcome,
    Decision,
    Intent,
    Kernel,
    PendingCall,
    Receipt,
)
from tests.conftest import echo, make_kernel

CALLS = 1000
LIMIT = 700
WORKERS = 24
SESSIONS = 8

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def fast_switching() -> Iterator[None]:
    """Make threads switch as often as possible, and restore the interval afterwards."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def storm(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """Apply *function* to every item from WORKERS threads; the first WORKERS start together."""
    work = list(enumerate(items))
    start = threading.Barrier(min(WORKERS, len(work)))

    def run(indexed: tuple[int, T]) -> R:
        index, item = indexed
        if index < start.parties:
            start.wait(timeout=60)
        return function(item)

    with fast_switching(), ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run, work))


def storm_kernel() -> Kernel:
    """A kernel with the budget ``storm`` of LIMIT requests."""
    kernel = make_kernel()
    kernel.create_budget("storm", LIMIT)
    return kernel


def check_intact(kernel: Kernel) -> list[Receipt]:
    """Walk every chain and the ProofGraph (the checker's walk); return every chained receipt."""
    receipts = []
    for chain in kernel.chains.chains.values():
        assert list(range(1, len(chain) + 1)) == [r.lamport_clock for r in chain]
        receipts.extend(chain)
    assert [] == chain_problems(kernel) + graph_problems(kernel)
    return receipts


def test_storm_leaves_the_budget_exactly_at_its_limit() -> None:
    """1000 concurrent calls on a 700-request budget: 700 executed once each, 300 denied."""
    kernel = storm_kernel()
    requests = [
        echo(i, f"p{i % 5}", budget_id="storm", session_id=f"s{i % SESSIONS}") for i in range(CALLS)
    ]
    outcomes: list[CallOutcome] = storm(kernel.call, requests)

    budget = kernel.budgets.get("storm")
    assert budget is not None
    assert (LIMIT, LIMIT) == (budget.limit, budget.consumed)

    decisions = [o.decision for o in outcomes if o.decision is not None]
    assert CALLS == len(decisions)
    assert CALLS == len({d.id for d in decisions})
    assert Counter({(ALLOW, ""): LIMIT, (DENY, "BUDGET_EXCEEDED"): CALLS - LIMIT}) == Counter(
        (d.verdict, d.reason_code) for d in decisions
    )
    assert [] == [o for o in outcomes if o.fail_closed or o.refusal_code]

    receipts = check_intact(kernel)
    assert LIMIT == len(receipts)
    assert {o.receipt for o in outcomes if o.receipt is not None} == set(receipts)
    assert {d.id for d in decisions if d.verdict == ALLOW} == {r.decision_id for r in receipts}

    effect_ids = [effect_id for effect_id, _ in kernel.tools.dispatches]
    assert LIMIT == len(effect_ids)
    assert LIMIT == len(set(effect_ids))
    assert {r.effect_id for r in receipts} == set(effect_ids)
    assert LIMIT == len(kernel.executor.executed)

    kinds = Counter(node.kind for node in kernel.graph.nodes.values())
    assert Counter({"INTENT": CALLS, "ATTESTATION": CALLS, "EFFECT": LIMIT}) == kinds


def test_storm_of_interleaved_phases_rechecks_the_budget_at_decide() -> None:
    """1000 calls all begun before any is decided, then decided concurrently: 700 ALLOWs."""
    kernel = storm_kernel()
    pending = storm(kernel.begin, [echo(i, budget_id="storm") for i in range(CALLS)])
    assert {ALLOW} == {call.verdict for call in pending}
    decisions = storm(kernel.decide, pending)
    verdicts = Counter((d.verdict, d.reason_code) for d in decisions)
    assert Counter({(ALLOW, ""): LIMIT, (DENY, "BUDGET_EXCEEDED"): CALLS - LIMIT}) == verdicts
    budget = kernel.budgets.get("storm")
    assert budget is not None
    assert LIMIT == budget.consumed
    assert [] == graph_problems(kernel)


def test_concurrent_retries_of_one_decision_dispatch_once() -> None:
    """Many threads executing the same decision, some with re-issued intents, get one receipt."""
    kernel = storm_kernel()
    # Several rounds, each a fresh decision stormed by every worker at once: a race in the
    # executor's idempotency check shows up in some round with near certainty.
    for round_ in range(5):
        pending = kernel.begin(echo(round_, budget_id="storm", session_id="retry"))
        decision = kernel.decide(pending)
        first_intent = kernel.issue_intent(decision, pending.effect)

        def retry(
            attempt: int,
            decision: Decision = decision,
            pending: PendingCall = pending,
            first_intent: Intent = first_intent,
        ) -> Receipt:
            """Execute the decision; after the first wave, half the attempts use a fresh intent."""
            intent = first_intent
            if attempt >= WORKERS and attempt % 2:
                intent = kernel.issue_intent(decision, pending.effect)
            return kernel.execute(decision, intent, pending.effect)

        dispatched = len(kernel.tools.dispatches)
        receipts = storm(retry, range(4 * WORKERS))
        assert 1 == len(set(receipts))
        assert [(pending.effect.effect_id, "echo")] == kernel.tools.dispatches[dispatched:]
        assert receipts[0] == kernel.chains.chains["retry"][-1]
    assert 5 == len(check_intact(kernel))
    assert 5 == sum(1 for node in kernel.graph.nodes.values() if node.kind == "EFFECT")


def test_concurrent_retries_of_many_decisions_dispatch_each_once() -> None:
    """100 decisions each executed by 5 threads at once: 100 dispatches, one receipt each."""
    kernel = storm_kernel()
    authorized = []
    for i in range(100):
        pending = kernel.begin(echo(i, budget_id="storm", session_id=f"s{i % SESSIONS}"))
        decision = kernel.decide(pending)
        authorized.append((decision, kernel.issue_intent(decision, pending.effect), pending.effect))
    attempts = [authorized[(i * 37) % 100] for i in range(500)]

    receipts = storm(lambda artifacts: kernel.execute(*artifacts), attempts)
    by_decision: dict[str, set[Receipt]] = {}
    for receipt in receipts:
        by_decision.setdefault(receipt.decision_id, set()).add(receipt)
    assert 100 == len(by_decision)
    assert {1} == {len(same) for same in by_decision.values()}
    effect_ids = [effect_id for effect_id, _ in kernel.tools.dispatches]
    assert 100 == len(effect_ids) == len(set(effect_ids))
    assert 100 == len(check_intact(kernel))


def test_the_storm_harness_finds_every_check_holding() -> None:
    """`helmmodel storm`'s harness on the correct kernel: 1000 calls, limit 700, a mutation,
    a rotation and a revocation mid-storm; linearizable, budget exactly at its limit."""
    config = StormConfig()
    run = run_storm(Kernel, config)
    report = check_storm(run, config)
    assert report.ok, "\n".join(report.lines())
    assert config.limit == report.consumed
    assert report.tally["decide DENY BUDGET_EXCEEDED"] == config.calls - config.limit
    answers = {op.name: op.answer for op in run.history if op.thread.startswith("task")}
    assert ("returned", None) == answers["put_rule"]
    assert ("returned", "key-0002") == answers["rotate_key"]
    assert ("returned", None) == answers["revoke_key"]
