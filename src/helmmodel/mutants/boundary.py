"""Mutants seen only at the kernel's boundary: a crash, and effects the kernel's records miss.

Each is the correct kernel but for one method. Their bugs leave the kernel's own records
consistent, so only what the checker sees outside those records catches them: the exception a
kernel operation raised (``no_unexpected_exception``), and the dispatches the world's tools
logged (``refusal_dispatched_nothing``, ``every_dispatch_accounted``).
"""

from __future__ import annotations

import attrs

from helmmodel.errors import ExecutionRefused
from helmmodel.kernel import Kernel, PolicyGraph, SafeExecutor
from helmmodel.kernel.executor import Dispatched
from helmmodel.kernel.guardian import SIGNER_UNAVAILABLE
from helmmodel.kernel.policy_graph import RequirementSet
from helmmodel.kernel.records import STATUS_TOOL_ERROR, Decision, Effect, Intent, Receipt
from helmmodel.mutants.mutant import Mutant


class IndexingPolicyGraph(PolicyGraph):
    """``remove_leaf`` finds the leaf with ``list.index``."""

    def remove_leaf(self, tool: str, set_id: str, requirement_id: str) -> None:
        root = self._set_in(tool, set_id)

        def without(s: RequirementSet) -> RequirementSet:
            # The bug: list.index finds the leaf, and raises ValueError for a leaf the set does
            # not hold, where the spec refuses the mutation with InvalidInput.
            position = [leaf.id for leaf in s.leaves].index(requirement_id)
            return attrs.evolve(s, leaves=s.leaves[:position] + s.leaves[position + 1 :])

        self._commit({**self._rules, tool: root.replace(set_id, without)})


class SignsAfterDispatchExecutor(SafeExecutor):
    """The executor asks for a signing key only once the tool has run."""

    def refusal(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> tuple[str, str]:
        code, message = super().refusal(decision, intent, effect)
        # The bug: "the key is needed for the receipt", so the signer check (the last one)
        # moved to where the receipt is signed, after the dispatch.
        return ("", "") if code == SIGNER_UNAVAILABLE else (code, message)

    def dispatch(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Dispatched | Receipt:
        dispatched = super().dispatch(decision, intent, effect)
        if isinstance(dispatched, Dispatched) and not self.keys.can_sign():
            message = "no key can sign the receipt"
            self.guardian.refuse(
                ExecutionRefused, "execution", decision, SIGNER_UNAVAILABLE, message
            )
        return dispatched


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
        "policy-remove-leaf-crashes",
        "Removing a leaf finds it with list.index, so removing a leaf the set does not hold "
        "raises ValueError instead of refusing the mutation.",
        "PolicyGraph",
        "policy_mutation",
        "no_unexpected_exception",
        _kernel("IndexingPolicyKernel", policy_graph_class=IndexingPolicyGraph),
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
