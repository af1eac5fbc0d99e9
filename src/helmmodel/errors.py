"""The error family: one root, the kernel's typed refusals, and bad-input errors.

Kernel *refusals* (an intent or an execution the kernel will not grant) are values the model is
specified to raise: they carry a code from the spec. *Bad input* (a malformed predicate, an
identifier out of range, a float where a signature needs an integer) subclasses ``ValueError`` and
says which value was wrong. The checker's and the harness's errors (an invariant violated, a bad
trace, a step that cannot be replayed, a bad machine, kernel, profile or campaign argument) are
here too: every error helmmodel raises on purpose is in this one module, each saying its cause and
what to try.
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


class FreezeRefused(Refusal):
    """Under the release's semantics, a freeze of a frozen kernel or an unfreeze of one that is
    not frozen (spec section 12). Freeze or unfreeze once; read the state to know which."""


class RunnerError(HelmModelError):
    """A bad machine directory, machine name or kernel name.

    Run from the repository root (machines are imported from ``./machines``) or pass
    ``--machines DIR``; ``helmmodel run --list`` and the message name the known machines and
    kernels; a kernel of your own is registered by a module given with ``--import MODULE``."""


class InterruptedRun(HelmModelError):
    """A run stopped by Ctrl-C after it had found a violation.

    The failures found until then were captured and saved; rerun to explore further."""


class InvariantViolation(HelmModelError):
    """The kernel broke a safety invariant: the checker's error, never the kernel's.

    The message names the invariant, the step and what was wrong. The run saves the failing trace
    made 1-minimal; ``helmmodel show PATH`` prints it and ``docs/triage.md`` walks from it to the
    kernel line at fault."""

    def __init__(self, invariant: str, step: int, detail: str) -> None:
        super().__init__(f"{invariant} violated at step {step}: {detail}")
        self.invariant = invariant
        self.step = step
        self.detail = detail


class TraceError(HelmModelError):
    """A trace file that cannot be read, or does not follow the format.

    The message names the file and the field or value at fault; ``docs/trace-format.md`` gives
    each field's rule. A trace written by a newer helmmodel needs that version to replay."""


class ReplayError(HelmModelError):
    """A recorded step cannot be replayed: an unknown rule or argument, or a dangling reference.

    The machine changed since the trace was saved (a rule renamed or removed, an argument
    retyped). Replay it on the commit it names (``git_commit``) or record it again."""


class UnknownProfile(HelmModelError, ValueError):
    """A profile name that is not dev, ci or nightly.

    Pass ``--profile dev|ci|nightly`` or set ``HELMMODEL_PROFILE`` to one of them."""


class CampaignError(HelmModelError):
    """A campaign cannot start: a bad argument, an unreachable database, an unwritable path.

    The message names the argument or path; fix it and start again (nothing was run)."""


class SwarmError(HelmModelError):
    """A machine's ``swarm_ranges`` do not fit its rules.

    A range names a rule or argument the machine does not have; fix the machine's
    ``swarm_ranges`` (``docs/fuzzing.md``, swarm configurations)."""
