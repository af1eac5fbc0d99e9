"""The checker's shortcuts keep every check at full strength: its encoder's fast paths give the
bytes the plain encoding gives, and its signature check accepts exactly what an Ed25519
verification accepts."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helmmodel.canonical import canonical_bytes
from helmmodel.checker import encoding
from helmmodel.checker.ghost import KeyRecord
from helmmodel.kernel import Node
from helmmodel.kernel.records import Decision, Intent, Receipt

# --- the encoder's fast paths --------------------------------------------------------------------


def plain_jcs(value: Any) -> bytes:
    """The checker's encoding as it was written before its fast paths: keys quoted by json.dumps
    and always sorted by UTF-16 code units."""

    def encode(value: Any) -> str:
        if isinstance(value, dict):
            keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
            return (
                "{"
                + ",".join(json.dumps(k, ensure_ascii=False) + ":" + encode(value[k]) for k in keys)
                + "}"
            )
        if isinstance(value, list | tuple):
            return "[" + ",".join(encode(item) for item in value) + "]"
        return json.dumps(value, ensure_ascii=False)

    return encode(value).encode("utf-8")


# Text with keys on both sides of the fast path (ASCII, and not: U+E000..U+FFFF against astral
# characters is where code-point order and UTF-16 order differ).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6) | st.sampled_from(
    ["a", "b", "\ue000", "\uffff", "\U0001f600", "\u00e9", "\x00", '"', "\\"]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=20,
)


@given(JSON)
def test_jcs_gives_the_plain_encoding_and_the_kernels(value: Any) -> None:
    """The fast paths change no byte: the same as before them, and as the kernel's encoder."""
    assert plain_jcs(value) == encoding.jcs(value) == canonical_bytes(value)


def test_jcs_still_refuses_what_is_outside_the_subset() -> None:
    for value in (1.5, 2**53, {"a": [float("nan")]}, {"k": object()}):
        with pytest.raises(ValueError):
            encoding.jcs(value)


STRINGS = st.text(max_size=8).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))


def records() -> st.SearchStrategy[Decision | Intent | Receipt]:
    def build(cls: type[Any]) -> st.SearchStrategy[Any]:
        fields = {
            field.name: st.integers(0, 2**53 - 1) if field.type in ("int", int) else STRINGS
            for field in attrs.fields(cls)
        }
        return st.builds(cls, **fields)

    return st.one_of(build(Decision), build(Intent), build(Receipt))


@given(records())
def test_preimage_and_link_are_the_plain_encodings(record: Decision | Intent | Receipt) -> None:
    """The signed fields written in their precomputed order are JCS of the signed-field object;
    a receipt's link is the hash of JCS of attrs.asdict, as before."""
    signed = {name: getattr(record, name) for name in encoding.signed_fields(record)}
    assert plain_jcs(signed) == encoding.expected_preimage(record)
    if isinstance(record, Receipt):
        expected = hashlib.sha256(plain_jcs(attrs.asdict(record))).hexdigest()
        assert expected == encoding.receipt_link(record)


def test_a_receipt_member_outside_the_scalars_is_linked_as_asdict_gives_it() -> None:
    receipt = attrs.evolve(RECEIPT, status=["a", {"b": 1}])
    expected = hashlib.sha256(plain_jcs(attrs.asdict(receipt))).hexdigest()
    assert expected == encoding.receipt_link(receipt)


def test_a_record_changed_after_it_was_encoded_encodes_anew() -> None:
    """Nothing is remembered between encodings: a record changed in place (which frozen records
    only allow by force) gets the bytes of its new fields, so tamper_evident sees the change."""
    before = encoding.expected_preimage(RECEIPT)
    link = encoding.receipt_link(RECEIPT)
    receipt = attrs.evolve(RECEIPT)
    object.__setattr__(receipt, "status", "FAILURE")
    assert before != encoding.expected_preimage(receipt)
    assert b'"status":"FAILURE"' in encoding.expected_preimage(receipt)
    assert link != encoding.receipt_link(receipt)


@given(
    st.sampled_from(["INTENT", "ATTESTATION", "EFFECT"]),
    st.lists(st.text("0123456789abcdef", min_size=4, max_size=4), max_size=3),
    st.integers(0, 2**53 - 1),
    STRINGS,
    st.dictionaries(TEXT, JSON, max_size=4),
    STRINGS,
)
def test_node_hash_is_the_plain_encodings_hash(
    kind: str, parents: list[str], lamport: int, principal: str, payload: Any, sig: str
) -> None:
    node = Node(
        kind=kind,
        parents=tuple(parents),
        lamport=lamport,
        principal=principal,
        payload=payload,
        sig=sig,
        timestamp=0,
        hash="",
    )
    members = {
        "kind": kind,
        "parents": parents,
        "lamport": lamport,
        "principal": principal,
        "payload": payload,
        "sig": sig,
    }
    assert hashlib.sha256(plain_jcs(members)).hexdigest() == encoding.node_hash(node)


RECEIPT = Receipt(
    receipt_id="rcpt-1",
    decision_id="dec-1",
    effect_id="eff-1",
    status="SUCCESS",
    output_hash="sha256:00",
    prev_hash="",
    lamport_clock=1,
    args_hash="sha256:11",
    verdict="ALLOW",
    reason_code="",
    policy_hash="sha256:22",
    session_id="s0",
    timestamp=0,
    signature_type="ed25519:key-0001",
)

# --- a second Ed25519 signer, with a nonce of the caller's choosing (RFC 8032 section 6) ---------
# The checker accepts its own deterministic signature by comparison; these tests need a valid
# signature that is not that one, which no library signer gives.

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
Point = tuple[int, int, int, int]


def _add(a: Point, b: Point) -> Point:
    e, h = (a[1] - a[0]) * (b[1] - b[0]) % P, (a[1] + a[0]) * (b[1] + b[0]) % P
    c, dd = 2 * a[3] * b[3] * D % P, 2 * a[2] * b[2] % P
    return ((h - e) * (dd - c), (dd + c) * (h + e), (dd - c) * (dd + c), (h - e) * (h + e))


def _times(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point, scalar = _add(point, point), scalar >> 1
    return result


def _base() -> Point:
    y = 4 * pow(5, -1, P) % P
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    x = P - x if x & 1 else x
    return (x, y, 1, x * y % P)


def _encode(point: Point) -> bytes:
    z = pow(point[2], -1, P)
    x, y = point[0] * z % P, point[1] * z % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def sign_with_nonce(seed: bytes, message: bytes, nonce: int) -> str:
    """An Ed25519 signature of *message* by the key of *seed*, with nonce *nonce*: valid, and
    not the deterministic one unless *nonce* is the RFC's."""
    h = hashlib.sha512(seed).digest()
    a = (int.from_bytes(h[:32], "little") & ((1 << 254) - 8)) | (1 << 254)
    public = _encode(_times(a, _base()))
    r = _encode(_times(nonce, _base()))
    k = int.from_bytes(hashlib.sha512(r + public + message).digest(), "little") % L
    return (r + ((nonce + k * a) % L).to_bytes(32, "little")).hex()


@pytest.fixture
def keys() -> KeyRecord:
    keys = KeyRecord(b"seed", 9999)
    keys.derive()
    keys.derive()
    return keys


def seed_of(key_id: str) -> bytes:
    return hashlib.sha256(b"seed" + key_id.encode()).digest()


def test_the_second_signer_agrees_with_the_library() -> None:
    """With the RFC's own nonce, the helper's signature is the library's (so it is Ed25519)."""
    seed, message = seed_of("key-0001"), b"a message"
    prefix = hashlib.sha512(seed).digest()[32:]
    nonce = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % L
    expected = KeyRecord(b"seed", 1).private_key("key-0001").sign(message).hex()
    assert expected == sign_with_nonce(seed, message, nonce)


def test_a_valid_signature_other_than_the_deterministic_one_is_accepted(keys: KeyRecord) -> None:
    """The comparison with the checker's own signature is a shortcut, not the check: any
    signature that verifies is accepted."""
    message = b'{"id":"dec-1"}'
    signature = sign_with_nonce(seed_of("key-0001"), message, secrets.randbelow(L - 1) + 1)
    assert signature != keys.private_key("key-0001").sign(message).hex()
    assert keys.signature_ok("ed25519:key-0001", message, signature)


def test_the_deterministic_signature_is_accepted_only_under_its_own_key(keys: KeyRecord) -> None:
    message = b'{"id":"dec-1"}'
    signature = keys.private_key("key-0001").sign(message).hex()
    assert keys.signature_ok("ed25519:key-0001", message, signature)
    assert not keys.signature_ok("ed25519:key-0002", message, signature)
    assert not keys.signature_ok("ed25519:key-0001", message + b" ", signature)


def test_a_signature_that_is_not_ed25519_of_the_message_is_refused(keys: KeyRecord) -> None:
    """Neither the shortcut nor the verification accepts a signature of another message, or one
    with a byte changed."""
    message = b'{"id":"dec-1"}'
    other = sign_with_nonce(seed_of("key-0001"), b'{"id":"dec-2"}', 12345)
    assert not keys.signature_ok("ed25519:key-0001", message, other)
    good = keys.private_key("key-0001").sign(message).hex()
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert not keys.signature_ok("ed25519:key-0001", message, flipped)
