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

    @transition(frozen=st.booleans())
    def freeze_shorthand(self, frozen: bool) -> tuple[dict[str, Any], Any]:
        """The same switch through ``freeze()`` or ``unfreeze()``, the spec's names for it."""
        return self.driver.set_frozen_shorthand(frozen), None

    @transition(frozen=st.sampled_from([0, 1, "true", None, [True]]))
    def fault_frozen_not_a_bool(self, frozen: Any) -> tuple[dict[str, Any], Any]:
        """An explicit state is true or false: a truthy or falsy stand-in is refused."""
        return self.driver.present_arguments(
            "set_frozen", {"frozen": frozen}, lambda: self.kernel.set_frozen(frozen)
        ), None
