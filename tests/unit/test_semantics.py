"""The two semantics of one kernel (spec section 12): each difference, under each semantics."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helmmodel.canonical import canonical_bytes
from helmmodel.errors import ExecutionRefused, FreezeRefused, IntentRefused, InvalidInput
from helmmodel.kernel import ALLOW, DENY, Kernel, KernelConfig, Request
from helmmodel.kernel.guardian import decision_receipt_id
from helmmodel.kernel.helm_receipt import ReceiptRejected
from helmmodel.kernel.records import decision_hash
from helmmodel.kernel.release_receipt import chain_hash
from helmmodel.kernel.semantics import CHAOS_PAGE, HELM_AI_KERNEL, FreezeReceipt, rfc3339_ms


def kernel(semantics: str) -> Kernel:
    k = Kernel(KernelConfig(semantics=semantics))
    k.register_tool("echo", {"type": "object"})
    k.put_rule("echo", {"id": "open", "logic": "AND", "leaves": []})
    return k


def request(tool: str = "echo", session: str | None = "s1") -> Request:
    context = {"session_id": session} if session is not None else {}
    return Request(principal="alice", tool=tool, args={"n": 1}, context=context)


def test_an_unknown_semantics_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match=r"unknown semantics 'helm'.*chaos-page, helm-ai-kernel"):
        KernelConfig(semantics="helm")


def test_the_chaos_page_receipts_no_decision() -> None:
    k = kernel(CHAOS_PAGE)
    decision = k.evaluate(request("nothing-registered"))
    assert decision.verdict == DENY
    assert k.sessions() == ()


@pytest.mark.parametrize("tool,verdict", [("echo", ALLOW), ("nothing-registered", DENY)])
def test_the_release_receipts_every_decision_in_its_session(tool: str, verdict: str) -> None:
    k = kernel(HELM_AI_KERNEL)
    first = k.evaluate(request(tool))
    second = k.evaluate(request(tool))
    chain = k.session_receipts("s1")
    assert [r.decision_id for r in chain] == [first.id, second.id]
    assert [r.lamport_clock for r in chain] == [1, 2]
    assert chain[0].prev_hash == ""
    # The link is the SHA-256 hex of the JCS of the previous receipt's release envelope, an
    # empty reason_code (an ALLOW's, served) left out as the release's chain hash leaves it.
    envelope = k.receipt_wire(chain[0].receipt_id)
    assert envelope is not None
    assert envelope["reason_code"] == ("" if verdict == ALLOW else "PDP_DENY")
    jcs = canonical_bytes({k: v for k, v in envelope.items() if (k, v) != ("reason_code", "")})
    assert chain[1].prev_hash == hashlib.sha256(jcs).hexdigest()
    receipt = chain[0]
    assert receipt.receipt_id == decision_receipt_id(first.id) == f"rcpt-{first.id}-decision"
    assert (receipt.status, receipt.verdict) == (verdict, verdict)
    assert receipt.reason_code == first.reason_code
    assert receipt.effect_id == tool
    assert receipt.output_hash == decision_hash(first)
    assert decision_hash(first) == "sha256:" + hashlib.sha256(first.preimage()).hexdigest()
    assert k.receipt(receipt.receipt_id) == receipt
    k.verify_receipt(receipt)


def test_a_call_without_a_session_is_chained_under_its_principal() -> None:
    k = kernel(HELM_AI_KERNEL)
    k.evaluate(request(session=None))
    assert k.sessions() == ("alice",)


def test_the_release_chains_the_decision_before_its_dispatch() -> None:
    k = kernel(HELM_AI_KERNEL)
    outcome = k.call(request())
    assert outcome.receipt is not None
    chain = k.session_receipts("s1")
    assert [r.status for r in chain] == [ALLOW, "SUCCESS"]
    assert chain[1].receipt_id == "rcpt-" + chain[0].decision_id


def test_under_the_chaos_page_a_freeze_stops_intents_and_executions() -> None:
    k = kernel(CHAOS_PAGE)
    pending = k.begin(request())
    decision = k.decide(pending)
    intent = k.issue_intent(decision, pending.effect)
    assert k.freeze() is None
    assert k.freeze() is None  # an explicit state: set again, harmlessly
    with pytest.raises(IntentRefused, match="SYSTEM_FROZEN"):
        k.issue_intent(decision, pending.effect)
    with pytest.raises(ExecutionRefused, match="SYSTEM_FROZEN"):
        k.execute(decision, intent, pending.effect)


def test_under_the_release_a_freeze_stops_only_new_decisions() -> None:
    k = kernel(HELM_AI_KERNEL)
    pending = k.begin(request())
    decision = k.decide(pending)
    k.freeze()
    assert k.evaluate(request()).reason_code == "SYSTEM_FROZEN"
    intent = k.issue_intent(decision, pending.effect)
    receipt = k.execute(decision, intent, pending.effect)
    assert receipt.status == "SUCCESS"


def test_under_the_release_freeze_and_unfreeze_are_receipted_transitions() -> None:
    k = kernel(HELM_AI_KERNEL)
    k.set_guardian_time(1_500)
    frozen = k.freeze()
    assert frozen == FreezeReceipt(action="freeze", principal="operator", timestamp=1_500)
    with pytest.raises(FreezeRefused, match="ALREADY_FROZEN"):
        k.freeze()
    unfrozen = k.unfreeze()
    assert unfrozen is not None and unfrozen.action == "unfreeze"
    with pytest.raises(FreezeRefused, match="NOT_FROZEN"):
        k.unfreeze()
    # Go's json.Marshal of the three members in struct order, the time as RFC3339Nano.
    text = b'{"action":"freeze","principal":"operator","timestamp":"1970-01-01T00:00:01.5Z"}'
    assert frozen.content_hash == hashlib.sha256(text).hexdigest()
    assert frozen.as_json()["timestamp"] == "1970-01-01T00:00:01.5Z"


def test_a_freeze_receipt_hashes_html_characters_as_go_escapes_them() -> None:
    receipt = FreezeReceipt(action="freeze", principal="a<b>&c", timestamp=0)
    text = (
        b'{"action":"freeze","principal":"a\\u003cb\\u003e\\u0026c",'
        b'"timestamp":"1970-01-01T00:00:00Z"}'
    )
    assert receipt.content_hash == hashlib.sha256(text).hexdigest()


@pytest.mark.parametrize(
    "ms,text",
    [
        (0, "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (1_500, "1970-01-01T00:00:01.5Z"),
        (1_234_567_890_120, "2009-02-13T23:31:30.12Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (951_782_400_000, "2000-02-29T00:00:00Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00Z"),
        (-62_135_596_800_001, "0000-12-31T23:59:59.999Z"),
        (-62_167_219_200_001, "-0001-12-31T23:59:59.999Z"),
        (253_402_300_800_000, "10000-01-01T00:00:00Z"),
    ],
)
def test_times_are_written_as_go_writes_rfc3339nano(ms: int, text: str) -> None:
    assert rfc3339_ms(ms) == text


def test_the_release_changes_the_state_digest_and_the_chaos_page_does_not() -> None:
    assert Kernel(KernelConfig()).state_digest() == Kernel(KernelConfig()).state_digest()
    assert (
        Kernel(KernelConfig()).state_digest()
        != Kernel(KernelConfig(semantics=HELM_AI_KERNEL)).state_digest()
    )
    k = kernel(HELM_AI_KERNEL)
    before = k.state_digest()
    k.freeze()
    k.unfreeze()
    assert k.state_digest() != before


PACK = Path(__file__).resolve().parents[1] / "data" / "helm" / "receipt-v5"
# Members of the pack's receipt the release adds outside the kernel: the correlation id of the
# HTTP request and the transparency log's anchoring, which the twin does not keep.
NOT_MODELLED = {"correlation_id", "log_id", "leaf_index", "transparency"}


def test_a_decision_receipt_has_the_release_envelope() -> None:
    k = kernel(HELM_AI_KERNEL)
    k.set_guardian_time(1_786_017_600_000)  # 2026-08-06T12:00:00Z, the pack's time
    decision = k.evaluate(request("nothing-registered"))
    receipt = k.session_receipts("s1")[0]
    envelope = k.receipt_wire(receipt.receipt_id)
    assert envelope is not None
    key_id = receipt.signature_type.removeprefix("ed25519:")
    public = k.public_key(key_id)
    assert public is not None
    assert envelope["key_id"] == key_id
    assert envelope["public_key_set"] == {"ed25519": public.hex()}
    assert envelope["timestamp"] == "2026-08-06T12:00:00Z"
    assert envelope["decision_hash"] == envelope["output_hash"] == decision_hash(decision)
    assert envelope["metadata"] == {
        "source": "api.evaluate",
        "action": "nothing-registered",
        "resource": "nothing-registered",
        "reason": decision.reason,
        "args_hash": receipt.args_hash,
    }
    assert (envelope["status"], envelope["verdict"]) == (DENY, DENY)
    genesis = json.loads((PACK / "decision_deny_genesis.receipt.c14n.json").read_bytes())
    assert set(envelope) == set(genesis) - NOT_MODELLED


def test_an_allow_receipt_serves_its_empty_reason_code_and_no_reason_as_the_release_does() -> None:
    k = kernel(HELM_AI_KERNEL)
    k.evaluate(request())
    envelope = k.receipt_wire(k.session_receipts("s1")[0].receipt_id)
    assert envelope is not None and envelope["reason_code"] == ""
    assert envelope["metadata"]["reason"] == ""  # type: ignore[index]
    assert Kernel(KernelConfig()).receipt_wire("rcpt-dec-000001") is None


def test_the_release_denies_an_unknown_tool_with_its_pdp_code() -> None:
    assert kernel(HELM_AI_KERNEL).evaluate(request("nope")).reason_code == "PDP_DENY"
    assert kernel(CHAOS_PAGE).evaluate(request("nope")).reason_code == "ERR_TOOL_NOT_FOUND"


def test_the_release_envelope_verifies_under_the_release_rule_and_a_tamper_does_not() -> None:
    k = kernel(HELM_AI_KERNEL)
    k.evaluate(request("nothing-registered"))
    envelope = k.receipt_wire(k.session_receipts("s1")[0].receipt_id)
    assert envelope is not None
    k.verify_release_receipt(envelope)
    with pytest.raises(ReceiptRejected, match="signature_rejected"):
        k.verify_release_receipt({**envelope, "verdict": ALLOW})


def test_a_trust_key_imported_into_the_kernel_verifies_helm_s_own_receipts() -> None:
    pack = json.loads((PACK / "vectors.json").read_bytes())
    k = kernel(HELM_AI_KERNEL)
    public = bytes.fromhex(pack["public_key"].removeprefix("ed25519:"))
    for vector in pack["vectors"]:
        receipt = json.loads((PACK / vector["receipt"]["canonical"]).read_bytes())
        with pytest.raises(ReceiptRejected, match="signature_rejected"):
            k.verify_release_receipt(receipt)
    k.import_trust_key(pack["key_id"], public)
    for vector in pack["vectors"]:
        k.verify_release_receipt(json.loads((PACK / vector["receipt"]["canonical"]).read_bytes()))
    k.revoke_key(pack["key_id"])
    with pytest.raises(ReceiptRejected, match="signature_rejected"):
        k.verify_release_receipt(receipt)


def test_an_envelope_read_cannot_change_the_chain() -> None:
    k = kernel(HELM_AI_KERNEL)
    k.evaluate(request())
    first = k.session_receipts("s1")[0].receipt_id
    read = k.receipt_wire(first)
    assert read is not None
    read["verdict"] = DENY
    assert k.receipt_wire(first) != read
    k.evaluate(request())
    kept = k.receipt_wire(first)
    assert kept is not None
    assert k.session_receipts("s1")[1].prev_hash == chain_hash(kept)


def test_an_allow_envelope_verifies_under_the_release_rule() -> None:
    k = kernel(HELM_AI_KERNEL)
    k.evaluate(request())
    envelope = k.receipt_wire(k.session_receipts("s1")[0].receipt_id)
    assert envelope is not None and envelope["reason_code"] == ""
    k.verify_release_receipt(envelope)
