"""Budgets created and their limits changed up and down, a call's last request taken between its
*begin* and its *decide*, and changes the spec refuses (the calls charged to budgets come from the
calls family)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import (
    BUDGET_NAMES,
    BUDGETS,
    SAFE_MAX,
    Stage,
    WorldMachine,
    decided,
    principals,
)

# Ids a create may name: fresh ones (no call names them, so they stay empty), the budgets every
# call names (they exist from set-up: refused), and one that is no identifier (refused).
CREATED = ("b2", "b3", *BUDGETS, "b 2")
# Limits the spec refuses: negative, unsafe, a float, a bool, a string, nothing.
BAD_LIMITS = (-1, SAFE_MAX + 1, 1.5, True, "2", None)


class BudgetRules(WorldMachine):
    """Budget creation, consumption and limit changes up and down (charged calls come from
    CallRules), and budget changes the spec refuses."""

    @transition(budget=st.sampled_from(BUDGETS), limit=st.integers(0, 3))
    def set_budget_limit(self, budget: str, limit: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_budget_limit(budget, limit), None

    @transition(budget=st.sampled_from(CREATED), limit=st.integers(0, 3))
    def create_budget(self, budget: str, limit: int) -> tuple[dict[str, Any], Any]:
        return self.driver.create_budget(budget, limit), None

    @transition(budget=st.sampled_from(BUDGET_NAMES), limit=st.sampled_from(BAD_LIMITS))
    def fault_budget_limit(self, budget: str, limit: Any) -> tuple[dict[str, Any], Any]:
        """A limit the spec refuses, for a budget that exists or one that does not."""
        return self.driver.set_budget_limit(budget, limit), None

    @transition(
        target=decided,
        principal=principals,
        tool=st.sampled_from(["echo", "sum", "fail"]),
        x=st.integers(0, 10),
        budget=st.sampled_from(BUDGETS),
    )
    def race_for_last_request(
        self, principal: str, tool: str, x: int, budget: str
    ) -> tuple[dict[str, Any], Any]:
        """Leave *budget* one request (its limit set to what the checker counts charged, plus
        one), begin a call charged to it, take that request away before the call's *decide*
        (the limit lowered to what is charged), then decide: *begin*'s pre-check passed, so only
        the fresh re-check of *decide* can turn a tentative ALLOW into BUDGET_EXCEEDED."""
        driver, charged = self.driver, self.ghost.budget_charged.get(budget, 0)
        outcome = driver.set_budget_limit(budget, charged + 1)
        call, begun_outcome = driver.begin(principal, tool, {"x": x}, {"budget_id": budget})
        outcome = {**outcome, **begun_outcome}
        if call is None:
            return outcome, None
        outcome = {**outcome, **driver.set_budget_limit(budget, charged)}
        decision, decided_outcome = driver.decide(call)
        outcome = {**outcome, **decided_outcome}  # every phase's answer counts towards coverage
        return outcome, Stage(decision, call.effect) if decision is not None else None
