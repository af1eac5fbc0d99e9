"""The Guardian (spec section 5): begin, decide, issue_intent, freeze, and their order."""

from __future__ import annotations

import hashlib
import json

import attrs
import pytest

from helmmodel.errors import (
    ExecutionRefused,
    IntentRefused,
    InvalidInput,
    SignerUnavailable,
    UsageError,
)
from helmmodel.kernel import ALLOW, DENY, ESCALATE, Decision, Kernel, Node, PendingCall, Request
from helmmodel.kernel.key_ring import derive_private_key
from tests.conftest import echo, make_kernel
from tests.spec import SPEC_SIGNED_FIELDS

DEFAULT_TTL_MS = 5 * 60 * 1000


def jcs(value: object) -> bytes:
    """Canonical JSON for ASCII keys and safe integers (spec section 1's fast path)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sha256_prefixed(data: bytes) -> str:
    """``sha256:`` + hex, computed here rather than by the kernel."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def flip(signature: str) -> str:
    """*signature* with its last hex digit changed."""
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


def decided(kernel: Kernel, request: Request | None = None) -> tuple[PendingCall, Decision]:
    """Begin and decide *request* (an echo by default)."""
    pending = kernel.begin(request if request is not None else echo())
    return pending, kernel.decide(pending)


def judged(kernel: Kernel, request: Request) -> Decision:
    """The signed decision on *request*."""
    return decided(kernel, request)[1]


def new_nodes(kernel: Kernel, since: int) -> list[Node]:
    """The nodes appended after the first *since*, in append order."""
    return [kernel.graph.nodes[key] for key in kernel.graph.order[since:]]


def consumed(kernel: Kernel, budget_id: str = "b1") -> int:
    """What *budget_id* has consumed."""
    budget = kernel.budgets.get(budget_id)
    assert budget is not None
    return budget.consumed


def budget_state(kernel: Kernel) -> dict[str, tuple[int, int]]:
    """Every budget's ``(limit, consumed)``."""
    state = {}
    for budget_id in kernel.budgets.ids():
        budget = kernel.budgets.get(budget_id)
        assert budget is not None
        state[budget_id] = (budget.limit, budget.consumed)
    return state


def refuse_intent(kernel: Kernel, decision: Decision, effect: object, code: str) -> Node:
    """Assert issue_intent refuses with *code*, dispatches nothing and appends one ATTESTATION."""
    dispatches = list(kernel.tools.dispatches)
    before = len(kernel.graph.order)
    with pytest.raises(IntentRefused) as refused:
        kernel.issue_intent(decision, effect)  # type: ignore[arg-type]
    assert code == refused.value.code
    assert dispatches == kernel.tools.dispatches
    appended = new_nodes(kernel, before)
    assert ["ATTESTATION"] == [node.kind for node in appended]
    assert code == appended[0].payload["code"]
    assert "" == appended[0].sig
    return appended[0]


# --- begin and decide: verdicts and reason codes --------------------------------------------------


def test_allow_has_empty_reason_code_and_the_rules_hash(kernel: Kernel) -> None:
    """An ALLOW has an empty reason code and the requirement_set_hash of the tool's rule."""
    decision = judged(kernel, echo())
    rule = kernel.policy.snapshot().rules["echo"]
    assert rule is not None
    assert ALLOW == decision.verdict
    assert "" == decision.reason_code
    assert rule.hash == decision.requirement_set_hash
    # The rule is {"id": "root", "logic": "AND", "leaves": []}: its content string is spec'd.
    assert sha256_prefixed(b"id=root:logic=AND:") == decision.requirement_set_hash


def test_decision_fields_follow_the_data_model() -> None:
    """A decision names its call, principal, action, resource, effect digest and Guardian time."""
    kernel = make_kernel(guardian_start_ms=1234, executor_start_ms=99)
    pending, decision = decided(kernel, echo(7, "bob"))
    assert "dec-000001" == decision.id
    assert pending.call_id == decision.call_id
    assert "bob" == decision.subject_id
    assert "EXECUTE_TOOL" == decision.action
    assert "echo" == decision.resource
    assert sha256_prefixed(jcs({"tool": "echo", "args": {"x": 7}})) == decision.effect_digest
    assert pending.effect.digest == decision.effect_digest
    assert sha256_prefixed(decision.reason.encode()) == decision.reason_hash
    assert 1234 == decision.timestamp
    assert "ed25519:key-0001" == decision.signature_type
    assert "decision_record.v4" == decision.signature_version
    assert "" == decision.budget_id


def test_decision_signature_covers_the_spec_fields(kernel: Kernel) -> None:
    """The decision's signature verifies under key-0001 over the JCS of the section-4 fields."""
    decision = judged(kernel, echo(budget_id="b1"))
    signed = {name: getattr(decision, name) for name in SPEC_SIGNED_FIELDS["decision"]}
    public = derive_private_key(kernel.config.seed, "key-0001").public_key()
    assert jcs(signed) == decision.preimage()
    public.verify(bytes.fromhex(decision.signature), jcs(signed))  # raises if it does not verify
    assert "b1" == decision.budget_id


def test_frozen_kernel_denies_at_begin(kernel: Kernel) -> None:
    """A call begun while frozen is a signed DENY SYSTEM_FROZEN."""
    kernel.freeze()
    pending, decision = decided(kernel, echo())
    assert (DENY, "SYSTEM_FROZEN") == (pending.verdict, pending.reason_code)
    assert (DENY, "SYSTEM_FROZEN") == (decision.verdict, decision.reason_code)
    assert "" == decision.requirement_set_hash
    kernel.keys.verify(decision.signature_type, decision.preimage(), decision.signature)


def test_unknown_tool_is_denied_err_tool_not_found(kernel: Kernel) -> None:
    """A tool that is not allowlisted is a DENY ERR_TOOL_NOT_FOUND."""
    decision = judged(kernel, Request("alice", "nope", {}))
    assert (DENY, "ERR_TOOL_NOT_FOUND") == (decision.verdict, decision.reason_code)


def test_args_against_the_schema_are_denied_schema_violation(kernel: Kernel) -> None:
    """Args that fail the tool's schema are a DENY SCHEMA_VIOLATION."""
    wrong_type = judged(kernel, Request("alice", "echo", {"x": "one"}))
    extra = judged(kernel, Request("alice", "echo", {"x": 1, "y": 2}))
    assert (DENY, "SCHEMA_VIOLATION") == (wrong_type.verdict, wrong_type.reason_code)
    assert (DENY, "SCHEMA_VIOLATION") == (extra.verdict, extra.reason_code)


def test_unknown_budget_is_denied_budget_error(kernel: Kernel) -> None:
    """A request charged to a budget that does not exist is a DENY BUDGET_ERROR."""
    decision = judged(kernel, echo(budget_id="nobudget"))
    assert (DENY, "BUDGET_ERROR") == (decision.verdict, decision.reason_code)


def test_spent_budget_is_denied_budget_exceeded_at_begin(kernel: Kernel) -> None:
    """A budget with nothing left denies BUDGET_EXCEEDED already at begin."""
    kernel.create_budget("one", 1)
    first = judged(kernel, echo(1, budget_id="one"))
    pending, second = decided(kernel, echo(2, budget_id="one"))
    assert ALLOW == first.verdict
    assert (DENY, "BUDGET_EXCEEDED") == (pending.verdict, pending.reason_code)
    assert (DENY, "BUDGET_EXCEEDED") == (second.verdict, second.reason_code)
    assert 1 == consumed(kernel, "one")


def test_zero_limit_is_denied_budget_exceeded_at_begin(kernel: Kernel) -> None:
    """A budget whose limit is 0 denies BUDGET_EXCEEDED at begin and consumes nothing."""
    kernel.set_budget_limit("b1", 0)
    pending = kernel.begin(echo(budget_id="b1"))
    assert (DENY, "BUDGET_EXCEEDED") == (pending.verdict, pending.reason_code)
    assert 0 == consumed(kernel)


def test_budget_spent_between_begin_and_decide_is_exceeded(kernel: Kernel) -> None:
    """Two calls begun on a one-request budget: the first decided is ALLOW, the second DENY."""
    kernel.create_budget("one", 1)
    first = kernel.begin(echo(1, budget_id="one"))
    second = kernel.begin(echo(2, budget_id="one"))
    assert (ALLOW, ALLOW) == (first.verdict, second.verdict)
    allowed = kernel.decide(first)
    denied = kernel.decide(second)
    assert (ALLOW, "") == (allowed.verdict, allowed.reason_code)
    assert (DENY, "BUDGET_EXCEEDED") == (denied.verdict, denied.reason_code)
    assert "" == denied.requirement_set_hash
    assert 1 == consumed(kernel, "one")


def test_budget_limit_lowered_between_begin_and_decide_is_exceeded(kernel: Kernel) -> None:
    """A limit lowered to what is consumed after begin turns the tentative ALLOW into a DENY."""
    kernel.call(echo(1, budget_id="b1"))
    pending = kernel.begin(echo(2, budget_id="b1"))
    assert ALLOW == pending.verdict
    kernel.set_budget_limit("b1", 1)
    decision = kernel.decide(pending)
    assert (DENY, "BUDGET_EXCEEDED") == (decision.verdict, decision.reason_code)
    assert 1 == consumed(kernel)


def test_allow_charged_to_a_budget_consumes_one_in_decide(kernel: Kernel) -> None:
    """Begin consumes nothing; deciding an ALLOW consumes exactly one request."""
    pending = kernel.begin(echo(budget_id="b1"))
    assert 0 == consumed(kernel)
    decision = kernel.decide(pending)
    assert ALLOW == decision.verdict
    assert 1 == consumed(kernel)


def test_tool_without_rule_is_denied_no_policy_defined(kernel: Kernel) -> None:
    """An allowlisted tool with no rule is a DENY NO_POLICY_DEFINED."""
    kernel.register_tool("bare", {"type": "object"})
    decision = judged(kernel, Request("alice", "bare", {}))
    assert (DENY, "NO_POLICY_DEFINED") == (decision.verdict, decision.reason_code)


def test_evaluation_error_is_denied_prg_evaluation_error(kernel: Kernel) -> None:
    """A predicate on a missing path is a DENY PRG_EVALUATION_ERROR, not MISSING_REQUIREMENT."""
    leaf = {"id": "limit", "predicate": ["le", "args.amount", 5]}
    kernel.put_rule("echo", {"id": "root", "logic": "AND", "leaves": [leaf]})
    decision = judged(kernel, echo())
    assert (DENY, "PRG_EVALUATION_ERROR") == (decision.verdict, decision.reason_code)


def test_false_policy_names_the_requirements_not_the_predicates(kernel: Kernel) -> None:
    """MISSING_REQUIREMENT's reason names the blocking requirement ids, never the predicates."""
    leaves = [
        {"id": "req-role", "predicate": ["eq", "context.role", "superuser"]},
        {"id": "req-small", "predicate": ["le", "args.x", 3]},
        {"id": "req-present", "predicate": ["has", "args.x"]},
    ]
    kernel.put_rule("echo", {"id": "root", "logic": "AND", "leaves": leaves})
    decision = judged(kernel, echo(9, role="guest"))
    assert (DENY, "MISSING_REQUIREMENT") == (decision.verdict, decision.reason_code)
    assert "req-role" in decision.reason
    assert "req-small" in decision.reason
    assert "req-present" not in decision.reason
    for fragment in ("superuser", "context.role", "args.x", '"eq"', '"le"', "guest"):
        assert fragment not in decision.reason


def test_approval_tool_escalates_approval_required(kernel: Kernel) -> None:
    """A tool that needs approval and passes its policy is an ESCALATE APPROVAL_REQUIRED."""
    decision = judged(kernel, Request("alice", "approve", {}))
    assert (ESCALATE, "APPROVAL_REQUIRED") == (decision.verdict, decision.reason_code)
    assert "" == decision.requirement_set_hash
    kernel.keys.verify(decision.signature_type, decision.preimage(), decision.signature)


# --- begin: the order of the checks ---------------------------------------------------------------


def test_frozen_wins_over_unknown_tool(kernel: Kernel) -> None:
    """While frozen, an unknown tool is denied SYSTEM_FROZEN, not ERR_TOOL_NOT_FOUND."""
    kernel.freeze()
    decision = judged(kernel, Request("alice", "nope", {}, {"budget_id": "nobudget"}))
    assert "SYSTEM_FROZEN" == decision.reason_code


def test_unknown_tool_wins_over_unknown_budget(kernel: Kernel) -> None:
    """The firewall comes before budgets: unknown tool and unknown budget is ERR_TOOL_NOT_FOUND."""
    decision = judged(kernel, Request("alice", "nope", {}, {"budget_id": "nobudget"}))
    assert "ERR_TOOL_NOT_FOUND" == decision.reason_code


def test_schema_violation_wins_over_spent_budget(kernel: Kernel) -> None:
    """The firewall comes before budgets: bad args on a spent budget is SCHEMA_VIOLATION."""
    kernel.set_budget_limit("b1", 0)
    decision = judged(kernel, Request("alice", "echo", {"x": "one"}, {"budget_id": "b1"}))
    assert "SCHEMA_VIOLATION" == decision.reason_code


def test_unknown_budget_wins_over_missing_rule(kernel: Kernel) -> None:
    """Budgets come before the policy: unknown budget and no rule is BUDGET_ERROR."""
    kernel.remove_rule("echo")
    decision = judged(kernel, echo(budget_id="nobudget"))
    assert "BUDGET_ERROR" == decision.reason_code


def test_spent_budget_wins_over_missing_rule(kernel: Kernel) -> None:
    """Budgets come before the policy: spent budget and no rule is BUDGET_EXCEEDED."""
    kernel.remove_rule("echo")
    kernel.set_budget_limit("b1", 0)
    decision = judged(kernel, echo(budget_id="b1"))
    assert "BUDGET_EXCEEDED" == decision.reason_code


def test_missing_rule_wins_over_approval(kernel: Kernel) -> None:
    """A tool that needs approval but has no rule is NO_POLICY_DEFINED, not ESCALATE."""
    kernel.remove_rule("approve")
    decision = judged(kernel, Request("alice", "approve", {}))
    assert (DENY, "NO_POLICY_DEFINED") == (decision.verdict, decision.reason_code)


def test_false_policy_wins_over_approval(kernel: Kernel) -> None:
    """A tool that needs approval and fails its policy is MISSING_REQUIREMENT, not ESCALATE."""
    leaf = {"id": "never", "predicate": ["const", False]}
    kernel.put_rule("approve", {"id": "root", "leaves": [leaf]})
    decision = judged(kernel, Request("alice", "approve", {}))
    assert (DENY, "MISSING_REQUIREMENT") == (decision.verdict, decision.reason_code)


def test_evaluation_error_wins_over_approval(kernel: Kernel) -> None:
    """A tool that needs approval whose policy errors is PRG_EVALUATION_ERROR."""
    leaf = {"id": "role", "predicate": ["eq", "context.role", "admin"]}
    kernel.put_rule("approve", {"id": "root", "leaves": [leaf]})
    decision = judged(kernel, Request("alice", "approve", {}))
    assert (DENY, "PRG_EVALUATION_ERROR") == (decision.verdict, decision.reason_code)


# --- budgets are drawn only by ALLOW --------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason_code"),
    [
        (Request("alice", "approve", {}, {"budget_id": "b1"}), "APPROVAL_REQUIRED"),
        (Request("alice", "nope", {}, {"budget_id": "b1"}), "ERR_TOOL_NOT_FOUND"),
        (Request("alice", "echo", {"x": "a"}, {"budget_id": "b1"}), "SCHEMA_VIOLATION"),
        (Request("alice", "sum", {}, {"budget_id": "b1", "role": "x"}), "MISSING_REQUIREMENT"),
    ],
)
def test_denied_or_escalated_call_draws_no_budget(
    kernel: Kernel, request_: Request, reason_code: str
) -> None:
    """A call denied or escalated charges nothing to its budget."""
    leaf = {"id": "role", "predicate": ["eq", "context.role", "admin"]}
    kernel.put_rule("sum", {"id": "root", "leaves": [leaf]})
    outcome = kernel.call(request_)
    assert outcome.decision is not None
    assert reason_code == outcome.decision.reason_code
    assert 0 == consumed(kernel)


# --- decide: fail closed, twice, freeze -----------------------------------------------------------


def test_signer_unavailable_at_decide_fails_closed(kernel: Kernel) -> None:
    """Decide without a signer raises, releases only this call's charge, attests unsigned."""
    earlier = kernel.call(echo(1, budget_id="b1"))
    assert earlier.receipt is not None
    pending = kernel.begin(echo(2, budget_id="b1"))
    kernel.remove_signing()
    before = len(kernel.graph.order)
    with pytest.raises(SignerUnavailable):
        kernel.decide(pending)
    assert 1 == consumed(kernel)
    appended = new_nodes(kernel, before)
    assert ["ATTESTATION"] == [node.kind for node in appended]
    assert "" == appended[0].sig
    assert "SIGNER_UNAVAILABLE" == appended[0].payload["reason_code"]
    assert pending.call_id == appended[0].payload["call_id"]
    assert pending.decision is None
    assert kernel.guardian.calls[pending.call_id].decision is None


def test_signer_unavailable_leaves_every_budget_as_before(kernel: Kernel) -> None:
    """A fail-closed call leaves every budget's consumption and limit exactly as before."""
    kernel.create_budget("b2", 3)
    kernel.call(echo(1, budget_id="b2"))
    pending = kernel.begin(echo(2, budget_id="b2"))
    before = budget_state(kernel)
    kernel.remove_signing()
    with pytest.raises(SignerUnavailable):
        kernel.decide(pending)
    after = budget_state(kernel)
    assert before == after
    assert (3, 1) == after["b2"]


def test_signer_unavailable_fails_closed_for_a_deny_too(kernel: Kernel) -> None:
    """Every verdict is signed, so even a DENY fails closed without a signer."""
    pending = kernel.begin(Request("alice", "nope", {}))
    kernel.remove_signing()
    with pytest.raises(SignerUnavailable):
        kernel.decide(pending)
    assert pending.decision is None


def test_deciding_a_call_twice_is_a_usage_error(kernel: Kernel) -> None:
    """A decided call cannot be decided again, and the second attempt changes no budget."""
    pending, _ = decided(kernel, echo(budget_id="b1"))
    with pytest.raises(UsageError):
        kernel.decide(pending)
    assert 1 == consumed(kernel)


def test_deciding_a_call_begun_elsewhere_is_a_usage_error(kernel: Kernel) -> None:
    """A call begun by another kernel cannot be decided here."""
    pending = make_kernel().begin(echo())
    with pytest.raises(UsageError):
        kernel.decide(pending)


def test_freeze_between_begin_and_decide_turns_allow_into_deny(kernel: Kernel) -> None:
    """A tentative ALLOW decided while frozen is a DENY SYSTEM_FROZEN that consumes nothing."""
    pending = kernel.begin(echo(budget_id="b1"))
    assert ALLOW == pending.verdict
    kernel.freeze()
    decision = kernel.decide(pending)
    assert (DENY, "SYSTEM_FROZEN") == (decision.verdict, decision.reason_code)
    assert "" == decision.requirement_set_hash
    assert 0 == consumed(kernel)


def test_freeze_between_begin_and_decide_leaves_escalate_alone(kernel: Kernel) -> None:
    """Decide changes only a tentative ALLOW: an ESCALATE decided while frozen stays ESCALATE."""
    pending = kernel.begin(Request("alice", "approve", {}))
    kernel.freeze()
    decision = kernel.decide(pending)
    assert (ESCALATE, "APPROVAL_REQUIRED") == (decision.verdict, decision.reason_code)


def test_unfreeze_lets_calls_through_again(kernel: Kernel) -> None:
    """After unfreeze a call is allowed and executed again."""
    kernel.freeze()
    kernel.unfreeze()
    outcome = kernel.call(echo())
    assert outcome.receipt is not None
    assert "SUCCESS" == outcome.receipt.status


def test_frozen_kernel_issues_no_intent(kernel: Kernel) -> None:
    """An ALLOW decided before a freeze gets no intent while frozen: SYSTEM_FROZEN."""
    pending, decision = decided(kernel)
    kernel.freeze()
    refuse_intent(kernel, decision, pending.effect, "SYSTEM_FROZEN")


def test_frozen_kernel_executes_nothing(kernel: Kernel) -> None:
    """An intent issued before a freeze is not executed while frozen: SYSTEM_FROZEN."""
    pending, decision = decided(kernel)
    intent = kernel.issue_intent(decision, pending.effect)
    kernel.freeze()
    with pytest.raises(ExecutionRefused) as refused:
        kernel.execute(decision, intent, pending.effect)
    assert "SYSTEM_FROZEN" == refused.value.code
    assert [] == kernel.tools.dispatches


# --- issue_intent: every refusal code -------------------------------------------------------------


@pytest.mark.parametrize("request_", [Request("alice", "approve", {}), Request("a", "nope", {})])
def test_intent_for_deny_or_escalate_is_refused_verdict_not_allow(
    kernel: Kernel, request_: Request
) -> None:
    """No intent is issued for a DENY or an ESCALATE decision."""
    pending, decision = decided(kernel, request_)
    node = refuse_intent(kernel, decision, pending.effect, "VERDICT_NOT_ALLOW")
    assert pending.call_id == node.payload["call_id"]


@pytest.mark.parametrize(
    "tamper",
    [
        {"subject_id": "mallory"},
        {"resource": "sum"},
        {"budget_id": "b1"},
        {"reason_hash": "sha256:" + "0" * 64},
    ],
)
def test_intent_for_tampered_decision_is_refused_signature_invalid(
    kernel: Kernel, tamper: dict[str, str]
) -> None:
    """A decision with a changed signed field gets no intent: DECISION_SIGNATURE_INVALID."""
    pending, decision = decided(kernel)
    refuse_intent(
        kernel, attrs.evolve(decision, **tamper), pending.effect, "DECISION_SIGNATURE_INVALID"
    )


def test_intent_for_decision_with_flipped_signature_is_refused(kernel: Kernel) -> None:
    """A decision whose signature bytes were changed gets no intent."""
    pending, decision = decided(kernel)
    forged = attrs.evolve(decision, signature=flip(decision.signature))
    refuse_intent(kernel, forged, pending.effect, "DECISION_SIGNATURE_INVALID")


def test_intent_for_decision_of_revoked_key_is_refused(kernel: Kernel) -> None:
    """A key revoked since decide makes the decision's signature fail at issue_intent."""
    pending, decision = decided(kernel)
    kernel.rotate_key()
    kernel.revoke_key("key-0001")
    refuse_intent(kernel, decision, pending.effect, "DECISION_SIGNATURE_INVALID")


def test_intent_after_rotation_without_revocation_is_issued(kernel: Kernel) -> None:
    """Rotation alone keeps older decisions valid: the intent is signed with the new key."""
    pending, decision = decided(kernel)
    kernel.rotate_key()
    intent = kernel.issue_intent(decision, pending.effect)
    assert "ed25519:key-0002" == intent.signature_type


def test_intent_after_a_mutation_is_refused_policy_epoch_changed(kernel: Kernel) -> None:
    """A policy mutation after decide refuses the intent: POLICY_EPOCH_CHANGED."""
    pending, decision = decided(kernel)
    kernel.put_rule("sum", {"id": "other", "leaves": []})
    refuse_intent(kernel, decision, pending.effect, "POLICY_EPOCH_CHANGED")


def test_intent_for_another_effect_is_refused_digest_mismatch(kernel: Kernel) -> None:
    """An effect other than the decision's (here from another begun call) gets no intent."""
    _, decision = decided(kernel, echo(1))
    other = kernel.begin(echo(2))
    refuse_intent(kernel, decision, other.effect, "DIGEST_MISMATCH")


def test_intent_without_signer_is_refused_signer_unavailable(kernel: Kernel) -> None:
    """With signing removed after decide, the intent is refused SIGNER_UNAVAILABLE."""
    pending, decision = decided(kernel)
    kernel.remove_signing()
    node = refuse_intent(kernel, decision, pending.effect, "SIGNER_UNAVAILABLE")
    assert pending.call_id == node.payload["call_id"]


def test_intent_for_forged_decision_names_no_call(kernel: Kernel) -> None:
    """A refusal of a decision from no call the kernel began names call_id null."""
    pending, decision = decided(kernel)
    forged = attrs.evolve(decision, id="dec-999999", call_id="call-999999")
    node = refuse_intent(kernel, forged, pending.effect, "DECISION_SIGNATURE_INVALID")
    assert node.payload["call_id"] is None


# --- issue_intent: the order of the refusals ------------------------------------------------------


def test_intent_order_frozen_before_verdict(kernel: Kernel) -> None:
    """Frozen is checked before the verdict."""
    pending, decision = decided(kernel, Request("alice", "approve", {}))
    kernel.freeze()
    refuse_intent(kernel, decision, pending.effect, "SYSTEM_FROZEN")


def test_intent_order_verdict_before_signature(kernel: Kernel) -> None:
    """The verdict is checked before the signature."""
    pending, decision = decided(kernel, Request("alice", "approve", {}))
    forged = attrs.evolve(decision, signature=flip(decision.signature))
    refuse_intent(kernel, forged, pending.effect, "VERDICT_NOT_ALLOW")


def test_intent_order_signature_before_epoch(kernel: Kernel) -> None:
    """The signature is checked before the policy epoch."""
    pending, decision = decided(kernel)
    kernel.put_rule("sum", {"id": "other"})
    forged = attrs.evolve(decision, subject_id="mallory")
    refuse_intent(kernel, forged, pending.effect, "DECISION_SIGNATURE_INVALID")


def test_intent_order_epoch_before_digest(kernel: Kernel) -> None:
    """The policy epoch is checked before the effect digest."""
    _, decision = decided(kernel, echo(1))
    other = kernel.begin(echo(2))
    kernel.put_rule("sum", {"id": "other"})
    refuse_intent(kernel, decision, other.effect, "POLICY_EPOCH_CHANGED")


def test_intent_order_digest_before_signer(kernel: Kernel) -> None:
    """The effect digest is checked before the signer."""
    _, decision = decided(kernel, echo(1))
    other = kernel.begin(echo(2))
    kernel.remove_signing()
    refuse_intent(kernel, decision, other.effect, "DIGEST_MISMATCH")


# --- issue_intent: the intent ---------------------------------------------------------------------


def test_intent_window_is_on_the_guardian_clock() -> None:
    """The intent is valid for [issued_at, issued_at + ttl) with issued_at on the Guardian clock."""
    kernel = make_kernel(ttl_ms=1000, guardian_start_ms=50_000, executor_start_ms=7)
    pending, decision = decided(kernel)
    kernel.set_guardian_time(60_000)
    intent = kernel.issue_intent(decision, pending.effect)
    assert 60_000 == intent.issued_at
    assert 61_000 == intent.expires_at


def test_the_guardian_clock_leaves_room_for_an_intents_expiry() -> None:
    """At 2^53−1 an intent's expiry could not be signed (the kernel once crashed there): the
    Guardian's clock stops ttl earlier, and an intent issued at that last time signs."""
    kernel = make_kernel(ttl_ms=1000)
    pending, decision = decided(kernel)
    with pytest.raises(InvalidInput, match="would put an intent's expiry past"):
        kernel.set_guardian_time(2**53 - 1)
    kernel.set_guardian_time(2**53 - 1 - 1000)
    intent = kernel.issue_intent(decision, pending.effect)
    assert 2**53 - 1 == intent.expires_at
    kernel.set_executor_time(2**53 - 1)  # the executor's clock has no expiry to make


def test_intent_window_defaults_to_five_minutes(kernel: Kernel) -> None:
    """Without a ttl setting, expires_at is issued_at plus five minutes."""
    kernel.set_guardian_time(1_000)
    pending, decision = decided(kernel)
    intent = kernel.issue_intent(decision, pending.effect)
    assert (1_000, 1_000 + DEFAULT_TTL_MS) == (intent.issued_at, intent.expires_at)


def test_intent_fields_bind_the_decision_and_effect(kernel: Kernel) -> None:
    """The intent names its decision, the decision's effect digest and tool, and verifies."""
    pending, decision = decided(kernel)
    intent = kernel.issue_intent(decision, pending.effect)
    assert "intent-dec-000001" == intent.id
    assert decision.id == intent.decision_id
    assert decision.effect_digest == intent.effect_digest_hash
    assert "echo" == intent.allowed_tool
    assert "kernel" == intent.signer
    assert "authorized_execution_intent.v2" == intent.signature_version
    kernel.keys.verify(intent.signature_type, intent.preimage(), intent.signature)


def test_issued_intent_appends_no_node(kernel: Kernel) -> None:
    """Issuing an intent is not a node-appending event (section 7)."""
    pending, decision = decided(kernel)
    before = len(kernel.graph.order)
    kernel.issue_intent(decision, pending.effect)
    assert before == len(kernel.graph.order)


# --- snapshots ------------------------------------------------------------------------------------


def test_decision_records_the_snapshot_of_begin(kernel: Kernel) -> None:
    """Mutations between begin and decide do not change the decision's policy version or epoch."""
    version, epoch = kernel.policy.version, kernel.policy.epoch
    pending = kernel.begin(echo())
    kernel.put_rule("sum", {"id": "other"})
    kernel.remove_rule("fail")
    decision = kernel.decide(pending)
    assert (version, epoch) == (decision.policy_version, decision.policy_epoch)
    assert epoch + 2 == kernel.policy.epoch
    assert version != kernel.policy.version


def test_deny_records_the_snapshot_of_begin_too(kernel: Kernel) -> None:
    """A DENY decision also carries the policy version and epoch of its begin."""
    version, epoch = kernel.policy.version, kernel.policy.epoch
    pending = kernel.begin(Request("alice", "nope", {}))
    kernel.put_rule("sum", {"id": "other"})
    decision = kernel.decide(pending)
    assert (version, epoch) == (decision.policy_version, decision.policy_epoch)
