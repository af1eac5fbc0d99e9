"""A receipt as HELM's release writes it, and the release's chain link (spec section 12.4).

The release's receipt is a wider envelope than the model's record: the model's signed members,
plus the key that signed (``key_id``, ``public_key_set``, ``signature_algorithm``,
``signature_profile``), the executor, metadata, the decision hash and its times as RFC 3339
strings. Its JSON follows the release's ``contracts.Receipt`` (members with ``omitempty`` are left
out when empty; its zero times are written as Go writes them). Under the release, the next
receipt's ``prev_hash`` is the SHA-256 hex of this envelope's JCS (the release's
``ReceiptChainHash``), signature included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from helmmodel.canonical import JSONValue, canonical_bytes
from helmmodel.kernel.key_ring import SIGNATURE_TYPE_PREFIX, KeyRing
from helmmodel.kernel.records import Receipt
from helmmodel.kernel.semantics import rfc3339_ms

# Go's zero time.Time, which the release writes for the times it never sets on a receipt.
ZERO_TIME = "0001-01-01T00:00:00Z"
EVALUATE_SOURCE = "api.evaluate"
# Members the release's chain hash leaves out when empty (receipt_hash.go's legacy omitempty), seen
# live: an ALLOW's served receipt has "reason_code": "", and the next prev_hash hashes it without.
LEGACY_OMITEMPTY = (
    "output_hash",
    "args_hash",
    "verdict",
    "reason_code",
    "policy_hash",
    "session_id",
)


def wire(
    receipt: Receipt,
    *,
    executor_id: str,
    keys: KeyRing,
    metadata: Mapping[str, JSONValue] | None = None,
    decision_hash: str = "",
    blob_hash: str = "",
) -> dict[str, JSONValue]:
    """*receipt* as the release's JSON: its members, in the release's names and rules; the key
    that signed it is looked up in *keys*."""
    key_id = receipt.signature_type.removeprefix(SIGNATURE_TYPE_PREFIX)
    members: dict[str, JSONValue] = {
        "receipt_id": receipt.receipt_id,
        "decision_id": receipt.decision_id,
        "effect_id": receipt.effect_id,
        "external_reference_id": "",
        "status": receipt.status,
        "timestamp": rfc3339_ms(receipt.timestamp),
        "signature": receipt.signature,
        "signature_profile": "classical",
        "signature_algorithm": "ed25519",
        "key_id": key_id,
        "public_key_set": {"ed25519": keys.public_key(key_id).hex()},
        "prev_hash": receipt.prev_hash,
        "lamport_clock": receipt.lamport_clock,
        "signature_version": receipt.signature_version,
        # Written even when empty (an ALLOW's), as the release serves it; the chain hash leaves
        # it out then (LEGACY_OMITEMPTY).
        "reason_code": receipt.reason_code,
        "created_at": ZERO_TIME,
        "issued_at": ZERO_TIME,
        "installed_at": ZERO_TIME,
    }
    # The members the release writes only when they are not empty (``omitempty``).
    optional: dict[str, JSONValue] = {
        "blob_hash": blob_hash,
        "output_hash": receipt.output_hash,
        "executor_id": executor_id,
        "metadata": dict(metadata) if metadata else {},
        "args_hash": receipt.args_hash,
        "decision_hash": decision_hash,
        "verdict": receipt.verdict,
        "policy_hash": receipt.policy_hash,
        "session_id": receipt.session_id,
    }
    members.update({name: value for name, value in optional.items() if value})
    return members


def chain_hash(members: Mapping[str, JSONValue]) -> str:
    """SHA-256 hex of the envelope's JCS: the next receipt's ``prev_hash`` under the release,
    which hashes the legacy members it once left out when empty only when they are not."""
    kept = {
        name: value
        for name, value in members.items()
        if not (name in LEGACY_OMITEMPTY and value == "")
    }
    return hashlib.sha256(canonical_bytes(kept)).hexdigest()
