"""Mutants of the SafeExecutor (spec section 6), each the correct executor with one method changed."""

from __future__ import annotations

from typing import Any

from helmmodel.kernel import Kernel, SafeExecutor
from helmmodel.kernel.guardian import SIGNER_UNAVAILABLE, VERDICT_NOT_ALLOW, Guardian
from helmmodel.kernel.executor import INTENT_EXPIRED
from helmmodel.kernel.proofgraph import NODE_EFFECT
from helmmodel.kernel.records import STATUS_TOOL_ERROR, Decision, Effect, Intent, Receipt
from helmmodel.mutants.mutant import Mutant


class GuardianClockExecutor(SafeExecutor):
    """The executor is built on the Guardian's clock instead of its own."""

    def __init__(self, *, guardian: Guardian, **components: Any) -> None:
        # The bug: "there is one time", so the executor checks windows on the Guardian's clock
        # and never sees its own clock drift (chaos scenario 3).
        super().__init__(guardian=guardian, **{**components, "clock": guardian.clock})


class SkipsVerdictExecutor(SafeExecutor):
    """The executor does not check the decision's verdict."""

    def refusal(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> tuple[str, str]:
        code, message = super().refusal(decision, intent, effect)
        if code != VERDICT_NOT_ALLOW or intent is None:
            return code, message
        # The bug: "only an ALLOW ever gets an intent", so the verdict check was left out and
        # the checks after it (window, signer) decide alone.
        if not intent.issued_at <= self.clock.now_ms < intent.expires_at:
            return INTENT_EXPIRED, "intent expired or not yet valid"
        if not self.keys.can_sign():
            return SIGNER_UNAVAILABLE, "no key can sign the receipt, so nothing is dispatched"
        return "", ""


class ForgetsToolErrorsExecutor(SafeExecutor):
    """A dispatch that ended in a tool error is not remembered as executed."""

    def execute(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Receipt:
        receipt = super().execute(decision, intent, effect)
        if receipt.status == STATUS_TOOL_ERROR:
            # The bug: "a failed tool may be tried again", so a retry dispatches it once more.
            self.executed.pop(receipt.decision_id, None)
        return receipt


class RetryRecordsEffectExecutor(SafeExecutor):
    """An idempotent retry appends another EFFECT node for the same dispatch."""

    def execute(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Receipt:
        repeat = decision is not None and decision.id in self.executed
        receipt = super().execute(decision, intent, effect)
        if repeat and decision is not None:
            # The bug: the retry path returns the earlier receipt, but records the effect in the
            # ProofGraph again, as if it had been dispatched a second time.
            call = self.guardian.owner_of(decision)
            payload = {"call_id": call.call_id if call is not None else None}
            payload.update(decision_id=decision.id, receipt_id=receipt.receipt_id)
            self.graph.append(NODE_EFFECT, decision.subject_id, payload, receipt.signature)
        return receipt


def _kernel(name: str, executor: type[SafeExecutor]) -> type[Kernel]:
    """The correct kernel but for its executor."""
    return type(name, (Kernel,), {"executor_class": executor, "__module__": __name__})


MUTANTS = (
    Mutant(
        "executor-reads-guardian-clock",
        "The executor checks intent windows on the Guardian's clock instead of its own, so a "
        "drifted executor clock runs intents outside their window.",
        "SafeExecutor",
        "clock_drift",
        "window_respected",
        _kernel("GuardianClockKernel", GuardianClockExecutor),
    ),
    Mutant(
        "executor-skips-verdict-check",
        "The executor leaves out the VERDICT_NOT_ALLOW check, so an intent signed for a DENY or "
        "ESCALATE decision runs its effect.",
        "SafeExecutor",
        "forged_artifacts",
        "no_effect_without_authority",
        _kernel("SkipsVerdictKernel", SkipsVerdictExecutor),
    ),
    Mutant(
        "executor-forgets-tool-errors",
        "The executor drops a TOOL_ERROR execution from its idempotency record, so a retry "
        "dispatches the tool again.",
        "SafeExecutor",
        "signer_outage",
        "at_most_once",
        _kernel("ForgetsToolErrorsKernel", ForgetsToolErrorsExecutor),
    ),
    Mutant(
        "executor-retry-records-effect",
        "An idempotent retry returns the earlier receipt but appends a second EFFECT node for it.",
        "SafeExecutor",
        "clock_drift",
        "every_call_attested",
        _kernel("RetryRecordsEffectKernel", RetryRecordsEffectExecutor),
    ),
)
