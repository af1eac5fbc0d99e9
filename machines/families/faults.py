"""Presented faults: artifacts with a signed field changed, other effects, forged, mismatched and
missing artifacts."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st

from helmmodel.checker.encoding import DECISION_SIGNED, INTENT_SIGNED, RECEIPT_SIGNED
from helmmodel.checker.refusals import arguments_refused
from helmmodel.harness.stateful import transition
from helmmodel.kernel import KernelConfig
from helmmodel.kernel.records import Effect, Intent, Request, make_signed
from machines.world import (
    SAFE_MAX,
    Stage,
    WorldMachine,
    contexts,
    decided,
    executed,
    intended,
    principals,
)


def changed(value: Any) -> Any:
    """A different value of the same type, for a tampered field."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return str(value) + "x"


class FaultRules(WorldMachine):
    """Artifacts with a signed field changed, other effects, forged and missing artifacts, each
    presented to the kernel as a fault: the driver records the refusal code the checker's own
    model predicts."""

    @transition(entry=decided, field=st.sampled_from(DECISION_SIGNED))
    def fault_tamper_decision_for_intent(
        self, entry: Stage, field: str
    ) -> tuple[dict[str, Any], Any]:
        decision = attrs.evolve(entry.decision, **{field: changed(getattr(entry.decision, field))})
        _, outcome = self.driver.issue_intent(decision, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, field=st.sampled_from(DECISION_SIGNED))
    def fault_tamper_decision_for_execution(
        self, entry: Stage, field: str
    ) -> tuple[dict[str, Any], Any]:
        decision = attrs.evolve(entry.decision, **{field: changed(getattr(entry.decision, field))})
        _, outcome = self.driver.execute(decision, entry.intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, field=st.sampled_from(INTENT_SIGNED))
    def fault_tamper_intent(self, entry: Stage, field: str) -> tuple[dict[str, Any], Any]:
        intent = attrs.evolve(entry.intent, **{field: changed(getattr(entry.intent, field))})
        _, outcome = self.driver.execute(entry.decision, intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=executed, field=st.sampled_from(RECEIPT_SIGNED))
    def fault_tamper_receipt(self, entry: Stage, field: str) -> tuple[dict[str, Any], Any]:
        receipt = self.kernel.executor.executed.get(entry.decision.id)
        if receipt is None:
            return {"receipt": "none"}, None
        tampered = attrs.evolve(receipt, **{field: changed(getattr(receipt, field))})
        return self.driver.verify_receipt(tampered), None

    @transition(entry=intended, x=st.integers(-1, 12), stage=st.sampled_from(["intent", "execute"]))
    def fault_other_effect(self, entry: Stage, x: int, stage: str) -> tuple[dict[str, Any], Any]:
        other = Effect("eff-other", entry.effect.tool, {"x": x})
        if stage == "intent":
            _, outcome = self.driver.issue_intent(entry.decision, other, fault=True)
        else:
            _, outcome = self.driver.execute(entry.decision, entry.intent, other, fault=True)
        return outcome, None

    @transition(entry=decided)
    def fault_forge_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Forge an intent for any decision (a DENY included) with the live signing key."""
        signer = self.ghost.keys.signer() or "key-0001"
        private = self.ghost.keys.private_key(signer)
        # Issued now, unless its expiry would pass the largest safe time (the executor's clock
        # may stand at it): a record with an unsafe integer cannot be signed at all.
        issued_at = min(self.ghost.executor_ms, SAFE_MAX - self.ghost.ttl_ms)
        intent = make_signed(
            Intent,
            lambda message: private.sign(message).hex(),
            id="intent-" + entry.decision.id,
            decision_id=entry.decision.id,
            effect_digest_hash=entry.decision.effect_digest,
            issued_at=issued_at,
            expires_at=issued_at + self.ghost.ttl_ms,
            allowed_tool=entry.effect.tool,
            signer="kernel",
            signature_type="ed25519:" + signer,
        )
        _, outcome = self.driver.execute(entry.decision, intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, other=intended)
    def fault_intent_of_another_decision(
        self, entry: Stage, other: Stage
    ) -> tuple[dict[str, Any], Any]:
        _, outcome = self.driver.execute(entry.decision, other.intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, missing=st.sampled_from(["decision", "intent", "effect"]))
    def fault_missing_artifact(self, entry: Stage, missing: str) -> tuple[dict[str, Any], Any]:
        decision = None if missing == "decision" else entry.decision
        intent = None if missing == "intent" else entry.intent
        effect = None if missing == "effect" else entry.effect
        _, outcome = self.driver.execute(decision, intent, effect, fault=True)
        return outcome, None

    @transition(
        principal=principals | st.sampled_from(["", None, 7]),
        args=st.sampled_from([{"x": 1}, [1], "x=1", None]),
        context=contexts | st.sampled_from([["s0"], "s0", None]),
    )
    def fault_malformed_request(
        self, principal: Any, args: Any, context: Any
    ) -> tuple[dict[str, Any], Any]:
        """A request whose principal is not a non-empty string, or whose args or context is
        not an object, is refused before any phase sees it."""
        values = {"principal": principal, "tool": "echo", "args": args, "context": context}
        if not arguments_refused("request", values):
            return {"arguments": "request", "presented": False}, None
        return self.driver.present_arguments(
            "request", values, lambda: self.kernel.begin(Request(principal, "echo", args, context))
        ), None

    @transition(
        token=st.sampled_from(["short", "t" * 257, None, "a-token-long-enough"]),
        principal=st.sampled_from(["", None, "mallory"]),
    )
    def fault_bad_token(self, token: Any, principal: Any) -> tuple[dict[str, Any], Any]:
        """A bearer token of fewer than 16 or more than 256 characters, or one for an empty
        principal, is refused (the tokens the HTTP rules present stay the only ones)."""
        values = {"token": token, "principal": principal}
        if not arguments_refused("add_token", values):
            return {"arguments": "add_token", "presented": False}, None
        return self.driver.present_arguments(
            "add_token", values, lambda: self.kernel.add_token(token, principal)
        ), None

    @transition(
        seed=st.sampled_from([b"", "helmmodel", b"seed"]),
        ttl_ms=st.sampled_from([0, -1, "60000", 60_000]),
    )
    def fault_bad_config(self, seed: Any, ttl_ms: Any) -> tuple[dict[str, Any], Any]:
        """A kernel configuration with an empty or non-bytes seed or a ttl that is not a
        positive integer is refused before any kernel is made from it."""
        values = {"seed": seed, "ttl_ms": ttl_ms}
        if not arguments_refused("config", values):
            return {"arguments": "config", "presented": False}, None
        return self.driver.present_arguments(
            "config", values, lambda: KernelConfig(seed=seed, ttl_ms=ttl_ms)
        ), None
