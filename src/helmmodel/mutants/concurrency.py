"""Mutants that are wrong only under real threads: a facade that signs outside its lock.

Signing is the slow part of a phase, so moving it out of the critical section is a tempting
optimisation; done naively, it splits a check from the change it guards. Each mutant here is
the correct kernel with one facade method split across two critical sections; no sleep or yield
is added, the window is only as wide as signing makes it. The sequential machines cannot see
these bugs (one thread, so nothing lands in the window): the storm and the concurrent-program
property catch them by linearizability (``helmmodel storm --kernel NAME``).
"""

from __future__ import annotations

from helmmodel.kernel import (
    Decision,
    Effect,
    Guardian,
    Intent,
    Kernel,
    PendingCall,
    Receipt,
)
from helmmodel.mutants.mutant import Mutant

MACHINE = "storm"
INVARIANT = "linearizable"


class ChargeAfterSigningGuardian(Guardian):
    """Settles the verdict on a check of the budget's room; charges when it records."""

    def charge(self, budget_id: str, call_id: str) -> bool:
        return self.budgets.has_room(budget_id)

    def record_decision(self, call: PendingCall, decision: Decision) -> None:
        if decision.verdict == "ALLOW" and decision.budget_id:
            # The charge the settle step only checked for; refused when the room has gone.
            self.budgets.consume(decision.budget_id, call.call_id)
        super().record_decision(call, decision)


class BudgetCheckNotAtomicKernel(Kernel):
    """*decide* checks the budget in one critical section and charges it in another."""

    guardian_class = ChargeAfterSigningGuardian

    def decide(self, call: PendingCall) -> Decision:
        with self.lock:
            settlement = self.guardian.settle(call)
        decision = self.guardian.sign_decision(call, settlement)  # outside the lock
        with self.lock:
            self.guardian.record_decision(call, decision)
        return decision


class ChainAppendInterleavesKernel(Kernel):
    """*execute* reads the chain's next link in one critical section, appends in another."""

    def execute(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Receipt:
        with self.lock:
            dispatched = self.executor.dispatch(decision, intent, effect)
        if isinstance(dispatched, Receipt):
            return dispatched
        receipt = self.executor.sign_receipt(dispatched)  # outside the lock
        with self.lock:
            self.executor.record(dispatched, receipt)
        return receipt


MUTANTS = (
    Mutant(
        "facade-budget-check-not-atomic",
        "decide checks the budget's room, signs outside the lock, and charges afterwards, so "
        "two calls that both saw the last unit are both allowed and one goes uncharged.",
        "Kernel",
        MACHINE,
        INVARIANT,
        BudgetCheckNotAtomicKernel,
        needs_threads=True,
    ),
    Mutant(
        "facade-chain-append-interleaves",
        "execute reads its session's next receipt link, signs outside the lock, and appends "
        "afterwards, so two receipts of one session can claim the same lamport and predecessor.",
        "Kernel",
        MACHINE,
        INVARIANT,
        ChainAppendInterleavesKernel,
        needs_threads=True,
    ),
)
