"""Mutants of the KeyRing (spec section 4), each the correct ring with one method changed."""

from __future__ import annotations

from helmmodel.kernel import Kernel, KeyRing
from helmmodel.kernel.key_ring import SIGNATURE_TYPE_PREFIX
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
        key_id = str(signature_type).removeprefix(SIGNATURE_TYPE_PREFIX)
        public = self._public_raw.get(key_id)
        if public is not None and self._memo.get((public, message, str(signature))):
            return
        super().verify(signature_type, message, signature)


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
)
