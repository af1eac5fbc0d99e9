"""The kernel machine: every operation family of the mission, interleaved at random.

Goal: show that no interleaving of intent submission (phase by phase, whole calls and HTTP
requests, malformed and oversized ones included), policy mutation, clock shifts (each clock, to
drawn times and to the exact edges of intent windows), signer removal, rotation and revocation,
budget consumption, creation and limit changes (refused ones included), tool registration and
replacement (valid, non-compiling and hostile schemas), chaos injects and gated requests, freezes,
idempotent retries, presented faults (tampered, forged, mismatched and missing artifacts) and,
under the release, its facade reads, trust keys and HTTP API breaks any invariant of
docs/kernel-spec.md section 11.

Method: the phases of a call flow through the bundles begun -> decided -> intended -> executed,
each phase consuming from the stage before, so Hypothesis interleaves several calls' phases with
everything else; the invariants run after every step, incrementally, and in full (with a replay
into a fresh kernel) at the end of every run.
"""

from __future__ import annotations

from machines.families.budgets import BudgetChangeRules, BudgetRaceRules, BudgetRules
from machines.families.calls import CallRules
from machines.families.clocks import ClockRules
from machines.families.faults import FaultRules
from machines.families.freeze import FreezeRules
from machines.families.http import HttpCallRules, HttpOpsRules
from machines.families.policy import PolicyRules
from machines.families.release import ReleaseRules
from machines.families.signers import SignatureFaultRules, SignerRules
from machines.families.tools import ToolRules


class KernelMachine(
    CallRules,
    PolicyRules,
    ClockRules,
    SignerRules,
    BudgetRules,
    FreezeRules,
    HttpCallRules,
    HttpOpsRules,
    FaultRules,
    ToolRules,
    SignatureFaultRules,
    BudgetChangeRules,
    BudgetRaceRules,
    ReleaseRules,
):
    """Every rule family against one kernel."""

    # Twice the profile's budget: among some fifty rules, the rarest meetings (a call of the
    # approval tool over HTTP by its one principal, a NOT set with leaves evaluated) come a few
    # times in a thousand examples of the ci profile, and the coverage floor must not hang on
    # a few.
    budget_share = 2.0

    name = "kernel"
