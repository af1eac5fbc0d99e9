"""The Guardian (spec section 5): *begin*, *decide*, *issue_intent*, and the freeze switch.

Each method reads its guards first, then makes its change. *begin* decides a tentative verdict
against the policy snapshot it takes; *decide* may change that verdict only in the two ways the
spec allows (frozen now, budget spent now), signs it, or fails closed.
"""

from __future__ import annotations

import functools
from typing import NoReturn

import attrs

from helmmodel.canonical import JSONValue
from helmmodel.errors import (
    FreezeRefused,
    IntentRefused,
    Refusal,
    SignatureInvalid,
    SignerUnavailable,
    UsageError,
)
from helmmodel.kernel.budgets import RequestBudgets
from helmmodel.kernel.clock import SimClock
from helmmodel.kernel.ids import IdCounters
from helmmodel.kernel.key_ring import KeyRing
from helmmodel.kernel.policy_graph import Outcome, PolicyGraph, PolicySnapshot
from helmmodel.kernel.proofgraph import NODE_ATTESTATION, NODE_INTENT, ProofGraph, ReceiptChains
from helmmodel.kernel.records import (
    ACTION_EXECUTE_TOOL,
    ALLOW,
    DENY,
    ESCALATE,
    Decision,
    Effect,
    Intent,
    Receipt,
    Request,
    decision_hash,
    make_signed,
    reason_hash,
)
from helmmodel.kernel.release_receipt import EVALUATE_SOURCE, wire
from helmmodel.kernel.semantics import (
    ALREADY_FROZEN,
    FREEZE,
    NOT_FROZEN,
    SEMANTICS,
    UNFREEZE,
    FreezeReceipt,
    Semantics,
)
from helmmodel.kernel.tools import ERR_TOOL_NOT_FOUND, ToolTable

# Reason codes of a decision (spec section 5).
SYSTEM_FROZEN = "SYSTEM_FROZEN"
BUDGET_ERROR = "BUDGET_ERROR"
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
NO_POLICY_DEFINED = "NO_POLICY_DEFINED"
PRG_EVALUATION_ERROR = "PRG_EVALUATION_ERROR"
MISSING_REQUIREMENT = "MISSING_REQUIREMENT"
APPROVAL_REQUIRED = "APPROVAL_REQUIRED"

# Refusal codes of issue_intent, in the order they are checked.
VERDICT_NOT_ALLOW = "VERDICT_NOT_ALLOW"
DECISION_SIGNATURE_INVALID = "DECISION_SIGNATURE_INVALID"
POLICY_EPOCH_CHANGED = "POLICY_EPOCH_CHANGED"
DIGEST_MISMATCH = "DIGEST_MISMATCH"
SIGNER_UNAVAILABLE = "SIGNER_UNAVAILABLE"
INTENT_REFUSAL_CODES = (
    SYSTEM_FROZEN,
    VERDICT_NOT_ALLOW,
    DECISION_SIGNATURE_INVALID,
    POLICY_EPOCH_CHANGED,
    DIGEST_MISMATCH,
    SIGNER_UNAVAILABLE,
)

DEFAULT_TTL_MS = 5 * 60 * 1000


def decision_receipt_id(decision_id: str) -> str:
    """The id of a decision's own receipt (the release's); its dispatch's is ``rcpt-<id>``."""
    return f"rcpt-{decision_id}-decision"


# Looked up once: reading a member off an Enum class is slow, and every call reads them.
_ERROR, _FALSE = Outcome.ERROR, Outcome.FALSE

# What the policy said at begin, recorded on the call for the checker (snapshot isolation).
POLICY_NOT_EVALUATED = "not_evaluated"
POLICY_NO_RULE = "no_rule"

# How a call's decide phase ended.
ENDED_DECIDED = "decided"
ENDED_FAIL_CLOSED = "fail_closed"


@attrs.define(kw_only=True)
class PendingCall:
    """The call's own record: made by *begin*, completed by *decide*."""

    call_id: str
    request: Request
    effect: Effect
    snapshot: PolicySnapshot
    policy_outcome: str
    verdict: str
    reason_code: str
    reason: str
    requirement_set_hash: str
    ended: str = ""
    decision: Decision | None = None


@attrs.frozen(kw_only=True)
class Settlement:
    """The verdict *decide* will sign, and whether it charged the call's budget."""

    verdict: str
    code: str
    reason: str
    set_hash: str
    charged: bool


class Guardian:
    """Decides, signs and authorizes governed calls."""

    def __init__(
        self,
        *,
        tools: ToolTable,
        policy: PolicyGraph,
        keys: KeyRing,
        budgets: RequestBudgets,
        clock: SimClock,
        graph: ProofGraph,
        ids: IdCounters,
        ttl_ms: int = DEFAULT_TTL_MS,
        chains: ReceiptChains | None = None,
        semantics: Semantics = SEMANTICS["chaos-page"],
    ) -> None:
        self.tools = tools
        self.policy = policy
        self.keys = keys
        self.budgets = budgets
        self.clock = clock
        self.graph = graph
        self.ids = ids
        self.ttl_ms = ttl_ms
        # The receipt chains the release's decision receipts go into (the executor's own).
        self.chains = chains if chains is not None else ReceiptChains()
        self.semantics = semantics
        self.frozen = False
        self.freeze_receipts: list[FreezeReceipt] = []
        self.calls: dict[str, PendingCall] = {}
        # Which call made each decision. ``decision.call_id`` is not a signed field, so a
        # presented decision is attributed by its (signed) id, never by the call id it claims.
        self.decision_calls: dict[str, str] = {}

    # --- freeze -------------------------------------------------------------------------------

    def set_frozen(self, frozen: bool, principal: str = "operator") -> FreezeReceipt | None:
        """Freeze (an operator's emergency stop) or unfreeze the kernel.

        Under the chaos page an explicit state, set again harmlessly; under the release a
        transition, receipted, and refused when the kernel is already in the state asked for.
        """
        if not self.semantics.freeze_receipts:
            self.frozen = bool(frozen)
            return None
        if frozen == self.frozen:
            if frozen:
                raise FreezeRefused(ALREADY_FROZEN, "the kernel is already frozen")
            raise FreezeRefused(NOT_FROZEN, "the kernel is not frozen")
        self.frozen = bool(frozen)
        receipt = FreezeReceipt(
            action=FREEZE if frozen else UNFREEZE, principal=principal, timestamp=self.clock.now_ms
        )
        self.freeze_receipts.append(receipt)
        return receipt

    # --- begin --------------------------------------------------------------------------------

    def evaluate(
        self, request: Request, effect: Effect, snapshot: PolicySnapshot
    ) -> tuple[str, str, str, str, str]:
        """Return ``(policy outcome, verdict, reason code, reason, requirement set hash)``."""
        budget_id = request.budget_id
        if self.frozen:
            return POLICY_NOT_EVALUATED, DENY, SYSTEM_FROZEN, "the kernel is frozen", ""
        firewall = self.tools.check(effect.tool, effect.args, effect.args_jcs)
        if firewall.code is not None:
            code = firewall.code
            if code == ERR_TOOL_NOT_FOUND:
                code = self.semantics.unknown_tool_code
            return POLICY_NOT_EVALUATED, DENY, code, firewall.reason, ""
        if budget_id is not None:
            if self.budgets.get(budget_id) is None:
                return POLICY_NOT_EVALUATED, DENY, BUDGET_ERROR, f"no budget {budget_id!r}", ""
            if not self.budgets.has_room(budget_id):
                reason = f"budget {budget_id!r} has nothing left"
                return POLICY_NOT_EVALUATED, DENY, BUDGET_EXCEEDED, reason, ""
        rule = snapshot.rules.get(request.tool)
        if rule is None:
            reason = f"no rule for tool {request.tool!r}"
            return POLICY_NO_RULE, DENY, NO_POLICY_DEFINED, reason, ""
        outcome, ids = rule.evaluate(request.evaluation_input())
        if outcome is _ERROR:
            reason = f"requirement {ids[0]!r} could not be evaluated"
            return outcome.value, DENY, PRG_EVALUATION_ERROR, reason, ""
        if outcome is _FALSE:
            reason = "blocked by requirements: " + ", ".join(ids)
            return outcome.value, DENY, MISSING_REQUIREMENT, reason, ""
        tool = self.tools.get(request.tool)
        if tool is not None and tool.approval:
            reason = f"tool {request.tool!r} needs approval"
            return outcome.value, ESCALATE, APPROVAL_REQUIRED, reason, ""
        return outcome.value, ALLOW, "", "policy satisfied", rule.hash

    def begin(self, request: Request) -> PendingCall:
        """Open a call: append its INTENT node and judge it against a policy snapshot."""
        if not isinstance(request, Request):
            raise UsageError(f"begin takes a Request, not {type(request).__name__}")
        call_id = self.ids.next("call")
        effect = Effect(self.ids.next("eff"), request.tool, request.args)
        self.graph.append(
            NODE_INTENT,
            request.principal,
            {"call_id": call_id, "tool": request.tool, "effect_digest": effect.digest},
        )
        snapshot = self.policy.snapshot()
        outcome, verdict, code, reason, set_hash = self.evaluate(request, effect, snapshot)
        call = PendingCall(
            call_id=call_id,
            request=request,
            effect=effect,
            snapshot=snapshot,
            policy_outcome=outcome,
            verdict=verdict,
            reason_code=code,
            reason=reason,
            requirement_set_hash=set_hash,
        )
        self.calls[call_id] = call
        return call

    # --- decide -------------------------------------------------------------------------------

    def decide(self, call: PendingCall) -> Decision:
        """Turn the tentative verdict into a signed decision, or fail closed.

        Three steps, in one critical section of the facade: settle the verdict (charging the
        budget), sign it, record it. They are separate methods so that the concurrency mutants
        can split them across critical sections, as a kernel that signs outside its lock would.
        """
        settlement = self.settle(call)
        decision = self.sign_decision(call, settlement)
        self.record_decision(call, decision)
        return decision

    def settle(self, call: PendingCall) -> Settlement:
        """The verdict *decide* signs: *begin*'s, unless frozen now or the budget is spent now."""
        if self.calls.get(call.call_id) is not call or call.ended:
            raise UsageError(
                f"call {call.call_id!r} cannot be decided: it was not begun here or is decided"
            )
        verdict, code, reason, set_hash = (
            call.verdict,
            call.reason_code,
            call.reason,
            call.requirement_set_hash,
        )
        budget_id = call.request.budget_id
        charged = False
        if verdict == ALLOW and self.frozen:
            verdict, code, reason, set_hash = DENY, SYSTEM_FROZEN, "the kernel is frozen", ""
        if verdict == ALLOW and budget_id is not None:
            charged = self.charge(budget_id, call.call_id)
            if not charged:
                reason = f"budget {budget_id!r} has nothing left"
                verdict, code, set_hash = DENY, BUDGET_EXCEEDED, ""
        return Settlement(
            verdict=verdict, code=code, reason=reason, set_hash=set_hash, charged=charged
        )

    def charge(self, budget_id: str, call_id: str) -> bool:
        """Charge one request of *budget_id* to *call_id*, if it has room at this moment."""
        return self.budgets.consume(budget_id, call_id)

    def sign_decision(self, call: PendingCall, settlement: Settlement) -> Decision:
        """Sign the settled verdict, or fail closed (releasing the charge) when nothing can sign."""
        budget_id = call.request.budget_id
        try:
            signature_type = self.keys.signature_type()
        except SignerUnavailable:
            self.fail_closed(call, budget_id if settlement.charged else None)
            raise
        return make_signed(
            Decision,
            functools.partial(self.keys.sign, signature_type),
            id=self.ids.next("dec"),
            call_id=call.call_id,
            verdict=settlement.verdict,
            reason_code=settlement.code,
            reason=settlement.reason,
            reason_hash=reason_hash(settlement.reason),
            subject_id=call.request.principal,
            action=ACTION_EXECUTE_TOOL,
            resource=call.request.tool,
            effect_digest=call.effect.digest,
            policy_version=call.snapshot.version,
            policy_epoch=call.snapshot.epoch,
            requirement_set_hash=settlement.set_hash,
            budget_id=budget_id or "",
            timestamp=self.clock.now_ms,
            signature_type=signature_type,
        )

    def record_decision(self, call: PendingCall, decision: Decision) -> None:
        """Attest *decision* in the ProofGraph and end its call."""
        self.graph.append(
            NODE_ATTESTATION,
            call.request.principal,
            {
                "call_id": call.call_id,
                "decision_id": decision.id,
                "verdict": decision.verdict,
                "reason_code": decision.reason_code,
            },
            decision.signature,
        )
        call.decision = decision
        call.ended = ENDED_DECIDED
        self.decision_calls[decision.id] = call.call_id
        if self.semantics.decision_receipts:
            receipt = self.sign_decision_receipt(call, decision)
            self.chains.append(receipt, self.decision_receipt_wire(call, decision, receipt))

    def decision_receipt_wire(
        self, call: PendingCall, decision: Decision, receipt: Receipt
    ) -> dict[str, JSONValue]:
        """The release's envelope of a decision's receipt: what its evaluate route stores."""
        return wire(
            receipt,
            executor_id=call.request.principal,
            keys=self.keys,
            metadata={
                "source": EVALUATE_SOURCE,
                "action": call.request.tool,
                "resource": call.request.tool,
                # The release's guardian gives an ALLOW no reason, and its metadata says "".
                "reason": decision.reason if decision.verdict != ALLOW else "",
                "args_hash": receipt.args_hash,
            },
            decision_hash=receipt.output_hash,
            blob_hash=receipt.args_hash,
        )

    def sign_decision_receipt(self, call: PendingCall, decision: Decision) -> Receipt:
        """The release's receipt of a decision, whatever its verdict, in its session's chain."""
        request = call.request
        # The release chains a call with no session under its principal (the agent id).
        session_id = request.session_id or request.principal
        lamport, prev_hash = self.chains.next_link(session_id)
        signature_type = decision.signature_type  # the key that just signed the decision
        digest = decision_hash(decision)
        return make_signed(
            Receipt,
            functools.partial(self.keys.sign, signature_type),
            receipt_id=decision_receipt_id(decision.id),
            decision_id=decision.id,
            effect_id=request.tool,  # the release names the action here, not an effect
            status=decision.verdict,
            output_hash=digest,
            prev_hash=prev_hash,
            lamport_clock=lamport,
            args_hash=call.effect.args_hash,
            verdict=decision.verdict,
            reason_code=decision.reason_code,
            policy_hash=decision.policy_version,
            session_id=session_id,
            timestamp=decision.timestamp,
            signature_type=signature_type,
        )

    def fail_closed(self, call: PendingCall, charged_budget_id: str | None) -> None:
        """End *call* with no decision: release its consumption and attest the failure unsigned."""
        if charged_budget_id is not None:
            self.budgets.release(charged_budget_id, call.call_id)
        self.graph.append(
            NODE_ATTESTATION,
            call.request.principal,
            {"call_id": call.call_id, "outcome": "fail_closed", "reason_code": SIGNER_UNAVAILABLE},
        )
        call.ended = ENDED_FAIL_CLOSED

    # --- issue_intent -------------------------------------------------------------------------

    def owner_of(self, decision: Decision | None) -> PendingCall | None:
        """The call that made a presented decision (by its signed id), or None if none did."""
        if decision is None or not isinstance(decision.id, str):
            return None
        call_id = self.decision_calls.get(decision.id)
        return self.calls[call_id] if call_id is not None else None

    def refuse(
        self, error: type[Refusal], stage: str, decision: Decision | None, code: str, msg: str
    ) -> NoReturn:
        """Attest a refusal (unsigned ATTESTATION naming its call or null), then raise it."""
        self.graph.append(
            NODE_ATTESTATION,
            decision.subject_id if decision is not None else "",
            {
                "call_id": owner.call_id if (owner := self.owner_of(decision)) else None,
                "stage": stage,
                "code": code,
                "decision_id": decision.id if decision is not None else None,
            },
        )
        raise error(code, msg)

    def issue_intent(self, decision: Decision, effect: Effect) -> Intent:
        """Authorize *effect* under *decision*, or refuse in the spec's order."""
        code, message = self.intent_refusal(decision, effect)
        if code:
            self.refuse(IntentRefused, "intent", decision, code, message)
        signature_type = self.keys.signature_type()
        issued_at = self.clock.now_ms
        return make_signed(
            Intent,
            functools.partial(self.keys.sign, signature_type),
            id="intent-" + decision.id,
            decision_id=decision.id,
            effect_digest_hash=decision.effect_digest,
            issued_at=issued_at,
            expires_at=issued_at + self.ttl_ms,
            allowed_tool=effect.tool,
            signer="kernel",
            signature_type=signature_type,
        )

    def intent_refusal(self, decision: Decision, effect: Effect) -> tuple[str, str]:
        """The first refusal code that applies to issuing an intent, or ``("", "")``."""
        if self.frozen and self.semantics.freeze_stops_intents_and_executions:
            return SYSTEM_FROZEN, "the kernel is frozen"
        if decision.verdict != ALLOW:
            return VERDICT_NOT_ALLOW, f"decision {decision.id} is {decision.verdict}, not ALLOW"
        try:
            self.keys.verify(decision.signature_type, decision.preimage(), decision.signature)
        except SignatureInvalid as exc:
            return DECISION_SIGNATURE_INVALID, f"decision {decision.id}: {exc}"
        if (
            decision.policy_epoch != self.policy.epoch
            or decision.policy_version != self.policy.version
        ):
            return POLICY_EPOCH_CHANGED, (
                f"decision {decision.id} was made at policy epoch {decision.policy_epoch}; "
                f"the policy is now at epoch {self.policy.epoch}"
            )
        if effect.digest != decision.effect_digest:
            return DIGEST_MISMATCH, "the effect is not the one the decision covers"
        if not self.keys.can_sign():
            return SIGNER_UNAVAILABLE, "no key can sign the intent"
        return "", ""
