"""Budgets created and their limits changed up and down, and budget changes the spec refuses (the
calls charged to budgets come from the calls family)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import BUDGET_NAMES, BUDGETS, SAFE_MAX, WorldMachine, begun, principals

# Ids a create may name: fresh ones (no call names them, so they stay empty), the budgets every
# call names (they exist from set-up: refused), and one that is no identifier (refused).
CREATED = ("b2", "b3", *BUDGETS, "b 2")
# Limits the spec refuses: negative, unsafe, a float, a bool, a string, nothing.
BAD_LIMITS = (-1, SAFE_MAX + 1, 1.5, True, "2", None)


class BudgetRules(WorldMachine):
    """Budget limit changes up and down (the charged calls come from CallRules)."""

    @transition(budget=st.sampled_from(BUDGETS), limit=st.integers(0, 3))
    def set_budget_limit(self, budget: str, limit: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_budget_limit(budget, limit), None


class BudgetChangeRules(WorldMachine):
    """Budgets created, and budget changes the spec refuses. A family of its own, apart from
    BudgetRules: budget_contention's scenario stays the calls racing for the budgets set up, at
    the density its mutants need."""

    @transition(budget=st.sampled_from(CREATED), limit=st.integers(0, 3))
    def create_budget(self, budget: str, limit: int) -> tuple[dict[str, Any], Any]:
        return self.driver.create_budget(budget, limit), None

    @transition(budget=st.sampled_from(BUDGET_NAMES), limit=st.sampled_from(BAD_LIMITS))
    def fault_budget_limit(self, budget: str, limit: Any) -> tuple[dict[str, Any], Any]:
        """A limit the spec refuses, for a budget that exists or one that does not."""
        return self.driver.set_budget_limit(budget, limit), None


class BudgetRaceRules(WorldMachine):
    """Calls that name a budget, begun to be decided later, and another call that takes a
    budget's last request meanwhile: *decide*'s own re-check then answers BUDGET_EXCEEDED
    (spec section 8). A family of its own: drawn from the calls family alone, a begun call that
    names a budget and is allowed, and a competing call on that budget before its decide, meet
    about once in three hundred examples; the kernel and budget_contention machines need that
    window open often."""

    @transition(
        target=begun,
        principal=principals,
        tool=st.sampled_from(["sum", "fail", "echo"]),
        x=st.integers(0, 10),
        budget=st.sampled_from(BUDGETS),
    )
    def begin_charged_call(
        self, principal: str, tool: str, x: int, budget: str
    ) -> tuple[dict[str, Any], Any]:
        """Begin a call charged to *budget* (decide_call decides it, some steps later)."""
        call, outcome = self.driver.begin(principal, tool, {"x": x}, {"budget_id": budget})
        return outcome, call

    @transition(budget=st.sampled_from(BUDGETS))
    def take_last_request(self, budget: str) -> tuple[dict[str, Any], Any]:
        """Leave *budget* one request, and let a call charged to it take that request."""
        self.driver.set_budget_limit(budget, self.ghost.budget_charged.get(budget, 0) + 1)
        return self.driver.whole_call("bob", "sum", {"x": 1}, {"budget_id": budget}), None
