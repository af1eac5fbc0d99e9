"""Budgets created and their limits changed up and down, and budget changes the spec refuses (the
calls charged to budgets come from the calls family)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import consumes

from helmmodel.harness.stateful import transition
from helmmodel.kernel.guardian import PendingCall
from machines.world import BUDGET_NAMES, BUDGETS, SAFE_MAX, WorldMachine, begun

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
    """A call's budget spent by another call between its begin and its decide, so that decide's
    own re-check answers BUDGET_EXCEEDED (spec section 8). A family of its own, for the kernel
    machine: drawn apart, a limit change and a competing call rarely meet a call in flight there,
    and budget_contention races its calls its own way."""

    @transition(call=consumes(begun))
    def race_for_last_request(self, call: PendingCall) -> tuple[dict[str, Any], Any]:
        """Leave the call's budget one request, let an identical whole call take it, then decide
        the call (a call with no budget, or denied at begin, is simply decided)."""
        budget = call.request.context.get("budget_id")
        if call.verdict == "ALLOW" and budget in self.ghost.budget_limits:
            self.driver.set_budget_limit(budget, self.ghost.budget_charged.get(budget, 0) + 1)
            request = call.request
            self.driver.whole_call(request.principal, request.tool, request.args, request.context)
        _, outcome = self.driver.decide(call)
        return outcome, None
