"""Chaos scenario 5 (spec section 10): a policy mutation must not affect in-flight decisions.

Method: begin a call, mutate the policy graph, then decide it: the decision must carry the epoch,
the version and the outcome of the snapshot taken at begin, and its intent must be refused
``POLICY_EPOCH_CHANGED`` because the epoch moved.
"""

from __future__ import annotations

import pytest

from helmmodel.errors import IntentRefused, InvalidInput
from helmmodel.kernel import ALLOW, DENY, Decision, Effect, Kernel, Request
from tests.conftest import echo

NEVER = {"id": "never", "predicate": ["const", False]}


def refuse_intent(kernel: Kernel, decision: Decision, effect: Effect) -> str:
    """Try to issue an intent; return the refusal code and check nothing was dispatched."""
    with pytest.raises(IntentRefused) as refused:
        kernel.issue_intent(decision, effect)
    assert [] == kernel.tools.dispatches
    return refused.value.code


def test_put_rule_in_flight_keeps_the_old_allow(kernel: Kernel) -> None:
    """A rule replaced by a denying one after begin: decided ALLOW at the old epoch, no intent."""
    version, epoch = kernel.policy.version, kernel.policy.epoch
    old_rule = kernel.policy.snapshot().rules["echo"]
    assert old_rule is not None
    pending = kernel.begin(echo())
    kernel.put_rule("echo", {"id": "root", "leaves": [NEVER]})
    assert epoch + 1 == kernel.policy.epoch
    decision = kernel.decide(pending)
    assert (ALLOW, "") == (decision.verdict, decision.reason_code)
    assert (version, epoch) == (decision.policy_version, decision.policy_epoch)
    assert old_rule.hash == decision.requirement_set_hash
    assert "POLICY_EPOCH_CHANGED" == refuse_intent(kernel, decision, pending.effect)


def test_add_leaf_in_flight_keeps_the_old_allow(kernel: Kernel) -> None:
    """A false leaf added after begin: decided ALLOW at the old epoch, intent refused."""
    version, epoch = kernel.policy.version, kernel.policy.epoch
    pending = kernel.begin(echo())
    kernel.add_leaf("echo", "root", "never", ["const", False])
    assert epoch + 1 == kernel.policy.epoch
    assert version != kernel.policy.version
    decision = kernel.decide(pending)
    assert ALLOW == decision.verdict
    assert (version, epoch) == (decision.policy_version, decision.policy_epoch)
    assert "POLICY_EPOCH_CHANGED" == refuse_intent(kernel, decision, pending.effect)


def test_remove_leaf_in_flight_keeps_the_old_deny(kernel: Kernel) -> None:
    """A blocking leaf removed after begin: the call is still denied MISSING_REQUIREMENT."""
    kernel.put_rule("echo", {"id": "root", "leaves": [NEVER]})
    version, epoch = kernel.policy.version, kernel.policy.epoch
    pending = kernel.begin(echo())
    kernel.remove_leaf("echo", "root", "never")
    decision = kernel.decide(pending)
    assert (DENY, "MISSING_REQUIREMENT") == (decision.verdict, decision.reason_code)
    assert (version, epoch) == (decision.policy_version, decision.policy_epoch)


def test_remove_rule_in_flight_keeps_the_old_allow(kernel: Kernel) -> None:
    """The rule removed after begin: still an ALLOW of the old snapshot, not NO_POLICY_DEFINED."""
    epoch = kernel.policy.epoch
    pending = kernel.begin(echo())
    kernel.remove_rule("echo")
    decision = kernel.decide(pending)
    assert (ALLOW, epoch) == (decision.verdict, decision.policy_epoch)
    assert "POLICY_EPOCH_CHANGED" == refuse_intent(kernel, decision, pending.effect)


def test_put_rule_in_flight_keeps_the_old_no_policy(kernel: Kernel) -> None:
    """A rule added after begin for a tool that had none: still NO_POLICY_DEFINED."""
    kernel.register_tool("bare", {"type": "object"})
    pending = kernel.begin(Request("alice", "bare", {}))
    kernel.put_rule("bare", {"id": "root"})
    decision = kernel.decide(pending)
    assert (DENY, "NO_POLICY_DEFINED") == (decision.verdict, decision.reason_code)


def test_mutation_of_another_tool_still_changes_the_epoch(kernel: Kernel) -> None:
    """Any accepted mutation bumps the epoch, so an in-flight echo's intent is refused too."""
    pending = kernel.begin(echo())
    kernel.add_leaf("sum", "root", "extra", ["const", True])
    decision = kernel.decide(pending)
    assert ALLOW == decision.verdict
    assert "POLICY_EPOCH_CHANGED" == refuse_intent(kernel, decision, pending.effect)


def test_invalid_mutation_changes_nothing(kernel: Kernel) -> None:
    """A refused mutation does not bump the epoch, so the in-flight call gets its intent."""
    epoch = kernel.policy.epoch
    pending = kernel.begin(echo())
    with pytest.raises(InvalidInput):
        kernel.add_leaf("echo", "no-such-set", "extra", ["const", False])
    assert epoch == kernel.policy.epoch
    decision = kernel.decide(pending)
    intent = kernel.issue_intent(decision, pending.effect)
    assert "SUCCESS" == kernel.execute(decision, intent, pending.effect).status


def test_calls_after_the_mutation_see_the_new_policy(kernel: Kernel) -> None:
    """A call begun after the mutation is judged by the new rule."""
    pending = kernel.begin(echo(1))
    kernel.add_leaf("echo", "root", "never", ["const", False])
    kernel.decide(pending)
    outcome = kernel.call(echo(2))
    assert outcome.decision is not None
    assert (DENY, "MISSING_REQUIREMENT") == (outcome.decision.verdict, outcome.decision.reason_code)
    assert kernel.policy.epoch == outcome.decision.policy_epoch
