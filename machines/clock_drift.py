"""Chaos scenario 3, clock drift.

Goal: an intent runs only while the executor's own clock is inside ``[issued_at, expires_at)``;
an executor clock 2 hours behind refuses with INTENT_NOT_YET_VALID ("expired or not yet valid"),
2 hours ahead with INTENT_EXPIRED, and the edges ``issued_at - 1``, ``expires_at - 1`` and
``expires_at`` behave exactly.

Method: interleave the phases of calls with moves of either clock, forwards and backwards, to
drawn times and to the exact edges of issued intents, and with retries; invariant 5 checks every
dispatch against the window the checker computes itself.
"""

from __future__ import annotations

from machines.families.calls import CallRules
from machines.families.clocks import ClockRules


class ClockDriftMachine(CallRules, ClockRules):
    """Calls against two clocks that drift apart."""

    name = "clock_drift"
    budget_share = 0.3
