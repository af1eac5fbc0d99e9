"""Mutants of the KeyRing (spec section 4), each the correct ring with one method changed."""

from __future__ import annotations

import contextlib

from helmmodel.kernel import Kernel, KeyRing
from helmmodel.mutants.mutant import Mutant


class KeepsOlderKeysRing(KeyRing):
    """``remove_signing`` drops the signing key's private key only."""

    def remove_signing(self) -> None:
        # The bug: "drop the signing key" was read as the current one, so after a rotation the
        # older key is left able to sign and becomes the signer.
        if self._signing_key_id is not None:
            self._private.pop(self._signing_key_id)
        self._refresh_signing_key()


class MemoBeforeRevocationRing(KeyRing):
    """``verify`` serves a memoised success before it checks revocation."""

    def verify(self, signature_type: object, message: bytes, signature: object) -> None:
        # The bug: the memo meant to save Ed25519 work is consulted first, so a signature that
        # verified before its key was revoked keeps verifying.
        served: set[tuple[object, bytes, object]] = vars(self).setdefault("served", set())
        if (signature_type, message, signature) in served:
            return
        super().verify(signature_type, message, signature)
        served.add((signature_type, message, signature))


class AnyCaseHexRing(KeyRing):
    """``verify`` reads a signature with ``bytes.fromhex`` and no check of its format."""

    def verify(self, signature_type: object, message: bytes, signature: object) -> None:
        # The bug: "fromhex validates the hex", but it takes uppercase digits and whitespace too,
        # so one signature has many spellings and a malformed one verifies.
        if type(signature) is str:
            with contextlib.suppress(ValueError):
                signature = bytes.fromhex(signature).hex()
        super().verify(signature_type, message, signature)


class UnlimitedRing(KeyRing):
    """``rotate`` makes keys past the ring's limit."""

    def rotate(self) -> str:
        # The bug: the limit was taken for a sanity check of the counter, so it was dropped.
        self._keys_max += 1
        return super().rotate()


def _kernel(name: str, ring: type[KeyRing]) -> type[Kernel]:
    """The correct kernel but for its key ring."""
    return type(name, (Kernel,), {"key_ring_class": ring, "__module__": __name__})


MUTANTS = (
    Mutant(
        "keyring-remove-signing-keeps-older-keys",
        "remove_signing drops only the current signing key, so after a rotation an older key "
        "goes on signing while the signer should be unavailable.",
        "KeyRing",
        "signer_outage",
        "fail_closed",
        _kernel("KeepsOlderKeysKernel", KeepsOlderKeysRing),
    ),
    Mutant(
        "keyring-memo-before-revocation",
        "verify answers from its memo before checking revocation, so a decision that verified "
        "once still verifies after its key is revoked.",
        "KeyRing",
        "forged_artifacts",
        "tamper_evident",
        _kernel("MemoBeforeRevocationKernel", MemoBeforeRevocationRing),
    ),
    Mutant(
        "keyring-signature-hex-any-case",
        "verify decodes a signature with bytes.fromhex and never checks its format, so an "
        "uppercase or spaced spelling of a signature verifies.",
        "KeyRing",
        "forged_artifacts",
        "tamper_evident",
        _kernel("AnyCaseHexKernel", AnyCaseHexRing),
    ),
    Mutant(
        "keyring-rotates-past-limit",
        "rotate never refuses, so the ring makes keys past its configured limit.",
        "KeyRing",
        "signer_outage",
        "malformed_input_rejected",
        _kernel("UnlimitedKernel", UnlimitedRing),
    ),
)
