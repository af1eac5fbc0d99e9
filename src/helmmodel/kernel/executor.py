"""The SafeExecutor (spec section 6): checks in order on its own clock, then dispatches once.

Idempotency comes *after* every check: a retry of an executed decision must still pass them all
(a frozen kernel, a revoked key or an expired intent refuses a retry too), and only then returns
the identical earlier receipt without dispatching.
"""

from __future__ import annotations

import functools

import attrs

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
    PendingCall,
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
from helmmodel.kernel.release_receipt import wire
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


@attrs.frozen(kw_only=True)
class Dispatched:
    """An effect that ran, and the chain link its receipt will carry."""

    decision: Decision
    effect: Effect
    call: PendingCall | None
    output: JSONValue
    status: str
    output_hash: str
    session_id: str
    lamport: int
    prev_hash: str


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
        if self.guardian.frozen and self.guardian.semantics.freeze_stops_intents_and_executions:
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
        """Dispatch *effect* once under *decision* and *intent*; refuse in the spec's order.

        Three steps, in one critical section of the facade: dispatch (after every check), sign
        the receipt, record it. They are separate methods so that the concurrency mutants can
        split them across critical sections, as a kernel that signs outside its lock would.
        """
        dispatched = self.dispatch(decision, intent, effect)
        if isinstance(dispatched, Receipt):
            return dispatched
        receipt = self.sign_receipt(dispatched)
        self.record(dispatched, receipt)
        return receipt

    def dispatch(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Dispatched | Receipt:
        """Check, then run the tool once; a retry of an executed decision gets its receipt."""
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
        return Dispatched(
            decision=decision,
            effect=effect,
            call=call,
            output=output,
            status=status,
            output_hash=output_hash,
            session_id=session_id,
            lamport=lamport,
            prev_hash=prev_hash,
        )

    def sign_receipt(self, dispatched: Dispatched) -> Receipt:
        """The receipt of a dispatched effect, linked to its session's chain."""
        decision, effect = dispatched.decision, dispatched.effect
        signature_type = self.keys.signature_type()
        return make_signed(
            Receipt,
            functools.partial(self.keys.sign, signature_type),
            receipt_id="rcpt-" + decision.id,
            decision_id=decision.id,
            effect_id=effect.effect_id,
            status=dispatched.status,
            output_hash=dispatched.output_hash,
            prev_hash=dispatched.prev_hash,
            lamport_clock=dispatched.lamport,
            args_hash=effect.args_hash,
            verdict=decision.verdict,
            reason_code=decision.reason_code,
            policy_hash=decision.policy_version,
            session_id=dispatched.session_id,
            timestamp=self.clock.now_ms,
            signature_type=signature_type,
        )

    def record(self, dispatched: Dispatched, receipt: Receipt) -> None:
        """Chain *receipt*, attest its effect, and remember it for retries."""
        decision, call = dispatched.decision, dispatched.call
        if self.guardian.semantics.decision_receipts:
            # The release chains by its envelope's hash (spec 12.4): the receipt's executor is
            # the decision's principal; a dispatch carries no evaluate metadata.
            self.chains.append(
                receipt, wire(receipt, executor_id=decision.subject_id, keys=self.keys)
            )
        else:
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
        self.outputs[receipt.receipt_id] = dispatched.output
        self._executed_digest.add(f"{decision.id}|{receipt.signature}".encode())

    def digest_material(self) -> bytes:
        return self._executed_digest.value()
