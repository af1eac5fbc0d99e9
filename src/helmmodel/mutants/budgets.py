"""Mutants of the request budgets (spec section 8), each with one method changed."""

from __future__ import annotations

from helmmodel.kernel import Kernel, RequestBudgets
from helmmodel.kernel.budgets import RequestBudget, _check_limit
from helmmodel.kernel.records import check_identifier
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


class OverwritingBudgets(RequestBudgets):
    """``create`` of a budget that exists starts it over instead of refusing."""

    def create(self, budget_id: str, limit: int) -> None:
        check_identifier(budget_id, "budget id")
        # The bug: no check that the id is free, so the existing budget and the charges it holds
        # are replaced by an empty one.
        self._budgets[budget_id] = RequestBudget(budget_id, _check_limit(limit))


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
    Mutant(
        "budgets-create-overwrites",
        "create does not refuse an id that names a budget already, so it replaces that budget "
        "with an empty one and the charges of its ALLOW decisions are lost.",
        "RequestBudgets",
        "budget_contention",
        "budget_within_limit",
        _kernel("OverwritingBudgetsKernel", OverwritingBudgets),
    ),
)
