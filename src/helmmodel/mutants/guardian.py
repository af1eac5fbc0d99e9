"""Mutants of the Guardian (spec section 5), each the correct Guardian with one method changed.

Most of these bugs need an interleaving to show: something must change between two phases of a
call, or between two calls (the policy, the freeze switch, a budget), before the wrong line makes
a difference. The last one is the bug the end-of-run replay exists for: state shared between
kernel instances.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

from helmmodel.kernel import Guardian, Kernel, KeyRing
from helmmodel.kernel.guardian import (
    BUDGET_EXCEEDED,
    DIGEST_MISMATCH,
    MISSING_REQUIREMENT,
    NO_POLICY_DEFINED,
    POLICY_EPOCH_CHANGED,
    SIGNER_UNAVAILABLE,
    PendingCall,
)
from helmmodel.kernel.ids import IdCounters
from helmmodel.kernel.policy_graph import PolicySnapshot
from helmmodel.kernel.records import (
    ALLOW,
    Decision,
    Effect,
    Request,
    make_signed,
    reason_hash,
)
from helmmodel.kernel.semantics import FREEZE, HELM_AI_KERNEL, FreezeReceipt
from helmmodel.mutants.mutant import Mutant


class LastAllowFallbackGuardian(Guardian):
    """A tool whose rule is missing gets the last ALLOW the Guardian judged for that tool."""

    def evaluate(
        self, request: Request, effect: Effect, snapshot: PolicySnapshot
    ) -> tuple[str, str, str, str, str]:
        judged = super().evaluate(request, effect, snapshot)
        last_allow: dict[str, tuple[str, str, str, str, str]]
        last_allow = vars(self).setdefault("last_allow_by_tool", {})
        if judged[2] == NO_POLICY_DEFINED and request.tool in last_allow:
            # The bug: a fail-open default: a rule missing (say, mid-update) falls back to the
            # tool's last known good verdict instead of denying.
            return last_allow[request.tool]
        if judged[1] == ALLOW:
            last_allow[request.tool] = judged
        return judged


class FreshSnapshotGuardian(Guardian):
    """*decide* stamps the decision with the policy of its own moment, not begin's snapshot."""

    def decide(self, call: PendingCall) -> Decision:
        # The bug: the snapshot is "refreshed" for the record, so a decision made after a
        # mutation names an epoch and version its verdict was never judged against.
        call.snapshot = self.policy.snapshot()
        return super().decide(call)


class IntentIgnoresFreezeGuardian(Guardian):
    """*issue_intent* does not look at the freeze switch."""

    def intent_refusal(self, decision: Decision, effect: Effect) -> tuple[str, str]:
        # The bug: "decide already refuses while frozen", so the intent check skips the freeze,
        # and a decision made before the freeze still gets its intent.
        frozen, self.frozen = self.frozen, False
        try:
            return super().intent_refusal(decision, effect)
        finally:
            self.frozen = frozen


class VersionOnlyIntentGuardian(Guardian):
    """*issue_intent* judges staleness by the policy's content hash alone, not its epoch."""

    def intent_refusal(self, decision: Decision, effect: Effect) -> tuple[str, str]:
        code, message = super().intent_refusal(decision, effect)
        # The bug: an epoch that moved while the content hash did not (the same rule put again)
        # is taken for no change at all, and only the checks after the epoch's are made.
        if code == POLICY_EPOCH_CHANGED and decision.policy_version == self.policy.version:
            if effect.digest != decision.effect_digest:
                return DIGEST_MISMATCH, "the effect is not the one the decision covers"
            if not self.keys.can_sign():
                return SIGNER_UNAVAILABLE, "no key can sign the intent"
            return "", ""
        return code, message


class SignsBeforeDecideChangeGuardian(Guardian):
    """*decide* signs the verdict begin judged, then applies decide's own change to the record."""

    def decide(self, call: PendingCall) -> Decision:
        decision = super().decide(call)
        if decision.verdict == call.verdict:
            return decision
        # The bug: the signature was taken over begin's tentative ALLOW, before decide turned
        # it into a denial, and the changed record kept that signature.
        as_begun = attrs.evolve(
            decision,
            verdict=call.verdict,
            reason_code=call.reason_code,
            reason_hash=reason_hash(call.reason),
            requirement_set_hash=call.requirement_set_hash,
        )
        signature = self.keys.sign(decision.signature_type, as_begun.preimage())
        call.decision = attrs.evolve(decision, signature=signature)
        return call.decision


def resigned(keys: KeyRing, decision: Decision, **changes: Any) -> Decision:
    """*decision* with *changes*, signed again with the key it names (a mutant's own record)."""
    fields: dict[str, Any] = attrs.asdict(decision, recurse=False)
    del fields["signature"]
    fields.update(changes)
    return make_signed(Decision, functools.partial(keys.sign, decision.signature_type), **fields)


class KeepsSetHashGuardian(Guardian):
    """*decide* turns a tentative ALLOW into a denial but keeps its requirement set hash."""

    def decide(self, call: PendingCall) -> Decision:
        decision = super().decide(call)
        if decision.verdict != call.verdict:
            # The bug: decide cleared the verdict and the reason code of begin's ALLOW but not
            # its requirement set hash (a stale copy of one field), and signed that.
            decision = resigned(self.keys, decision, requirement_set_hash=call.requirement_set_hash)
            call.decision = decision
        return decision


class ShortfallAsMissingRequirementGuardian(Guardian):
    """*decide* reports a budget found spent at decide as MISSING_REQUIREMENT."""

    def decide(self, call: PendingCall) -> Decision:
        decision = super().decide(call)
        if decision.reason_code == BUDGET_EXCEEDED and call.reason_code != BUDGET_EXCEEDED:
            # The bug: decide's budget denial reuses the policy denial's reason code ("the budget
            # is one more requirement"), so it claims a requirement the policy says is met.
            decision = resigned(self.keys, decision, reason_code=MISSING_REQUIREMENT)
            call.decision = decision
        return decision


class ClassCountedIdsGuardian(Guardian):
    """The Guardian draws call, effect and decision ids from a counter held on its class."""

    # The bug: one counter for every kernel in the process, so a second kernel (the fresh one a
    # replay starts) numbers its calls on from where the first stopped.
    shared_ids = IdCounters()

    def __init__(self, **components: Any) -> None:
        super().__init__(**{**components, "ids": ClassCountedIdsGuardian.shared_ids})


def _kernel(name: str, guardian: type[Guardian]) -> type[Kernel]:
    """The correct kernel but for its Guardian."""
    return type(name, (Kernel,), {"guardian_class": guardian, "__module__": __name__})


class AllowsOnlyReceiptedGuardian(Guardian):
    """Under the release, only ALLOW decisions are receipted."""

    def record_decision(self, call: PendingCall, decision: Decision) -> None:
        if decision.verdict == ALLOW:
            super().record_decision(call, decision)
            return
        # The bug: the chaos page's habit of receipting only what runs, kept for the release,
        # whose every decision (a denial most of all) must leave a signed receipt.
        receipted = self.semantics
        self.semantics = attrs.evolve(receipted, decision_receipts=False)
        try:
            super().record_decision(call, decision)
        finally:
            self.semantics = receipted


class IdempotentFreezeGuardian(Guardian):
    """Under the release, freezing a frozen kernel gives a new receipt instead of a refusal."""

    def set_frozen(self, frozen: bool, principal: str = "operator") -> FreezeReceipt | None:
        if self.semantics.freeze_receipts and frozen and self.frozen:
            # The bug: the chaos page's explicit switch, set again harmlessly, kept for the
            # release, where a second freeze is an error that must not be receipted.
            receipt = FreezeReceipt(action=FREEZE, principal=principal, timestamp=self.clock.now_ms)
            self.freeze_receipts.append(receipt)
            return receipt
        return super().set_frozen(frozen, principal)


MUTANTS = (
    Mutant(
        "guardian-missing-rule-falls-back",
        "A tool whose rule is missing from the snapshot gets the last ALLOW judged for that tool "
        "instead of NO_POLICY_DEFINED (a fail-open default).",
        "Guardian",
        "policy_mutation",
        "default_deny",
        _kernel("LastAllowFallbackKernel", LastAllowFallbackGuardian),
    ),
    Mutant(
        "guardian-fresh-snapshot-at-decide",
        "decide records the policy epoch and version current at decide instead of those of the "
        "snapshot begin judged the call against.",
        "Guardian",
        "policy_mutation",
        "snapshot_isolation",
        _kernel("FreshSnapshotKernel", FreshSnapshotGuardian),
    ),
    Mutant(
        "guardian-intent-ignores-freeze",
        "issue_intent skips the freeze check, trusting decide to have refused, so a decision made "
        "before a freeze still gets an intent while frozen.",
        "Guardian",
        "operator_freeze",
        "freeze_respected",
        _kernel("IntentIgnoresFreezeKernel", IntentIgnoresFreezeGuardian),
    ),
    Mutant(
        "guardian-intent-checks-version-only",
        "issue_intent compares only the policy version (content hash), so a mutation that puts "
        "the same rule again bumps the epoch unnoticed and a stale decision gets its intent.",
        "Guardian",
        "policy_mutation",
        "no_stale_intent",
        _kernel("VersionOnlyIntentKernel", VersionOnlyIntentGuardian),
    ),
    Mutant(
        "guardian-signs-before-decide-change",
        "decide signs the tentative ALLOW of begin and only then turns it into a BUDGET_EXCEEDED "
        "denial, so the denial carries a signature over other fields.",
        "Guardian",
        "budget_contention",
        "every_decision_signed",
        _kernel("SignsBeforeDecideChangeKernel", SignsBeforeDecideChangeGuardian),
    ),
    Mutant(
        "guardian-denial-keeps-set-hash",
        "decide turns a tentative ALLOW into a BUDGET_EXCEEDED denial but keeps the requirement "
        "set hash of the ALLOW.",
        "Guardian",
        "budget_contention",
        "reason_code_iff_allow",
        _kernel("KeepsSetHashKernel", KeepsSetHashGuardian),
    ),
    Mutant(
        "guardian-shortfall-as-missing-requirement",
        "decide reports a budget found spent at decide as MISSING_REQUIREMENT instead of "
        "BUDGET_EXCEEDED, claiming a requirement the policy says is met.",
        "Guardian",
        "budget_contention",
        "allow_matches_policy",
        _kernel("ShortfallAsMissingRequirementKernel", ShortfallAsMissingRequirementGuardian),
    ),
    Mutant(
        "ids-counted-on-the-class",
        "call, effect and decision ids come from an IdCounters held on the Guardian class, shared "
        "by every kernel in the process instead of one per kernel.",
        "IdCounters",
        "clock_drift",
        "deterministic_replay",
        _kernel("ClassCountedIdsKernel", ClassCountedIdsGuardian),
    ),
    Mutant(
        "release-denials-unreceipted",
        "Under the release only ALLOW decisions are receipted, as the chaos page receipts only "
        "what runs, so a denial leaves no signed receipt in its session's chain.",
        "Guardian",
        "kernel",
        "every_decision_receipted",
        _kernel("AllowsOnlyReceiptedKernel", AllowsOnlyReceiptedGuardian),
        semantics=HELM_AI_KERNEL,
    ),
    Mutant(
        "release-refreeze-receipted",
        "Under the release a freeze of a frozen kernel returns a new freeze receipt instead of "
        "being refused, as the chaos page's switch may be set again.",
        "Guardian",
        "operator_freeze",
        "freeze_transitions_receipted",
        _kernel("IdempotentFreezeKernel", IdempotentFreezeGuardian),
        semantics=HELM_AI_KERNEL,
    ),
)
