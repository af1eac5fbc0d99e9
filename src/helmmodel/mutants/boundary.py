"""Mutants seen only at the kernel's boundary: a crash, and effects the kernel's records miss.

Each is the correct kernel but for one method. Their bugs leave the kernel's own records
consistent, so only what the checker sees outside those records catches them: the exception a
kernel operation raised (``no_unexpected_exception``), and the dispatches the world's tools
logged (``refusal_dispatched_nothing``, ``every_dispatch_accounted``).
"""

from __future__ import annotations

import contextlib

from helmmodel.errors import ExecutionRefused
from helmmodel.kernel import Guardian, Kernel, SafeExecutor
from helmmodel.kernel.executor import Dispatched
from helmmodel.kernel.guardian import SIGNER_UNAVAILABLE, PendingCall
from helmmodel.kernel.records import STATUS_TOOL_ERROR, Decision, Effect, Intent, Receipt
from helmmodel.kernel.tools import ToolError
from helmmodel.mutants.mutant import Mutant


class ReleasesUnchargedGuardian(Guardian):
    """A call that fails closed on a full budget gives back a charge it may never have taken."""

    def fail_closed(self, call: PendingCall, charged_budget_id: str | None) -> None:
        budget_id = call.request.budget_id
        budget = self.budgets.get(budget_id) if budget_id is not None else None
        if charged_budget_id is None and budget is not None and budget.consumed >= budget.limit:
            # The bug: "a full budget means this call took the last charge", so it is given back
            # with set.remove, which raises KeyError when another call took it.
            budget.charged_calls.remove(call.call_id)
        super().fail_closed(call, charged_budget_id)


class SignsAfterDispatchExecutor(SafeExecutor):
    """The executor finds that no key can sign only once the tool has run."""

    def execute(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Receipt:
        code, message = self.refusal(decision, intent, effect)
        if code != SIGNER_UNAVAILABLE:
            return super().execute(decision, intent, effect)
        # The bug: "the key is needed for the receipt", so the executor runs the tool and only
        # then, coming to sign, refuses; every check before the signer's passed.
        assert decision is not None and effect is not None
        if decision.id not in self.executed:
            with contextlib.suppress(ToolError):  # a tool error is a value: refused either way
                self.tools.dispatch(effect.effect_id, effect.tool, effect.args)
        self.guardian.refuse(ExecutionRefused, "execution", decision, code, message)


class UnattestedToolErrorExecutor(SafeExecutor):
    """A dispatch that ended in a tool error gets its receipt but no EFFECT node."""

    def record(self, dispatched: Dispatched, receipt: Receipt) -> None:
        if dispatched.status != STATUS_TOOL_ERROR:
            super().record(dispatched, receipt)
            return
        # The bug: "a failed tool had no effect", so its receipt is chained and remembered for
        # retries, but the ProofGraph is not told that the tool ran.
        self.chains.append(receipt)
        self.executed[dispatched.decision.id] = receipt
        self.outputs[receipt.receipt_id] = dispatched.output


def _kernel(name: str, **components: type) -> type[Kernel]:
    """The correct kernel but for the component classes given."""
    return type(name, (Kernel,), {**components, "__module__": __name__})


MUTANTS = (
    Mutant(
        "guardian-fail-closed-releases-uncharged",
        "A call that fails closed on a full budget takes the last charge for its own and gives "
        "it back, raising KeyError when another call took it.",
        "Guardian",
        "budget_contention",
        "no_unexpected_exception",
        _kernel("ReleasesUnchargedKernel", guardian_class=ReleasesUnchargedGuardian),
    ),
    Mutant(
        "executor-signs-after-dispatch",
        "The executor checks that a key can sign only after the tool ran, so an execution it "
        "refuses SIGNER_UNAVAILABLE has already dispatched its effect.",
        "SafeExecutor",
        "signer_outage",
        "refusal_dispatched_nothing",
        _kernel("SignsAfterDispatchKernel", executor_class=SignsAfterDispatchExecutor),
    ),
    Mutant(
        "executor-unattested-tool-error",
        "A dispatch that ends in a tool error is receipted but gets no EFFECT node.",
        "SafeExecutor",
        "kernel",
        "every_dispatch_accounted",
        _kernel("UnattestedToolErrorKernel", executor_class=UnattestedToolErrorExecutor),
    ),
)
