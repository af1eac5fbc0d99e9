"""Presented artifacts: tampered, forged, mismatched and missing, under keys that rotate and are
revoked.

Goal: a decision, intent or receipt with a changed signed field is refused with the code the
spec's order gives; an intent forged with a live key never runs a DENY or ESCALATE decision; an
intent of another decision, another effect or a missing artifact is refused; and a key revoked
after it signed stops verifying everywhere at once, whatever the kernel verified before.

Method: the phases of calls feed the bundles from which the fault rules draw the artifacts they
change and present, interleaved with signing removed and restored, rotations and revocations; the
checker predicts every refusal code with its own model of the refusal orders (invariant 8) and
checks every dispatch's authority with its own record of keys and revocations (invariant 6).
"""

from __future__ import annotations

from machines.families.calls import CallRules
from machines.families.faults import FaultRules
from machines.families.signers import SignatureFaultRules, SignerRules


class ForgedArtifactsMachine(CallRules, FaultRules, SignerRules, SignatureFaultRules):
    """Genuine calls, and their artifacts tampered with, forged and mixed up."""

    name = "forged_artifacts"
    budget_share = 0.3
