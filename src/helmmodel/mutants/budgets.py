"""Mutants of the request budgets (spec section 8), each with ``consume`` changed."""

from __future__ import annotations

from helmmodel.kernel import Kernel, RequestBudgets
from helmmodel.mutants.mutant import Mutant


class ChargesFirstBudgets(RequestBudgets):
    """``consume`` records the charge, then checks the limit, and keeps a refused charge."""

    def consume(self, budget_id: str, call_id: str) -> bool:
        budget = self._existing(budget_id)
        if call_id in budget.charged_calls:
            return False
        # The bug: act, then check, with no rollback: the answer is right (consumed after the
        # charge is within the limit) but a refused call's charge stays on the budget.
        budget.charged_calls.add(call_id)
        self._charges.add(f"{budget_id}|{call_id}".encode())
        return budget.consumed <= budget.limit


class OffByOneBudgets(RequestBudgets):
    """``consume`` lets one request more through than the limit."""

    def consume(self, budget_id: str, call_id: str) -> bool:
        budget = self._existing(budget_id)
        # The bug: `>` where `>=` belongs, so a budget that is exactly spent charges once more.
        if budget.consumed > budget.limit or call_id in budget.charged_calls:
            return False
        budget.charged_calls.add(call_id)
        self._charges.add(f"{budget_id}|{call_id}".encode())
        return True


def _kernel(name: str, budgets: type[RequestBudgets]) -> type[Kernel]:
    """The correct kernel but for its request budgets."""
    return type(name, (Kernel,), {"budgets_class": budgets, "__module__": __name__})


MUTANTS = (
    Mutant(
        "budgets-charge-before-check",
        "consume charges the call before it checks the limit and does not take the charge back "
        "when it refuses, so a BUDGET_EXCEEDED denial still draws from the budget.",
        "RequestBudgets",
        "budget_contention",
        "denied_draws_nothing",
        _kernel("ChargesFirstKernel", ChargesFirstBudgets),
    ),
    Mutant(
        "budgets-limit-off-by-one",
        "consume refuses only when consumed is above the limit rather than at it, so a spent "
        "budget gives one request more.",
        "RequestBudgets",
        "budget_contention",
        "budget_within_limit",
        _kernel("OffByOneBudgetsKernel", OffByOneBudgets),
    ),
)
