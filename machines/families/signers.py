"""Signer removal: signing removed and restored, keys rotated and revoked."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import consumes

from helmmodel.harness.stateful import transition
from helmmodel.kernel import KernelConfig
from machines.world import Stage, WorldMachine, decided, intended

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

    @transition(entry=consumes(decided))
    def fault_intent_after_signer_removed(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Signing removed between a call's decision and its intent, then the intent asked for.

        Drawn apart, the two steps rarely meet: between them a policy change or a freeze
        usually refuses the intent first, so the intent's own signer check went unreached.
        """
        self.driver.set_signing(False)
        _, outcome = self.driver.issue_intent(entry.decision, entry.effect)
        return outcome, None

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
