"""The checker's own models, apart from the invariants that use them: the refusal order of *begin*
(checker/refusals.py) and the step records of the ghost state (checker/ghost.py)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from helmmodel.checker.ghost import (
    Begun,
    Decided,
    ExecAttempt,
    Ghost,
    HttpExchange,
    IntentAttempt,
    ReceiptCheck,
)
from helmmodel.checker.policy import PolicyView, policy_version
from helmmodel.checker.refusals import BeginVerdict, expected_begin
from helmmodel.kernel.records import Effect, Request

X_LE_10 = {
    "id": "r-x",
    "logic": "AND",
    "leaves": [{"id": "x-le-10", "predicate": ["le", "args.x", 10]}],
    "children": [],
}
UNSEEN = "not_evaluated"  # the policy outcome of a call refused before its evaluation
ECHO_SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}}


# --- expected_begin: the order of begin's refusals ------------------------------------------------


def a_ghost() -> Ghost:
    """A ghost knowing tools echo (rule x <= 10) and approve (open rule, needs an approval)."""
    ghost = Ghost.for_seed(b"seed", 300_000)
    ghost.tools["echo"] = (ECHO_SCHEMA, False)
    ghost.tools["approve"] = ({"type": "object"}, True)
    ghost.set_rules({"echo": X_LE_10, "approve": {"id": "r-open"}})
    return ghost


def begun_of(
    ghost: Ghost,
    tool: str = "echo",
    args: dict[str, Any] | None = None,
    *,
    frozen: bool = False,
    budget: tuple[bool, int, int] | None = None,
    rules: dict[str, Any] | None = None,
) -> Begun:
    request = Request("alice", tool, {"x": 1} if args is None else args)
    policy = ghost.policy() if rules is None else PolicyView(rules, 9, policy_version(rules))
    return Begun(
        step=1,
        call_id="call-000001",
        request=request,
        effect=Effect("eff-000001", tool, request.args),
        frozen=frozen,
        policy=policy,
        budget=budget,
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ({"frozen": True, "tool": "missing"}, ("DENY", "SYSTEM_FROZEN", UNSEEN)),
        ({"tool": "missing", "args": {"x": "one"}}, ("DENY", "ERR_TOOL_NOT_FOUND", UNSEEN)),
        ({"args": {"x": "one"}, "budget": (False, 0, 0)}, ("DENY", "SCHEMA_VIOLATION", UNSEEN)),
        ({"budget": (False, 0, 0), "rules": {}}, ("DENY", "BUDGET_ERROR", UNSEEN)),
        ({"budget": (True, 2, 2), "rules": {}}, ("DENY", "BUDGET_EXCEEDED", UNSEEN)),
        ({"budget": (True, 1, 2), "rules": {}}, ("DENY", "NO_POLICY_DEFINED", "no_rule")),
        ({"args": {}}, ("DENY", "PRG_EVALUATION_ERROR", "error")),
        ({"args": {"x": 11}}, ("DENY", "MISSING_REQUIREMENT", "false")),
        ({"tool": "approve"}, ("ESCALATE", "APPROVAL_REQUIRED", "true")),
        ({}, ("ALLOW", "", "true")),
    ],
)
def test_expected_begin_follows_the_spec_order(
    case: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    """Each case also fails every later check, so only the spec's order gives its verdict."""
    ghost = a_ghost()
    begun = begun_of(ghost, **case)
    assert BeginVerdict(*expected) == expected_begin(ghost, begun)


def test_expected_begin_judges_the_recorded_snapshot_not_the_current_rules() -> None:
    ghost = a_ghost()
    begun = begun_of(ghost, args={"x": 11})
    ghost.set_rules({"echo": {"id": "r-open"}})
    assert "MISSING_REQUIREMENT" == expected_begin(ghost, begun).reason_code


# --- the step records -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [Begun, Decided, IntentAttempt, ExecAttempt, ReceiptCheck, HttpExchange, Ghost]
)
def test_wide_records_take_keywords_only(record: type[Any]) -> None:
    """A record built from positions would silently shift a field when one is added."""
    fields = attrs.fields(record)
    assert all(field.kw_only for field in fields)
    with pytest.raises(TypeError):
        record(*range(len(fields)))
