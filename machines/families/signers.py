"""Signer removal: signing removed and restored, keys rotated and revoked."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from helmmodel.kernel import KernelConfig
from machines.world import Stage, WorldMachine, intended, principals

# The ring of these machines may make five keys: rotating past its limit is a few steps away (the
# default limit, 9,999 keys, is out of any run's reach).
KEYS_MAX = 5


def malformed(record: Any, form: str) -> Any:
    """*record* with its signature type or signature malformed as *form* says: each form fails
    the signature's format, never only its cryptography."""
    signature = record.signature
    changes = {
        "type-none": {"signature_type": None},
        "type-other-scheme": {"signature_type": "rsa:" + record.signature_type[8:]},
        "signature-none": {"signature": None},
        "signature-bytes": {"signature": bytes.fromhex(signature)},
        # Both decode to the right bytes with bytes.fromhex: only the format check refuses them.
        "signature-uppercase": {"signature": signature.upper()},
        "signature-spaced": {"signature": " ".join(signature[i : i + 2] for i in range(0, 128, 2))},
    }[form]
    return attrs.evolve(record, **changes)


MALFORMED_FORMS = (
    "type-none",
    "type-other-scheme",
    "signature-none",
    "signature-bytes",
    "signature-uppercase",
    "signature-spaced",
)


class SignerRules(WorldMachine):
    """Signer removal: remove and restore signing, rotate, revoke."""

    config: ClassVar[KernelConfig] = KernelConfig(keys_max=KEYS_MAX)

    @transition(available=st.booleans())
    def fault_set_signing(self, available: bool) -> tuple[dict[str, Any], Any]:
        return self.driver.set_signing(available), None

    @transition(principal=principals, tool=st.sampled_from(["sum", "fail", "echo"]))
    def fault_intent_after_signer_removed(
        self, principal: str, tool: str
    ) -> tuple[dict[str, Any], Any]:
        """Decide a call, remove signing, ask for its intent, and restore signing.

        The call is begun and decided here, not drawn from those in flight: between a drawn
        decision and this rule a policy change or a freeze usually refuses the intent first, and
        those in flight are mostly denials, so the intent's own signer check went unreached.
        """
        call, outcome = self.driver.begin(principal, tool, {"x": 1}, {})
        if call is None:
            return outcome, None
        decision, decided = self.driver.decide(call)
        outcome = {**outcome, **decided}
        if decision is None:
            return outcome, None
        self.driver.set_signing(False)
        _, issued = self.driver.issue_intent(decision, call.effect)
        # Signing comes back (a decision was signed, so it was on): left off, it would fail
        # every later call closed, and fault_set_signing already models a lasting outage.
        self.driver.set_signing(True)
        return {**outcome, **issued}, None

    @transition(guard=lambda self: not self.ghost.keys.rotated_past_limit)
    def rotate_key(self) -> tuple[dict[str, Any], Any]:
        """Rotate, and once past the ring's limit: the checker expects that rotation refused
        (one refused rotation checks the limit; more would only crowd out other rules)."""
        return self.driver.rotate_key(), None

    @transition(number=st.integers(1, 4))
    def fault_revoke_key(self, number: int) -> tuple[dict[str, Any], Any]:
        return self.driver.revoke_key(f"key-{number:04d}"), None


class SignatureFaultRules(WorldMachine):
    """Presented artifacts whose signature type or signature is malformed (the forged-artifacts
    scenario's, kept out of SignerRules so the machines about outages keep their draws)."""

    @transition(
        entry=intended,
        record=st.sampled_from(["decision", "intent"]),
        form=st.sampled_from(MALFORMED_FORMS),
    )
    def fault_malformed_signature(
        self, entry: Stage, record: str, form: str
    ) -> tuple[dict[str, Any], Any]:
        """Present a decision (for an intent) or an intent (for execution) whose signature type
        or signature is malformed; the checker predicts the refusal with its own verification."""
        if record == "decision":
            decision = malformed(entry.decision, form)
            _, outcome = self.driver.issue_intent(decision, entry.effect, fault=True)
        else:
            intent = malformed(entry.intent, form)
            _, outcome = self.driver.execute(entry.decision, intent, entry.effect, fault=True)
        return outcome, None
