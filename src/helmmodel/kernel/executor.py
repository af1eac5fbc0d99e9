"""The SafeExecutor (spec section 6): checks in order on its own clock, then dispatches once.

Idempotency comes *after* every check: a retry of an executed decision must still pass them all
(a frozen kernel, a revoked key or an expired intent refuses a retry too), and only then returns
the identical earlier receipt without dispatching.
"""

from __future__ import annotations

import functools

from helmmodel.canonical import JSONValue, prefixed_hash
from helmmodel.errors import ExecutionRefused, SignatureInvalid
from helmmodel.kernel.clock import SimClock
from helmmodel.kernel.digest import SetDigest
from helmmodel.kernel.guardian import (
    DECISION_SIGNATURE_INVALID,
    DIGEST_MISMATCH,
    SIGNER_UNAVAILABLE,
    SYSTEM_FROZEN,
    VERDICT_NOT_ALLOW,
    Guardian,
)
from helmmodel.kernel.key_ring import KeyRing
from helmmodel.kernel.proofgraph import NODE_EFFECT, ProofGraph, ReceiptChains
from helmmodel.kernel.records import (
    ALLOW,
    STATUS_SUCCESS,
    STATUS_TOOL_ERROR,
    Decision,
    Effect,
    Intent,
    Receipt,
    make_signed,
)
from helmmodel.kernel.tools import ToolError, ToolTable

MISSING_ARTIFACT = "MISSING_ARTIFACT"
INTENT_MISMATCH = "INTENT_MISMATCH"
INTENT_SIGNATURE_INVALID = "INTENT_SIGNATURE_INVALID"
INTENT_NOT_YET_VALID = "INTENT_NOT_YET_VALID"
INTENT_EXPIRED = "INTENT_EXPIRED"
EXECUTION_REFUSAL_CODES = (
    SYSTEM_FROZEN,
    MISSING_ARTIFACT,
    INTENT_MISMATCH,
    DIGEST_MISMATCH,
    DECISION_SIGNATURE_INVALID,
    INTENT_SIGNATURE_INVALID,
    VERDICT_NOT_ALLOW,
    INTENT_NOT_YET_VALID,
    INTENT_EXPIRED,
    SIGNER_UNAVAILABLE,
)


class SafeExecutor:
    """Runs an effect only with a valid decision and intent, at most once per decision."""

    def __init__(
        self,
        *,
        guardian: Guardian,
        tools: ToolTable,
        keys: KeyRing,
        chains: ReceiptChains,
        graph: ProofGraph,
        clock: SimClock,
    ) -> None:
        self.guardian = guardian
        self.tools = tools
        self.keys = keys
        self.chains = chains
        self.graph = graph
        self.clock = clock
        self.executed: dict[str, Receipt] = {}  # decision id -> its one receipt
        self.outputs: dict[str, JSONValue] = {}  # receipt id -> tool output (None on tool error)
        self._executed_digest = SetDigest()

    def refusal(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> tuple[str, str]:
        """The first refusal code that applies, in the spec's order, or ``("", "")``."""
        if self.guardian.frozen:
            return SYSTEM_FROZEN, "the kernel is frozen"
        if decision is None or intent is None or effect is None:
            return MISSING_ARTIFACT, "a decision, an intent and an effect are all required"
        if intent.decision_id != decision.id:
            return (
                INTENT_MISMATCH,
                f"intent {intent.id} is for {intent.decision_id}, not {decision.id}",
            )
        if effect.digest != decision.effect_digest or effect.digest != intent.effect_digest_hash:
            return DIGEST_MISMATCH, "the effect is not the one the decision and intent cover"
        try:
            self.keys.verify(decision.signature_type, decision.preimage(), decision.signature)
        except SignatureInvalid as exc:
            return DECISION_SIGNATURE_INVALID, f"decision {decision.id}: {exc}"
        try:
            self.keys.verify(intent.signature_type, intent.preimage(), intent.signature)
        except SignatureInvalid as exc:
            return INTENT_SIGNATURE_INVALID, f"intent {intent.id}: {exc}"
        if decision.verdict != ALLOW:
            return VERDICT_NOT_ALLOW, f"decision {decision.id} is {decision.verdict}, not ALLOW"
        now_ms = self.clock.now_ms
        if now_ms < intent.issued_at:
            return INTENT_NOT_YET_VALID, (
                f"intent expired or not yet valid: executor clock {now_ms} ms is before "
                f"issued_at {intent.issued_at} ms"
            )
        if now_ms >= intent.expires_at:
            return INTENT_EXPIRED, (
                f"intent expired or not yet valid: executor clock {now_ms} ms is at or after "
                f"expires_at {intent.expires_at} ms"
            )
        if not self.keys.can_sign():
            return SIGNER_UNAVAILABLE, "no key can sign the receipt, so nothing is dispatched"
        return "", ""

    def execute(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Receipt:
        """Dispatch *effect* once under *decision* and *intent*; refuse in the spec's order."""
        code, message = self.refusal(decision, intent, effect)
        if code:
            self.guardian.refuse(ExecutionRefused, "execution", decision, code, message)
        assert decision is not None and intent is not None and effect is not None
        earlier = self.executed.get(decision.id)
        if earlier is not None:
            return earlier
        try:
            output, output_bytes = self.tools.dispatch(effect.effect_id, effect.tool, effect.args)
            status, output_hash = STATUS_SUCCESS, prefixed_hash(output_bytes)
        except ToolError:
            output, status, output_hash = None, STATUS_TOOL_ERROR, ""
        call = self.guardian.owner_of(decision)
        session_id = "standalone:" + decision.id
        if call is not None and call.request.session_id is not None:
            session_id = call.request.session_id
        lamport, prev_hash = self.chains.next_link(session_id)
        signature_type = self.keys.signature_type()
        receipt = make_signed(
            Receipt,
            functools.partial(self.keys.sign, signature_type),
            receipt_id="rcpt-" + decision.id,
            decision_id=decision.id,
            effect_id=effect.effect_id,
            status=status,
            output_hash=output_hash,
            prev_hash=prev_hash,
            lamport_clock=lamport,
            args_hash=effect.args_hash,
            verdict=decision.verdict,
            reason_code=decision.reason_code,
            policy_hash=decision.policy_version,
            session_id=session_id,
            timestamp=self.clock.now_ms,
            signature_type=signature_type,
        )
        self.chains.append(receipt)
        self.graph.append(
            NODE_EFFECT,
            decision.subject_id,
            {
                "call_id": call.call_id if call is not None else None,
                "decision_id": decision.id,
                "receipt_id": receipt.receipt_id,
            },
            receipt.signature,
        )
        self.executed[decision.id] = receipt
        self.outputs[receipt.receipt_id] = output
        self._executed_digest.add(f"{decision.id}|{receipt.signature}".encode())
        return receipt

    def digest_material(self) -> bytes:
        return self._executed_digest.value()
