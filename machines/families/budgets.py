"""Budget limits changed up and down (the calls charged to them come from the calls family)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import BUDGETS, WorldMachine


class BudgetRules(WorldMachine):
    """Budget consumption and limit changes up and down (charged calls come from CallRules)."""

    @transition(budget=st.sampled_from(BUDGETS), limit=st.integers(0, 3))
    def set_budget_limit(self, budget: str, limit: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_budget_limit(budget, limit), None
