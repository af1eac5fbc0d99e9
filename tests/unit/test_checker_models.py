"""The checker's own models, apart from the invariants that use them: the refusal order of *begin*
(checker/refusals.py), the step records of the ghost state (checker/ghost.py), the leaf mutations
(checker/policy.py), and what the driver records for a policy mutation, a presented fault and a
whole call."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from machines.families.policy import CONTAINER_RULES, ODD_RULES
from machines.world import RULES

from helmmodel.checker.driver import USER_PRINCIPAL, USER_TOKEN, Driver
from helmmodel.checker.ghost import (
    Begun,
    Decided,
    ExecAttempt,
    Ghost,
    HttpExchange,
    IntentAttempt,
    ReceiptCheck,
)
from helmmodel.checker.policy import (
    PolicyView,
    add_leaf_json,
    policy_version,
    remove_leaf_json,
    rule_problem,
)
from helmmodel.checker.refusals import BeginVerdict, expected_begin
from helmmodel.errors import InvalidInput
from helmmodel.kernel import Kernel, KernelConfig
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
    ghost = Ghost.for_seed(b"seed", 300_000, 9999)
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


# --- the leaf mutations on the checker's own copy of a rule ---------------------------------------

NESTED = {
    "id": "r-top",
    "logic": "AND",
    "leaves": [{"id": "x-le-10", "predicate": ["le", "args.x", 10]}],
    "children": [{"id": "r-child", "logic": "OR", "leaves": [], "children": []}],
}
ALWAYS = {"id": "always", "predicate": ["const", True]}


def test_add_leaf_json_adds_to_the_named_set_of_a_copy() -> None:
    before = copy.deepcopy(NESTED)
    updated = add_leaf_json(NESTED, "r-child", ALWAYS)
    assert updated is not None
    assert [ALWAYS] == updated["children"][0]["leaves"]
    assert before == NESTED


@pytest.mark.parametrize(
    ("set_id", "leaf"), [("r-none", ALWAYS), ("r-top", {"id": "x-le-10", "predicate": ALWAYS})]
)
def test_add_leaf_json_judges_an_unknown_set_or_a_taken_leaf_id_invalid(
    set_id: str, leaf: dict[str, Any]
) -> None:
    assert add_leaf_json(NESTED, set_id, leaf) is None


def test_remove_leaf_json_removes_from_the_named_set_of_a_copy() -> None:
    before = copy.deepcopy(NESTED)
    updated = remove_leaf_json(NESTED, "r-top", "x-le-10")
    assert updated is not None
    assert ([], NESTED["children"]) == (updated["leaves"], updated["children"])
    assert before == NESTED


@pytest.mark.parametrize(("set_id", "leaf_id"), [("r-none", "x-le-10"), ("r-child", "x-le-10")])
def test_remove_leaf_json_judges_an_unknown_set_or_leaf_invalid(set_id: str, leaf_id: str) -> None:
    assert remove_leaf_json(NESTED, set_id, leaf_id) is None


def _kernel_refuses(rule: Any) -> bool:
    try:
        Kernel(KernelConfig()).put_rule("echo", copy.deepcopy(rule))
    except InvalidInput:
        return True
    return False


@pytest.mark.parametrize(
    "rule",
    [
        {**NESTED, "children": [{**NESTED, "id": "r-deeper"}]},
        {"id": "r-none"},
        {
            "id": "r-none",
            "logic": "XOR",
            "leaves": [ALWAYS, {"id": "x", "predicate": ["in", "a", []]}],
        },
        {"id": "r-twice", "leaves": [ALWAYS, ALWAYS]},
        {"id": "r-list", "leaves": [{"id": "o", "predicate": ["eq", "a.b", [{"k": None}]]}]},
        {"id": "r-float", "leaves": [{"id": "o", "predicate": ["eq", "a", [1.5]]}]},
        {"id": "r-op", "leaves": [{"id": "o", "predicate": [["const"], True]}]},
        {"id": "r-tool", "logic": ""},
        {"id": 7},
        {"id": "r-x", "children": "none"},
    ],
)
def test_rule_problem_judges_a_rule_as_the_kernel_does(rule: Any) -> None:
    """The checker's own reading of the spec refuses exactly the rules the kernel refuses."""
    assert _kernel_refuses(rule) == (rule_problem(rule) is not None)


def test_rule_problem_agrees_with_the_kernel_on_every_drawn_rule() -> None:
    """Every template the policy family puts is judged alike by the checker and the kernel, and
    the bound templates sit on both sides of each bound."""
    judged = {
        name: (_kernel_refuses(rule), rule_problem(rule) is not None)
        for name, rule in {**RULES, **CONTAINER_RULES, **ODD_RULES}.items()
    }
    assert {name: (k, k) for name, (k, _) in judged.items()} == judged
    refused = {name for name, (k, _) in judged.items() if k}
    assert {"wide-65", "deep-17"} <= refused
    assert not {"wide-64", "deep-16", *CONTAINER_RULES, *RULES} & refused


# --- the driver's policy mutations: the kernel's and the checker's copies move together ----------


def a_driver(kernel: type[Kernel] = Kernel) -> Driver:
    driver = Driver.start(kernel, KernelConfig())
    driver.register_tool("echo", ECHO_SCHEMA)
    driver.put_rule("echo", NESTED)
    return driver


def test_each_accepted_mutation_moves_both_copies_to_the_same_version() -> None:
    driver = a_driver()
    ghost, policy = driver.ghost, driver.kernel.policy
    outcomes = [
        driver.add_leaf("echo", "r-child", "always", ["const", True]),
        driver.remove_leaf("echo", "r-top", "x-le-10"),
        driver.put_rule("sum", NESTED),
        driver.remove_rule("sum"),
    ]
    assert [2, 3, 4, 5] == [outcome["epoch"] for outcome in outcomes]
    assert (policy.epoch, policy.version) == (ghost.epoch, ghost.version)
    assert [ALWAYS] == ghost.rules["echo"]["children"][0]["leaves"]


def test_put_rule_keeps_the_callers_rule_out_of_both_copies() -> None:
    driver = a_driver()
    driver.ghost.rules["echo"]["leaves"].clear()
    assert 1 == len(NESTED["leaves"])


class LenientKernel(Kernel):
    """A kernel that accepts every leaf mutation and removal, and changes nothing."""

    def add_leaf(self, tool: str, set_id: str, requirement_id: str, predicate: list[Any]) -> None:
        pass

    def remove_leaf(self, tool: str, set_id: str, requirement_id: str) -> None:
        pass

    def remove_rule(self, tool: str) -> None:
        pass

    def put_rule(self, tool: str, rule: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("change", "mutate"),
    [
        ("add_leaf", lambda d: d.add_leaf("echo", "r-none", "always", ["const", True])),
        ("add_leaf", lambda d: d.add_leaf("sum", "r-top", "always", ["const", True])),
        ("remove_leaf", lambda d: d.remove_leaf("echo", "r-child", "x-le-10")),
        ("remove_leaf", lambda d: d.remove_leaf("sum", "r-top", "x-le-10")),
        ("remove", lambda d: d.remove_rule("sum")),
        ("put", lambda d: d.put_rule("sum", {"id": "r-odd", "rules": []})),
    ],
)
def test_a_mutation_the_checker_judges_invalid_leaves_its_copy_alone(
    change: str, mutate: Callable[[Driver], dict[str, Any]]
) -> None:
    """Refused by an honest kernel; accepted by a lenient one, yet the checker keeps its rules."""
    for kernel, outcome in (
        (Kernel, {"error": "InvalidInput"}),
        (LenientKernel, {"policy": change, "accepted": "invalid"}),
    ):
        driver = a_driver(kernel)
        rules = copy.deepcopy(driver.ghost.rules)
        assert outcome == mutate(driver)
        assert (1, rules) == (driver.ghost.epoch, driver.ghost.rules)


# --- the driver predicts the refusal of a presented fault ----------------------------------------


def test_a_fault_is_recorded_with_the_refusal_the_checker_predicts() -> None:
    """A fault records the checker's predicted code ("" for none); a genuine call records None."""
    driver = a_driver()
    call, _ = driver.begin("alice", "echo", {"x": 1}, {})
    assert call is not None
    decision, _ = driver.decide(call)
    assert decision is not None
    intent, _ = driver.issue_intent(decision, call.effect)
    tampered = attrs.evolve(decision, subject_id="mallory")
    driver.issue_intent(tampered, call.effect, fault=True)
    driver.issue_intent(decision, call.effect, fault=True)
    driver.execute(None, intent, call.effect, fault=True)
    driver.execute(tampered, intent, call.effect, fault=True)
    driver.execute(decision, intent, call.effect, fault=True)
    driver.execute(decision, intent, call.effect)
    intents = [(a.expected_code, a.code) for a in driver.ghost.intents]
    executions = [(a.expected_code, a.code) for a in driver.ghost.executions]
    assert [(None, None), ("DECISION_SIGNATURE_INVALID",) * 2, ("", None)] == intents
    assert [
        ("MISSING_ARTIFACT",) * 2,
        ("DECISION_SIGNATURE_INVALID",) * 2,
        ("", None),
        (None, None),
    ] == executions


# --- the recorder: a phase is recorded alike whether run alone or inside a whole call -------------

CONTEXT = {"session_id": "s0", "budget_id": "b0"}
WHOLE_CALLS: dict[str, Callable[[Driver], Any]] = {
    "Kernel.call": lambda driver: driver.whole_call(USER_PRINCIPAL, "echo", {"x": 1}, CONTEXT),
    "HTTP": lambda driver: driver.http(
        "POST",
        "/v1/tools/execute",
        {"Authorization": f"Bearer {USER_TOKEN}"},
        json.dumps({"tool": "echo", "args": {"x": 1}, "context": CONTEXT}).encode(),
    ),
}


@pytest.mark.parametrize("way", sorted(WHOLE_CALLS))
def test_a_whole_call_is_recorded_as_its_phases_one_by_one(way: str) -> None:
    """Every field of Begun, Decided and ExecAttempt, but the intent a whole call never shows
    (the checker computes its window instead)."""
    phased, whole = a_driver(), a_driver()
    for driver in (phased, whole):
        driver.create_budget("b0", 2)
        driver.ghost.step = 1
    call, _ = phased.begin(USER_PRINCIPAL, "echo", {"x": 1}, CONTEXT)
    assert call is not None
    decision, _ = phased.decide(call)
    assert decision is not None
    intent, _ = phased.issue_intent(decision, call.effect)
    phased.execute(decision, intent, call.effect)
    WHOLE_CALLS[way](whole)
    assert (phased.ghost.begun, phased.ghost.decided) == (whole.ghost.begun, whole.ghost.decided)
    assert {"b0": 1} == phased.ghost.budget_charged == whole.ghost.budget_charged
    [alone], [inside] = phased.ghost.executions, whole.ghost.executions
    assert (intent, None) == (alone.intent, alone.window)
    assert inside.window == (intent.issued_at, intent.expires_at)
    assert attrs.evolve(alone, intent=None, window=inside.window) == inside


# --- budget changes and direct injects: the checker's judgement, and the ghost following it ----


class _Lenient(Kernel):
    """A kernel that takes every budget change and inject, to show the ghost does not follow it."""

    def create_budget(self, budget_id: str, limit_requests: int) -> None:
        pass

    def set_budget_limit(self, budget_id: str, limit_requests: int) -> None:
        pass

    def inject_chaos(self, burn: int) -> tuple[int, str]:
        return 0, "DEGRADED"


@pytest.mark.parametrize(
    ("budget_id", "limit", "create", "refused"),
    [
        ("b9", 0, True, False),
        ("b9", 2**53 - 1, True, False),
        ("b0", 1, True, True),  # exists
        ("b 9", 1, True, True),  # no identifier
        ("b9", -1, True, True),
        ("b0", 3, False, False),
        ("b9", 3, False, True),  # unknown
        ("b0", 2**53, False, True),
        ("b0", True, False, True),
        ("b0", 1.0, False, True),
        ("b0", "1", False, True),
    ],
)
def test_budget_changes_are_judged_and_only_accepted_ones_move_the_ghost(
    budget_id: Any, limit: Any, create: bool, refused: bool
) -> None:
    """The checker refuses what spec section 8 refuses, the kernel agrees, and the ghost's limits
    change only for a change the checker accepts, whatever a kernel answers."""
    for factory, agrees in ((Kernel, True), (_Lenient, False)):
        driver = Driver.start(factory, KernelConfig())
        driver.create_budget("b0", 2)
        change = driver.create_budget if create else driver.set_budget_limit
        outcome = change(budget_id, limit)
        if agrees:
            assert refused == ("error" in outcome)
        expected = {"b0": 2} if refused else {"b0": 2, budget_id: limit}
        if not create and not refused:
            expected = {"b0": limit}
        assert expected == driver.ghost.budget_limits


@pytest.mark.parametrize(
    ("burn", "refused"),
    [(1, False), (100, False), (0, True), (101, True), (True, True), ("5", True)],
)
def test_a_direct_inject_is_judged_and_only_an_accepted_one_burns_the_ghost(
    burn: Any, refused: bool
) -> None:
    """Burns from 1 to 100 are accepted (spec section 8); the ghost burns only those."""
    for factory, agrees in ((Kernel, True), (_Lenient, False)):
        driver = Driver.start(factory, KernelConfig())
        outcome = driver.inject_chaos(burn)
        if agrees:
            assert refused == ("error" in outcome)
        assert (100 if refused else max(0, 100 - burn)) == driver.ghost.error_budget
