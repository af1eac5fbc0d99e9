"""The checker's shortcuts keep every check at full strength: its signature check accepts exactly
what an Ed25519 verification accepts, and what it remembers never vouches for a record that changed
after it was checked."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from helmmodel.checker.ghost import KeyRecord

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
