"""Chaos scenario 4, budget contention (the sequential half of the concurrent storm).

Goal: a budget is never overdrawn: each consumption happens only while ``consumed < limit``,
the budget ends exactly at what the charged ALLOW decisions add up to, a budget spent or lowered
between *begin* and *decide* turns a tentative ALLOW into DENY BUDGET_EXCEEDED, and a denied or
fail-closed call draws nothing.

Method: many calls charged to two small budgets, their phases interleaved (the check-then-act
window between *begin*'s pre-check and *decide*'s consume), with limit changes up and down and
signer outages in between, and races that leave a begun call's budget one request which another
call takes before the call is decided (that window, opened on purpose rather than by luck);
invariants 11, 12 and 13 check the ledger.
"""

from __future__ import annotations

from machines.families.budgets import BudgetRaceRules, BudgetRules
from machines.families.calls import CallRules
from machines.families.signers import SignerRules


class BudgetContentionMachine(CallRules, BudgetRules, SignerRules, BudgetRaceRules):
    """Charged calls racing for small budgets."""

    name = "budget_contention"
    budget_share = 0.3
