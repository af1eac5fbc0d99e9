"""Mutants of the SafeExecutor (spec section 6), each the correct executor but for one method."""

from __future__ import annotations

import copy
from typing import Any

from helmmodel.kernel import Kernel, SafeExecutor
from helmmodel.kernel.executor import INTENT_EXPIRED, INTENT_NOT_YET_VALID
from helmmodel.kernel.guardian import SIGNER_UNAVAILABLE, VERDICT_NOT_ALLOW, Guardian
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
        # the checks after it (the window, the signer) decide alone.
        now_ms = self.clock.now_ms
        if now_ms < intent.issued_at:
            return INTENT_NOT_YET_VALID, "intent expired or not yet valid: before issued_at"
        if now_ms >= intent.expires_at:
            return INTENT_EXPIRED, "intent expired or not yet valid: at or after expires_at"
        if not self.keys.can_sign():
            return SIGNER_UNAVAILABLE, "no key can sign the receipt, so nothing is dispatched"
        return "", ""


class ForgetsToolErrorsExecutor(SafeExecutor):
    """A retry of a decision whose dispatch ended in a tool error dispatches again."""

    def execute(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Receipt:
        earlier = self.executed.get(decision.id) if decision is not None else None
        if earlier is not None and earlier.status == STATUS_TOOL_ERROR:
            # The bug: "a failed tool may be tried again", so a tool error is not taken as the
            # decision's one execution and the retry runs the tool a second time.
            del self.executed[earlier.decision_id]
        return super().execute(decision, intent, effect)


class StaleFreezeExecutor(SafeExecutor):
    """The executor holds a copy of the Guardian taken when the kernel was built."""

    def __init__(self, *, guardian: Guardian, **components: Any) -> None:
        # The bug: the Guardian was copied, not shared; the copy shares its tables but keeps the
        # freeze switch as it was at construction, so the executor never sees a freeze.
        super().__init__(guardian=copy.copy(guardian), **components)


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
        "executor-stale-freeze-copy",
        "The executor keeps a copy of the Guardian made at construction, so it never sees the "
        "freeze switch change and dispatches while frozen.",
        "SafeExecutor",
        "operator_freeze",
        "freeze_respected",
        _kernel("StaleFreezeKernel", StaleFreezeExecutor),
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
