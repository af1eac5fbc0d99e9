"""The error family: one root, the kernel's typed refusals, and bad-input errors.

Kernel *refusals* (an intent or an execution the kernel will not grant) are values the model is
specified to raise: they carry a code from the spec. *Bad input* (a malformed predicate, an
identifier out of range, a float where a signature needs an integer) subclasses ``ValueError`` and
says which value was wrong. The checker's own errors (``InvariantViolation``, ``TraceError``) live
beside the checker.
"""

from __future__ import annotations


class HelmModelError(Exception):
    """Root of every error helmmodel raises on purpose."""


class InvalidInput(HelmModelError, ValueError):
    """Outside data (an identifier, predicate, schema, key, argument) is not acceptable."""


class CanonicalJSONError(InvalidInput):
    """A value is outside HELM's interoperable JSON subset, or JSON text is not strict RFC 8259."""


class UsageError(HelmModelError, RuntimeError):
    """A kernel operation was called out of order (say, deciding a call twice)."""


class SignatureInvalid(HelmModelError):
    """A signature did not verify: unknown or revoked key, malformed, or wrong bytes."""


class IntegrityError(HelmModelError):
    """A receipt chain or the ProofGraph does not recompute: something was changed."""


class SignerUnavailable(HelmModelError):
    """The kernel holds no key that can sign: the evaluation fails closed (spec section 5)."""

    code = "SIGNER_UNAVAILABLE"


class Refusal(HelmModelError):
    """A refusal by the kernel, carrying the spec's reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class IntentRefused(Refusal):
    """The Guardian will not issue an intent for this decision and effect (spec section 5)."""


class ExecutionRefused(Refusal):
    """The SafeExecutor will not dispatch this effect (spec section 6)."""


class ReceiptInvalid(Refusal):
    """A receipt presented to the verifier does not verify (spec section 4)."""


class RunnerError(HelmModelError):
    """A bad machine directory, machine name or kernel name.

    Run from the repository root (machines are imported from ``./machines``) or pass
    ``--machines DIR``; ``helmmodel run --list`` and the message name the known machines and
    kernels; a kernel of your own is registered by a module given with ``--import MODULE``."""


class InterruptedRun(HelmModelError):
    """A run stopped by Ctrl-C after it had found a violation.

    The failures found until then were captured and saved; rerun to explore further."""
