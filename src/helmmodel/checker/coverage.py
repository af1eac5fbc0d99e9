"""What a run counts and what it must reach: the spec's outcomes, by facet, in one table.

A machine counts each outcome the kernel answers of a facet of :data:`FACETS`
(``Stats.outcomes``: a facet and a value); the runner's report, the coverage floor
(``tests/quality/test_coverage.py``) and the campaign's report read the labels and the expected
values from the same table, so a new outcome or facet is added in one place.
"""

from __future__ import annotations

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
