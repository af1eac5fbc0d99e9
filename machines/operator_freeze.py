"""The operator's emergency stop, landing between the phases of calls.

Goal: while the kernel is frozen, no ALLOW is decided, no intent is issued and nothing is
dispatched, whichever phase each call had reached when the freeze began; a tentative ALLOW whose
*decide* comes after a freeze becomes DENY SYSTEM_FROZEN, and an unfreeze lets new calls through.

Method: interleave the phases of calls (phase by phase, whole calls, idempotent retries and
re-issued intents) with freezes and unfreezes set as explicit states; invariant 3 checks each
decision, intent and dispatch against the freeze the checker recorded at that step, and
invariant 13 that *decide* changed a verdict only because of the freeze.
"""

from __future__ import annotations

from machines.families.calls import CallRules
from machines.families.freeze import FreezeRules


class OperatorFreezeMachine(CallRules, FreezeRules):
    """Calls in flight while the operator freezes and unfreezes the kernel."""

    name = "operator_freeze"
    budget_share = 0.3
