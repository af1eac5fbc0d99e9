"""The SafeExecutor (spec section 6): its refusals in order, receipts, chains and idempotency."""

from __future__ import annotations

import hashlib
import json

import attrs
import pytest

from helmmodel.errors import ExecutionRefused
from helmmodel.kernel import (
    ALLOW,
    Decision,
    Effect,
    Intent,
    Kernel,
    Node,
    PendingCall,
    Receipt,
    Request,
)
from helmmodel.kernel.proofgraph import receipt_hash
from tests.conftest import echo, make_kernel
from tests.spec import SPEC_SIGNED_FIELDS

SAFE_INTEGER_MAX = 2**53 - 1


def jcs(value: object) -> bytes:
    """Canonical JSON for ASCII keys and safe integers (spec section 1's fast path)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sha256_prefixed(data: bytes) -> str:
    """``sha256:`` + hex, computed here rather than by the kernel."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def flip(signature: str) -> str:
    """*signature* with its last hex digit changed."""
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


@attrs.frozen
class Authorized:
    """A begun, decided call with its intent: everything execute needs."""

    pending: PendingCall
    decision: Decision
    intent: Intent

    @property
    def effect(self) -> Effect:
        return self.pending.effect


def authorize(kernel: Kernel, request: Request | None = None) -> Authorized:
    """Begin, decide and issue an intent for *request* (an echo by default)."""
    pending = kernel.begin(request if request is not None else echo())
    decision = kernel.decide(pending)
    assert ALLOW == decision.verdict
    return Authorized(pending, decision, kernel.issue_intent(decision, pending.effect))


def forge_intent(kernel: Kernel, decision: Decision) -> Intent:
    """An intent for *decision*, built by hand and validly signed with the live key."""
    now = kernel.guardian_clock.now_ms
    intent = Intent(
        id="intent-" + decision.id,
        decision_id=decision.id,
        effect_digest_hash=decision.effect_digest,
        issued_at=now,
        expires_at=now + kernel.config.ttl_ms,
        allowed_tool=decision.resource,
        signer="kernel",
        signature_type=kernel.keys.signature_type(),
    )
    return attrs.evolve(
        intent, signature=kernel.keys.sign(intent.signature_type, intent.preimage())
    )


def refuse(
    kernel: Kernel,
    decision: Decision | None,
    intent: Intent | None,
    effect: Effect | None,
    code: str,
) -> tuple[ExecutionRefused, Node]:
    """Assert execute refuses with *code*, dispatches nothing and appends one ATTESTATION."""
    dispatches = list(kernel.tools.dispatches)
    before = len(kernel.graph.order)
    with pytest.raises(ExecutionRefused) as refused:
        kernel.execute(decision, intent, effect)
    assert code == refused.value.code
    assert dispatches == kernel.tools.dispatches
    appended = [kernel.graph.nodes[key] for key in kernel.graph.order[before:]]
    assert ["ATTESTATION"] == [node.kind for node in appended]
    assert code == appended[0].payload["code"]
    assert "execution" == appended[0].payload["stage"]
    assert "" == appended[0].sig
    return refused.value, appended[0]


# --- a successful execution -----------------------------------------------------------------------


def test_receipt_fields_follow_the_data_model() -> None:
    """A first standalone receipt carries the spec's fields, on the executor's clock."""
    kernel = make_kernel(guardian_start_ms=1_000, executor_start_ms=1_500)
    call = authorize(kernel, echo(5))
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    assert "rcpt-dec-000001" == receipt.receipt_id
    assert call.decision.id == receipt.decision_id
    assert call.effect.effect_id == receipt.effect_id
    assert "SUCCESS" == receipt.status
    assert sha256_prefixed(jcs({"x": 5})) == receipt.output_hash
    assert "" == receipt.prev_hash
    assert 1 == receipt.lamport_clock
    assert sha256_prefixed(jcs({"x": 5})) == receipt.args_hash
    assert (ALLOW, "") == (receipt.verdict, receipt.reason_code)
    assert call.decision.policy_version == receipt.policy_hash
    assert "standalone:" + call.decision.id == receipt.session_id
    assert 1_500 == receipt.timestamp
    assert "receipt.v5" == receipt.signature_version
    kernel.verify_receipt(receipt)
    assert [(call.effect.effect_id, "echo")] == kernel.tools.dispatches


def test_receipt_signature_covers_the_spec_fields(kernel: Kernel) -> None:
    """The receipt's signed preimage is the JCS of exactly the section-4 receipt fields."""
    call = authorize(kernel)
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    names = SPEC_SIGNED_FIELDS["receipt"]
    assert jcs({name: getattr(receipt, name) for name in names}) == receipt.preimage()


def test_receipts_chain_per_session(kernel: Kernel) -> None:
    """Per session, lamports run 1..n and each prev_hash is the hash of the previous receipt."""
    sessions = ["s1", "s2", "s1", "s1", "s2"]
    receipts: dict[str, list[Receipt]] = {}
    for x, session in enumerate(sessions):
        outcome = kernel.call(echo(x, session_id=session))
        assert outcome.receipt is not None
        receipts.setdefault(session, []).append(outcome.receipt)
    for session, chain in receipts.items():
        assert list(range(1, len(chain) + 1)) == [r.lamport_clock for r in chain]
        assert [""] + [receipt_hash(r) for r in chain[:-1]] == [r.prev_hash for r in chain]
        assert {session} == {r.session_id for r in chain}
        assert chain == kernel.chains.chains[session]


def test_prev_hash_is_sha256_hex_of_the_previous_receipts_jcs(kernel: Kernel) -> None:
    """prev_hash is bare SHA-256 hex of the JCS of the whole previous receipt, signature too."""
    first = kernel.call(echo(1, session_id="s")).receipt
    second = kernel.call(echo(2, session_id="s")).receipt
    assert first is not None and second is not None
    assert hashlib.sha256(jcs(attrs.asdict(first))).hexdigest() == second.prev_hash
    assert receipt_hash(first) == second.prev_hash


def test_receipt_without_session_is_standalone_per_decision(kernel: Kernel) -> None:
    """Without a session_id, each receipt starts its own chain standalone:<decision id>."""
    first = kernel.call(echo(1)).receipt
    second = kernel.call(echo(2)).receipt
    assert first is not None and second is not None
    assert "standalone:dec-000001" == first.session_id
    assert "standalone:dec-000002" == second.session_id
    assert (1, "") == (second.lamport_clock, second.prev_hash)


def test_sum_tool_output_is_hashed(kernel: Kernel) -> None:
    """A sum returns the total of its integer args, and the receipt hashes that output."""
    outcome = kernel.call(Request("alice", "sum", {"a": 2, "b": 40}))
    assert outcome.receipt is not None
    assert {"sum": 42} == outcome.output
    assert sha256_prefixed(jcs({"sum": 42})) == outcome.receipt.output_hash


def test_sum_beyond_safe_integers_is_a_tool_error(kernel: Kernel) -> None:
    """A sum past 2^53−1 cannot be encoded: a signed TOOL_ERROR receipt with no output hash."""
    call = authorize(kernel, Request("alice", "sum", {"a": SAFE_INTEGER_MAX, "b": 1}))
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    assert "TOOL_ERROR" == receipt.status
    assert "" == receipt.output_hash
    kernel.verify_receipt(receipt)
    assert [(call.effect.effect_id, "sum")] == kernel.tools.dispatches
    assert [receipt] == kernel.chains.chains[receipt.session_id]


def test_failing_tool_is_a_tool_error(kernel: Kernel) -> None:
    """The fail tool yields a signed TOOL_ERROR receipt, not an exception."""
    outcome = kernel.call(Request("alice", "fail", {}))
    assert outcome.receipt is not None
    assert "TOOL_ERROR" == outcome.receipt.status
    assert "" == outcome.receipt.output_hash
    assert outcome.output is None
    kernel.verify_receipt(outcome.receipt)


def test_receipt_session_comes_from_the_call_that_made_the_decision(kernel: Kernel) -> None:
    """A decision whose unsigned call_id names another call never chains its receipt into that
    call's session."""
    call = authorize(kernel, echo(1, session_id="mine"))
    other = kernel.begin(echo(2, session_id="theirs"))
    kernel.decide(other)
    relabelled = attrs.evolve(call.decision, call_id=other.call_id)
    try:
        receipt = kernel.execute(relabelled, call.intent, call.effect)
    except ExecutionRefused:
        pass  # refusing the relabelled decision is also within the spec
    else:
        assert "mine" == receipt.session_id
    assert [] == kernel.chains.chains.get("theirs", [])


# --- every refusal code ---------------------------------------------------------------------------


def test_frozen_kernel_refuses_system_frozen(kernel: Kernel) -> None:
    """While frozen, a valid decision and intent are refused SYSTEM_FROZEN."""
    call = authorize(kernel)
    kernel.freeze()
    _, node = refuse(kernel, call.decision, call.intent, call.effect, "SYSTEM_FROZEN")
    assert call.pending.call_id == node.payload["call_id"]


@pytest.mark.parametrize("missing", ["decision", "intent", "effect"])
def test_missing_artifact_is_refused(kernel: Kernel, missing: str) -> None:
    """A missing decision, intent or effect is refused MISSING_ARTIFACT."""
    call = authorize(kernel)
    artifacts: dict[str, object] = {
        "decision": call.decision,
        "intent": call.intent,
        "effect": call.effect,
    }
    artifacts[missing] = None
    refuse(kernel, *artifacts.values(), "MISSING_ARTIFACT")  # type: ignore[arg-type]


def test_missing_decision_refusal_names_no_call(kernel: Kernel) -> None:
    """A refusal with no decision names call_id null."""
    call = authorize(kernel)
    _, node = refuse(kernel, None, call.intent, call.effect, "MISSING_ARTIFACT")
    assert node.payload["call_id"] is None


def test_intent_of_another_decision_is_refused_intent_mismatch(kernel: Kernel) -> None:
    """An intent issued for another decision is refused INTENT_MISMATCH."""
    first = authorize(kernel, echo(1))
    second = authorize(kernel, echo(2))
    refuse(kernel, first.decision, second.intent, first.effect, "INTENT_MISMATCH")


def test_effect_of_another_call_is_refused_digest_mismatch(kernel: Kernel) -> None:
    """An effect other than the one decided (from another begun call) is refused."""
    call = authorize(kernel, echo(1))
    other = kernel.begin(echo(2))
    refuse(kernel, call.decision, call.intent, other.effect, "DIGEST_MISMATCH")


def test_intent_for_another_digest_is_refused_digest_mismatch(kernel: Kernel) -> None:
    """An intent whose effect digest differs from the effect's is refused DIGEST_MISMATCH."""
    call = authorize(kernel, echo(1))
    other = kernel.begin(echo(2))
    intent = attrs.evolve(call.intent, effect_digest_hash=other.effect.digest)
    refuse(kernel, call.decision, intent, call.effect, "DIGEST_MISMATCH")


@pytest.mark.parametrize(
    "tamper",
    [{"subject_id": "mallory"}, {"policy_epoch": 99}, {"budget_id": "b1"}],
)
def test_tampered_decision_is_refused_decision_signature_invalid(
    kernel: Kernel, tamper: dict[str, object]
) -> None:
    """A decision with a changed signed field is refused DECISION_SIGNATURE_INVALID."""
    call = authorize(kernel)
    decision = attrs.evolve(call.decision, **tamper)
    refuse(kernel, decision, call.intent, call.effect, "DECISION_SIGNATURE_INVALID")


def test_decision_of_revoked_key_is_refused_decision_signature_invalid(kernel: Kernel) -> None:
    """A key revoked after the intent was issued makes the decision fail at execute."""
    call = authorize(kernel)
    kernel.rotate_key()
    kernel.revoke_key("key-0001")
    refuse(kernel, call.decision, call.intent, call.effect, "DECISION_SIGNATURE_INVALID")


def test_forged_decision_refusal_names_no_call(kernel: Kernel) -> None:
    """A refusal of a decision the kernel never made (an id it never issued) names call_id
    null, whatever call id the decision claims (call_id is not signed, the id is)."""
    call = authorize(kernel)
    forged = attrs.evolve(call.decision, id="dec-999999", call_id=call.decision.call_id)
    intent = attrs.evolve(call.intent, decision_id="dec-999999")
    _, node = refuse(kernel, forged, intent, call.effect, "DECISION_SIGNATURE_INVALID")
    assert node.payload["call_id"] is None


@pytest.mark.parametrize(
    "tamper",
    [
        {"expires_at": 10**12},
        {"issued_at": -1},
        {"allowed_tool": "sum"},
        {"signer": "mallory"},
    ],
)
def test_tampered_intent_is_refused_intent_signature_invalid(
    kernel: Kernel, tamper: dict[str, object]
) -> None:
    """An intent with a changed signed field is refused INTENT_SIGNATURE_INVALID."""
    call = authorize(kernel)
    intent = attrs.evolve(call.intent, **tamper)
    refuse(kernel, call.decision, intent, call.effect, "INTENT_SIGNATURE_INVALID")


def test_intent_with_flipped_signature_is_refused(kernel: Kernel) -> None:
    """An intent whose signature bytes changed is refused INTENT_SIGNATURE_INVALID."""
    call = authorize(kernel)
    intent = attrs.evolve(call.intent, signature=flip(call.intent.signature))
    refuse(kernel, call.decision, intent, call.effect, "INTENT_SIGNATURE_INVALID")


@pytest.mark.parametrize("request_", [Request("alice", "approve", {}), echo(budget_id="nobudget")])
def test_validly_signed_intent_for_deny_is_refused_verdict_not_allow(
    kernel: Kernel, request_: Request
) -> None:
    """A forged but validly signed intent for a DENY or ESCALATE is refused VERDICT_NOT_ALLOW."""
    pending = kernel.begin(request_)
    decision = kernel.decide(pending)
    assert ALLOW != decision.verdict
    intent = forge_intent(kernel, decision)
    _, node = refuse(kernel, decision, intent, pending.effect, "VERDICT_NOT_ALLOW")
    assert pending.call_id == node.payload["call_id"]


def test_executor_before_issued_at_is_refused_not_yet_valid() -> None:
    """One millisecond before issued_at is INTENT_NOT_YET_VALID, with 'expired' in the message."""
    kernel = make_kernel(guardian_start_ms=10_000, executor_start_ms=10_000)
    call = authorize(kernel)
    kernel.set_executor_time(call.intent.issued_at - 1)
    refused, _ = refuse(kernel, call.decision, call.intent, call.effect, "INTENT_NOT_YET_VALID")
    assert "expired" in refused.message
    assert "expired" in str(refused)


def test_executor_at_expires_at_is_refused_expired() -> None:
    """Exactly at expires_at is INTENT_EXPIRED, with 'expired' in the message."""
    kernel = make_kernel(guardian_start_ms=10_000, executor_start_ms=10_000)
    call = authorize(kernel)
    kernel.set_executor_time(call.intent.expires_at)
    refused, _ = refuse(kernel, call.decision, call.intent, call.effect, "INTENT_EXPIRED")
    assert "expired" in refused.message


@pytest.mark.parametrize("offset", ["issued_at", "last_ms"])
def test_executor_inside_the_window_executes(offset: str) -> None:
    """At issued_at and at expires_at − 1 the intent is still valid and executes."""
    kernel = make_kernel(guardian_start_ms=10_000, executor_start_ms=0)
    call = authorize(kernel)
    now = call.intent.issued_at if offset == "issued_at" else call.intent.expires_at - 1
    kernel.set_executor_time(now)
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    assert "SUCCESS" == receipt.status
    assert now == receipt.timestamp


def test_signer_removed_after_intent_is_refused_signer_unavailable(kernel: Kernel) -> None:
    """Without a signer the receipt cannot be signed, so nothing is dispatched."""
    call = authorize(kernel)
    kernel.remove_signing()
    refuse(kernel, call.decision, call.intent, call.effect, "SIGNER_UNAVAILABLE")
    assert {} == kernel.chains.chains
    kernel.restore_signing()
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    assert "SUCCESS" == receipt.status


# --- the order of the refusals --------------------------------------------------------------------


def test_order_frozen_before_missing_artifact(kernel: Kernel) -> None:
    """SYSTEM_FROZEN is checked before MISSING_ARTIFACT."""
    kernel.freeze()
    refuse(kernel, None, None, None, "SYSTEM_FROZEN")


def test_order_missing_artifact_before_intent_mismatch(kernel: Kernel) -> None:
    """MISSING_ARTIFACT is checked before the intent is compared with the decision."""
    first = authorize(kernel, echo(1))
    second = authorize(kernel, echo(2))
    refuse(kernel, first.decision, second.intent, None, "MISSING_ARTIFACT")


def test_order_intent_mismatch_before_digest_mismatch(kernel: Kernel) -> None:
    """INTENT_MISMATCH is checked before DIGEST_MISMATCH."""
    first = authorize(kernel, echo(1))
    second = authorize(kernel, echo(2))
    refuse(kernel, first.decision, second.intent, second.effect, "INTENT_MISMATCH")


def test_order_digest_mismatch_before_decision_signature(kernel: Kernel) -> None:
    """DIGEST_MISMATCH is checked before the decision's signature."""
    call = authorize(kernel, echo(1))
    other = kernel.begin(echo(2))
    decision = attrs.evolve(call.decision, signature=flip(call.decision.signature))
    refuse(kernel, decision, call.intent, other.effect, "DIGEST_MISMATCH")


def test_order_decision_signature_before_intent_signature(kernel: Kernel) -> None:
    """DECISION_SIGNATURE_INVALID is checked before INTENT_SIGNATURE_INVALID."""
    call = authorize(kernel)
    decision = attrs.evolve(call.decision, subject_id="mallory")
    intent = attrs.evolve(call.intent, expires_at=10**12)
    refuse(kernel, decision, intent, call.effect, "DECISION_SIGNATURE_INVALID")


def test_order_intent_signature_before_verdict(kernel: Kernel) -> None:
    """INTENT_SIGNATURE_INVALID is checked before VERDICT_NOT_ALLOW."""
    pending = kernel.begin(Request("alice", "approve", {}))
    decision = kernel.decide(pending)
    intent = forge_intent(kernel, decision)
    tampered = attrs.evolve(intent, expires_at=intent.expires_at + 1)
    refuse(kernel, decision, tampered, pending.effect, "INTENT_SIGNATURE_INVALID")


def test_order_verdict_before_window(kernel: Kernel) -> None:
    """VERDICT_NOT_ALLOW is checked before the intent's window."""
    pending = kernel.begin(Request("alice", "approve", {}))
    decision = kernel.decide(pending)
    intent = forge_intent(kernel, decision)
    kernel.set_executor_time(intent.expires_at + 1)
    refuse(kernel, decision, intent, pending.effect, "VERDICT_NOT_ALLOW")


def test_order_window_before_signer(kernel: Kernel) -> None:
    """INTENT_EXPIRED is checked before SIGNER_UNAVAILABLE."""
    call = authorize(kernel)
    kernel.set_executor_time(call.intent.expires_at)
    kernel.remove_signing()
    refuse(kernel, call.decision, call.intent, call.effect, "INTENT_EXPIRED")


# --- idempotency ----------------------------------------------------------------------------------


def test_retry_returns_the_identical_receipt_and_dispatches_nothing(kernel: Kernel) -> None:
    """Executing a decision again returns the same receipt and changes nothing."""
    call = authorize(kernel, echo(session_id="s"))
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    dispatches, nodes = list(kernel.tools.dispatches), list(kernel.graph.order)
    digest = kernel.state_digest()
    kernel.set_executor_time(1)
    retried = kernel.execute(call.decision, call.intent, call.effect)
    assert receipt == retried
    assert dispatches == kernel.tools.dispatches
    assert nodes == kernel.graph.order
    assert [receipt] == kernel.chains.chains["s"]
    kernel.set_executor_time(0)
    assert digest == kernel.state_digest()


def test_retry_with_a_reissued_intent_returns_the_identical_receipt(kernel: Kernel) -> None:
    """A fresh intent for an executed decision still returns the earlier receipt."""
    call = authorize(kernel)
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    kernel.set_guardian_time(5_000)
    kernel.set_executor_time(5_000)
    reissued = kernel.issue_intent(call.decision, call.effect)
    assert call.intent != reissued
    assert receipt == kernel.execute(call.decision, reissued, call.effect)
    assert 1 == len(kernel.tools.dispatches)


def test_retry_while_frozen_is_refused(kernel: Kernel) -> None:
    """Idempotency comes after the checks: a retry while frozen is refused."""
    call = authorize(kernel)
    kernel.execute(call.decision, call.intent, call.effect)
    kernel.freeze()
    refuse(kernel, call.decision, call.intent, call.effect, "SYSTEM_FROZEN")


def test_retry_after_expiry_is_refused(kernel: Kernel) -> None:
    """Idempotency comes after the checks: a retry with an expired intent is refused."""
    call = authorize(kernel)
    kernel.execute(call.decision, call.intent, call.effect)
    kernel.set_executor_time(call.intent.expires_at)
    refuse(kernel, call.decision, call.intent, call.effect, "INTENT_EXPIRED")


def test_tool_error_is_not_retried(kernel: Kernel) -> None:
    """A TOOL_ERROR receipt is final: a retry returns it and dispatches nothing."""
    call = authorize(kernel, Request("alice", "fail", {}))
    receipt = kernel.execute(call.decision, call.intent, call.effect)
    assert receipt == kernel.execute(call.decision, call.intent, call.effect)
    assert 1 == len(kernel.tools.dispatches)
