"""Small kernel components: clocks, request budgets, the tool table, the error budget, id counters
and the order-free set digest (docs/kernel-spec.md sections 1, 2 and 8)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helmmodel.errors import InvalidInput
from helmmodel.kernel.budgets import RequestBudgets
from helmmodel.kernel.clock import SimClock
from helmmodel.kernel.digest import SetDigest
from helmmodel.kernel.error_budget import DEGRADED, HEALTHY, ErrorBudget
from helmmodel.kernel.ids import IdCounters
from helmmodel.kernel.tools import (
    ERR_TOOL_NOT_FOUND,
    SCHEMA_VIOLATION,
    ToolError,
    ToolTable,
    passing_check,
)

SAFE_MAX = 2**53 - 1
NOT_SAFE_INTEGERS = [1.0, 0.5, float("nan"), True, False, SAFE_MAX + 1, -SAFE_MAX - 1, "5", None]

ECHO_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "additionalProperties": False,
}
INTEGERS_SCHEMA = {"type": "object", "additionalProperties": {"type": "integer"}}


# --- SimClock -------------------------------------------------------------------------------


def test_clock_starts_where_told() -> None:
    """A clock starts at 0 by default, or at the time it is given."""
    assert 0 == SimClock().now_ms
    assert 1_000 == SimClock(1_000).now_ms
    assert -7 == SimClock(-7).now_ms


def test_clock_set_moves_forwards_and_backwards() -> None:
    """set moves the clock to any safe integer, forwards or backwards."""
    clock = SimClock(5_000)
    clock.set(9_000)
    assert 9_000 == clock.now_ms
    clock.set(1_000)
    assert 1_000 == clock.now_ms
    clock.set(-SAFE_MAX)
    assert -SAFE_MAX == clock.now_ms
    clock.set(SAFE_MAX)
    assert SAFE_MAX == clock.now_ms


@pytest.mark.parametrize("bad", NOT_SAFE_INTEGERS)
def test_clock_refuses_non_integers(bad: Any) -> None:
    """Floats, bools, unsafe integers and non-numbers are refused and the clock stays put."""
    with pytest.raises(InvalidInput):
        SimClock(bad)
    clock = SimClock(100)
    with pytest.raises(InvalidInput):
        clock.set(bad)
    assert 100 == clock.now_ms


def test_clocks_are_independent() -> None:
    """Moving one clock leaves another untouched (the Guardian's and executor's may drift)."""
    guardian, executor = SimClock(0), SimClock(0)
    executor.set(-7_200_000)
    assert (0, -7_200_000) == (guardian.now_ms, executor.now_ms)


# --- RequestBudgets -------------------------------------------------------------------------


def budgets_with(budget_id: str = "b1", limit: int = 2) -> RequestBudgets:
    """A budget table holding one budget."""
    budgets = RequestBudgets()
    budgets.create(budget_id, limit)
    return budgets


def test_create_budget_starts_empty() -> None:
    """A new budget has its limit and nothing consumed."""
    budgets = budgets_with("b1", 3)
    budget = budgets.get("b1")
    assert budget is not None
    assert (3, 0) == (budget.limit, budget.consumed)
    assert ["b1"] == budgets.ids()
    assert budgets.get("b2") is None


def test_duplicate_create_is_refused() -> None:
    """Creating a budget that exists is refused and leaves the existing one as it was."""
    budgets = budgets_with("b1", 3)
    assert budgets.consume("b1", "call-1")
    with pytest.raises(InvalidInput):
        budgets.create("b1", 10)
    budget = budgets.get("b1")
    assert budget is not None
    assert (3, 1) == (budget.limit, budget.consumed)


@pytest.mark.parametrize("bad_id", ["has space", "x" * 65, "", 7, None])
def test_create_refuses_bad_budget_ids(bad_id: Any) -> None:
    """A budget id that is not an identifier is refused and nothing is created."""
    budgets = RequestBudgets()
    with pytest.raises(InvalidInput):
        budgets.create(bad_id, 1)
    assert [] == budgets.ids()


@pytest.mark.parametrize("bad", [-1, 1.0, 2.5, True, False, SAFE_MAX + 1, "3", None])
def test_bad_limits_are_refused(bad: Any) -> None:
    """Negative, float, bool, unsafe or non-number limits are refused on create and on change."""
    budgets = RequestBudgets()
    with pytest.raises(InvalidInput):
        budgets.create("b1", bad)
    assert [] == budgets.ids()
    budgets.create("b1", 4)
    with pytest.raises(InvalidInput):
        budgets.set_limit("b1", bad)
    budget = budgets.get("b1")
    assert budget is not None
    assert 4 == budget.limit


def test_limit_bounds_are_accepted() -> None:
    """Limits 0 and 2^53−1 are accepted."""
    budgets = RequestBudgets()
    budgets.create("zero", 0)
    budgets.create("big", SAFE_MAX)
    assert not budgets.consume("zero", "call-1")
    assert budgets.consume("big", "call-1")


def test_consume_only_while_below_limit() -> None:
    """consume charges one request while consumed < limit and refuses after that."""
    budgets = budgets_with("b1", 2)
    assert budgets.has_room("b1")
    assert budgets.consume("b1", "call-1")
    assert budgets.consume("b1", "call-2")
    assert not budgets.has_room("b1")
    assert not budgets.consume("b1", "call-3")
    budget = budgets.get("b1")
    assert budget is not None
    assert 2 == budget.consumed
    assert {"call-1", "call-2"} == budget.charged_calls


def test_one_charge_per_call() -> None:
    """A call that is already charged is not charged again."""
    budgets = budgets_with("b1", 5)
    assert budgets.consume("b1", "call-1")
    assert not budgets.consume("b1", "call-1")
    budget = budgets.get("b1")
    assert budget is not None
    assert 1 == budget.consumed


def test_limit_can_rise_and_fall() -> None:
    """Raising a limit makes room; lowering it to what is consumed removes the room."""
    budgets = budgets_with("b1", 1)
    assert budgets.consume("b1", "call-1")
    assert not budgets.consume("b1", "call-2")
    budgets.set_limit("b1", 3)
    assert budgets.consume("b1", "call-2")
    budgets.set_limit("b1", 2)
    assert not budgets.has_room("b1")
    assert not budgets.consume("b1", "call-3")


def test_limit_below_consumed_blocks_until_it_rises_past_consumed() -> None:
    """A limit lowered below consumed keeps consumption and refuses more until it rises again."""
    budgets = budgets_with("b1", 3)
    for call in ("call-1", "call-2", "call-3"):
        assert budgets.consume("b1", call)
    budgets.set_limit("b1", 1)
    budget = budgets.get("b1")
    assert budget is not None
    assert (1, 3) == (budget.limit, budget.consumed)
    assert not budgets.consume("b1", "call-4")
    budgets.set_limit("b1", 0)
    assert not budgets.consume("b1", "call-4")
    budgets.set_limit("b1", 3)
    assert not budgets.consume("b1", "call-4")
    budgets.set_limit("b1", 4)
    assert budgets.consume("b1", "call-4")
    assert not budgets.consume("b1", "call-5")
    assert 4 == budget.consumed


def test_release_releases_only_that_call() -> None:
    """release undoes one call's charge and leaves other calls' charges alone."""
    budgets = budgets_with("b1", 2)
    assert budgets.consume("b1", "call-1")
    assert budgets.consume("b1", "call-2")
    budgets.release("b1", "call-1")
    budget = budgets.get("b1")
    assert budget is not None
    assert {"call-2"} == budget.charged_calls
    budgets.release("b1", "call-1")
    budgets.release("b1", "call-9")
    assert {"call-2"} == budget.charged_calls
    assert budgets.consume("b1", "call-3")
    assert not budgets.consume("b1", "call-4")


def test_release_touches_only_its_budget() -> None:
    """Releasing a call in one budget leaves the same call's charge in another budget."""
    budgets = budgets_with("b1", 2)
    budgets.create("b2", 2)
    assert budgets.consume("b1", "call-1")
    assert budgets.consume("b2", "call-1")
    budgets.release("b1", "call-1")
    b1, b2 = budgets.get("b1"), budgets.get("b2")
    assert b1 is not None and b2 is not None
    assert (0, 1) == (b1.consumed, b2.consumed)


def test_unknown_budget_is_refused() -> None:
    """set_limit, consume and release of an unknown budget raise InvalidInput."""
    budgets = budgets_with("b1", 2)
    digest = budgets.digest_material()
    with pytest.raises(InvalidInput):
        budgets.set_limit("nope", 3)
    with pytest.raises(InvalidInput):
        budgets.consume("nope", "call-1")
    with pytest.raises(InvalidInput):
        budgets.release("nope", "call-1")
    assert not budgets.has_room("nope")
    assert ["b1"] == budgets.ids()
    assert digest == budgets.digest_material()


def test_budget_digest_is_order_free() -> None:
    """Equal budget states reached in different orders have equal digest material."""
    one = RequestBudgets()
    one.create("b1", 5)
    one.create("b2", 1)
    assert one.consume("b1", "call-1")
    assert one.consume("b1", "call-2")
    assert one.consume("b2", "call-3")
    one.set_limit("b2", 3)

    two = RequestBudgets()
    two.create("b2", 3)
    two.create("b1", 9)
    assert two.consume("b2", "call-3")
    assert two.consume("b1", "call-2")
    assert two.consume("b1", "call-4")
    assert two.consume("b1", "call-1")
    two.release("b1", "call-4")
    two.set_limit("b1", 5)

    assert one.digest_material() == two.digest_material()


def test_budget_digest_changes_with_state() -> None:
    """Consuming, releasing, changing a limit and creating a budget each change the digest."""
    budgets = budgets_with("b1", 5)
    seen = {budgets.digest_material()}
    assert budgets.consume("b1", "call-1")
    seen.add(budgets.digest_material())
    assert budgets.consume("b1", "call-2")
    seen.add(budgets.digest_material())
    budgets.set_limit("b1", 6)
    seen.add(budgets.digest_material())
    budgets.create("b2", 6)
    seen.add(budgets.digest_material())
    assert 5 == len(seen)
    budgets.release("b1", "call-2")
    assert budgets.digest_material() not in seen
    assert _digest_of([("b1", 6, ["call-1"]), ("b2", 6, [])]) == budgets.digest_material()


def test_budget_digest_tells_which_call_is_charged() -> None:
    """Two budgets with the same consumed count but different charged calls differ in digest."""
    assert _digest_of([("b1", 5, ["call-1"])]) != _digest_of([("b1", 5, ["call-2"])])
    assert _digest_of([("b1", 5, ["call-1"])]) != _digest_of([("b2", 5, ["call-1"])])


def _digest_of(states: list[tuple[str, int, list[str]]]) -> bytes:
    """The digest material of fresh budgets built straight into the given states."""
    budgets = RequestBudgets()
    for budget_id, limit, calls in states:
        budgets.create(budget_id, limit)
        for call in calls:
            assert budgets.consume(budget_id, call)
    return budgets.digest_material()


# --- ToolTable ------------------------------------------------------------------------------


def table() -> ToolTable:
    """A tool table with echo, sum and fail."""
    tools = ToolTable()
    tools.register("echo", ECHO_SCHEMA)
    tools.register("sum", INTEGERS_SCHEMA, behaviour="sum")
    tools.register("fail", {"type": "object"}, behaviour="fail")
    return tools


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 12},
        {"type": "no-such-type"},
        {"properties": []},
        {"required": "x"},
        {"minimum": "3"},
        {"maximum": 1.5},
    ],
)
def test_schema_that_does_not_compile_is_refused_and_not_allowlisted(schema: Any) -> None:
    """A schema that does not compile is refused and the tool stays off the allowlist."""
    tools = ToolTable()
    digest = tools.digest_material()
    with pytest.raises(InvalidInput):
        tools.register("bad", schema)
    assert b"" == tools.digest_material()  # nothing allowlisted
    assert tools.get("bad") is None
    assert ERR_TOOL_NOT_FOUND == tools.check("bad", {}).code
    assert digest == tools.digest_material()


@pytest.mark.parametrize("behaviour", ["shell", "", "ECHO", None])
def test_unknown_behaviour_is_refused(behaviour: Any) -> None:
    """Only echo, sum and fail are behaviours; anything else is refused and not allowlisted."""
    tools = ToolTable()
    with pytest.raises(InvalidInput):
        tools.register("t", {"type": "object"}, behaviour=behaviour)
    assert ERR_TOOL_NOT_FOUND == tools.check("t", {}).code


@pytest.mark.parametrize("name", ["has space", "x" * 65, "", 3])
def test_bad_tool_name_is_refused(name: Any) -> None:
    """A tool name that is not an identifier is refused."""
    tools = ToolTable()
    with pytest.raises(InvalidInput):
        tools.register(name, {"type": "object"})
    assert b"" == tools.digest_material()  # nothing allowlisted


def test_non_bool_approval_is_refused() -> None:
    """Approval must be a bool."""
    tools = ToolTable()
    with pytest.raises(InvalidInput):
        tools.register("t", {"type": "object"}, approval=1)  # type: ignore[arg-type]
    assert b"" == tools.digest_material()  # nothing allowlisted


def test_registered_tool_is_allowlisted() -> None:
    """A registered tool is listed with its approval flag and behaviour."""
    tools = table()
    tools.register("approve", {"type": "object"}, approval=True)
    assert all(tools.get(name) is not None for name in ("approve", "echo", "fail", "sum"))
    approve = tools.get("approve")
    assert approve is not None
    assert (True, "echo") == (approve.approval, approve.behaviour)


def test_firewall_refuses_unknown_tool() -> None:
    """The firewall answers ERR_TOOL_NOT_FOUND for a tool that is not allowlisted."""
    firewall = table().check("nope", {"x": 1})
    assert ERR_TOOL_NOT_FOUND == firewall.code
    assert "nope" in firewall.reason


def test_firewall_passes_valid_args() -> None:
    """The firewall lets valid args through with no code."""
    assert table().check("echo", {"x": 1}).code is None
    assert table().check("echo", {}).code is None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"x": "one"}, "x"),
        ({"x": True}, "x"),
        ({"x": 1, "extra": 2}, "extra"),
    ],
)
def test_firewall_names_the_bad_field(args: dict[str, Any], field: str) -> None:
    """Args that fail the schema get SCHEMA_VIOLATION with a reason naming the field."""
    firewall = table().check("echo", args)
    assert SCHEMA_VIOLATION == firewall.code
    assert field in firewall.reason


def test_firewall_names_a_nested_field() -> None:
    """A violation deep in the args names the path to the field."""
    tools = ToolTable()
    tools.register(
        "deep",
        {
            "type": "object",
            "properties": {
                "outer": {"type": "object", "properties": {"inner": {"type": "string"}}}
            },
        },
    )
    firewall = tools.check("deep", {"outer": {"inner": 5}})
    assert SCHEMA_VIOLATION == firewall.code
    assert "outer" in firewall.reason
    assert "inner" in firewall.reason


def test_echo_returns_its_args() -> None:
    """echo's output equals its args, returned with its canonical bytes."""
    expected = ({"x": 7}, b'{"x":7}')
    assert expected == table().dispatch("eff-000001", "echo", {"x": 7})


def test_sum_adds_integer_args() -> None:
    """sum's output is the sum of its integer args, returned with its canonical bytes."""
    tools = table()
    assert ({"sum": 6}, b'{"sum":6}') == tools.dispatch("eff-1", "sum", {"a": 1, "b": 2, "c": 3})
    assert ({"sum": -3}, b'{"sum":-3}') == tools.dispatch("eff-2", "sum", {"a": -5, "b": 2})
    assert ({"sum": 0}, b'{"sum":0}') == tools.dispatch("eff-3", "sum", {})
    output, _ = tools.dispatch("eff-4", "sum", {"a": SAFE_MAX - 1, "b": 1})
    assert {"sum": SAFE_MAX} == output


def test_sum_beyond_the_safe_range_is_a_tool_error() -> None:
    """A sum beyond 2^53−1 cannot be encoded canonically, so it is a ToolError."""
    tools = table()
    with pytest.raises(ToolError):
        tools.dispatch("eff-000001", "sum", {"a": SAFE_MAX, "b": 1})
    with pytest.raises(ToolError):
        tools.dispatch("eff-000002", "sum", {"a": -SAFE_MAX, "b": -1})


def test_sum_of_non_integers_is_a_tool_error() -> None:
    """sum refuses non-integer args (a bool included) with a ToolError."""
    tools = table()
    with pytest.raises(ToolError):
        tools.dispatch("eff-000001", "sum", {"a": 1, "b": "2"})
    with pytest.raises(ToolError):
        tools.dispatch("eff-000002", "sum", {"a": 1, "b": True})


def test_fail_is_a_tool_error() -> None:
    """fail always raises ToolError."""
    with pytest.raises(ToolError):
        table().dispatch("eff-000001", "fail", {})


def test_dispatch_log_records_each_dispatch() -> None:
    """Each dispatch, tool errors included, is logged in order as (effect id, tool)."""
    tools = table()
    assert [] == tools.dispatches
    tools.dispatch("eff-000001", "echo", {"x": 1})
    with pytest.raises(ToolError):
        tools.dispatch("eff-000002", "fail", {})
    with pytest.raises(ToolError):
        tools.dispatch("eff-000003", "sum", {"a": SAFE_MAX, "b": 1})
    tools.dispatch("eff-000004", "sum", {"a": 1})
    tools.dispatch("eff-000005", "echo", {"x": 2})
    assert [
        ("eff-000001", "echo"),
        ("eff-000002", "fail"),
        ("eff-000003", "sum"),
        ("eff-000004", "sum"),
        ("eff-000005", "echo"),
    ] == tools.dispatches


def test_firewall_memo_follows_reregistration() -> None:
    """A firewall verdict keyed by the args' canonical bytes is dropped when the tool changes."""
    tools = table()
    assert tools.check("echo", {"x": 1}, b'{"x":1}').code is None
    assert tools.check("echo", {"x": 1}, b'{"x":1}').code is None
    tools.register("echo", {"type": "object", "properties": {"x": {"maximum": 0}}})
    assert SCHEMA_VIOLATION == tools.check("echo", {"x": 1}, b'{"x":1}').code
    assert SCHEMA_VIOLATION == tools.check("echo", {"x": 1}).code


def test_check_dispatches_nothing() -> None:
    """The firewall check alone never records a dispatch."""
    tools = table()
    tools.check("echo", {"x": 1})
    tools.check("echo", {"x": "bad"})
    tools.check("nope", {})
    assert [] == tools.dispatches


# --- ErrorBudget ----------------------------------------------------------------------------


def test_error_budget_walks_the_spec_sequence() -> None:
    """From 100, injects of 30 reach 70, 40 (DEGRADED), 10 (gated) and then 0."""
    budget = ErrorBudget(IdCounters())
    assert (100, HEALTHY, False, []) == (
        budget.percent,
        budget.state,
        budget.gated(),
        budget.active_gates(),
    )
    expected = [
        (70, HEALTHY, False, []),
        (40, DEGRADED, False, []),
        (10, DEGRADED, True, ["BLOCK_BUILDER", "BLOCK_PROMOTION"]),
        (0, DEGRADED, True, ["BLOCK_BUILDER", "BLOCK_PROMOTION"]),
        (0, DEGRADED, True, ["BLOCK_BUILDER", "BLOCK_PROMOTION"]),
    ]
    for percent, state, gated, gates in expected:
        assert percent == budget.inject()
        assert (percent, state, gated, gates) == (
            budget.percent,
            budget.state,
            budget.gated(),
            budget.active_gates(),
        )


def test_error_budget_thresholds() -> None:
    """DEGRADED starts just below 50 and the gates close just below 20."""
    budget = ErrorBudget(IdCounters())
    assert 50 == budget.inject(50)
    assert (HEALTHY, False) == (budget.state, budget.gated())
    assert 49 == budget.inject(1)
    assert (DEGRADED, False) == (budget.state, budget.gated())
    assert 20 == budget.inject(29)
    assert [] == budget.active_gates()
    assert 19 == budget.inject(1)
    assert ["BLOCK_BUILDER", "BLOCK_PROMOTION"] == budget.active_gates()


def test_error_budget_burn_range() -> None:
    """Burns of 1 and 100 are accepted; 100 empties the budget at once."""
    budget = ErrorBudget(IdCounters())
    assert 99 == budget.inject(1)
    assert 0 == budget.inject(100)
    assert DEGRADED == budget.state


@pytest.mark.parametrize("burn", [0, -1, 101, 30.0, 1.5, True, "30", None])
def test_error_budget_refuses_bad_burn(burn: Any) -> None:
    """A burn outside 1..100 or not an integer is refused and changes nothing."""
    budget = ErrorBudget(IdCounters())
    digest = budget.digest_material()
    with pytest.raises(InvalidInput):
        budget.inject(burn)
    assert (100, HEALTHY) == (budget.percent, budget.state)
    assert digest == budget.digest_material()


def test_degraded_stays() -> None:
    """Once DEGRADED, the state stays DEGRADED through further injects."""
    budget = ErrorBudget(IdCounters())
    budget.inject(60)
    assert DEGRADED == budget.state
    for _ in range(3):
        budget.inject(1)
        assert DEGRADED == budget.state


def test_create_spec_gives_counter_ids() -> None:
    """Generated specs get ids from the kernel's counters and are recorded."""
    budget = ErrorBudget(IdCounters())
    first = budget.create_spec("ws-1", "build a thing")
    second = budget.create_spec("ws-2", "")
    assert ("spec-000001", "spec-000002") == (first, second)
    assert {"spec-000001": ("ws-1", "build a thing"), "spec-000002": ("ws-2", "")} == budget.specs


def test_create_spec_refuses_bad_goals() -> None:
    """A goal that is not a string, or is too long, is refused and creates nothing."""
    budget = ErrorBudget(IdCounters())
    for goal in [None, 5, ["a"], "g" * 4097]:
        with pytest.raises(InvalidInput):
            budget.create_spec("ws-1", goal)  # type: ignore[arg-type]
    assert {} == budget.specs
    assert "spec-000001" == budget.create_spec("ws-1", "g" * 4096)


def test_promote_known_and_unknown_specs() -> None:
    """Promoting a known spec is recorded; an unknown spec records nothing."""
    budget = ErrorBudget(IdCounters())
    spec_id = budget.create_spec("ws-1", "goal")
    digest = budget.digest_material()
    assert not budget.promote("ws-1", "spec-999999")
    assert [] == budget.promotions
    assert digest == budget.digest_material()
    assert budget.promote("ws-1", spec_id)
    assert [("ws-1", spec_id)] == budget.promotions
    assert digest != budget.digest_material()


def test_error_budget_digest_follows_state() -> None:
    """The error budget's digest material changes with an inject and with a created spec."""
    budget = ErrorBudget(IdCounters())
    seen = {budget.digest_material()}
    budget.inject()
    seen.add(budget.digest_material())
    budget.create_spec("ws-1", "goal")
    seen.add(budget.digest_material())
    assert 3 == len(seen)


# --- IdCounters -----------------------------------------------------------------------------


def test_ids_count_per_kind() -> None:
    """Each kind counts from 000001 on its own."""
    ids = IdCounters()
    assert "call-000001" == ids.next("call")
    assert "call-000002" == ids.next("call")
    assert "dec-000001" == ids.next("dec")
    assert "eff-000001" == ids.next("eff")
    assert "call-000003" == ids.next("call")
    assert "spec-000001" == ids.next("spec")


def test_id_counters_are_per_instance() -> None:
    """Two counter sets never share state (a replayed trace gives the same ids)."""
    one, two = IdCounters(), IdCounters()
    one.next("call")
    one.next("call")
    assert "call-000001" == two.next("call")
    assert "call-000003" == one.next("call")
    assert one.digest_material() != two.digest_material()
    two.next("call")
    two.next("call")
    assert one.digest_material() == two.digest_material()


# --- SetDigest ------------------------------------------------------------------------------


def digest_of(*changes: tuple[str, bytes]) -> bytes:
    """The value of a SetDigest after the given (add|remove, member) changes."""
    digest = SetDigest()
    for op, member in changes:
        if op == "add":
            digest.add(member)
        else:
            digest.remove(member)
    return digest.value()


def test_set_digest_is_order_free() -> None:
    """Adding a then b gives the same digest as adding b then a."""
    assert digest_of(("add", b"a"), ("add", b"b")) == digest_of(("add", b"b"), ("add", b"a"))


def test_set_digest_remove_undoes_add() -> None:
    """Removing a member undoes adding it, in any order."""
    empty = SetDigest().value()
    assert bytes(32) == empty
    assert empty == digest_of(("add", b"a"), ("remove", b"a"))
    assert digest_of(("add", b"b")) == digest_of(("add", b"a"), ("add", b"b"), ("remove", b"a"))
    assert digest_of(("add", b"b")) == digest_of(("remove", b"a"), ("add", b"b"), ("add", b"a"))


def test_set_digest_tells_sets_apart() -> None:
    """Different contents give different digests, multiplicity included."""
    values = {
        digest_of(),
        digest_of(("add", b"a")),
        digest_of(("add", b"b")),
        digest_of(("add", b"a"), ("add", b"b")),
        digest_of(("add", b"a"), ("add", b"a")),
        digest_of(("add", b"ab")),
    }
    assert 6 == len(values)
    assert all(32 == len(v) for v in values)


# --- the firewall's fast test of valid arguments -------------------------------------------------

TYPE_NAMES = ["object", "array", "string", "integer", "number", "boolean", "null"]
SUBSCHEMAS = st.recursive(
    st.one_of(
        st.booleans(),
        st.fixed_dictionaries(
            {}, optional={"type": st.one_of(st.sampled_from(TYPE_NAMES), st.just([]))}
        ),
        st.fixed_dictionaries({"type": st.lists(st.sampled_from(TYPE_NAMES), min_size=1)}),
        st.just({"minimum": 0}),  # a keyword the fast test does not know
    ),
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(TYPE_NAMES),
            "properties": st.dictionaries(st.sampled_from("xyz"), inner, max_size=3),
            "required": st.lists(st.sampled_from("xyz"), max_size=2, unique=True),
            "additionalProperties": inner,
        },
    ),
    max_leaves=6,
)
INSTANCES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-3, max_value=3),
        st.text(max_size=2),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=2).map(tuple),
        st.dictionaries(st.sampled_from("xyzw"), inner, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(SUBSCHEMAS, INSTANCES)
def test_fast_test_passes_only_what_jsonschema_finds_valid(schema: Any, instance: Any) -> None:
    """The firewall's fast test never passes a value jsonschema would refuse."""
    passes = passing_check(schema)
    if passes is not None and passes(instance):
        assert jsonschema.Draft202012Validator(schema).is_valid(instance)


@settings(max_examples=200, deadline=None)
@given(SUBSCHEMAS.filter(lambda schema: isinstance(schema, dict)), INSTANCES)
def test_firewall_verdicts_are_jsonschemas(schema: dict[str, Any], args: Any) -> None:
    """With or without the fast test, the firewall's verdict and message are jsonschema's."""
    assume(
        jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA).is_valid(
            schema
        )
    )
    table = ToolTable()
    table.register("t", schema)
    arguments = {"a": args}
    validator = jsonschema.Draft202012Validator(schema)
    expected = None
    if not validator.is_valid(arguments):
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
        where = "/".join(str(p) for p in error.absolute_path) or "args"
        expected = (SCHEMA_VIOLATION, f"{where}: {error.message}")
    verdict = table.check("t", arguments)
    assert expected == (None if verdict.code is None else (verdict.code, verdict.reason))


def test_fast_test_covers_the_tools_schemas() -> None:
    """The schemas tools declare here get the fast test; a keyword it does not know does not."""
    for schema in (
        {"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False},
        {"type": "object", "additionalProperties": {"type": "integer"}},
        {"type": "object"},
    ):
        assert passing_check(schema) is not None
    assert passing_check({"type": "object", "maxProperties": 1}) is None
    assert passing_check({"properties": {"x": {"$ref": "#"}}}) is None
