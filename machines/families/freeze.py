"""The operator's emergency stop."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import WorldMachine


class FreezeRules(WorldMachine):
    """The operator's emergency stop, as an explicit state."""

    @transition(frozen=st.booleans())
    def set_frozen(self, frozen: bool) -> tuple[dict[str, Any], Any]:
        return self.driver.set_frozen(frozen), None
