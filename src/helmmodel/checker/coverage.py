"""What a run counts and what it must reach: the spec's outcomes, by facet, in one table.

A machine counts each outcome the kernel answers of a facet of :data:`FACETS`
(``Stats.outcomes``: a facet and a value); the runner's report, the coverage floor
(``tests/quality/test_coverage.py``) and the campaign's report read the labels and the expected
values from the same table, so a new outcome or facet is added in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

# What the spec says a run must be able to reach (the coverage floor of the kernel machine).
VERDICTS = ("ALLOW", "DENY", "ESCALATE")
REASON_CODES = (
    "SYSTEM_FROZEN",
    "ERR_TOOL_NOT_FOUND",
    "SCHEMA_VIOLATION",
    "BUDGET_ERROR",
    "BUDGET_EXCEEDED",
    "NO_POLICY_DEFINED",
    "PRG_EVALUATION_ERROR",
    "MISSING_REQUIREMENT",
    "APPROVAL_REQUIRED",
)
INTENT_REFUSALS = (
    "SYSTEM_FROZEN",
    "VERDICT_NOT_ALLOW",
    "DECISION_SIGNATURE_INVALID",
    "POLICY_EPOCH_CHANGED",
    "DIGEST_MISMATCH",
    "SIGNER_UNAVAILABLE",
)
EXECUTION_REFUSALS = (
    "SYSTEM_FROZEN",
    "MISSING_ARTIFACT",
    "INTENT_MISMATCH",
    "DIGEST_MISMATCH",
    "DECISION_SIGNATURE_INVALID",
    "INTENT_SIGNATURE_INVALID",
    "VERDICT_NOT_ALLOW",
    "INTENT_NOT_YET_VALID",
    "INTENT_EXPIRED",
    "SIGNER_UNAVAILABLE",
)
HTTP_STATUSES = ("200", "201", "400", "401", "403", "404", "405", "413", "429", "503")


@attrs.frozen
class Facet:
    """One facet of the kernel's answers that a run counts: its key in a rule's outcome, the
    title a run's report gives it, and the values the spec says a run must reach."""

    name: str
    label: str | None = None  # None: counted (a campaign's summary lists it), never reported
    expected: tuple[str, ...] = ()  # reported first, in this order


# In the order a run's report lists them.
FACETS = (
    Facet("verdict", "verdicts", VERDICTS),
    Facet("reason_code", "reason codes", REASON_CODES),
    Facet("intent_refused", "intent refusals", INTENT_REFUSALS),
    Facet("execution_refused", "execution refusals", EXECUTION_REFUSALS),
    Facet("http", "HTTP statuses", HTTP_STATUSES),
    Facet("fail_closed", "fail-closed", ("SIGNER_UNAVAILABLE",)),
    Facet("executed", "executions", ("SUCCESS", "TOOL_ERROR")),
    Facet("receipt", "receipt checks", ("accepted", "RECEIPT_SIGNATURE_INVALID")),
    Facet("registered", "tool registrations", ("new", "replaced", "refused")),
    Facet("begun"),
    Facet("intent"),
    Facet("error"),
)
# The outcome facets counted: what the kernel answered, not what a rule asked.
COUNTED_FACETS = frozenset(facet.name for facet in FACETS)
REPORTED = tuple(facet for facet in FACETS if facet.label is not None)
EXPECTED_OUTCOMES = {facet.name: facet.expected for facet in FACETS if facet.expected}

# --- acceptance and phases: derived from a rule's outcome, never recorded in it -------------------

# Keys whose presence in an outcome means the kernel refused what the step asked.
_REFUSAL_KEYS = frozenset({"error", "intent_refused", "execution_refused", "fail_closed"})
_REFUSED_VALUES = {"registered": "refused", "receipt": "none", "begun": "DENY", "verdict": "DENY"}


def accepted(outcome: Mapping[str, Any]) -> bool:
    """Whether a step did what it asked: no refusal, no DENY, no HTTP error, no stale target."""
    if _REFUSAL_KEYS.intersection(outcome):
        return False
    if any(outcome.get(key) == value for key, value in _REFUSED_VALUES.items()):
        return False
    # An HTTP status that is no integer (a malformed outcome) counts as not accepted.
    status = outcome.get("http", 200)
    return isinstance(status, int) and not isinstance(status, bool) and status < 400


# Where an outcome arose: a rule whose driver method runs every phase in one kernel operation
# names it here; otherwise the facet says (a verdict without a "begun" arose at *decide*).
WHOLE_CALL_RULES = {"whole_call": "call", "http_execute": "http"}
_FACET_PHASES = {
    "begun": "begin",
    "intent": "intent",
    "intent_refused": "intent",
    "executed": "execute",
    "execution_refused": "execute",
    "fail_closed": "decide",
    "receipt": "verify",
    "registered": "register",
    "http": "http",
}
PHASES = ("begin", "decide", "intent", "execute", "call", "http", "verify", "register")


def phase(rule: str, facet: str, outcome: Mapping[str, Any]) -> str:
    """The phase an outcome's *facet* arose in, for the rule *rule*."""
    whole = WHOLE_CALL_RULES.get(rule)
    if whole is not None:
        return whole
    if facet in ("verdict", "reason_code"):
        return "begin" if "begun" in outcome and "verdict" not in outcome else "decide"
    return _FACET_PHASES.get(facet, "other")


# What a ci run of the kernel machine must reach per phase: the checks its scenario is about.
EXPECTED_BY_PHASE: dict[tuple[str, str], tuple[str, ...]] = {
    ("begin", "reason_code"): REASON_CODES,
    ("decide", "reason_code"): ("SYSTEM_FROZEN", "BUDGET_EXCEEDED"),
    ("decide", "verdict"): VERDICTS,
    ("call", "verdict"): VERDICTS,
    ("http", "verdict"): VERDICTS,
    ("decide", "fail_closed"): ("SIGNER_UNAVAILABLE",),
    ("intent", "intent_refused"): INTENT_REFUSALS,
    ("execute", "execution_refused"): EXECUTION_REFUSALS,
}


# --- policy shapes: each set of an evaluated rule, by logic and by what it holds -----------------

LOGICS = ("AND", "OR", "NOT", "")
SET_KINDS = ("empty", "children-only", "leaves")
DEEP = "depth 3+"
EXPECTED_SHAPES = (
    *(f"{logic or '(empty)'} {kind}" for logic in LOGICS for kind in SET_KINDS),
    DEEP,
)


def shapes(rule: Mapping[str, Any]) -> set[str]:
    """The shapes of a rule's JSON form: each set's logic and kind, and DEEP when it nests three
    sets deep or more."""
    found: set[str] = set()
    depth = 0
    stack: list[tuple[Any, int]] = [(rule, 1)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, Mapping):
            continue
        depth = max(depth, level)
        leaves, children = node.get("leaves") or [], node.get("children") or []
        kind = "leaves" if leaves else ("children-only" if children else "empty")
        found.add(f"{node.get('logic') or '(empty)'} {kind}")
        stack.extend((child, level + 1) for child in children)
    if depth >= 3:
        found.add(DEEP)
    return found


# Which rule families can cause an outcome at all (any one of them): an outcome none of a
# machine's families can cause is "not applicable" to it, not "missed" (a campaign's report
# splits the two). By facet, then by (facet, value) where a value needs more than its facet.
_CALLS = frozenset({"call", "http-call"})
FACET_NEEDS: Mapping[str, frozenset[str]] = {
    "verdict": _CALLS,
    "reason_code": _CALLS,
    "intent_refused": frozenset({"call"}),
    "execution_refused": frozenset({"call"}),
    "executed": frozenset({"call"}),
    "receipt": frozenset({"call"}),
    "fail_closed": frozenset({"call"}),
    "http": frozenset({"http-call", "http-ops"}),
    "registered": frozenset({"tool"}),
}
VALUE_NEEDS: Mapping[tuple[str, str], frozenset[str]] = {
    ("reason_code", "SYSTEM_FROZEN"): frozenset({"freeze"}),
    ("reason_code", "NO_POLICY_DEFINED"): frozenset({"policy", "tool"}),
    ("intent_refused", "SYSTEM_FROZEN"): frozenset({"freeze"}),
    ("intent_refused", "POLICY_EPOCH_CHANGED"): frozenset({"policy"}),
    ("intent_refused", "DIGEST_MISMATCH"): frozenset({"fault"}),
    ("intent_refused", "DECISION_SIGNATURE_INVALID"): frozenset({"signer", "fault"}),
    ("intent_refused", "SIGNER_UNAVAILABLE"): frozenset({"signer"}),
    ("execution_refused", "SYSTEM_FROZEN"): frozenset({"freeze"}),
    ("execution_refused", "MISSING_ARTIFACT"): frozenset({"fault"}),
    ("execution_refused", "INTENT_MISMATCH"): frozenset({"fault"}),
    ("execution_refused", "DIGEST_MISMATCH"): frozenset({"fault"}),
    ("execution_refused", "DECISION_SIGNATURE_INVALID"): frozenset({"signer", "fault"}),
    ("execution_refused", "INTENT_SIGNATURE_INVALID"): frozenset({"signer", "fault"}),
    ("execution_refused", "VERDICT_NOT_ALLOW"): frozenset({"fault"}),
    ("execution_refused", "INTENT_NOT_YET_VALID"): frozenset({"clock"}),
    ("execution_refused", "INTENT_EXPIRED"): frozenset({"clock"}),
    ("execution_refused", "SIGNER_UNAVAILABLE"): frozenset({"signer"}),
    ("fail_closed", "SIGNER_UNAVAILABLE"): frozenset({"signer"}),
    ("receipt", "RECEIPT_SIGNATURE_INVALID"): frozenset({"signer", "fault"}),
}


def applicable(facet: str, value: str, families: Iterable[str]) -> bool:
    """Whether a machine with rule *families* can cause the outcome at all."""
    have = set(families)
    needs = [FACET_NEEDS.get(facet), VALUE_NEEDS.get((facet, value))]
    return all(need is None or need & have for need in needs)


def applicable_outcomes(families: Iterable[str]) -> frozenset[tuple[str, str]]:
    """The expected outcomes a machine with rule *families* can cause: its denominator."""
    have = set(families)
    return frozenset(
        (facet, value)
        for facet, expected in EXPECTED_OUTCOMES.items()
        for value in expected
        if applicable(facet, value, have)
    )
