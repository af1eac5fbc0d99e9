"""The key ring (spec section 4): seed-derived Ed25519 keys, signing, and verification that raises.

Key ids come from a counter (``key-0001``, ``key-0002``, ...) and each key's 32-byte seed is
``SHA-256(kernel seed || key id)``, so two kernels made from the same seed hold the same keys and a
replayed trace reproduces every signature byte for byte.

A ring may also hold *trust keys*: public keys it did not make (another signer's, such as the key of
HELM's reference receipts), imported under an id of their own. They only verify, never sign, and
revoking one stops it verifying like any other key.
"""

from __future__ import annotations

import functools
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helmmodel.errors import InvalidInput, SignatureInvalid, SignerUnavailable
from helmmodel.kernel.records import check_identifier

SIGNATURE_TYPE_PREFIX = "ed25519:"
SIGNATURE_HEX = re.compile(r"[0-9a-f]{128}")
# Ids have four digits, so no more keys than this keeps them sorting in creation order.
KEYS_MAX = 9999
MEMO_ENTRIES_MAX = 65_536
# The ids the ring gives its own keys; a trust key may not take one, or a later rotate() would
# make a key under an id that already verifies with someone else's public key.
OWN_KEY_ID = re.compile(r"key-[0-9]{4}")
PUBLIC_KEY_BYTES = 32


def key_id_for(number: int) -> str:
    """The id of the *number*-th key of a ring."""
    return f"key-{number:04d}"


def derive_private_key(kernel_seed: bytes, key_id: str) -> Ed25519PrivateKey:
    """The private key *key_id* of a kernel made from *kernel_seed*."""
    seed = hashlib.sha256(kernel_seed + key_id.encode("ascii")).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_valid(public: bytes, message: bytes, signature_hex: str) -> bool:
    """Whether *signature_hex* (128 lowercase hex digits) verifies *message* under *public*."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(signature_hex), message)
    except InvalidSignature:
        return False
    return True


class KeyRing:
    """Per key id: the public key (always), the private key (while it can sign), revocation."""

    def __init__(self, seed: bytes, keys_max: int = KEYS_MAX) -> None:
        # The seed and the limit come checked from the kernel's configuration.
        self._seed = seed
        self._keys_max = keys_max
        self._public: dict[str, Ed25519PublicKey] = {}
        self._public_raw: dict[str, bytes] = {}
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._revoked: set[str] = set()
        # Imported trust keys: raw public key per id. They are also in _public_raw (so verify()
        # finds them), never in _public (whose keys restore_signing() re-derives privately).
        self._trusted: dict[str, bytes] = {}
        self._count = 0
        # Memo of verification results, keyed on exactly the public key and message bytes and
        # the signature's hex (which stands for exactly one byte string: only 128 lowercase hex
        # digits are ever looked up); revocation is checked outside it, so a revoked key can
        # never be served. Least recently used entries make room past MEMO_ENTRIES_MAX.
        self._verified = functools.lru_cache(maxsize=MEMO_ENTRIES_MAX)(ed25519_valid)
        self._signing_key_id: str | None = None
        self.rotate()

    # --- state ------------------------------------------------------------------------------

    def key_ids(self) -> list[str]:
        """The ids of the keys the ring made (trust keys are not among them)."""
        return sorted(self._public)

    def trust_key_ids(self) -> list[str]:
        """The ids of the imported trust keys."""
        return sorted(self._trusted)

    def public_key(self, key_id: str) -> bytes:
        """The 32 raw bytes of the public key held under *key_id* (made or imported)."""
        public = self._public_raw.get(key_id)
        if public is None:
            raise InvalidInput(f"the ring holds no key {key_id!r}")
        return public

    def can_sign(self) -> bool:
        return self._signing_key_id is not None

    def _refresh_signing_key(self) -> None:
        candidates = [k for k in self._private if k not in self._revoked]
        self._signing_key_id = max(candidates) if candidates else None

    def digest_material(self) -> bytes:
        material = (
            f"{self._count}|{','.join(sorted(self._private))}|{','.join(sorted(self._revoked))}"
        )
        # Only a ring holding trust keys gets the extra part, so the digest of every other ring
        # (and of every saved trace) stays what it was before trust keys existed.
        if self._trusted:
            material += "|trust:" + ",".join(
                f"{key_id}={public.hex()}" for key_id, public in sorted(self._trusted.items())
            )
        return material.encode()

    # --- operations -------------------------------------------------------------------------

    def remove_signing(self) -> None:
        """Drop every private key: the kernel can no longer sign; signatures still verify."""
        self._private.clear()
        self._refresh_signing_key()

    def restore_signing(self) -> None:
        """Bring back the private keys of every non-revoked key."""
        for key_id in self._public:
            if key_id not in self._revoked:
                self._private[key_id] = derive_private_key(self._seed, key_id)
        self._refresh_signing_key()

    def rotate(self) -> str:
        """Make a new key (the next id) the signing key, even while signing was removed."""
        if self._count >= self._keys_max:
            raise InvalidInput(f"the ring already made its {self._keys_max} keys")
        self._count += 1
        key_id = key_id_for(self._count)
        private = derive_private_key(self._seed, key_id)
        self._private[key_id] = private
        self._public[key_id] = private.public_key()
        self._public_raw[key_id] = public_bytes(self._public[key_id])
        self._refresh_signing_key()
        return key_id

    def import_trust_key(self, key_id: str, public: bytes) -> None:
        """Hold *public* (32 raw Ed25519 bytes) under *key_id*, to verify with and never sign."""
        check_identifier(key_id, "trust key id")
        if OWN_KEY_ID.fullmatch(key_id):
            raise InvalidInput(
                f"trust key id {key_id!r} has the form of the ring's own key ids (key-NNNN)"
            )
        if key_id in self._public_raw:
            raise InvalidInput(f"trust key id {key_id!r} is already held by the ring")
        if type(public) is not bytes or len(public) != PUBLIC_KEY_BYTES:
            given = f"{len(public)} bytes" if type(public) is bytes else repr(public)
            raise InvalidInput(
                f"trust key {key_id!r}: a public key is {PUBLIC_KEY_BYTES} raw bytes, not {given}"
            )
        self._trusted[key_id] = public
        self._public_raw[key_id] = public

    def revoke(self, key_id: str) -> None:
        """Revoke *key_id* (made or imported): it stops verifying retroactively and can never
        sign again."""
        if key_id not in self._public and key_id not in self._trusted:
            raise InvalidInput(
                f"cannot revoke {key_id!r}: the ring holds {self.key_ids()} "
                f"and the trust keys {self.trust_key_ids()}"
            )
        self._revoked.add(key_id)
        self._private.pop(key_id, None)
        self._refresh_signing_key()

    # --- signing and verification -------------------------------------------------------------

    def signature_type(self) -> str:
        """``ed25519:<signing key id>``; raise SignerUnavailable when no key can sign."""
        if self._signing_key_id is None:
            raise SignerUnavailable("no key can sign: signing was removed or every key is revoked")
        return SIGNATURE_TYPE_PREFIX + self._signing_key_id

    def sign(self, signature_type: str, message: bytes) -> str:
        """Sign *message* with the key *signature_type* names; lowercase hex."""
        key_id = signature_type.removeprefix(SIGNATURE_TYPE_PREFIX)
        private = self._private.get(key_id)
        # A revoked key has no private key (revoke drops it), so only a missing one is refused.
        if private is None:  # pragma: no cover - callers sign under signature_type() in one lock
            raise SignerUnavailable(f"key {key_id!r} cannot sign")
        return private.sign(message).hex()

    def verify(self, signature_type: object, message: bytes, signature: object) -> None:
        """Raise SignatureInvalid unless *signature* verifies *message* under a live key."""
        if type(signature_type) is not str or not signature_type.startswith(SIGNATURE_TYPE_PREFIX):
            raise SignatureInvalid(f"unknown signature type {signature_type!r}")
        key_id = signature_type[len(SIGNATURE_TYPE_PREFIX) :]
        public = self._public_raw.get(key_id)
        if public is None:
            raise SignatureInvalid(f"signed by {key_id!r}, which this kernel never held")
        if key_id in self._revoked:
            raise SignatureInvalid(f"signed by {key_id!r}, which is revoked")
        if type(signature) is not str or SIGNATURE_HEX.fullmatch(signature) is None:
            raise SignatureInvalid("a signature is 128 lowercase hex digits")
        if not self._verified(public, message, signature):
            raise SignatureInvalid(f"the signature does not match the signed fields ({key_id})")
