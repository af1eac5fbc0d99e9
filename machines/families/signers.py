"""Signer removal: signing removed and restored, keys rotated and revoked."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import consumes

from helmmodel.harness.stateful import transition
from machines.world import Stage, WorldMachine, decided


class SignerRules(WorldMachine):
    """Signer removal: remove and restore signing, rotate, revoke."""

    @transition(available=st.booleans())
    def fault_set_signing(self, available: bool) -> tuple[dict[str, Any], Any]:
        return self.driver.set_signing(available), None

    @transition(entry=consumes(decided))
    def fault_intent_after_signer_removed(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Signing removed between a call's decision and its intent, then the intent asked for.

        Drawn apart, the two steps rarely meet: between them a policy change or a freeze
        usually refuses the intent first, so the intent's own signer check went unreached.
        """
        self.driver.set_signing(False)
        _, outcome = self.driver.issue_intent(entry.decision, entry.effect)
        return outcome, None

    @transition(guard=lambda self: self.ghost.keys.count < 6)
    def rotate_key(self) -> tuple[dict[str, Any], Any]:
        return self.driver.rotate_key(), None

    @transition(number=st.integers(1, 4))
    def fault_revoke_key(self, number: int) -> tuple[dict[str, Any], Any]:
        return self.driver.revoke_key(f"key-{number:04d}"), None
