"""Building blocks shared by the machines: bundles, strategies, and rules grouped by family.

Each family of operations is a mixin of traced rules; the kernel machine inherits them all and
each focused machine the families its scenario needs. Rules stay thin: they pick values, call
one driver method (which calls the kernel once and records the step for the checker) and return
``(outcome, value for the target bundle)``. The one exception, ``authorize_call``, runs three
phases in one step to keep the executor's rules fed with authorized intents. Rules set explicit
states (``set_frozen(True)``), never toggle, so that they shrink well.

A governed call flows through four bundles, one per stage, each phase consuming from the one
before, so that Hypothesis interleaves the phases of several calls with everything else:
``begun -> decided -> intended -> executed``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st
from hypothesis import target
from hypothesis.stateful import Bundle, consumes

from helmmodel.checker.driver import ADMIN_TOKEN, USER_TOKEN
from helmmodel.checker.encoding import DECISION_SIGNED, INTENT_SIGNED, RECEIPT_SIGNED
from helmmodel.harness.stateful import TracedMachine, transition
from helmmodel.kernel.records import Effect, Intent, make_signed

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

principals = st.sampled_from(PRINCIPALS)
tools = st.sampled_from(TOOL_NAMES)
arguments = st.sampled_from(ARGS) | st.fixed_dictionaries({"x": st.integers(-5, 200)})
contexts = st.fixed_dictionaries(
    {},
    optional={"session_id": st.sampled_from(SESSIONS), "budget_id": st.sampled_from(BUDGET_NAMES)},
)
clock_values = st.sampled_from([0, 1, 299_999, 300_000, TWO_HOURS_MS, -TWO_HOURS_MS]) | st.integers(
    -10 * TWO_HOURS_MS, 10 * TWO_HOURS_MS
)
WINDOW_EDGES = ("issued_at-1", "issued_at", "expires_at-1", "expires_at", "-2h", "+2h")


def changed(value: Any) -> Any:
    """A different value of the same type, for a tampered field."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return str(value) + "x"


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


class CallRules(WorldMachine):
    """Intent submission: the four phases one by one, whole calls, and idempotent retries."""

    @transition(target=begun, principal=principals, tool=tools, args=arguments, context=contexts)
    def begin_call(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        call, outcome = self.driver.begin(principal, tool, args, context)
        return outcome, call

    @transition(target=decided, call=consumes(begun))
    def decide_call(self, call: Any) -> tuple[dict[str, Any], Any]:
        decision, outcome = self.driver.decide(call)
        return outcome, Stage(decision, call.effect) if decision is not None else None

    @transition(target=intended, entry=consumes(decided))
    def issue_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        intent, outcome = self.driver.issue_intent(entry.decision, entry.effect)
        return outcome, attrs.evolve(entry, intent=intent) if intent is not None else None

    @transition(target=executed, entry=consumes(intended))
    def execute_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        _, outcome = self.driver.execute(entry.decision, entry.intent, entry.effect)
        return outcome, entry

    @transition(target=executed, entry=intended)
    def retry_execution(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Execute an authorized intent again (or for the first time): an idempotent retry."""
        _, outcome = self.driver.execute(entry.decision, entry.intent, entry.effect)
        return outcome, entry

    @transition(entry=intended)
    def reissue_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Ask again for an intent for an authorized decision (a client retrying phase 3)."""
        _, outcome = self.driver.issue_intent(entry.decision, entry.effect)
        return outcome, None

    @transition(entry=executed)
    def verify_receipt(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Present a call's genuine receipt to the kernel's verifier."""
        receipt = self.kernel.executor.executed.get(entry.decision.id)
        if receipt is None:
            return {"receipt": "none"}, None
        return self.driver.verify_receipt(receipt), None

    @transition(
        target=intended,
        principal=principals,
        tool=st.sampled_from(["echo", "sum", "fail"]),
        x=st.integers(0, 10),
        context=contexts,
    )
    def authorize_call(
        self, principal: str, tool: str, x: int, context: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        """Begin, decide and issue an intent in one step, to feed the executor's rules with
        authorized intents (the phase rules above interleave the same phases one by one)."""
        call, outcome = self.driver.begin(principal, tool, {"x": x}, context)
        if call is None:
            return outcome, None
        decision, decided = self.driver.decide(call)
        outcome = {**outcome, **decided}  # every phase's answer counts towards coverage
        if decision is None or decision.verdict != "ALLOW":
            return outcome, None
        intent, issued = self.driver.issue_intent(decision, call.effect)
        outcome = {**outcome, **issued}
        return outcome, Stage(decision, call.effect, intent) if intent is not None else None

    @transition(principal=principals, tool=tools, args=arguments, context=contexts)
    def whole_call(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        return self.driver.whole_call(principal, tool, args, context), None


class PolicyRules(WorldMachine):
    """PRG mutation: put and remove rules, add and remove leaves (each bumps the epoch)."""

    @transition(tool=tools, template=st.sampled_from(sorted(RULES)))
    def put_rule(self, tool: str, template: str) -> tuple[dict[str, Any], Any]:
        return self.driver.put_rule(tool, RULES[template]), None

    @transition(tool=tools)
    def remove_rule(self, tool: str) -> tuple[dict[str, Any], Any]:
        return self.driver.remove_rule(tool), None

    @transition(tool=tools, set_id=st.sampled_from(SET_IDS), leaf=st.sampled_from(sorted(LEAVES)))
    def add_leaf(self, tool: str, set_id: str, leaf: str) -> tuple[dict[str, Any], Any]:
        return self.driver.add_leaf(tool, set_id, leaf, LEAVES[leaf]), None

    @transition(tool=tools, set_id=st.sampled_from(SET_IDS), leaf=st.sampled_from(LEAF_IDS))
    def remove_leaf(self, tool: str, set_id: str, leaf: str) -> tuple[dict[str, Any], Any]:
        return self.driver.remove_leaf(tool, set_id, leaf), None


class ClockRules(WorldMachine):
    """Clock shifts: each clock set forwards or backwards, to drawn times and window edges."""

    @transition(now_ms=clock_values)
    def set_guardian_clock(self, now_ms: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_guardian_time(now_ms), None

    @transition(now_ms=clock_values)
    def fault_set_executor_clock(self, now_ms: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_executor_time(now_ms), None

    @transition(entry=intended, edge=st.sampled_from(WINDOW_EDGES))
    def fault_executor_clock_to_window_edge(
        self, entry: Stage, edge: str
    ) -> tuple[dict[str, Any], Any]:
        intent = entry.intent
        assert intent is not None
        now_ms = {
            "issued_at-1": intent.issued_at - 1,
            "issued_at": intent.issued_at,
            "expires_at-1": intent.expires_at - 1,
            "expires_at": intent.expires_at,
            "-2h": intent.issued_at - TWO_HOURS_MS,
            "+2h": intent.issued_at + TWO_HOURS_MS,
        }[edge]
        return self.driver.set_executor_time(now_ms), None


class SignerRules(WorldMachine):
    """Signer removal: remove and restore signing, rotate, revoke."""

    @transition(available=st.booleans())
    def fault_set_signing(self, available: bool) -> tuple[dict[str, Any], Any]:
        return self.driver.set_signing(available), None

    @transition(guard=lambda self: self.ghost.keys.count < 6)
    def rotate_key(self) -> tuple[dict[str, Any], Any]:
        return self.driver.rotate_key(), None

    @transition(number=st.integers(1, 4))
    def fault_revoke_key(self, number: int) -> tuple[dict[str, Any], Any]:
        return self.driver.revoke_key(f"key-{number:04d}"), None


class BudgetRules(WorldMachine):
    """Budget consumption and limit changes up and down (charged calls come from CallRules)."""

    @transition(budget=st.sampled_from(BUDGETS), limit=st.integers(0, 3))
    def set_budget_limit(self, budget: str, limit: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_budget_limit(budget, limit), None


class FreezeRules(WorldMachine):
    """The operator's emergency stop, as an explicit state."""

    @transition(frozen=st.booleans())
    def set_frozen(self, frozen: bool) -> tuple[dict[str, Any], Any]:
        return self.driver.set_frozen(frozen), None


TOKENS = {"none": None, "admin": ADMIN_TOKEN, "user": USER_TOKEN, "bogus": "bogus-token-00000000"}
EXECUTE_BODIES = (
    "valid",
    "schema_invalid",
    "truncated",
    "invalid_utf8",
    "nan",
    "duplicate_keys",
    "trailing_data",
    "float",
    "minus_zero",
    "unsafe_integer",
    "lone_surrogate",
    "array",
    "missing_args",
    "bad_tool_name",
    "oversized",
    "announced_oversized",
)
BODY_LIMIT = 1_048_576
OVERSIZED_GOAL = b'{"goal":"' + b"A" * BODY_LIMIT + b'"}'
PADDING = b" " * BODY_LIMIT


def execute_body(kind: str, tool: str, x: int) -> tuple[bytes, dict[str, str]]:
    """A request body of *kind* for ``POST /v1/tools/execute``, and any extra headers."""
    valid = b'{"tool":"%s","args":{"x":%d},"context":{"session_id":"s0"}}' % (tool.encode(), x)
    headers = {"Content-Type": "application/json"}
    if kind == "valid":
        return valid, headers
    if kind == "schema_invalid":
        return b'{"tool":"%s","args":{"x":"%d"}}' % (tool.encode(), x), headers
    if kind == "truncated":
        return valid[:-3], headers
    if kind == "trailing_data":
        return valid + b" {}", headers
    if kind == "oversized":
        return valid + PADDING[: BODY_LIMIT + 1 - len(valid)], headers
    if kind == "announced_oversized":
        return valid, {**headers, "Content-Length": str(2 * BODY_LIMIT)}
    return FIXED_BODIES[kind], headers


FIXED_BODIES = {
    "invalid_utf8": b'{"tool":"echo","args":{"x":"\xff"}}',
    "nan": b'{"tool":"echo","args":{"x":NaN}}',
    "duplicate_keys": b'{"tool":"echo","tool":"sum","args":{}}',
    "float": b'{"tool":"echo","args":{"x":1.5}}',
    "minus_zero": b'{"tool":"echo","args":{"x":-0}}',
    "unsafe_integer": b'{"tool":"echo","args":{"x":9007199254740993}}',
    "lone_surrogate": b'{"tool":"echo","args":{"x":"\\ud800"}}',
    "array": b"[]",
    "missing_args": b'{"tool":"echo"}',
    "bad_tool_name": b'{"tool":"no such tool","args":{}}',
}


def with_token(headers: dict[str, str], token: str) -> dict[str, str]:
    if TOKENS[token] is not None:
        headers = {**headers, "Authorization": f"Bearer {TOKENS[token]}"}
    return headers


class HttpCallRules(WorldMachine):
    """Tool calls over the request surface, malformed and oversized ones included."""

    # Well-formed calls come first and most often (repeated entries weigh a sampled choice):
    # the governed path, and its 503 while no key can sign, must be reached as often as the
    # malformed ones.
    @transition(
        method=st.sampled_from(["POST", "POST", "POST", "GET"]),
        path=st.sampled_from(["/v1/tools/execute", "/v1/tools/execute", "/v1/tools/other"]),
        token=st.sampled_from(["none", "user", "admin", "bogus"]),
        body=st.sampled_from(["valid", "valid", "valid", *EXECUTE_BODIES]),
        tool=st.sampled_from(TOOL_NAMES),
        x=st.integers(-1, 12),
    )
    def http_execute(
        self, method: str, path: str, token: str, body: str, tool: str, x: int
    ) -> tuple[dict[str, Any], Any]:
        data, headers = execute_body(body, tool, x)
        return self.driver.http(method, path, with_token(headers, token), data), None


class HttpOpsRules(WorldMachine):
    """The error budget: chaos injects, generated specs, promotions, status."""

    # An admin's bodiless inject (the chaos page's) comes first and most often: three of them
    # close the gates, which the gated endpoints' rules must see.
    @transition(
        token=st.sampled_from(["admin", "admin", "admin", "user", "none", "bogus"]),
        body=st.sampled_from(["none", "burn-50", "none", "burn-5", "burn-0", "not-json", "other"]),
    )
    def http_chaos_inject(self, token: str, body: str) -> tuple[dict[str, Any], Any]:
        data = {
            "none": b"",
            "burn-5": b'{"burn":5}',
            "burn-50": b'{"burn":50}',
            "burn-0": b'{"burn":0}',
            "not-json": b"{burn",
            "other": b'{"goal":"x"}',
        }[body]
        headers = with_token({}, token)
        return self.driver.http("POST", "/api/ops/chaos/inject", headers, data), None

    @transition(
        method=st.sampled_from(["POST", "GET"]),
        workspace=st.sampled_from(["ws1", "ws 2"]),
        body=st.sampled_from(["goal", "no-goal", "malformed", "oversized"]),
    )
    def http_generate_spec(
        self, method: str, workspace: str, body: str
    ) -> tuple[dict[str, Any], Any]:
        data = {
            "goal": b'{"goal":"test"}',
            "no-goal": b'{"idea":"test"}',
            "malformed": b"{goal",
            "oversized": OVERSIZED_GOAL,
        }[body]
        path = f"/api/v1/workspaces/{workspace}/generated-specs"
        return self.driver.http(method, path, {"Content-Type": "application/json"}, data), None

    @transition(spec=st.sampled_from(["spec-000001", "spec-000002", "spec-999999"]))
    def http_promote(self, spec: str) -> tuple[dict[str, Any], Any]:
        data = b'{"spec_id":"%s"}' % spec.encode()
        path = "/api/v1/workspaces/ws1/promotions"
        return self.driver.http("POST", path, {"Content-Type": "application/json"}, data), None

    @transition(method=st.sampled_from(["GET", "POST"]))
    def http_status(self, method: str) -> tuple[dict[str, Any], Any]:
        return self.driver.http(method, "/api/ops/status", {}, b""), None


class FaultRules(WorldMachine):
    """Artifacts with a signed field changed, other effects, forged and missing artifacts, each
    presented to the kernel as a fault: the driver records the refusal code the checker's own
    model predicts."""

    @transition(entry=decided, field=st.sampled_from(DECISION_SIGNED))
    def fault_tamper_decision_for_intent(
        self, entry: Stage, field: str
    ) -> tuple[dict[str, Any], Any]:
        decision = attrs.evolve(entry.decision, **{field: changed(getattr(entry.decision, field))})
        _, outcome = self.driver.issue_intent(decision, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, field=st.sampled_from(DECISION_SIGNED))
    def fault_tamper_decision_for_execution(
        self, entry: Stage, field: str
    ) -> tuple[dict[str, Any], Any]:
        decision = attrs.evolve(entry.decision, **{field: changed(getattr(entry.decision, field))})
        _, outcome = self.driver.execute(decision, entry.intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, field=st.sampled_from(INTENT_SIGNED))
    def fault_tamper_intent(self, entry: Stage, field: str) -> tuple[dict[str, Any], Any]:
        intent = attrs.evolve(entry.intent, **{field: changed(getattr(entry.intent, field))})
        _, outcome = self.driver.execute(entry.decision, intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=executed, field=st.sampled_from(RECEIPT_SIGNED))
    def fault_tamper_receipt(self, entry: Stage, field: str) -> tuple[dict[str, Any], Any]:
        receipt = self.kernel.executor.executed.get(entry.decision.id)
        if receipt is None:
            return {"receipt": "none"}, None
        tampered = attrs.evolve(receipt, **{field: changed(getattr(receipt, field))})
        return self.driver.verify_receipt(tampered), None

    @transition(entry=intended, x=st.integers(-1, 12), stage=st.sampled_from(["intent", "execute"]))
    def fault_other_effect(self, entry: Stage, x: int, stage: str) -> tuple[dict[str, Any], Any]:
        other = Effect("eff-other", entry.effect.tool, {"x": x})
        if stage == "intent":
            _, outcome = self.driver.issue_intent(entry.decision, other, fault=True)
        else:
            _, outcome = self.driver.execute(entry.decision, entry.intent, other, fault=True)
        return outcome, None

    @transition(entry=decided)
    def fault_forge_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Forge an intent for any decision (a DENY included) with the live signing key."""
        signer = self.ghost.keys.signer() or "key-0001"
        private = self.ghost.keys.private_key(signer)
        intent = make_signed(
            Intent,
            lambda message: private.sign(message).hex(),
            id="intent-" + entry.decision.id,
            decision_id=entry.decision.id,
            effect_digest_hash=entry.decision.effect_digest,
            issued_at=self.ghost.executor_ms,
            expires_at=self.ghost.executor_ms + self.ghost.ttl_ms,
            allowed_tool=entry.effect.tool,
            signer="kernel",
            signature_type="ed25519:" + signer,
        )
        _, outcome = self.driver.execute(entry.decision, intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, other=intended)
    def fault_intent_of_another_decision(
        self, entry: Stage, other: Stage
    ) -> tuple[dict[str, Any], Any]:
        _, outcome = self.driver.execute(entry.decision, other.intent, entry.effect, fault=True)
        return outcome, None

    @transition(entry=intended, missing=st.sampled_from(["decision", "intent", "effect"]))
    def fault_missing_artifact(self, entry: Stage, missing: str) -> tuple[dict[str, Any], Any]:
        decision = None if missing == "decision" else entry.decision
        intent = None if missing == "intent" else entry.intent
        effect = None if missing == "effect" else entry.effect
        _, outcome = self.driver.execute(decision, intent, effect, fault=True)
        return outcome, None
