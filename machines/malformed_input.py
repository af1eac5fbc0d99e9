"""Chaos scenario 6, malformed input at ``POST /v1/tools/execute``.

Goal: malformed JSON (invalid UTF-8, lone surrogates, NaN, duplicate keys, trailing data) and
values outside the canonical subset answer 400, bodies over 1 MiB (sent or announced) 413,
unknown tokens 401, unknown paths 404, wrong methods 405, each changing nothing; schema-invalid
arguments are a DENY SCHEMA_VIOLATION that changes no budget, policy, receipt or error budget.

Method: HTTP requests of every body kind, method, path and token, mixed with valid calls and
budget limit changes; invariant 19 checks each status against the checker's own model of
the order of checks, and that nothing changed.
"""

from __future__ import annotations

from machines.families.budgets import BudgetRules
from machines.families.http import HttpCallRules


class MalformedInputMachine(HttpCallRules, BudgetRules):
    """Requests good and bad at the tool-call endpoint."""

    name = "malformed_input"
    budget_share = 0.3
