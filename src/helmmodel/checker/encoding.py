"""The checker's canonical encoder and what it derives from it: signed preimages, links, digests.

Written again on purpose, apart from :mod:`helmmodel.canonical` and the kernel's records: the
checker encodes exactly the fields the spec (section 4) says each record signs, from its own
lists, so a kernel that signs other fields, or encodes them differently, is caught.
"""

from __future__ import annotations

import datetime
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
    # The commonest types first: this runs for every member of every record and node checked.
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        if abs(value) > 2**53 - 1:
            raise ValueError(f"unsafe integer {value}")
        return str(value)
    if kind is dict:
        # Code-point order is UTF-16 order for ASCII keys, the usual case: sort them directly.
        if "".join(value).isascii():
            keys = sorted(value)
        else:
            keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        members = [
            _quote(k) + ":" + (_quote(v) if type(v := value[k]) is str else _jcs(v)) for k in keys
        ]
        return "{" + ",".join(members) + "}"
    if kind is list or kind is tuple:
        items = [_quote(v) if type(v) is str else _jcs(v) for v in value]
        return "[" + ",".join(items) + "]"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    raise ValueError(f"{kind.__name__} is not in the canonical subset")


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


# Each list's members in JCS order (the names are ASCII, so code-point order) with their quoted
# keys, so that encoding a record's signed fields builds and sorts no object.
_ORDERED: dict[tuple[str, ...], list[tuple[str, str]]] = {
    fields: [(name, _quote(name) + ":") for name in sorted(fields)]
    for fields in (DECISION_SIGNED, INTENT_SIGNED, RECEIPT_SIGNED)
}


def expected_preimage(record: Decision | Intent | Receipt) -> bytes:
    """The checker's own encoding of exactly the record's signed fields."""
    members = [
        key + (_quote(v) if type(v := getattr(record, name)) is str else _jcs(v))
        for name, key in _ORDERED[signed_fields(record)]
    ]
    return ("{" + ",".join(members) + "}").encode("utf-8")


# The types whose members attrs.asdict gives as they are, and _jcs encodes without recursing.
_SCALARS = frozenset({str, int})


def receipt_link(receipt: Receipt) -> str:
    """SHA-256 hex of the receipt's JCS, every member included (the next ``prev_hash``)."""
    # Members one level deep, as attrs.asdict gives them for scalars, without its per-call cost.
    members = {field.name: getattr(receipt, field.name) for field in attrs.fields(type(receipt))}
    if not set(map(type, members.values())) <= _SCALARS:
        members = attrs.asdict(receipt)
    return sha256_hex(jcs(members))


def effect_digest(tool: str, args: Any) -> str:
    return "sha256:" + sha256_hex(jcs({"tool": tool, "args": args}))


def node_hash(node: Any) -> str:
    """SHA-256 hex of the JCS of the node's hashed members, written in their JCS order."""
    kind, principal, sig = node.kind, node.principal, node.sig
    encoded = "".join([
        '{"kind":', _quote(kind) if type(kind) is str else _jcs(kind),
        ',"lamport":', _jcs(node.lamport),
        ',"parents":', _jcs(list(node.parents)),
        ',"payload":', _jcs(node.payload),
        ',"principal":', _quote(principal) if type(principal) is str else _jcs(principal),
        ',"sig":', _quote(sig) if type(sig) is str else _jcs(sig),
        "}",
    ])  # fmt: skip
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


# --- the release's records (spec section 12) ----------------------------------------------------


def args_hash(args: Any) -> str:
    """``sha256:`` of the arguments' JCS."""
    return "sha256:" + sha256_hex(jcs(args))


def decision_hash(decision: Decision) -> str:
    """``sha256:`` of the checker's own encoding of the decision's signed fields."""
    return "sha256:" + sha256_hex(expected_preimage(decision))


_DAYS_PER_400_YEARS = 146_097
_MS_PER_DAY = 86_400_000


def go_rfc3339(now_ms: int) -> str:
    """*now_ms* as Go's ``time.RFC3339Nano`` writes it, through Python's datetime.

    datetime holds only years 1 to 9999, so the date is moved by whole 400-year Gregorian
    cycles (each exactly 146,097 days, so month, day and weekday repeat) into that range, and
    the year moved back after formatting.
    """
    days, ms_of_day = divmod(now_ms, _MS_PER_DAY)
    # 2000-01-01 is day 10,957: shift so the date lands in the cycle starting at year 2000.
    cycles = (days - 10_957) // _DAYS_PER_400_YEARS
    moved = datetime.datetime(1970, 1, 1) + datetime.timedelta(
        days=days - cycles * _DAYS_PER_400_YEARS, milliseconds=ms_of_day
    )
    year = moved.year + 400 * cycles
    fraction = f".{moved.microsecond // 1000:03d}".rstrip("0").rstrip(".")
    sign = "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}{moved.strftime('-%m-%dT%H:%M:%S')}{fraction}Z"


def freeze_content_hash(action: str, principal: str, now_ms: int) -> str:
    """SHA-256 hex of a freeze receipt's ``{"action","principal","timestamp"}`` as Go's
    encoding/json writes them in that order (it escapes ``<``, ``>``, ``&``, U+2028, U+2029)."""

    def go_string(text: str) -> str:
        out = []
        for char in json.dumps(text, ensure_ascii=False):
            code = ord(char)
            out.append(f"\\u{code:04x}" if char in "<>&\u2028\u2029" else char)
        return "".join(out)

    text = (
        "{"
        + ",".join(
            [
                f'"action":{go_string(action)}',
                f'"principal":{go_string(principal)}',
                f'"timestamp":"{go_rfc3339(now_ms)}"',
            ]
        )
        + "}"
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The release's receipt envelope, member by member: (name, always written). The members not always
# written are left out when empty, as the release's JSON does (spec 12.4).
_ENVELOPE = (
    ("receipt_id", True),
    ("decision_id", True),
    ("effect_id", True),
    ("external_reference_id", True),
    ("status", True),
    ("blob_hash", False),
    ("output_hash", False),
    ("timestamp", True),
    ("executor_id", False),
    ("metadata", False),
    ("signature", True),
    ("signature_profile", True),
    ("signature_algorithm", True),
    ("key_id", True),
    ("public_key_set", True),
    ("prev_hash", True),
    ("lamport_clock", True),
    ("args_hash", False),
    ("signature_version", True),
    ("decision_hash", False),
    ("verdict", False),
    ("created_at", True),
    ("reason_code", True),
    ("policy_hash", False),
    ("session_id", False),
    ("issued_at", True),
    ("installed_at", True),
)


def release_envelope(
    receipt: Receipt, executor_id: str, public_hex: str, evaluate: Decision | None
) -> dict[str, Any]:
    """The checker's own release envelope of *receipt*: a decision's receipt when *evaluate* is
    its decision (with the evaluate route's metadata), a dispatch's receipt otherwise."""
    zero = "0001-01-01T00:00:00Z"
    values: dict[str, Any] = dict(attrs.asdict(receipt))
    values.update(
        external_reference_id="",
        timestamp=go_rfc3339(receipt.timestamp),
        executor_id=executor_id,
        signature_profile="classical",
        signature_algorithm="ed25519",
        key_id=receipt.signature_type.split(":", 1)[1],
        public_key_set={"ed25519": public_hex},
        created_at=zero,
        issued_at=zero,
        installed_at=zero,
        blob_hash="",
        decision_hash="",
        metadata={},
    )
    if evaluate is not None:
        values.update(
            blob_hash=receipt.args_hash,
            decision_hash=receipt.output_hash,
            metadata={
                "source": "api.evaluate",
                "action": evaluate.resource,
                "resource": evaluate.resource,
                "reason": evaluate.reason if evaluate.verdict != "ALLOW" else "",
                "args_hash": receipt.args_hash,
            },
        )
    return {name: values[name] for name, always in _ENVELOPE if always or values[name]}


# The members the release's chain hash leaves out when empty, though it serves reason_code empty.
_LINK_OMITEMPTY = (
    "output_hash",
    "args_hash",
    "verdict",
    "reason_code",
    "policy_hash",
    "session_id",
)


def release_link(envelope: dict[str, Any]) -> str:
    """SHA-256 hex of the envelope's JCS, its empty legacy members left out: the release's next
    ``prev_hash``."""
    return sha256_hex(
        jcs({k: v for k, v in envelope.items() if not (k in _LINK_OMITEMPTY and v == "")})
    )
