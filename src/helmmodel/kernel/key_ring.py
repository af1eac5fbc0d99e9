"""The key ring (spec section 4): seed-derived Ed25519 keys, signing, and verification that raises.

Key ids come from a counter (``key-0001``, ``key-0002``, ...) and each key's 32-byte seed is
``SHA-256(kernel seed || key id)``, so two kernels made from the same seed hold the same keys and a
replayed trace reproduces every signature byte for byte.
"""

from __future__ import annotations

import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helmmodel.errors import InvalidInput, SignatureInvalid, SignerUnavailable

SIGNATURE_TYPE_PREFIX = "ed25519:"
KEY_ID = re.compile(r"key-[0-9]{4,}")
SIGNATURE_HEX = re.compile(r"[0-9a-f]{128}")
KEYS_MAX = 9999
MEMO_ENTRIES_MAX = 65_536


def key_id_for(number: int) -> str:
    """The id of the *number*-th key of a ring."""
    return f"key-{number:04d}"


def derive_private_key(kernel_seed: bytes, key_id: str) -> Ed25519PrivateKey:
    """The private key *key_id* of a kernel made from *kernel_seed*."""
    seed = hashlib.sha256(kernel_seed + key_id.encode("ascii")).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_public_key(raw: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its 32 raw bytes; raise InvalidInput for any other length."""
    if type(raw) is not bytes or len(raw) != 32:
        length = len(raw) if isinstance(raw, bytes | bytearray) else type(raw).__name__
        raise InvalidInput(f"an Ed25519 public key is 32 bytes, not {length}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise InvalidInput(f"not an Ed25519 public key: {exc}") from None


def verify_raw(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Verify an Ed25519 signature over raw bytes; raise SignatureInvalid, never return a bool."""
    key = load_public_key(public_key)
    if len(signature) != 64:
        raise SignatureInvalid(f"an Ed25519 signature is 64 bytes, not {len(signature)}")
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise SignatureInvalid("the signature does not match the message under this key") from None


class KeyRing:
    """Per key id: the public key (always), the private key (while it can sign), revocation."""

    def __init__(self, seed: bytes) -> None:
        if type(seed) is not bytes or not seed:
            raise InvalidInput(f"the kernel seed must be non-empty bytes, not {seed!r}")
        self._seed = seed
        self._public: dict[str, Ed25519PublicKey] = {}
        self._public_raw: dict[str, bytes] = {}
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._revoked: set[str] = set()
        self._count = 0
        # Memo of verification results, keyed on exactly the public key and message bytes and
        # the signature's hex (which stands for exactly one byte string: only 128 lowercase hex
        # digits are ever stored); revocation is checked outside it, so a revoked key can never
        # be served.
        self._memo: dict[tuple[bytes, bytes, str], bool] = {}
        self._signing_key_id: str | None = None
        self.rotate()

    # --- state ------------------------------------------------------------------------------

    def key_ids(self) -> list[str]:
        return sorted(self._public)

    def public_key_bytes(self, key_id: str) -> bytes:
        """The raw public key of *key_id*; raise InvalidInput for an unknown id."""
        if key_id not in self._public_raw:
            raise InvalidInput(f"no key {key_id!r} in the ring; it holds {self.key_ids()}")
        return self._public_raw[key_id]

    def is_revoked(self, key_id: str) -> bool:
        return key_id in self._revoked

    def revoked(self) -> list[str]:
        return sorted(self._revoked)

    def signing_key_id(self) -> str | None:
        """The greatest non-revoked key id that has a private key, or None (signer unavailable)."""
        return self._signing_key_id

    def can_sign(self) -> bool:
        return self._signing_key_id is not None

    def _refresh_signing_key(self) -> None:
        candidates = [k for k in self._private if k not in self._revoked]
        self._signing_key_id = max(candidates) if candidates else None

    def digest_material(self) -> bytes:
        return (
            f"{self._count}|{','.join(sorted(self._private))}|{','.join(sorted(self._revoked))}"
        ).encode()

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
        if self._count >= KEYS_MAX:
            raise InvalidInput(f"the ring already made {KEYS_MAX} keys")
        self._count += 1
        key_id = key_id_for(self._count)
        private = derive_private_key(self._seed, key_id)
        self._private[key_id] = private
        self._public[key_id] = private.public_key()
        self._public_raw[key_id] = public_bytes(self._public[key_id])
        self._refresh_signing_key()
        return key_id

    def revoke(self, key_id: str) -> None:
        """Revoke *key_id*: it stops verifying retroactively and can never sign again."""
        if key_id not in self._public:
            raise InvalidInput(f"cannot revoke {key_id!r}: the ring holds {self.key_ids()}")
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
        if private is None or key_id in self._revoked:
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
        if type(signature) is not str:
            raise SignatureInvalid("a signature is 128 lowercase hex digits")
        memo_key = (public, message, signature)
        valid = self._memo.get(memo_key)
        if valid is None:
            # Checked only here: a signature in the memo passed this check when it was stored.
            if SIGNATURE_HEX.fullmatch(signature) is None:
                raise SignatureInvalid("a signature is 128 lowercase hex digits")
            try:
                self._public[key_id].verify(bytes.fromhex(signature), message)
                valid = True
            except InvalidSignature:
                valid = False
            if len(self._memo) >= MEMO_ENTRIES_MAX:
                self._memo.clear()
            self._memo[memo_key] = valid
        if not valid:
            raise SignatureInvalid(f"the signature does not match the signed fields ({key_id})")
