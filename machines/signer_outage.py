"""Chaos scenario 2, signer unavailable.

Goal: with no key able to sign, an evaluation fails closed: ``SignerUnavailable``, never an
ALLOW, no intent, every budget as before (while other calls' consumption stays), an unsigned
ATTESTATION; and revocation is retroactive, rotation brings signing back.

Method: interleave the phases of budget-charged calls with removing and restoring signing,
rotating and revoking keys; invariants 2, 9, 10 and 11 watch the decisions, their signatures,
the nodes and the budgets.
"""

from __future__ import annotations

from machines.families.calls import CallRules
from machines.families.signers import SignerRules


class SignerOutageMachine(CallRules, SignerRules):
    """Calls, phase by phase and whole, against a signer that comes and goes."""

    name = "signer_outage"
    budget_share = 0.3
