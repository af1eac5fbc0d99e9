"""The world the machines share: tools, schemas, rule templates, budgets, the bundles a governed
call flows through, the strategies the rule families draw from, and the common set-up.

A governed call flows through four bundles, one per stage, each phase consuming from the one
before, so that Hypothesis interleaves the phases of several calls with everything else:
``begun -> decided -> intended -> executed``. The rule families (``machines/families/``) are
mixins of :class:`WorldMachine`; each scenario machine inherits the families it needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st
from hypothesis import target
from hypothesis.stateful import Bundle

from helmmodel.harness.stateful import TracedMachine
from helmmodel.kernel.records import Effect, Intent

T = TypeVar("T")

# The bundles a governed call flows through, one per stage.
begun = Bundle("begun")
decided = Bundle("decided")
intended = Bundle("intended")
executed = Bundle("executed")

# --- the world the machines share -----------------------------------------------------------------

ECHO_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "additionalProperties": False,
}
SUM_SCHEMA = {"type": "object", "additionalProperties": {"type": "integer"}}
ANY_SCHEMA: dict[str, Any] = {"type": "object"}

TOOLS = ("echo", "sum", "fail", "approve")
TOOL_NAMES = (*TOOLS, "missing")  # "missing" is never registered
PRINCIPALS = ("alice", "bob")
SESSIONS = ("s0", "s1")
BUDGETS = ("b0", "b1")
BUDGET_NAMES = (*BUDGETS, "b-none")  # "b-none" never exists
SAFE_MAX = 2**53 - 1
TWO_HOURS_MS = 2 * 3_600_000

RULES: dict[str, dict[str, Any]] = {
    "open": {"id": "r-open", "logic": "AND", "leaves": [], "children": []},
    "x-small": {
        "id": "r-x",
        "logic": "AND",
        "leaves": [{"id": "x-le-10", "predicate": ["le", "args.x", 10]}],
        "children": [],
    },
    "alice-only": {
        "id": "r-alice",
        "logic": "",
        "leaves": [{"id": "is-alice", "predicate": ["eq", "principal", "alice"]}],
        "children": [],
    },
    "session-or-bob": {
        "id": "r-or",
        "logic": "OR",
        "leaves": [
            {"id": "has-session", "predicate": ["has", "context.session_id"]},
            {"id": "is-bob", "predicate": ["eq", "principal", "bob"]},
        ],
        "children": [],
    },
    "not-small": {
        "id": "r-not",
        "logic": "NOT",
        "leaves": [{"id": "x-le-100", "predicate": ["le", "args.x", 100]}],
        "children": [
            {
                "id": "r-not-c",
                "logic": "",
                "leaves": [{"id": "always", "predicate": ["const", True]}],
                "children": [],
            }
        ],
    },
    "needs-y": {
        "id": "r-y",
        "logic": "AND",
        "leaves": [{"id": "y-le-5", "predicate": ["le", "args.y", 5]}],
        "children": [],
    },
    "nested-in": {
        "id": "r-nest",
        "logic": "AND",
        "leaves": [],
        "children": [
            {
                "id": "r-nest-c",
                "logic": "OR",
                "leaves": [
                    {"id": "in-list", "predicate": ["in", "principal", ["alice", "carol"]]},
                ],
                "children": [],
            }
        ],
    },
    "unknown-logic": {
        "id": "r-xor",
        "logic": "XOR",
        "leaves": [{"id": "t", "predicate": ["const", True]}],
        "children": [],
    },
}


def _shaped(logic: str, kind: str) -> dict[str, Any]:
    """A rule of *logic* whose root holds no leaf: none at all (``empty``), one child set
    (``parent``), or a chain of sets three deep with the leaves at the bottom (``deep``)."""
    base = f"g-{kind}-{logic.lower() or 'plain'}"
    is_alice = {"id": "is-alice", "predicate": ["eq", "principal", "alice"]}
    x_small = {"id": "x-le-10", "predicate": ["le", "args.x", 10]}
    children: list[dict[str, Any]] = []
    if kind == "parent":
        children = [{"id": f"{base}-1", "logic": "OR", "leaves": [is_alice], "children": []}]
    elif kind == "deep":
        bottom = {"id": f"{base}-2", "logic": "OR", "leaves": [is_alice, x_small], "children": []}
        children = [{"id": f"{base}-1", "logic": "NOT", "leaves": [], "children": [bottom]}]
    return {"id": base, "logic": logic, "leaves": [], "children": children}


# Every shape the spec allows (section 3): each logic with no leaves, with children but no
# leaves, and nesting three sets deep.
RULES.update(
    {
        f"{kind}-{logic.lower() or 'plain'}": _shaped(logic, kind)
        for kind in ("empty", "parent", "deep")
        for logic in ("AND", "OR", "NOT", "")
    }
)
SET_IDS = ("r-open", "r-x", "r-alice", "r-or", "r-not", "r-not-c", "r-y", "r-nest", "r-nest-c")
LEAVES: dict[str, list[Any]] = {
    "x-le-5": ["le", "args.x", 5],
    "has-budget": ["has", "context.budget_id"],
    "is-alice": ["eq", "principal", "alice"],
    "z-le-1": ["le", "args.z", 1],
    "never": ["const", False],
    "always": ["const", True],
}
LEAF_IDS = (*LEAVES, "x-le-10", "has-session", "is-bob", "x-le-100", "y-le-5", "in-list")
INITIAL_RULES = {"echo": "x-small", "sum": "open", "fail": "open", "approve": "alice-only"}

ARGS: list[dict[str, Any]] = [
    {"x": 1},
    {"x": 10},
    {"x": 11},
    {"x": 101},
    {},
    {"x": "one"},
    {"x": True},
    {"a": 2, "b": 3},
    {"a": SAFE_MAX, "b": 1},
    {"y": 3},
]

# A pick is an index into what the ghost holds now (its rules, their sets and leaves) or, when
# negative, a rule's own independent draw, which may name something stale or unknown.
picks = st.integers(-4, 11)


def fitted(pick: int, items: Sequence[T], independent: T) -> T:
    """The item *pick* indexes (cyclically) in *items*, or *independent* for a negative pick or
    when there is no item."""
    if pick < 0 or not items:
        return independent
    return items[pick % len(items)]


def policy_sets(rules: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """``(tool, set id, leaf ids)`` for every set of every rule in *rules*, in a stable order."""
    found = []
    for tool in sorted(rules):
        stack = [rules[tool]]
        while stack:
            node = stack.pop()
            leaves = [leaf["id"] for leaf in node.get("leaves", [])]
            found.append((tool, node["id"], leaves))
            stack.extend(reversed(node.get("children", [])))
    return found


principals = st.sampled_from(PRINCIPALS)
tools = st.sampled_from(TOOL_NAMES)
arguments = st.sampled_from(ARGS) | st.fixed_dictionaries({"x": st.integers(-5, 200)})
# Every context a call may carry, listed once: one choice per draw, where a dictionary of optional
# keys costs a choice per key and per value (a tenth of a no-op step). The empty one first: it
# is what a context shrinks to.
CONTEXTS = [
    {},
    *({"session_id": session} for session in SESSIONS),
    *({"budget_id": budget} for budget in BUDGET_NAMES),
    *(
        {"session_id": session, "budget_id": budget}
        for session in SESSIONS
        for budget in BUDGET_NAMES
    ),
]
contexts = st.sampled_from(CONTEXTS)


# --- the release's world (spec 12): outside signers ----------------------------------------------

# Outside keys the world can sign receipts with and a kernel may import as trust keys (spec
# 12.6), each derived from a fixed seed: the same keys in every run and every replay.
TRUST_KEYS: dict[str, Ed25519PrivateKey] = {
    key_id: Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"helmmodel world trust key " + key_id.encode()).digest()
    )
    for key_id in ("auditor-1", "auditor-2")
}


def trust_public(key_id: str) -> bytes:
    """The raw public key of the world's trust key *key_id*."""
    return TRUST_KEYS[key_id].public_key().public_bytes_raw()


# --- hooks for the fuzz campaign (src/helmmodel/fuzz/campaign.py); plain runs never use them ---

CLOCK_EDGES = st.sampled_from([0, 1, 299_999, 300_000, TWO_HOURS_MS, -TWO_HOURS_MS])
BUDGETED_CONTEXTS = st.fixed_dictionaries(
    {"budget_id": st.sampled_from(BUDGETS)}, optional={"session_id": st.sampled_from(SESSIONS)}
)
# Argument ranges a campaign's swarm configuration may narrow rules to: per range, per rule, a
# strategy for every plain argument. Each draws only values the rule's own strategy can draw, so a
# trace found under a range replays on the plain machine like any other.
SWARM_RANGES: dict[str, dict[str, dict[str, st.SearchStrategy[Any]]]] = {
    # The clocks jump only to the spec's edges: the 5-minute TTL and the 2-hour drift.
    "clock-edges": {
        "set_guardian_clock": {"now_ms": CLOCK_EDGES},
        "fault_set_executor_clock": {"now_ms": CLOCK_EDGES},
    },
    # Limits of 0 and 1, and every call charged to a budget: the budgets run out early and often.
    "tight-budgets": {
        "set_budget_limit": {"budget": st.sampled_from(BUDGETS), "limit": st.integers(0, 1)},
        "begin_call": {
            "principal": principals,
            "tool": tools,
            "args": arguments,
            "context": BUDGETED_CONTEXTS,
        },
        "whole_call": {
            "principal": principals,
            "tool": tools,
            "args": arguments,
            "context": BUDGETED_CONTEXTS,
        },
    },
    # Arguments on either side of the rules' thresholds (x <= 10, x <= 100).
    "x-thresholds": {
        "begin_call": {
            "principal": principals,
            "tool": tools,
            "args": st.fixed_dictionaries({"x": st.sampled_from([9, 10, 11, 100, 101])}),
            "context": contexts,
        },
        "authorize_call": {
            "principal": principals,
            "tool": st.sampled_from(["echo", "sum", "fail"]),
            "x": st.sampled_from([9, 10]),
            "context": contexts,
        },
    },
}


class WorldMachine(TracedMachine):
    """The common set-up: four tools, a rule for each, two budgets."""

    begun = begun
    decided = decided
    intended = intended
    executed = executed

    swarm_ranges: ClassVar[dict[str, dict[str, dict[str, st.SearchStrategy[Any]]]]] = SWARM_RANGES
    # Switched on by the campaign on its own variant classes only: target() changes what
    # Hypothesis draws, and the ci profile's derandomized runs (the mutant catalogue, the coverage
    # floor) must draw exactly what they always drew.
    steer: ClassVar[bool] = False

    def teardown(self) -> None:
        if self.steer and self.check_replay:
            self.steer_towards_boundaries()
        super().teardown()

    def steer_towards_boundaries(self) -> None:
        """Report how close this run came to two boundaries, for Hypothesis's target phase.

        Called once per run (target() takes one value per label and run), with the run's end
        state: how far charges went past a budget's limit (limits are lowered below charges, and
        calls charged up to them), and how close an execution came to its intent's expiry, from
        either side (an exact edge scores 0, the most).
        """
        ghost = self.ghost
        pressure = (
            max(
                ghost.budget_charged.get(budget, 0) - limit
                for budget, limit in ghost.budget_limits.items()
            )
            if ghost.budget_limits
            else 0
        )
        target(float(pressure), label="budget pressure (charged - limit)")
        distances = [
            abs(window[1] - attempt.executor_ms)
            for attempt in ghost.executions
            if (window := attempt.window or _intent_window(attempt.intent)) is not None
        ]
        if distances:
            target(-float(min(distances)), label="closeness to intent expiry (-ms)")

    def set_up(self) -> None:
        driver = self.driver
        driver.register_tool("echo", ECHO_SCHEMA)
        driver.register_tool("sum", SUM_SCHEMA, behaviour="sum")
        driver.register_tool("fail", ANY_SCHEMA, behaviour="fail")
        driver.register_tool("approve", ANY_SCHEMA, approval=True)
        for tool, template in INITIAL_RULES.items():
            driver.put_rule(tool, RULES[template])
        driver.create_budget("b0", 2)
        driver.create_budget("b1", 1)


def _intent_window(intent: Intent | None) -> tuple[int, int] | None:
    return (intent.issued_at, intent.expires_at) if intent is not None else None


@attrs.frozen
class Stage:
    """What a bundle holds for a call past *decide*: its decision, effect and intent."""

    decision: Any
    effect: Effect
    intent: Intent | None = None
