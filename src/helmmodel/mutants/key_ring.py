"""Mutants of the KeyRing (spec section 4), each the correct ring with one method changed, and of
how the executor reads a signature's spelling."""

from __future__ import annotations

import contextlib

import attrs

from helmmodel.kernel import Kernel, KeyRing, SafeExecutor
from helmmodel.kernel.records import Decision, Effect, Intent
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


class RespellingExecutor(SafeExecutor):
    """The executor recognises an intent it already ran by the bytes of its signature."""

    def refusal(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> tuple[str, str]:
        # The bug: "a client may re-encode an intent it retries", so an intent whose signed
        # fields and signature bytes match one already run is checked in the spelling it ran
        # with: an uppercase or spaced spelling of its signature verifies.
        ran: set[tuple[bytes, str]] = vars(self).setdefault("ran", set())
        if intent is not None and type(intent.signature) is str:
            with contextlib.suppress(ValueError):
                spelt = bytes.fromhex(intent.signature).hex()
                if (intent.preimage(), spelt) in ran:
                    intent = attrs.evolve(intent, signature=spelt)
        code, message = super().refusal(decision, intent, effect)
        if not code and intent is not None:
            ran.add((intent.preimage(), intent.signature))
        return code, message


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
        "executor-retry-matches-signature-bytes",
        "The executor recognises an intent it already ran by its signed fields and the bytes of "
        "its signature, so an uppercase or spaced spelling of that signature verifies.",
        "SafeExecutor",
        "forged_artifacts",
        "tamper_evident",
        type(
            "RespellingKernel",
            (Kernel,),
            {"executor_class": RespellingExecutor, "__module__": __name__},
        ),
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
