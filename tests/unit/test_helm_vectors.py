"""HELM's reference vectors as conformance tests of the helm-ai-kernel release semantics (spec
section 12): the receipt-v5 pack against the receipt verifier, and the emergency-stop pack's
commands and acknowledgements against the fence command (``tests/data/helm/README.md``)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from helmmodel.canonical import parse_strict
from helmmodel.errors import ReceiptInvalid
from helmmodel.kernel.fence import (
    MALFORMED,
    AcknowledgementIdentity,
    FenceInvalid,
    FenceState,
    FenceStore,
    command_signing_payload,
    parse_fence_envelope,
    parse_rfc3339,
)
from helmmodel.kernel.helm_receipt import (
    SIGNED_FIELDS,
    ReceiptRejected,
    signing_payload,
    verify_helm_receipt,
)
from helmmodel.kernel.key_ring import KeyRing, ed25519_valid

HELM_DATA = Path(__file__).resolve().parents[1] / "data" / "helm"
RECEIPTS = HELM_DATA / "receipt-v5"
STOPS = HELM_DATA / "emergency-stop"
SEED = b"helm-vectors-test-seed"

RECEIPT_INDEX = json.loads((RECEIPTS / "vectors.json").read_text(encoding="utf-8"))
RECEIPT_VECTORS = {vector["id"]: vector for vector in RECEIPT_INDEX["vectors"]}
STOP_PACK = json.loads((STOPS / "vectors.json").read_text(encoding="utf-8"))


def canonical_text(name: str) -> bytes:
    """A pack file's canonical bytes: the file without its one trailing LF, which HELM's
    manifest says its hashes and payloads exclude."""
    data = (RECEIPTS / name).read_bytes()
    assert data.endswith(b"\n") and not data.endswith(b"\n\n")
    return data[:-1]


def receipt_of(vector_id: str) -> dict[str, Any]:
    """The receipt of a positive vector, parsed strictly from its canonical file."""
    parsed = parse_strict(canonical_text(RECEIPT_VECTORS[vector_id]["receipt"]["canonical"]))
    assert isinstance(parsed, dict)
    return parsed


def trusting_ring() -> KeyRing:
    """A ring that imported the pack's key under the pack's key id."""
    ring = KeyRing(SEED)
    public = RECEIPT_INDEX["public_key"].removeprefix("ed25519:")
    ring.import_trust_key(RECEIPT_INDEX["key_id"], bytes.fromhex(public))
    return ring


# --- receipt-v5 ---------------------------------------------------------------------------------


def test_the_pack_is_the_one_the_tests_read() -> None:
    """Three positive and four negative vectors, canonicalisation capped at 2^53-1, and the
    same thirteen signed members as the model's receipt."""
    assert "receipt-v5-vectors.v1" == RECEIPT_INDEX["schema_version"]
    assert 2**53 - 1 == RECEIPT_INDEX["canonicalization"]["max_safe_integer"]
    assert 3 == len(RECEIPT_VECTORS)
    assert 4 == len(RECEIPT_INDEX["negative_vectors"])
    for vector_id in RECEIPT_VECTORS:
        payload = parse_strict(
            canonical_text(RECEIPT_VECTORS[vector_id]["signing_payload"]["canonical"])
        )
        assert set(SIGNED_FIELDS) == set(payload)


@pytest.mark.parametrize("vector_id", sorted(RECEIPT_VECTORS))
def test_signing_payload_is_the_pack_s_bytes(vector_id: str) -> None:
    """signing_payload() of each receipt is its payload file, byte for byte, and the sha256 the
    pack pins; the receipt file itself has its pinned sha256 too."""
    vector = RECEIPT_VECTORS[vector_id]
    payload = signing_payload(receipt_of(vector_id))
    assert canonical_text(vector["signing_payload"]["canonical"]) == payload
    assert vector["signing_payload"]["sha256"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    receipt_bytes = canonical_text(vector["receipt"]["canonical"])
    assert vector["receipt"]["sha256"] == "sha256:" + hashlib.sha256(receipt_bytes).hexdigest()


@pytest.mark.parametrize("vector_id", sorted(RECEIPT_VECTORS))
def test_each_receipt_verifies_with_the_pack_s_key_imported(vector_id: str) -> None:
    """With the pack's key imported under its key id, every reference receipt verifies, and
    its detached signature is the one the receipt carries."""
    receipt = receipt_of(vector_id)
    assert RECEIPT_VECTORS[vector_id]["signature"] == "ed25519:" + receipt["signature"]
    verify_helm_receipt(receipt, trusting_ring())


@pytest.mark.parametrize("vector_id", sorted(RECEIPT_VECTORS))
def test_without_the_key_every_receipt_is_refused(vector_id: str) -> None:
    """A ring that never imported the pack's key, or revoked it, trusts no receipt of it."""
    with pytest.raises(ReceiptRejected) as raised:
        verify_helm_receipt(receipt_of(vector_id), KeyRing(SEED))
    assert "signature_rejected" == raised.value.code
    ring = trusting_ring()
    ring.revoke(RECEIPT_INDEX["key_id"])
    with pytest.raises(ReceiptRejected, match="revoked"):
        verify_helm_receipt(receipt_of(vector_id), ring)


def flip_last_bit(signature_hex: str) -> str:
    """The signature with the lowest bit of its last byte inverted."""
    raw = bytearray(bytes.fromhex(signature_hex))
    raw[-1] ^= 1
    return raw.hex()


def mutated(mutation: str, receipt: dict[str, Any]) -> dict[str, Any]:
    """*receipt* changed as the pack's *mutation* says (written here from its name)."""
    receipt = copy.deepcopy(receipt)
    if mutation == "set_verdict_to_ALLOW":
        receipt["verdict"] = "ALLOW"
    elif mutation == "flip_signature_last_bit":
        receipt["signature"] = flip_last_bit(receipt["signature"])
    elif mutation == "set_lamport_clock_above_max_safe_integer":
        receipt["lamport_clock"] = RECEIPT_INDEX["canonicalization"]["max_safe_integer"] + 1
    elif mutation == "remove_empty_policy_hash":
        assert "" == receipt.pop("policy_hash")
    else:  # pragma: no cover - a pack with a mutation this test does not know fails here
        raise AssertionError(f"unknown mutation {mutation!r}")
    return receipt


@pytest.mark.parametrize(
    "negative", RECEIPT_INDEX["negative_vectors"], ids=lambda negative: negative["id"]
)
def test_each_negative_vector_is_refused_with_its_code(negative: dict[str, str]) -> None:
    """Each mutation of the pack is refused with exactly the code the pack expects."""
    receipt = mutated(negative["mutation"], receipt_of(negative["vector_id"]))
    with pytest.raises(ReceiptRejected) as raised:
        verify_helm_receipt(receipt, trusting_ring())
    assert negative["expected_error"] == raised.value.code


# --- the receipt verifier beyond the pack -------------------------------------------------------


def resigned(receipt: dict[str, Any], ring: KeyRing, key_id: str) -> dict[str, Any]:
    """*receipt* signed anew by the ring's own *key_id* and naming it, as the model signs."""
    receipt = {**receipt, "key_id": key_id}
    receipt["public_key_set"] = {"ed25519": ring.public_key(key_id).hex()}
    receipt["signature"] = ring.sign("ed25519:" + key_id, signing_payload(receipt))
    return receipt


def test_a_receipt_signed_by_the_ring_s_own_key_verifies() -> None:
    """The key named by key_id may be one the ring made, not only an imported one."""
    ring = KeyRing(SEED)
    verify_helm_receipt(resigned(receipt_of("escaped_string_members"), ring, "key-0001"), ring)


@pytest.mark.parametrize(
    ("change", "code", "named"),
    [
        pytest.param({"signature_version": "receipt.v4"}, "contract_mismatch", "v4", id="version"),
        pytest.param({"key_id": 7}, "contract_mismatch", "key_id 7", id="key-id-type"),
        pytest.param(
            {"public_key_set": {"ed25519": "00" * 32}},
            "contract_mismatch",
            "public_key_set",
            id="pk",
        ),
        pytest.param({"public_key_set": None}, "contract_mismatch", "None", id="no-public-key-set"),
        pytest.param(
            {"leaf_index": 2**53}, "non_interoperable_number", "leaf_index", id="unsigned"
        ),
        pytest.param({"metadata": {"x": 1.5}}, "non_interoperable_number", "1.5", id="float"),
        pytest.param({"lamport_clock": -(2**53)}, "non_interoperable_number", "lamport", id="neg"),
        pytest.param({"key_id": "key-9999"}, "signature_rejected", "never held", id="unknown-key"),
        pytest.param({"signature": "AB" * 64}, "signature_rejected", "lowercase", id="upper-hex"),
        pytest.param({"signature": None}, "signature_rejected", "128", id="no-signature"),
        pytest.param(
            {"session_id": "sess-other"}, "signature_rejected", "match", id="signed-member"
        ),
    ],
)
def test_each_fault_has_helm_s_code(change: dict[str, Any], code: str, named: str) -> None:
    """A receipt changed in one member is refused with the code HELM's verifier gives that
    fault, and the message names it; a change to an unsigned member alone is accepted."""
    ring = trusting_ring()
    receipt = {**receipt_of("decision_deny_genesis"), **change}
    with pytest.raises(ReceiptRejected) as raised:
        verify_helm_receipt(receipt, ring)
    assert (code, True) == (raised.value.code, named in raised.value.message)
    verify_helm_receipt({**receipt_of("decision_deny_genesis"), "executor_id": "x"}, ring)


@pytest.mark.parametrize("name", SIGNED_FIELDS)
def test_a_missing_signed_member_is_a_contract_mismatch(name: str) -> None:
    """Every one of the thirteen signed members is required, by verify and signing_payload."""
    receipt = receipt_of("decision_deny_genesis")
    del receipt[name]
    for check in (signing_payload, lambda r: verify_helm_receipt(r, trusting_ring())):
        with pytest.raises(ReceiptRejected, match=name) as raised:
            check(receipt)
        assert "contract_mismatch" == raised.value.code


def test_a_receipt_is_an_object() -> None:
    """A receipt that is not a JSON object is a contract mismatch, not a crash."""
    with pytest.raises(ReceiptRejected, match="list") as raised:
        verify_helm_receipt([], trusting_ring())  # type: ignore[arg-type]
    assert "contract_mismatch" == raised.value.code


def test_a_lone_surrogate_in_a_signed_member_has_no_payload() -> None:
    """Text UTF-8 cannot carry cannot be signed: a contract mismatch."""
    receipt = {**receipt_of("decision_deny_genesis"), "session_id": "\ud800"}
    with pytest.raises(ReceiptRejected, match="surrogate") as raised:
        signing_payload(receipt)
    assert "contract_mismatch" == raised.value.code


def test_receipt_rejected_is_a_receipt_refusal() -> None:
    """ReceiptRejected is the model's ReceiptInvalid (a Refusal), so it carries code and message."""
    error = ReceiptRejected("signature_rejected", "why")
    assert isinstance(error, ReceiptInvalid)
    assert "signature_rejected: why" == str(error)


# --- emergency-stop ----------------------------------------------------------------------------

STOP_VECTORS = STOP_PACK["vectors"]
PINNED = STOP_PACK["deployment_pinned_kernel_keyring"]["keys"]


def identity_of(state: dict[str, Any]) -> AcknowledgementIdentity:
    """The kernel signer identity an acknowledgement's state names."""
    return AcknowledgementIdentity(
        kernel_key_id=state["kernel_key_id"],
        kernel_signer_profile=state["kernel_signer_profile"],
        kernel_public_key=state["kernel_public_key"],
    )


def envelope_bytes(vector: dict[str, Any]) -> bytes:
    """The vector's command envelope as a request body."""
    return json.dumps(vector["command_envelope"], ensure_ascii=False).encode("utf-8")


def test_the_stop_pack_is_the_one_the_tests_read() -> None:
    """Three commands with acknowledgements, six negative cases, JCS capped at 2^53-1."""
    assert "emergency-stop-fence.v1.test-vectors.v2" == STOP_PACK["schema_version"]
    assert 2**53 - 1 == STOP_PACK["canonicalization"]["safe_integer_max"]
    assert 3 == len(STOP_VECTORS)
    assert 6 == len(STOP_PACK["negative_cases"])


@pytest.mark.parametrize("vector", STOP_VECTORS, ids=lambda vector: vector["id"])
def test_each_command_signs_the_pack_s_payload(vector: dict[str, Any]) -> None:
    """The command's signing payload is the pack's, byte for byte, with its sha256, and the
    envelope's signature verifies it under the pack's command key."""
    envelope = parse_fence_envelope(envelope_bytes(vector))
    payload = command_signing_payload(envelope.command)
    assert vector["command_canonical_payload"].encode("utf-8") == payload
    assert vector["command_sha256"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    public = bytes.fromhex(vector["command_public_key"])
    assert ed25519_valid(public, payload, envelope.signature)


@pytest.mark.parametrize("vector", STOP_VECTORS, ids=lambda vector: vector["id"])
def test_each_acknowledgement_is_the_pack_s(vector: dict[str, Any]) -> None:
    """The state built from the command, its fenced_at and the kernel identity is the pack's
    state member for member; its acknowledgement payload is the pack's bytes, its receipt hash
    their sha256, and the kernel signature verifies under the deployment-pinned key."""
    expected = vector["acknowledgement"]["state"]
    command = parse_fence_envelope(envelope_bytes(vector)).command
    state = FenceState(
        command=command,
        command_hash=vector["command_sha256"],
        fenced_at=parse_rfc3339(expected["fenced_at"]),
        identity=identity_of(expected),
    )
    payload = state.acknowledgement_payload()
    assert vector["acknowledgement_canonical_payload"].encode("utf-8") == payload
    assert vector["acknowledgement_sha256"] == state.receipt_hash
    assert expected == state.to_json()
    pinned = PINNED[expected["kernel_key_id"]]
    assert pinned["kernel_public_key"] == expected["kernel_public_key"]
    signature = vector["acknowledgement"]["kernel_signature"]
    assert ed25519_valid(bytes.fromhex(pinned["kernel_public_key"]), payload, signature)


@pytest.mark.parametrize(
    "vector",
    [
        vector
        for vector in STOP_VECTORS
        if "." not in vector["acknowledgement"]["state"]["fenced_at"]
    ],
    ids=lambda vector: vector["id"],
)
def test_a_store_fences_as_the_pack_acknowledges(vector: dict[str, Any]) -> None:
    """Sent to a store with the pack's audience and command key, at the pack's fenced_at (whole
    seconds, so the model's millisecond clock can say it), the command creates exactly the
    pack's state."""
    command = vector["command"]
    expected = vector["acknowledgement"]["state"]
    store = FenceStore(
        command["audience"], {command["key_id"]: bytes.fromhex(vector["command_public_key"])}
    )
    now_ms = parse_rfc3339(expected["fenced_at"]) // 1_000_000
    outcome = store.fence(envelope_bytes(vector), now_ms, identity_of(expected))
    assert 201 == outcome.status and outcome.state is not None
    assert expected == outcome.state.to_json()
    assert store.is_fenced(command["tenant_id"], command["workspace_id"])


NEGATIVES = {case["id"]: case for case in STOP_PACK["negative_cases"]}


@pytest.mark.parametrize(
    "case_id",
    [
        "reject-whitespace-only-audience",
        "reject-expiry-over-ten-minutes",
        "reject-expiry-not-after-issue",
    ],
)
def test_command_semantics_negatives_are_refused(case_id: str) -> None:
    """A command the pack says breaks the contract has no signing payload."""
    body = json.dumps({"command": NEGATIVES[case_id]["command"], "signature": ""}).encode()
    with pytest.raises(FenceInvalid):
        command_signing_payload(parse_fence_envelope(body).command)


def test_the_padded_signature_negative_is_forbidden() -> None:
    """The first vector's envelope with the pack's space-prefixed signature is refused (403)."""
    vector = STOP_VECTORS[0]
    envelope = copy.deepcopy(vector["command_envelope"])
    envelope["signature"] = NEGATIVES["reject-whitespace-around-envelope-signature"]["signature"]
    command = vector["command"]
    store = FenceStore(
        command["audience"], {command["key_id"]: bytes.fromhex(vector["command_public_key"])}
    )
    now_ms = parse_rfc3339(command["issued_at"]) // 1_000_000
    outcome = store.fence(
        json.dumps(envelope).encode(), now_ms, identity_of(vector["acknowledgement"]["state"])
    )
    assert 403 == outcome.status
    assert "lowercase hex" in outcome.refusal


def test_the_unknown_signer_profile_negative_is_refused() -> None:
    """A kernel identity with the pack's unknown profile ("pqc") cannot acknowledge (400)."""
    vector = STOP_VECTORS[0]
    command = vector["command"]
    state = NEGATIVES["reject-unknown-kernel-signer-profile"]["acknowledgement"]["state"]
    store = FenceStore(
        command["audience"], {command["key_id"]: bytes.fromhex(vector["command_public_key"])}
    )
    now_ms = parse_rfc3339(command["issued_at"]) // 1_000_000
    outcome = store.fence(envelope_bytes(vector), now_ms, identity_of(state))
    assert MALFORMED == outcome.status
    assert "'pqc'" in outcome.refusal
    assert not store.is_fenced(command["tenant_id"], command["workspace_id"])
