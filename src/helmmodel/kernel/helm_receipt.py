"""The helm-ai-kernel release's receipt.v5 verifier (spec section 12).

A receipt.v5 as HELM publishes it is a JSON object with many members; its Ed25519 signature covers
exactly the JCS bytes of the thirteen signed members (``records.Receipt.SIGNED_FIELDS``, the same
thirteen HELM signs), and its ``key_id`` names the signer's key, which a verifier must already
trust: here, a key the ring holds (typically one imported with ``KeyRing.import_trust_key``). A
receipt that does not verify is refused with ``ReceiptRejected`` carrying the name HELM's
reference pack gives the failure (``reference_packs/receipt-v5/vectors.json``, ``expected_error``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helmmodel.canonical import canonical_bytes, check_subset
from helmmodel.errors import CanonicalJSONError, ReceiptInvalid, SignatureInvalid
from helmmodel.kernel.key_ring import SIGNATURE_TYPE_PREFIX, KeyRing
from helmmodel.kernel.records import RECEIPT_VERSION, Receipt

SIGNATURE_REJECTED = "signature_rejected"
NON_INTEROPERABLE_NUMBER = "non_interoperable_number"
CONTRACT_MISMATCH = "contract_mismatch"

SIGNED_FIELDS = Receipt.SIGNED_FIELDS


class ReceiptRejected(ReceiptInvalid):
    """A receipt.v5 that does not verify; ``code`` is HELM's name for the failure:
    ``contract_mismatch`` (not the receipt.v5 contract: wrong version, a signed member missing,
    a public key that is not the signer's), ``non_interoperable_number`` (a number outside
    ±(2^53−1), or not an integer) or ``signature_rejected`` (no trusted live key, or the
    signature does not verify the signed members)."""


def _signed_members(receipt: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(receipt, Mapping):
        raise ReceiptRejected(
            CONTRACT_MISMATCH, f"a receipt is a JSON object, not {type(receipt).__name__}"
        )
    missing = [name for name in SIGNED_FIELDS if name not in receipt]
    if missing:
        raise ReceiptRejected(CONTRACT_MISMATCH, f"missing signed members: {', '.join(missing)}")
    return {name: receipt[name] for name in SIGNED_FIELDS}


def _check_numbers(value: Any, what: str) -> None:
    try:
        check_subset(value)
    except CanonicalJSONError as error:
        raise ReceiptRejected(NON_INTEROPERABLE_NUMBER, f"{what}: {error}") from None


def signing_payload(receipt: Mapping[str, Any]) -> bytes:
    """The bytes a receipt.v5's signature covers: JCS of exactly its thirteen signed members."""
    members = _signed_members(receipt)
    _check_numbers(members, "the signed members")
    try:
        return canonical_bytes(members)
    except CanonicalJSONError as error:
        # Numbers were checked just above, so what is left is text UTF-8 cannot carry.
        raise ReceiptRejected(CONTRACT_MISMATCH, str(error)) from None


def verify_helm_receipt(receipt: Mapping[str, Any], keys: KeyRing) -> None:
    """Raise ReceiptRejected unless *receipt* is a receipt.v5 signed by a live key of *keys*.

    The checks run in the order of HELM's reference verifier (``verify_vectors.py`` of the
    receipt-v5 pack), so a receipt with several faults gets the code HELM gives it: the version,
    the signed members, every number of the whole receipt, then the key named by ``key_id``
    and the signature, and last that ``public_key_set`` names that same key.
    """
    members = _signed_members(receipt)
    if members["signature_version"] != RECEIPT_VERSION:
        raise ReceiptRejected(
            CONTRACT_MISMATCH,
            f"signature_version is {members['signature_version']!r}, not {RECEIPT_VERSION!r}",
        )
    # The whole receipt, unsigned members included, as HELM's verifier checks it: a number a
    # JavaScript consumer would read differently is refused wherever it is.
    _check_numbers(dict(receipt), "the receipt")
    payload = signing_payload(receipt)
    key_id = receipt.get("key_id")
    if type(key_id) is not str:
        raise ReceiptRejected(CONTRACT_MISMATCH, f"key_id {key_id!r} is not a string")
    try:
        keys.verify(SIGNATURE_TYPE_PREFIX + key_id, payload, receipt.get("signature"))
    except SignatureInvalid as error:
        raise ReceiptRejected(
            SIGNATURE_REJECTED, f"receipt {receipt['receipt_id']!r}: {error}"
        ) from None
    public_key_set = receipt.get("public_key_set")
    claimed = public_key_set.get("ed25519") if isinstance(public_key_set, Mapping) else None
    held = keys.public_key(key_id).hex()
    if claimed != held:
        raise ReceiptRejected(
            CONTRACT_MISMATCH,
            f"public_key_set.ed25519 is {claimed!r}, but the ring holds {key_id!r} as {held}",
        )
