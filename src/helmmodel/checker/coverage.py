"""What a run counts and what it must reach: the spec's outcomes, by facet, in one list.

A machine counts each outcome the kernel answers (``Stats.outcomes``: a facet and a value); the
runner's report, the coverage floor (``tests/quality/test_coverage.py``) and the campaign's report
read the expected values from here, so a new outcome is added in one place.
"""

from __future__ import annotations

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
EXPECTED_OUTCOMES: dict[str, tuple[str, ...]] = {
    "verdict": VERDICTS,
    "reason_code": REASON_CODES,
    "intent_refused": INTENT_REFUSALS,
    "execution_refused": EXECUTION_REFUSALS,
    "http": HTTP_STATUSES,
    "fail_closed": ("SIGNER_UNAVAILABLE",),
    "executed": ("SUCCESS", "TOOL_ERROR"),
    "receipt": ("accepted", "RECEIPT_SIGNATURE_INVALID"),
}
LABELS = {
    "verdict": "verdicts",
    "reason_code": "reason codes",
    "intent_refused": "intent refusals",
    "execution_refused": "execution refusals",
    "http": "HTTP statuses",
    "fail_closed": "fail-closed",
    "executed": "executions",
    "receipt": "receipt checks",
}
