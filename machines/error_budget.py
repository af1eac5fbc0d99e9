"""Chaos scenario 1, error budget exhaustion.

Goal: chaos injects burn the error budget (30 points each, or a chosen burn), only with an admin
token; below 20 every generated-spec and promotion POST answers 429 with
``X-Gate-Enforced: BudgetExhausted`` and creates nothing, whatever its body; the budget never
leaves [0, 100].

Method: interleave injects (every token kind, every body kind), generated-spec and promotion
requests (good, malformed, oversized, wrong method) and status reads; invariants 18 and 19 check
each answer against the checker's own model of the gate and of the order of checks.
"""

from __future__ import annotations

from machines.families.http import HttpOpsRules


class ErrorBudgetMachine(HttpOpsRules):
    """Injects, gated requests and status reads."""

    name = "error_budget"
    budget_share = 0.3
