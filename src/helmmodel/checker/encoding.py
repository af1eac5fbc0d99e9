"""The checker's canonical encoder and what it derives from it: signed preimages, links, digests.

Written again on purpose, apart from :mod:`helmmodel.canonical` and the kernel's records: the
checker encodes exactly the fields the spec (section 4) says each record signs, from its own
lists, so a kernel that signs other fields, or encodes them differently, is caught.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import attrs

from helmmodel.kernel.records import Decision, Intent, Receipt

# JSON string quoting as RFC 8785 wants it (only U+0000..U+001F, quote and backslash escaped);
# the C function behind json.dumps(ensure_ascii=False), without json.dumps's per-call overhead.
_quote: Callable[[str], str] = json.encoder.encode_basestring


def jcs(value: Any) -> bytes:
    """JCS bytes, written independently of :mod:`helmmodel.canonical` (keys by UTF-16 units)."""
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        if abs(value) > 2**53 - 1:
            raise ValueError(f"unsafe integer {value}")
        return str(value)
    if type(value) is str:
        return _quote(value)
    if type(value) is list or type(value) is tuple:
        return "[" + ",".join(_jcs(item) for item in value) + "]"
    if type(value) is dict:
        # Code-point order is UTF-16 order for ASCII keys, the usual case: sort them directly.
        if "".join(value).isascii():
            keys = sorted(value)
        else:
            keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(_quote(k) + ":" + _jcs(value[k]) for k in keys) + "}"
    raise ValueError(f"{type(value).__name__} is not in the canonical subset")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The signed-field lists of spec section 4, copied from the spec, not the kernel.
DECISION_SIGNED = (
    "id", "verdict", "reason_code", "reason_hash", "subject_id", "action", "resource",
    "effect_digest", "policy_version", "policy_epoch", "requirement_set_hash", "budget_id",
    "signature_type", "signature_version",
)  # fmt: skip
INTENT_SIGNED = (
    "id", "decision_id", "effect_digest_hash", "issued_at", "expires_at", "allowed_tool",
    "signer", "signature_type", "signature_version",
)  # fmt: skip
RECEIPT_SIGNED = (
    "receipt_id", "decision_id", "effect_id", "status", "output_hash", "prev_hash",
    "lamport_clock", "args_hash", "verdict", "reason_code", "policy_hash", "session_id",
    "signature_version",
)  # fmt: skip


def signed_fields(record: Decision | Intent | Receipt) -> tuple[str, ...]:
    if isinstance(record, Decision):
        return DECISION_SIGNED
    if isinstance(record, Intent):
        return INTENT_SIGNED
    return RECEIPT_SIGNED


def expected_preimage(record: Decision | Intent | Receipt) -> bytes:
    """The checker's own encoding of exactly the record's signed fields."""
    return jcs({name: getattr(record, name) for name in signed_fields(record)})


def receipt_link(receipt: Receipt) -> str:
    """SHA-256 hex of the receipt's JCS, every member included (the next ``prev_hash``)."""
    return sha256_hex(jcs(attrs.asdict(receipt)))


def effect_digest(tool: str, args: Any) -> str:
    return "sha256:" + sha256_hex(jcs({"tool": tool, "args": args}))


def node_hash(node: Any) -> str:
    members = {
        "kind": node.kind,
        "parents": list(node.parents),
        "lamport": node.lamport,
        "principal": node.principal,
        "payload": node.payload,
        "sig": node.sig,
    }
    return sha256_hex(jcs(members))
