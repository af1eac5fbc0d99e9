"""Chaos scenario 5, policy graph mutation in flight.

Goal: a call that began before a mutation is decided against its snapshot (its policy version,
epoch and outcome), every accepted mutation bumps the epoch, and an intent for a decision of an
older epoch is refused POLICY_EPOCH_CHANGED.

Method: interleave the phases of calls with rule puts and removals and leaf additions and
removals (including invalid ones, which must change nothing); invariants 4, 13 and 14 check each
decision against the checker's own copy of the policy and its own evaluator.
"""

from __future__ import annotations

from machines.families.calls import CallRules
from machines.families.policy import PolicyRules


class PolicyMutationMachine(CallRules, PolicyRules):
    """Calls in flight while the policy graph changes."""

    name = "policy_mutation"
    budget_share = 0.3
