"""The key ring (spec section 4): Ed25519 known answers, negatives, key lifecycle and the memo."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helmmodel.errors import InvalidInput, SignatureInvalid, SignerUnavailable
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.key_ring import KEYS_MAX, KeyRing, derive_private_key, ed25519_valid

SEED = b"key-ring-test-seed"
MESSAGE = b'{"signature_version":"test.v1"}'


def raw_public(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of *key*'s public key."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verify_raw(public: bytes, message: bytes, signature: bytes) -> None:
    """The library's own Ed25519 verification, which the ring builds on."""
    Ed25519PublicKey.from_public_bytes(public).verify(signature, message)


def public_of(ring: KeyRing, key_id: str) -> bytes:
    """The raw public key *ring* holds under *key_id*."""
    return ring._public_raw[key_id]


def flip_bit(data: bytes, bit: int) -> bytes:
    """*data* with bit number *bit* (0 = lowest bit of the first byte) inverted."""
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def flip_hex_bit(signature: str, bit: int) -> str:
    """A lowercase-hex signature with one bit of its bytes inverted."""
    return flip_bit(bytes.fromhex(signature), bit).hex()


# --- RFC 8032 section 7.1 known answers ---------------------------------------------------------

RFC8032_VECTORS = [
    pytest.param(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        id="TEST-1",
    ),
    pytest.param(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        id="TEST-2",
    ),
    pytest.param(
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        id="TEST-3",
    ),
    pytest.param(
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        id="TEST-SHA(abc)",
    ),
]
VECTOR_ARGS = ("secret_hex", "public_hex", "message_hex", "signature_hex")


def test_rfc8032_sha_abc_message_is_sha512_of_abc() -> None:
    """The message of TEST SHA(abc) is the SHA-512 of "abc", as RFC 8032 says."""
    message_hex = RFC8032_VECTORS[3].values[2]
    assert hashlib.sha512(b"abc").hexdigest() == message_hex


@pytest.mark.parametrize(VECTOR_ARGS, RFC8032_VECTORS)
def test_rfc8032_secret_key_gives_public_key(
    secret_hex: str, public_hex: str, message_hex: str, signature_hex: str
) -> None:
    """A vector's secret key gives its public key through from_private_bytes."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret_hex))
    assert bytes.fromhex(public_hex) == raw_public(key)


@pytest.mark.parametrize(VECTOR_ARGS, RFC8032_VECTORS)
def test_rfc8032_signature_is_reproduced(
    secret_hex: str, public_hex: str, message_hex: str, signature_hex: str
) -> None:
    """Signing a vector's message with its secret key gives exactly its signature."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret_hex))
    assert bytes.fromhex(signature_hex) == key.sign(bytes.fromhex(message_hex))


@pytest.mark.parametrize(VECTOR_ARGS, RFC8032_VECTORS)
def test_rfc8032_signature_verifies(
    secret_hex: str, public_hex: str, message_hex: str, signature_hex: str
) -> None:
    """The library accepts a vector's signature over its message under its public key, and so
    does the ring's verification of 128 lowercase hex digits."""
    result = verify_raw(
        bytes.fromhex(public_hex), bytes.fromhex(message_hex), bytes.fromhex(signature_hex)
    )
    assert result is None
    assert ed25519_valid(bytes.fromhex(public_hex), bytes.fromhex(message_hex), signature_hex)


# --- the library's negatives --------------------------------------------------------------------


@pytest.mark.parametrize(VECTOR_ARGS, RFC8032_VECTORS)
def test_rfc8032_wrong_message_is_refused(
    secret_hex: str, public_hex: str, message_hex: str, signature_hex: str
) -> None:
    """A vector's signature over a different message raises InvalidSignature."""
    with pytest.raises(InvalidSignature):
        verify_raw(
            bytes.fromhex(public_hex),
            bytes.fromhex(message_hex) + b"!",
            bytes.fromhex(signature_hex),
        )


@pytest.mark.parametrize(VECTOR_ARGS, RFC8032_VECTORS)
@pytest.mark.parametrize("bit", [0, 7, 100, 255, 256, 300, 504, 511])
def test_rfc8032_flipped_signature_bit_is_refused(
    secret_hex: str, public_hex: str, message_hex: str, signature_hex: str, bit: int
) -> None:
    """A signature with one bit flipped (in R or in S) raises InvalidSignature."""
    signature = flip_bit(bytes.fromhex(signature_hex), bit)
    with pytest.raises(InvalidSignature):
        verify_raw(bytes.fromhex(public_hex), bytes.fromhex(message_hex), signature)


@pytest.mark.parametrize(VECTOR_ARGS, RFC8032_VECTORS[1:])
@pytest.mark.parametrize("bit", [0, 3, 7])
def test_rfc8032_flipped_message_bit_is_refused(
    secret_hex: str, public_hex: str, message_hex: str, signature_hex: str, bit: int
) -> None:
    """The signature over a message with one bit flipped raises InvalidSignature."""
    message = flip_bit(bytes.fromhex(message_hex), bit)
    with pytest.raises(InvalidSignature):
        verify_raw(bytes.fromhex(public_hex), message, bytes.fromhex(signature_hex))


@pytest.mark.parametrize(VECTOR_ARGS, RFC8032_VECTORS)
def test_all_zero_signature_is_refused(
    secret_hex: str, public_hex: str, message_hex: str, signature_hex: str
) -> None:
    """An all-zero 64-byte signature raises InvalidSignature."""
    with pytest.raises(InvalidSignature):
        verify_raw(bytes.fromhex(public_hex), bytes.fromhex(message_hex), bytes(64))


@pytest.mark.parametrize("length", [0, 63, 65])
def test_signature_of_wrong_length_is_refused(length: int) -> None:
    """A signature that is not 64 bytes raises InvalidSignature, even as a prefix of a good one."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    signature = (key.sign(MESSAGE) + b"\x00")[:length]
    with pytest.raises(InvalidSignature):
        verify_raw(raw_public(key), MESSAGE, signature)


def test_signature_under_another_key_is_refused() -> None:
    """A signature made by one key raises InvalidSignature under another key."""
    signer = Ed25519PrivateKey.from_private_bytes(bytes(32))
    other = Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32)
    with pytest.raises(InvalidSignature):
        verify_raw(raw_public(other), MESSAGE, signer.sign(MESSAGE))


# --- key ids and derivation ---------------------------------------------------------------------


def test_new_ring_holds_key_0001_as_signing_key() -> None:
    """A new ring holds one key, key-0001, and signs with it."""
    ring = KeyRing(SEED)
    assert ["key-0001"] == ring.key_ids()
    assert "ed25519:key-0001" == ring.signature_type()
    assert ring.can_sign()


def test_rotate_numbers_keys_from_a_counter() -> None:
    """Rotations give key-0002, key-0003, ... in order, each becoming the signing key."""
    ring = KeyRing(SEED)
    assert ["key-0002", "key-0003"] == [ring.rotate(), ring.rotate()]
    assert ["key-0001", "key-0002", "key-0003"] == ring.key_ids()
    assert "ed25519:key-0003" == ring.signature_type()


def test_key_ids_are_never_reused_after_revocation() -> None:
    """Revoking the newest key and rotating gives a new id, never the revoked one again."""
    ring = KeyRing(SEED)
    ring.rotate()
    ring.revoke("key-0002")
    assert "key-0003" == ring.rotate()
    assert ["key-0001", "key-0002", "key-0003"] == ring.key_ids()
    assert "ed25519:key-0003" == ring.signature_type()


def test_same_seed_gives_same_public_keys() -> None:
    """Two rings made from the same seed hold the same public keys and signatures."""
    first, second = KeyRing(SEED), KeyRing(SEED)
    first.rotate()
    second.rotate()
    for key_id in ("key-0001", "key-0002"):
        assert public_of(first, key_id) == public_of(second, key_id)
    signature_type = first.signature_type()
    assert first.sign(signature_type, MESSAGE) == second.sign(signature_type, MESSAGE)


def test_different_seed_gives_different_keys() -> None:
    """A ring from another seed holds different public keys under the same ids."""
    first, second = KeyRing(SEED), KeyRing(SEED + b"!")
    assert public_of(first, "key-0001") != public_of(second, "key-0001")


def test_keys_of_one_ring_differ() -> None:
    """Each key id of a ring has its own key pair."""
    ring = KeyRing(SEED)
    ring.rotate()
    assert public_of(ring, "key-0001") != public_of(ring, "key-0002")


@pytest.mark.parametrize("key_id", ["key-0001", "key-0002"])
def test_derive_private_key_matches_ring(key_id: str) -> None:
    """derive_private_key(seed, id) is the key the ring holds under that id."""
    ring = KeyRing(SEED)
    ring.rotate()
    assert public_of(ring, key_id) == raw_public(derive_private_key(SEED, key_id))


def test_key_seed_is_sha256_of_kernel_seed_and_key_id() -> None:
    """A key's 32-byte Ed25519 seed is SHA-256 of the kernel seed followed by the key id."""
    ring = KeyRing(SEED)
    derived = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(SEED + b"key-0001").digest())
    assert raw_public(derived) == public_of(ring, "key-0001")


def test_ring_signature_is_lowercase_hex_that_verifies_raw() -> None:
    """The ring signs in 128 lowercase hex digits, verifiable with the raw public key."""
    ring = KeyRing(SEED)
    signature = ring.sign(ring.signature_type(), MESSAGE)
    assert signature == signature.lower()
    assert 128 == len(signature)
    verify_raw(public_of(ring, "key-0001"), MESSAGE, bytes.fromhex(signature))


@pytest.mark.parametrize("seed", [b"", "seed", None])
def test_kernel_config_refuses_a_bad_seed(seed: object) -> None:
    """The ring's seed is a non-empty bytes seed, checked by the kernel's configuration."""
    with pytest.raises(InvalidInput):
        KernelConfig(seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("keys_max", [0, -1, KEYS_MAX + 1, True, 2.0, None])
def test_kernel_config_refuses_a_bad_key_limit(keys_max: object) -> None:
    """The limit of keys is an integer in 1..9999: more would give five-digit ids that sort
    before key-9999."""
    with pytest.raises(InvalidInput):
        KernelConfig(keys_max=keys_max)  # type: ignore[arg-type]


def test_rotate_past_the_limit_is_refused_and_changes_nothing() -> None:
    """A ring of limit 2 makes key-0002, then refuses a third key and keeps its state."""
    kernel = Kernel(KernelConfig(seed=SEED, keys_max=2))
    assert "key-0002" == kernel.rotate_key()
    before = kernel.state_digest()
    with pytest.raises(InvalidInput, match="2 keys"):
        kernel.rotate_key()
    assert before == kernel.state_digest()
    assert "ed25519:key-0002" == kernel.keys.signature_type()


def test_default_limit_keeps_ids_at_four_digits() -> None:
    """The default limit's last id has four digits, so ids sort in creation order."""
    assert KernelConfig().keys_max == KEYS_MAX == 9999


# --- remove, restore, rotate, revoke ------------------------------------------------------------


def test_remove_signing_makes_signer_unavailable() -> None:
    """After remove_signing the ring cannot sign and signature_type raises SignerUnavailable."""
    ring = KeyRing(SEED)
    ring.remove_signing()
    assert not ring.can_sign()
    with pytest.raises(SignerUnavailable):
        ring.signature_type()
    with pytest.raises(SignerUnavailable):
        ring.sign("ed25519:key-0001", MESSAGE)


def test_remove_signing_keeps_old_signatures_verifying() -> None:
    """Signatures made before remove_signing still verify."""
    ring = KeyRing(SEED)
    ring.rotate()
    old = ring.sign("ed25519:key-0001", MESSAGE)
    new = ring.sign("ed25519:key-0002", MESSAGE)
    ring.remove_signing()
    ring.verify("ed25519:key-0001", MESSAGE, old)
    ring.verify("ed25519:key-0002", MESSAGE, new)


def test_restore_signing_brings_back_the_signing_key() -> None:
    """restore_signing after remove_signing signs again with the greatest key."""
    ring = KeyRing(SEED)
    ring.rotate()
    ring.remove_signing()
    ring.restore_signing()
    assert "ed25519:key-0002" == ring.signature_type()
    ring.verify("ed25519:key-0001", MESSAGE, ring.sign("ed25519:key-0001", MESSAGE))


def test_restore_signing_skips_revoked_keys() -> None:
    """restore_signing brings back only non-revoked keys; a revoked key never signs again."""
    ring = KeyRing(SEED)
    ring.rotate()
    ring.revoke("key-0002")
    ring.remove_signing()
    ring.restore_signing()
    assert "ed25519:key-0001" == ring.signature_type()
    with pytest.raises(SignerUnavailable):
        ring.sign("ed25519:key-0002", MESSAGE)


def test_remove_then_restore_returns_the_ring_to_its_state() -> None:
    """remove_signing then restore_signing leaves the ring's state as before, revoked keys
    holding no private key."""
    ring = KeyRing(SEED)
    ring.rotate()
    ring.rotate()
    ring.revoke("key-0002")
    before = ring.digest_material()
    ring.remove_signing()
    ring.restore_signing()
    assert before == ring.digest_material()


def test_restore_signing_with_every_key_revoked_stays_unavailable() -> None:
    """restore_signing when every key is revoked leaves the signer unavailable."""
    ring = KeyRing(SEED)
    ring.revoke("key-0001")
    ring.restore_signing()
    assert not ring.can_sign()
    with pytest.raises(SignerUnavailable):
        ring.signature_type()


def test_rotate_while_signing_removed_gives_a_signing_key() -> None:
    """rotate during remove_signing makes a new key that signs; older keys still only verify."""
    ring = KeyRing(SEED)
    old = ring.sign("ed25519:key-0001", MESSAGE)
    ring.remove_signing()
    assert "key-0002" == ring.rotate()
    assert ring.can_sign()
    assert "ed25519:key-0002" == ring.signature_type()
    ring.verify("ed25519:key-0002", MESSAGE, ring.sign("ed25519:key-0002", MESSAGE))
    ring.verify("ed25519:key-0001", MESSAGE, old)
    with pytest.raises(SignerUnavailable):
        ring.sign("ed25519:key-0001", MESSAGE)


def test_signing_uses_greatest_non_revoked_key() -> None:
    """With keys 1..3 and key 3 revoked, the signing key is key-0002."""
    ring = KeyRing(SEED)
    ring.rotate()
    ring.rotate()
    ring.revoke("key-0003")
    assert "ed25519:key-0002" == ring.signature_type()
    assert "ed25519:key-0002" == ring.signature_type()


def test_signing_key_ignores_revoking_an_older_key() -> None:
    """Revoking an older key leaves the greatest key signing."""
    ring = KeyRing(SEED)
    ring.rotate()
    ring.revoke("key-0001")
    assert "ed25519:key-0002" == ring.signature_type()


def test_signature_type_signature_verifies_under_its_key_only() -> None:
    """A signature made with signature_type() verifies under that type and no other key."""
    ring = KeyRing(SEED)
    ring.rotate()
    signature_type = ring.signature_type()
    signature = ring.sign(signature_type, MESSAGE)
    ring.verify(signature_type, MESSAGE, signature)
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, signature)


def test_revoke_is_retroactive() -> None:
    """A signature made before its key was revoked no longer verifies."""
    ring = KeyRing(SEED)
    ring.rotate()
    signature = ring.sign("ed25519:key-0001", MESSAGE)
    ring.verify("ed25519:key-0001", MESSAGE, signature)
    ring.revoke("key-0001")
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, signature)


def test_revoke_leaves_other_keys_verifying() -> None:
    """Revoking one key leaves signatures of the other keys verifying."""
    ring = KeyRing(SEED)
    signature = ring.sign("ed25519:key-0001", MESSAGE)
    ring.rotate()
    ring.revoke("key-0002")
    ring.verify("ed25519:key-0001", MESSAGE, signature)


def test_revoking_the_last_signing_key_makes_signer_unavailable() -> None:
    """Revoking the only key that can sign leaves the signer unavailable."""
    ring = KeyRing(SEED)
    ring.rotate()
    ring.revoke("key-0002")
    assert ring.can_sign()
    ring.revoke("key-0001")
    assert not ring.can_sign()
    with pytest.raises(SignerUnavailable):
        ring.signature_type()


def test_revoking_the_only_key_while_removed_leaves_signer_unavailable_after_restore() -> None:
    """A key revoked while signing was removed does not come back with restore_signing."""
    ring = KeyRing(SEED)
    ring.remove_signing()
    ring.revoke("key-0001")
    ring.restore_signing()
    assert not ring.can_sign()


@pytest.mark.parametrize("key_id", ["key-0002", "key-1", "ed25519:key-0001", "", "KEY-0001"])
def test_revoking_an_unknown_key_raises_and_changes_nothing(key_id: str) -> None:
    """revoke of a key id the ring never made raises InvalidInput and leaves the ring as it was."""
    ring = KeyRing(SEED)
    before = (ring.key_ids(), ring.signature_type(), ring.digest_material())
    with pytest.raises(InvalidInput):
        ring.revoke(key_id)
    after = (ring.key_ids(), ring.signature_type(), ring.digest_material())
    assert before == after


# --- verify refusals ----------------------------------------------------------------------------


@pytest.fixture
def signed() -> tuple[KeyRing, str]:
    """A ring and a signature by key-0001 over MESSAGE."""
    ring = KeyRing(SEED)
    return ring, ring.sign("ed25519:key-0001", MESSAGE)


@pytest.mark.parametrize(
    "signature_type",
    ["rsa:key-0001", "key-0001", "ed25519", "ED25519:key-0001", "ed25519:", "", None, 1],
)
def test_verify_refuses_unknown_signature_types(
    signed: tuple[KeyRing, str], signature_type: object
) -> None:
    """verify raises SignatureInvalid for a signature type it does not know."""
    ring, signature = signed
    with pytest.raises(SignatureInvalid):
        ring.verify(signature_type, MESSAGE, signature)


@pytest.mark.parametrize("key_id", ["key-0002", "key-9999", "key-1", "key-00001"])
def test_verify_refuses_unknown_key_ids(signed: tuple[KeyRing, str], key_id: str) -> None:
    """verify raises SignatureInvalid for a key id the ring never held."""
    ring, signature = signed
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:" + key_id, MESSAGE, signature)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(str.upper, id="uppercase"),
        pytest.param(lambda s: s[:-2], id="short"),
        pytest.param(lambda s: s + "00", id="long"),
        pytest.param(lambda s: s[:-1] + "g", id="non-hex"),
        pytest.param(lambda s: " " + s[1:], id="space"),
        pytest.param(lambda s: "", id="empty"),
    ],
)
def test_verify_refuses_malformed_signature_hex(
    signed: tuple[KeyRing, str], mangle: object
) -> None:
    """verify raises SignatureInvalid for uppercase, short, long or non-hex signatures."""
    ring, signature = signed
    ring.verify("ed25519:key-0001", MESSAGE, signature)
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, mangle(signature))  # type: ignore[operator]


def test_verify_refuses_signature_bytes_instead_of_hex(signed: tuple[KeyRing, str]) -> None:
    """verify raises SignatureInvalid for a signature given as raw bytes."""
    ring, signature = signed
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, bytes.fromhex(signature))


@pytest.mark.parametrize("bit", [0, 9, 255, 256, 511])
def test_verify_refuses_flipped_signature_bit(signed: tuple[KeyRing, str], bit: int) -> None:
    """verify raises SignatureInvalid for a ring signature with one bit flipped."""
    ring, signature = signed
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, flip_hex_bit(signature, bit))


@pytest.mark.parametrize("bit", [0, 8 * len(MESSAGE) - 1])
def test_verify_refuses_flipped_message_bit(signed: tuple[KeyRing, str], bit: int) -> None:
    """verify raises SignatureInvalid for the message with one bit flipped."""
    ring, signature = signed
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", flip_bit(MESSAGE, bit), signature)


def test_verify_refuses_all_zero_signature(signed: tuple[KeyRing, str]) -> None:
    """verify raises SignatureInvalid for 128 zero hex digits."""
    ring, _ = signed
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, "0" * 128)


# --- the verification memo ----------------------------------------------------------------------


def test_memo_serves_a_good_signature_twice(signed: tuple[KeyRing, str]) -> None:
    """Verifying the same good triple twice passes both times."""
    ring, signature = signed
    ring.verify("ed25519:key-0001", MESSAGE, signature)
    ring.verify("ed25519:key-0001", MESSAGE, signature)


def test_memo_refuses_a_bad_signature_twice(signed: tuple[KeyRing, str]) -> None:
    """A signature that failed once fails again when presented a second time."""
    ring, signature = signed
    bad = flip_hex_bit(signature, 3)
    for _ in range(2):
        with pytest.raises(SignatureInvalid):
            ring.verify("ed25519:key-0001", MESSAGE, bad)


def test_memo_is_byte_exact() -> None:
    """A memoised good triple does not vouch for a different message or signature, nor the
    other way round."""
    ring = KeyRing(SEED)
    signature = ring.sign("ed25519:key-0001", MESSAGE)
    bad = flip_hex_bit(signature, 500)
    other_message = MESSAGE + b" "
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, bad)
    ring.verify("ed25519:key-0001", MESSAGE, signature)
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", other_message, signature)
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0001", MESSAGE, bad)
    ring.verify("ed25519:key-0001", MESSAGE, signature)


def test_memo_does_not_carry_a_signature_to_another_key() -> None:
    """A triple memoised under key-0001 is refused when presented as signed by key-0002."""
    ring = KeyRing(SEED)
    signature = ring.sign("ed25519:key-0001", MESSAGE)
    ring.rotate()
    ring.verify("ed25519:key-0001", MESSAGE, signature)
    with pytest.raises(SignatureInvalid):
        ring.verify("ed25519:key-0002", MESSAGE, signature)


def test_memo_does_not_outlive_revocation(signed: tuple[KeyRing, str]) -> None:
    """A triple that verified (and was memoised) is refused after its key is revoked."""
    ring, signature = signed
    ring.verify("ed25519:key-0001", MESSAGE, signature)
    ring.verify("ed25519:key-0001", MESSAGE, signature)
    ring.revoke("key-0001")
    with pytest.raises(SignatureInvalid, match="revoked"):
        ring.verify("ed25519:key-0001", MESSAGE, signature)


# --- trust keys ---------------------------------------------------------------------------------

TRUSTED = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TRUSTED_ID = "helm-reference-key"


def trusted_ring() -> KeyRing:
    """A ring holding TRUSTED's public key as the trust key TRUSTED_ID."""
    ring = KeyRing(SEED)
    ring.import_trust_key(TRUSTED_ID, raw_public(TRUSTED))
    return ring


def test_a_trust_key_verifies_what_its_owner_signed() -> None:
    """verify() accepts ``ed25519:<imported id>`` for a signature by the imported key's owner."""
    ring = trusted_ring()
    ring.verify("ed25519:" + TRUSTED_ID, MESSAGE, TRUSTED.sign(MESSAGE).hex())
    assert raw_public(TRUSTED) == ring.public_key(TRUSTED_ID)
    assert [TRUSTED_ID] == ring.trust_key_ids()


def test_a_trust_key_refuses_what_its_owner_did_not_sign() -> None:
    """A trust key verifies its owner's signatures only: another key's is refused."""
    ring = trusted_ring()
    other = derive_private_key(SEED, "key-0001").sign(MESSAGE).hex()
    with pytest.raises(SignatureInvalid, match="does not match"):
        ring.verify("ed25519:" + TRUSTED_ID, MESSAGE, other)


def test_a_trust_key_never_signs() -> None:
    """Importing a key changes neither the signing key nor what restore_signing() brings back,
    and the ring's own key list does not include it."""
    ring = trusted_ring()
    assert "ed25519:key-0001" == ring.signature_type()
    ring.remove_signing()
    ring.restore_signing()
    assert "ed25519:key-0001" == ring.signature_type()
    assert ["key-0001"] == ring.key_ids()
    assert TRUSTED_ID not in ring._private


def test_revoking_a_trust_key_stops_it_verifying() -> None:
    """revoke() takes an imported id; the key's signatures are refused from then on."""
    ring = trusted_ring()
    signature = TRUSTED.sign(MESSAGE).hex()
    ring.revoke(TRUSTED_ID)
    with pytest.raises(SignatureInvalid, match="revoked"):
        ring.verify("ed25519:" + TRUSTED_ID, MESSAGE, signature)
    assert "ed25519:key-0001" == ring.signature_type()


def test_digest_of_a_ring_without_trust_keys_is_unchanged() -> None:
    """The digest material of a ring that imported nothing is byte for byte what it was before
    trust keys existed, so saved traces replay to the same state digests."""
    ring = KeyRing(SEED)
    assert b"1|key-0001|" == ring.digest_material()
    ring.rotate()
    ring.revoke("key-0001")
    assert b"2|key-0002|key-0001" == ring.digest_material()


def test_digest_includes_trust_keys() -> None:
    """Importing a key, or importing another key under the same id, changes the digest; so does
    revoking it."""
    plain = KeyRing(SEED).digest_material()
    ring = trusted_ring()
    imported = ring.digest_material()
    assert imported != plain
    assert imported.endswith(f"|trust:{TRUSTED_ID}={raw_public(TRUSTED).hex()}".encode())
    other = KeyRing(SEED)
    other.import_trust_key(TRUSTED_ID, bytes(32))
    assert other.digest_material() != imported
    ring.revoke(TRUSTED_ID)
    assert ring.digest_material() not in {plain, imported}


@pytest.mark.parametrize(
    ("key_id", "public", "named"),
    [
        pytest.param("has space", bytes(32), "'has space'", id="not-an-identifier"),
        pytest.param("", bytes(32), "''", id="empty-id"),
        pytest.param(7, bytes(32), "7", id="id-not-a-string"),
        pytest.param("key-0001", bytes(32), "'key-0001'", id="own-key-id"),
        pytest.param("key-0002", bytes(32), "'key-0002'", id="future-own-key-id"),
        pytest.param("short", bytes(31), "not 31 bytes", id="31-bytes"),
        pytest.param("long", bytes(33), "not 33 bytes", id="33-bytes"),
        pytest.param("hex", "00" * 32, "'" + "00" * 32 + "'", id="hex-text"),
    ],
)
def test_import_trust_key_refuses_bad_input(key_id: object, public: object, named: str) -> None:
    """A bad id or key raises InvalidInput naming the value, and the ring is unchanged."""
    ring = KeyRing(SEED)
    before = ring.digest_material()
    with pytest.raises(InvalidInput) as raised:
        ring.import_trust_key(key_id, public)  # type: ignore[arg-type]
    assert named in str(raised.value)
    assert before == ring.digest_material()
    assert [] == ring.trust_key_ids()


def test_import_trust_key_refuses_an_id_already_held() -> None:
    """An id imported once cannot be imported again, even with the same key."""
    ring = trusted_ring()
    with pytest.raises(InvalidInput, match=f"'{TRUSTED_ID}' is already held"):
        ring.import_trust_key(TRUSTED_ID, raw_public(TRUSTED))


def test_public_key_of_an_unknown_id_raises() -> None:
    """public_key() names the id it does not hold."""
    with pytest.raises(InvalidInput, match="'nobody'"):
        KeyRing(SEED).public_key("nobody")
