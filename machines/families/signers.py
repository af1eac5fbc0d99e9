"""Signer removal: signing removed and restored, keys rotated and revoked."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import WorldMachine


class SignerRules(WorldMachine):
    """Signer removal: remove and restore signing, rotate, revoke."""

    @transition(available=st.booleans())
    def fault_set_signing(self, available: bool) -> tuple[dict[str, Any], Any]:
        return self.driver.set_signing(available), None

    @transition(guard=lambda self: self.ghost.keys.count < 6)
    def rotate_key(self) -> tuple[dict[str, Any], Any]:
        return self.driver.rotate_key(), None

    @transition(number=st.integers(1, 4))
    def fault_revoke_key(self, number: int) -> tuple[dict[str, Any], Any]:
        return self.driver.revoke_key(f"key-{number:04d}"), None
