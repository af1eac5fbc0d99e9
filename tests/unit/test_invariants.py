"""The checker's invariants (spec section 11): each holds on an honest kernel and fires on a
hand-made violation, naming the offending record and step.

States are built by driving a real kernel through a :class:`Driver`, one step at a time as a
machine does (``ghost.step += 1`` before each operation). Violations are then made by hand: a
forged ghost event, a kernel record changed in place, or a mutant kernel (a ``Kernel`` subclass
that swaps in one misbehaving component).
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap
import types
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from helmmodel.checker.driver import ADMIN_TOKEN, USER_TOKEN, Driver
from helmmodel.checker.invariants import (
    ALL_INVARIANTS,
    INVARIANT_NAMES,
    Checker,
    View,
    allow_matches_policy,
    at_most_once,
    budget_within_limit,
    default_deny,
    denied_draws_nothing,
    deterministic_replay,
    error_budget_gate,
    every_call_attested,
    every_decision_signed,
    fail_closed,
    freeze_respected,
    http_answer_faithful,
    malformed_input_rejected,
    no_effect_without_authority,
    no_stale_intent,
    proofgraph_consistent,
    reason_code_iff_allow,
    receipt_chain_intact,
    snapshot_isolation,
    tamper_evident,
    window_respected,
)
from helmmodel.errors import InvariantViolation
from helmmodel.kernel import (
    Decision,
    ErrorBudget,
    Guardian,
    Intent,
    Kernel,
    KernelConfig,
    KeyRing,
    Node,
    PendingCall,
    RequestBudgets,
    SafeExecutor,
)
from helmmodel.kernel.api import RequestSurface, json_response, problem
from helmmodel.kernel.ids import IdCounters
from helmmodel.kernel.proofgraph import node_hash
from helmmodel.kernel.records import make_signed

# The invariants of docs/kernel-spec.md section 11, in the spec's order.
SPEC_ORDER = (
    "default_deny",
    "fail_closed",
    "freeze_respected",
    "allow_matches_policy",
    "window_respected",
    "no_effect_without_authority",
    "at_most_once",
    "tamper_evident",
    "every_decision_signed",
    "every_call_attested",
    "denied_draws_nothing",
    "budget_within_limit",
    "snapshot_isolation",
    "no_stale_intent",
    "receipt_chain_intact",
    "proofgraph_consistent",
    "reason_code_iff_allow",
    "error_budget_gate",
    "malformed_input_rejected",
    "deterministic_replay",
    "no_unexpected_exception",
    "refusal_dispatched_nothing",
    "every_dispatch_accounted",
    "http_answer_faithful",
    "every_decision_receipted",
    "freeze_transitions_receipted",
    "release_api_faithful",
)

ECHO_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "additionalProperties": False,
}
SUM_SCHEMA = {"type": "object", "additionalProperties": {"type": "integer"}}
ANY_SCHEMA: dict[str, Any] = {"type": "object"}

# echo needs x <= 10 (no x at all is an evaluation error); sum and fail are open; approve needs
# alice and an approval.
RULES: dict[str, dict[str, Any]] = {
    "echo": {
        "id": "r-x",
        "logic": "AND",
        "leaves": [{"id": "x-le-10", "predicate": ["le", "args.x", 10]}],
        "children": [],
    },
    "sum": {"id": "r-sum", "logic": "AND", "leaves": [], "children": []},
    "fail": {"id": "r-fail", "logic": "", "leaves": [], "children": []},
    "approve": {
        "id": "r-alice",
        "logic": "",
        "leaves": [{"id": "is-alice", "predicate": ["eq", "principal", "alice"]}],
        "children": [],
    },
}
ECHO_X_LE_5 = {
    "id": "r-x5",
    "logic": "AND",
    "leaves": [{"id": "x-le-5", "predicate": ["le", "args.x", 5]}],
    "children": [],
}
ECHO_X_LE_0 = {
    "id": "r-x0",
    "logic": "AND",
    "leaves": [{"id": "x-le-0", "predicate": ["le", "args.x", 0]}],
    "children": [],
}
TTL_MS = KernelConfig().ttl_ms
TWO_HOURS_MS = 2 * 3_600_000
BODY_LIMIT = 1_048_576
SPECS_PATH = "/api/v1/workspaces/ws1/generated-specs"
INJECT_PATH = "/api/ops/chaos/inject"
EXECUTE_PATH = "/v1/tools/execute"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
USER = {"Authorization": f"Bearer {USER_TOKEN}"}
JSON = {"Content-Type": "application/json"}


# --- building states --------------------------------------------------------------------------


def make_driver(**components: Any) -> Driver:
    """A driver on a kernel (a mutant one when *components* swap in classes) with the tools
    echo, sum, fail and approve, a rule for each mirrored in the ghost, and budget b0 of 2."""
    factory = type("MutantKernel", (Kernel,), components) if components else Kernel
    driver = Driver.start(factory, KernelConfig())
    driver.register_tool("echo", ECHO_SCHEMA)
    driver.register_tool("sum", SUM_SCHEMA, behaviour="sum")
    driver.register_tool("fail", ANY_SCHEMA, behaviour="fail")
    driver.register_tool("approve", ANY_SCHEMA, approval=True)
    for tool, rule in RULES.items():
        driver.put_rule(tool, rule)
    driver.create_budget("b0", 2)
    return driver


def act(driver: Driver, operation: Callable[..., Any], *args: Any, **keywords: Any) -> Any:
    """Advance the checker's step, as a machine's rule wrapper does, then run one operation."""
    driver.ghost.step += 1
    return operation(*args, **keywords)


def begin(driver: Driver, x: Any = 1, tool: str = "echo", principal: str = "alice", **context: Any):
    """Phase 1 of a call (echo of *x* by alice unless told otherwise), as its own step."""
    args = {"x": x} if x is not None else {}
    call, _ = act(driver, driver.begin, principal, tool, args, context)
    return call


def decide(driver: Driver, call: PendingCall) -> Decision | None:
    """Phase 2 of *call*, as its own step."""
    return act(driver, driver.decide, call)[0]


def authorize(driver: Driver, x: Any = 1, tool: str = "echo", principal: str = "alice", **context):
    """Phases 1 to 3 of a call, a step each: its pending call, decision and intent."""
    call = begin(driver, x, tool, principal, **context)
    decision = decide(driver, call)
    assert decision is not None
    intent, _ = act(driver, driver.issue_intent, decision, call.effect)
    return call, decision, intent


def governed(driver: Driver, x: Any = 1, tool: str = "echo", principal: str = "alice", **context):
    """All four phases of a call, a step each: its pending call, decision, intent and receipt."""
    call, decision, intent = authorize(driver, x, tool, principal, **context)
    receipt, _ = act(driver, driver.execute, decision, intent, call.effect)
    return call, decision, intent, receipt


def mutate_echo_rule(driver: Driver, rule: dict[str, Any]) -> None:
    """Put *rule* for echo, as its own step, with the ghost's own copy (the epoch goes up)."""
    act(driver, driver.put_rule, "echo", rule)


def remove_sum_rule(driver: Driver) -> None:
    """Remove the sum tool's rule, as its own step, with the ghost's own copy."""
    act(driver, driver.remove_rule, "sum")


def http(driver: Driver, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    """One request through the request surface, as its own step; its status."""
    act(driver, driver.http, method, path, headers, body)
    return driver.ghost.http[-1].status


def forge_decided(driver: Driver, index: int = -1, **changes: Any) -> int:
    """Append, as a new step, a copy of a recorded decide whose decision has *changes*."""
    driver.ghost.step += 1
    decided = driver.ghost.decided[index]
    assert decided.decision is not None
    decision = attrs.evolve(decided.decision, **changes)
    driver.ghost.decided.append(attrs.evolve(decided, step=driver.ghost.step, decision=decision))
    return driver.ghost.step


def flip(signature: str) -> str:
    """*signature* with its last hex digit changed."""
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


def violation(invariant: Callable[[View], None], driver: Driver, **mode: Any) -> InvariantViolation:
    """The violation *invariant* raises over the driver's whole history (a fresh memo)."""
    with pytest.raises(InvariantViolation) as caught:
        Checker(driver.kernel, driver.ghost).check(invariant, **mode)
    assert invariant.__name__ == caught.value.invariant
    return caught.value


def holds(invariant: Callable[[View], None], driver: Driver) -> None:
    """Assert *invariant* holds over the driver's whole history, incrementally and in full."""
    assert None is invariant(View(driver.kernel, driver.ghost, {}))
    assert None is invariant(View(driver.kernel, driver.ghost, {}, full=True))


def honest_history(driver: Driver, after_each: Callable[[], None] = lambda: None) -> None:
    """Drive an honest kernel through every kind of event the invariants look at, calling
    *after_each* after every step."""

    def do(operation: Callable[..., Any], *args: Any, **keywords: Any) -> Any:
        result = act(driver, operation, *args, **keywords)
        after_each()
        return result

    # A charged call in session s0 through the four phases, then an idempotent retry.
    call, _ = do(driver.begin, "alice", "echo", {"x": 1}, {"session_id": "s0", "budget_id": "b0"})
    decision, _ = do(driver.decide, call)
    intent, _ = do(driver.issue_intent, decision, call.effect)
    receipt, _ = do(driver.execute, decision, intent, call.effect)
    do(driver.execute, decision, intent, call.effect)
    # Denials: a missing requirement (charged), an evaluation error, the firewall, an unknown
    # budget, an approval, a missing requirement on approve.
    for principal, tool, args, context in (
        ("alice", "echo", {"x": 11}, {"budget_id": "b0"}),
        ("alice", "echo", {}, {}),
        ("alice", "missing", {}, {}),
        ("alice", "echo", {"x": "one"}, {}),
        ("alice", "echo", {"x": 1}, {"budget_id": "b-none"}),
        ("alice", "approve", {}, {}),
        ("bob", "approve", {}, {}),
    ):
        pending, _ = do(driver.begin, principal, tool, args, context)
        do(driver.decide, pending)
    # Whole calls: a tool error in s0, a sum in s1, a standalone echo.
    do(driver.whole_call, "bob", "fail", {}, {"session_id": "s0"})
    do(driver.whole_call, "bob", "sum", {"a": 2, "b": 3}, {"session_id": "s1"})
    do(driver.whole_call, "alice", "echo", {"x": 2}, {})
    # Receipts and artifacts presented to the kernel: genuine, tampered, missing.
    do(driver.verify_receipt, receipt)
    do(driver.verify_receipt, attrs.evolve(receipt, status="TOOL_ERROR"))
    tampered = attrs.evolve(decision, budget_id="b1")
    do(driver.issue_intent, tampered, call.effect, fault=True)
    do(driver.execute, tampered, intent, call.effect, fault=True)
    do(driver.execute, None, intent, call.effect, fault=True)
    # A mutation between begin and decide: decided on its snapshot, its intent refused.
    pending, _ = do(driver.begin, "alice", "echo", {"x": 3}, {"session_id": "s1"})
    do(driver.put_rule, "echo", ECHO_X_LE_5)
    stale, _ = do(driver.decide, pending)
    do(driver.issue_intent, stale, pending.effect)
    # A freeze between begin and decide, and a call begun while frozen.
    pending, _ = do(driver.begin, "alice", "echo", {"x": 1}, {})
    do(driver.set_frozen, True)
    do(driver.decide, pending)
    do(driver.whole_call, "alice", "echo", {"x": 1}, {})
    do(driver.set_frozen, False)
    # A signer outage: a charged tentative ALLOW fails closed and releases its charge.
    pending, _ = do(driver.begin, "alice", "echo", {"x": 1}, {"budget_id": "b0"})
    do(driver.set_signing, False)
    do(driver.decide, pending)
    do(driver.set_signing, True)
    # The budget runs out (limit 2), then its limit drops below what it consumed.
    do(driver.whole_call, "alice", "echo", {"x": 1}, {"budget_id": "b0"})
    do(driver.whole_call, "alice", "echo", {"x": 1}, {"budget_id": "b0"})
    do(driver.set_budget_limit, "b0", 1)
    # Clock drift: the executor two hours behind refuses a valid intent.
    pending, _ = do(driver.begin, "alice", "echo", {"x": 4}, {})
    drifted, _ = do(driver.decide, pending)
    drifted_intent, _ = do(driver.issue_intent, drifted, pending.effect)
    do(driver.set_executor_time, -TWO_HOURS_MS)
    do(driver.execute, drifted, drifted_intent, pending.effect)
    do(driver.set_executor_time, 0)
    # The request surface: a tool call, malformed and oversized bodies, wrong paths and methods.
    valid = b'{"tool":"echo","args":{"x":1},"context":{"session_id":"s0"}}'
    do(driver.http, "POST", EXECUTE_PATH, {**JSON, **USER}, valid)
    do(driver.http, "POST", EXECUTE_PATH, JSON, b'{"tool":"echo","args":{"x":"1"}}')
    do(driver.http, "POST", EXECUTE_PATH, JSON, valid[:-3])
    do(driver.http, "POST", EXECUTE_PATH, JSON, valid + b" " * BODY_LIMIT)
    do(driver.http, "POST", EXECUTE_PATH, {"Authorization": "Bearer nobody-0123456789"}, valid)
    do(driver.http, "GET", EXECUTE_PATH, JSON, b"")
    do(driver.http, "POST", "/v1/tools/other", JSON, valid)
    # The error budget: a spec, three admin injects (100, 70, 40, 10), then the gate.
    do(driver.http, "POST", SPECS_PATH, JSON, b'{"goal":"test"}')
    do(driver.http, "POST", INJECT_PATH, USER, b"")
    for _ in range(3):
        do(driver.http, "POST", INJECT_PATH, ADMIN, b"")
    do(driver.http, "POST", SPECS_PATH, JSON, b'{"goal":"test"}')
    do(driver.http, "POST", "/api/v1/workspaces/ws1/promotions", JSON, b'{"spec_id":"spec-000001"}')
    do(driver.http, "GET", "/api/ops/status", {}, b"")
    # Keys: a rotation, then the first key revoked.
    do(driver.rotate_key)
    do(driver.revoke_key, "key-0001")


def honest_driver() -> Driver:
    """A driver whose kernel went through :func:`honest_history`."""
    driver = make_driver()
    honest_history(driver)
    return driver


# --- mutant components --------------------------------------------------------------------------


class NoRuleAllowsGuardian(Guardian):
    """Allows a tool that has no rule (default deny broken)."""

    def evaluate(self, request, effect, snapshot):
        result = super().evaluate(request, effect, snapshot)
        if result[2] == "NO_POLICY_DEFINED":
            return "no_rule", "ALLOW", "", "allowed without a rule", ""
        return result


class ErrorAllowsGuardian(Guardian):
    """Allows a call whose requirement set could not be evaluated (fails open)."""

    def evaluate(self, request, effect, snapshot):
        result = super().evaluate(request, effect, snapshot)
        if result[2] == "PRG_EVALUATION_ERROR":
            return "error", "ALLOW", "", "allowed anyway", snapshot.rules[request.tool].hash
        return result


class MissingRequirementAllowsGuardian(Guardian):
    """Allows a call whose requirement set is false."""

    def evaluate(self, request, effect, snapshot):
        result = super().evaluate(request, effect, snapshot)
        if result[2] == "MISSING_REQUIREMENT":
            return "false", "ALLOW", "", "allowed anyway", snapshot.rules[request.tool].hash
        return result


class OverStrictGuardian(Guardian):
    """Denies MISSING_REQUIREMENT a call whose requirement set is true."""

    def evaluate(self, request, effect, snapshot):
        result = super().evaluate(request, effect, snapshot)
        if result[1] == "ALLOW":
            return "true", "DENY", "MISSING_REQUIREMENT", "blocked by requirements: x-le-10", ""
        return result


class HashOnDenyGuardian(Guardian):
    """Keeps the requirement set hash on a MISSING_REQUIREMENT denial."""

    def evaluate(self, request, effect, snapshot):
        outcome, verdict, code, reason, set_hash = super().evaluate(request, effect, snapshot)
        if code == "MISSING_REQUIREMENT":
            set_hash = snapshot.rules[request.tool].hash
        return outcome, verdict, code, reason, set_hash


class ApprovalBlindGuardian(Guardian):
    """Allows a tool that needs approval instead of escalating."""

    def evaluate(self, request, effect, snapshot):
        result = super().evaluate(request, effect, snapshot)
        if result[2] == "APPROVAL_REQUIRED":
            return "true", "ALLOW", "", "approved by nobody", snapshot.rules[request.tool].hash
        return result


class FreezeBlindGuardian(Guardian):
    """Records the freeze switch but never reads it as on (nor does its executor)."""

    @property
    def frozen(self) -> bool:
        return False

    @frozen.setter
    def frozen(self, value: bool) -> None:
        self.ignored_freeze = value


class ReevaluatingGuardian(Guardian):
    """Re-judges a call against the policy current at *decide* (snapshot isolation broken)."""

    def decide(self, call):
        snapshot = self.policy.snapshot()
        outcome, verdict, code, reason, set_hash = self.evaluate(
            call.request, call.effect, snapshot
        )
        call.snapshot, call.policy_outcome = snapshot, outcome
        call.verdict, call.reason_code, call.reason = verdict, code, reason
        call.requirement_set_hash = set_hash
        return super().decide(call)


class UnattestedGuardian(Guardian):
    """Decides without appending the decision's ATTESTATION node."""

    def decide(self, call):
        graph = self.graph
        self.graph = types.SimpleNamespace(append=lambda *args, **kwargs: None)
        try:
            return super().decide(call)
        finally:
            self.graph = graph


class NamelessRefusalGuardian(Guardian):
    """Attests every refusal with ``call_id: null``, even for a decision it made."""

    def refuse(self, error, stage, decision, code, msg):
        self.owner_of = lambda decision: None
        try:
            super().refuse(error, stage, decision, code, msg)
        finally:
            del self.owner_of


class LeakyFailClosedGuardian(Guardian):
    """Fails closed without releasing the call's budget charge (scenario 2's bug)."""

    def fail_closed(self, call, charged_budget_id):
        super().fail_closed(call, None)


class ChargingDenyGuardian(Guardian):
    """Charges a denied call's budget (or b0 when the call names none) before deciding it."""

    def decide(self, call):
        if call.verdict != "ALLOW":
            self.budgets.consume(call.request.budget_id or "b0", call.call_id)
        return super().decide(call)


class FirewallChargingGuardian(Guardian):
    """Charges the named budget even when the firewall denies the call."""

    def evaluate(self, request, effect, snapshot):
        result = super().evaluate(request, effect, snapshot)
        if result[2] in ("ERR_TOOL_NOT_FOUND", "SCHEMA_VIOLATION") and request.budget_id:
            self.budgets.consume(request.budget_id, effect.effect_id)
        return result


class LooseDecision(Decision):
    """A decision whose signature leaves ``budget_id`` out of its preimage."""

    SIGNED_FIELDS = tuple(name for name in Decision.SIGNED_FIELDS if name != "budget_id")


class LooseSigningGuardian(Guardian):
    """Signs decisions over fewer fields than the spec lists."""

    def decide(self, call):
        decision = super().decide(call)
        fields = attrs.asdict(decision)
        del fields["signature"]
        sign = functools.partial(self.keys.sign, decision.signature_type)
        loose = make_signed(LooseDecision, sign, **fields)
        call.decision = loose
        return loose


def _skipping(codes: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a ``*_refusal`` method so that it lets the refusals *codes* pass."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        def refusal(self, *args):
            code, message = method(self, *args)
            return ("", "") if code in codes else (code, message)

        return refusal

    return wrap


class SignatureBlindGuardian(Guardian):
    """Issues intents for decisions whose signature does not verify."""

    intent_refusal = _skipping(("DECISION_SIGNATURE_INVALID",))(Guardian.intent_refusal)


class EpochBlindGuardian(Guardian):
    """Issues intents for decisions of an older policy epoch."""

    intent_refusal = _skipping(("POLICY_EPOCH_CHANGED",))(Guardian.intent_refusal)


class VerdictBlindGuardian(Guardian):
    """Issues intents for DENY and ESCALATE decisions."""

    intent_refusal = _skipping(("VERDICT_NOT_ALLOW",))(Guardian.intent_refusal)


class ExpiryBlindExecutor(SafeExecutor):
    """Runs intents outside their window."""

    refusal = _skipping(("INTENT_EXPIRED", "INTENT_NOT_YET_VALID"))(SafeExecutor.refusal)


class SignatureBlindExecutor(SafeExecutor):
    """Runs with decisions and intents whose signatures do not verify."""

    refusal = _skipping(("DECISION_SIGNATURE_INVALID", "INTENT_SIGNATURE_INVALID"))(
        SafeExecutor.refusal
    )


class VerdictBlindExecutor(SafeExecutor):
    """Runs a DENY decision's effect."""

    refusal = _skipping(("VERDICT_NOT_ALLOW",))(SafeExecutor.refusal)


class ForgetfulExecutor(SafeExecutor):
    """Forgets what it executed, so a retry dispatches again."""

    def execute(self, decision, intent, effect):
        if decision is not None:
            self.executed.pop(decision.id, None)
        return super().execute(decision, intent, effect)


class RestampingExecutor(SafeExecutor):
    """Answers a retry with a copy of the earlier receipt stamped anew."""

    def execute(self, decision, intent, effect):
        retry = decision is not None and decision.id in self.executed
        receipt = super().execute(decision, intent, effect)
        return attrs.evolve(receipt, timestamp=receipt.timestamp + 1) if retry else receipt


class DoubleDispatchExecutor(SafeExecutor):
    """Dispatches the tool twice for one execution."""

    def execute(self, decision, intent, effect):
        fresh = decision is not None and decision.id not in self.executed
        receipt = super().execute(decision, intent, effect)
        if fresh:
            self.tools.dispatches.append((effect.effect_id, effect.tool))
        return receipt


class EagerExecutor(SafeExecutor):
    """Dispatches before it finds that the receipt cannot be signed, then refuses."""

    def refusal(self, decision, intent, effect):
        code, message = super().refusal(decision, intent, effect)
        if code == "SIGNER_UNAVAILABLE":
            self.tools.dispatch(effect.effect_id, effect.tool, effect.args)
        return code, message


class TrustingKernel(Kernel):
    """Accepts every receipt presented to its verifier."""

    def verify_receipt(self, receipt):
        return None


class StickyKeyRing(KeyRing):
    """Ignores the removal of signing: it keeps signing through an outage."""

    def remove_signing(self) -> None:
        pass


class SloppyKeyRing(KeyRing):
    """Signs one byte more than it is given."""

    def sign(self, signature_type: str, message: bytes) -> str:
        return super().sign(signature_type, message + b"!")


class LimitBlindBudgets(RequestBudgets):
    """Consumes whatever the limit says."""

    def consume(self, budget_id: str, call_id: str) -> bool:
        budget = self._existing(budget_id)
        budget.limit += 1
        try:
            return super().consume(budget_id, call_id)
        finally:
            budget.limit -= 1


class DoubleChargeBudgets(RequestBudgets):
    """Consumes two requests for one ALLOW."""

    def consume(self, budget_id: str, call_id: str) -> bool:
        charged = super().consume(budget_id, call_id)
        if charged:
            super().consume(budget_id, call_id + "-again")
        return charged


class UnflooredErrorBudget(ErrorBudget):
    """Burns below zero."""

    def inject(self, burn: int = 30) -> int:
        self.percent -= burn
        self.state = "DEGRADED" if self.percent < 50 else self.state
        return self.percent


class GatelessErrorBudget(ErrorBudget):
    """Never closes the builder and promotion gates."""

    def gated(self) -> bool:
        return False


class EagerGateErrorBudget(ErrorBudget):
    """Closes the gates below 50 instead of below 20."""

    def gated(self) -> bool:
        return self.percent < 50


class LeakyGateSurface(RequestSurface):
    """Creates a spec behind a closed gate, then answers 429."""

    def handle(self, method, path, headers, body):
        response = super().handle(method, path, headers, body)
        if response.status == 429:
            self.kernel.error_budget.create_spec("ws1", "leaked")
        return response


class OpenInjectSurface(RequestSurface):
    """Lets any principal inject chaos."""

    def inject_chaos(self, match, headers, body):
        budget, state = self.kernel.inject_chaos(30)
        payload = {"status": "chaos_injected", "new_budget": budget, "system_state": state}
        return json_response(200, payload)


class PathFirstSurface(RequestSurface):
    """Answers 404 for an unknown path before it checks the body size."""

    def handle(self, method, path, headers, body):
        route, _ = self.route(path.split("?", 1)[0])
        if route is None:
            return problem(404, f"no endpoint at {path}")
        return super().handle(method, path, headers, body)


class CountingSurface(RequestSurface):
    """Takes a call id for every body it parses, even one it then refuses."""

    def parse_object(self, body, members):
        self.kernel.ids.next("call")
        return super().parse_object(body, members)


class VerdictFromReasonSurface(RequestSurface):
    """Answers a call with the verdict its reason code suggests (ESCALATE becomes DENY)."""

    def execute_tool(self, match, headers, body):
        response = super().execute_tool(match, headers, body)
        if response.status != 200:
            return response
        answer = response.json()
        answer["verdict"] = "DENY" if answer["reason_code"] else "ALLOW"
        return json_response(200, answer)


class ClaimsExecutionSurface(RequestSurface):
    """Answers every call as executed, with a receipt id of its own making."""

    def execute_tool(self, match, headers, body):
        response = super().execute_tool(match, headers, body)
        if response.status != 200:
            return response
        answer = response.json()
        answer["execution"] = {
            "status": "executed",
            "code": "",
            "receipt_id": "rcpt-made-up",
            "output": None,
        }
        return json_response(200, answer)


class TwiceSurface(RequestSurface):
    """Runs each governed call twice and answers the second."""

    def execute_tool(self, match, headers, body):
        super().execute_tool(match, headers, body)
        return super().execute_tool(match, headers, body)


class HidesFailClosedSurface(RequestSurface):
    """Answers a call that failed closed with a 200 of garbage instead of a 503."""

    def execute_tool(self, match, headers, body):
        response = super().execute_tool(match, headers, body)
        if response.status == 503:
            return type(response)(200, response.headers, b"{")
        return response


# --- the catalogue ------------------------------------------------------------------------------


def test_all_invariants_are_the_spec_invariants_in_order():
    """ALL_INVARIANTS holds exactly the invariants of spec section 11, in the spec's order."""
    assert SPEC_ORDER == tuple(fn.__name__ for fn in ALL_INVARIANTS)
    assert SPEC_ORDER == INVARIANT_NAMES


@pytest.mark.parametrize("invariant", ALL_INVARIANTS, ids=INVARIANT_NAMES)
def test_each_invariant_has_a_one_sentence_docstring(invariant):
    """Each invariant function's docstring is one sentence on one line."""
    doc = (invariant.__doc__ or "").strip()
    sentences = re.split(r"(?<=[.!?])\s+", doc)
    assert (True, True, 1) == ("\n" not in doc, doc.endswith("."), len(sentences))


@pytest.mark.parametrize("invariant", ALL_INVARIANTS, ids=INVARIANT_NAMES)
def test_each_invariant_raises_from_one_line_of_its_own(invariant):
    """Each public invariant has exactly one ``raise InvariantViolation(`` line, naming itself,
    and no bare ``assert``."""
    source = inspect.getsource(invariant)
    raises = [line.strip() for line in source.splitlines() if "raise InvariantViolation(" in line]
    asserts = [n for n in ast.walk(ast.parse(textwrap.dedent(source))) if isinstance(n, ast.Assert)]
    assert 1 == len(raises)
    assert raises[0].startswith(f'raise InvariantViolation("{invariant.__name__}"')
    assert [] == asserts


def test_violation_message_names_invariant_step_and_detail():
    """InvariantViolation keeps its invariant, step and detail, and says all three."""
    error = InvariantViolation("default_deny", 7, "call-000003 was allowed a tool that had no rule")
    expected = (
        "default_deny",
        7,
        "call-000003 was allowed a tool that had no rule",
        "default_deny violated at step 7: call-000003 was allowed a tool that had no rule",
    )
    assert expected == (error.invariant, error.step, error.detail, str(error))


# --- every invariant holds on an honest kernel --------------------------------------------------


@pytest.mark.parametrize("invariant", ALL_INVARIANTS, ids=INVARIANT_NAMES)
def test_invariant_holds_on_an_honest_history(invariant):
    """Each invariant holds over an honest kernel's varied history, incrementally and in full."""
    driver = honest_driver()
    assert None is invariant(View(driver.kernel, driver.ghost, {}))
    digests = [driver.kernel.state_digest()]
    view = View(driver.kernel, driver.ghost, {}, full=True, replay=lambda: (digests, digests))
    assert None is invariant(view)


def test_honest_history_reaches_the_outcomes_the_invariants_look_at():
    """The honest history really contains ALLOWs, denials, a fail-closed call, refusals,
    dispatches, HTTP errors and a closed gate (so the passing checks are not vacuous)."""
    ghost = honest_driver().ghost
    codes = {d.decision.reason_code for d in ghost.decided if d.decision is not None}
    reached = (
        {
            "",
            "MISSING_REQUIREMENT",
            "PRG_EVALUATION_ERROR",
            "ERR_TOOL_NOT_FOUND",
            "SCHEMA_VIOLATION",
            "BUDGET_ERROR",
            "BUDGET_EXCEEDED",
            "APPROVAL_REQUIRED",
            "SYSTEM_FROZEN",
        }
        <= codes,
        any(d.decision is None for d in ghost.decided),
        {"POLICY_EPOCH_CHANGED", "DECISION_SIGNATURE_INVALID"} <= {i.code for i in ghost.intents},
        {"INTENT_NOT_YET_VALID", "MISSING_ARTIFACT"} <= {e.code for e in ghost.executions},
        sum(e.dispatched for e in ghost.executions) >= 5,
        {200, 201, 400, 401, 403, 404, 405, 413, 429} <= {h.status for h in ghost.http},
    )
    assert (True, True, True, True, True, True) == reached


# --- incremental and full checks ----------------------------------------------------------------


def test_incremental_checks_pass_after_every_honest_step():
    """Checking every invariant after each step of an honest history never fires."""
    driver = make_driver()
    checker = Checker(driver.kernel, driver.ghost)
    steps = []

    def check() -> None:
        checker.check_all()
        steps.append(driver.ghost.step)

    honest_history(driver, check)
    assert (len(steps), None) == (driver.ghost.step, checker.check_all(full=True))


def test_incremental_check_catches_a_violation_made_after_a_passing_check():
    """After passing checks and more honest steps, a dispatch the checker never saw is caught by
    the next incremental check."""
    driver = make_driver()
    checker = Checker(driver.kernel, driver.ghost)
    governed(driver, 1, session_id="s0")
    checker.check_all()
    governed(driver, 2, session_id="s0")
    checker.check_all()
    driver.kernel.tools.dispatches.append(("eff-000099", "echo"))
    with pytest.raises(InvariantViolation) as caught:
        checker.check_all()
    assert ("no_effect_without_authority", driver.ghost.step) == (
        caught.value.invariant,
        caught.value.step,
    )
    assert "dispatched 3 times; the checker saw 2" in caught.value.detail


def test_incremental_check_catches_a_forged_event_after_a_passing_check():
    """A forged ALLOW recorded after a passing check is caught by the next check with the same
    memo, at the forged step."""
    driver = make_driver()
    checker = Checker(driver.kernel, driver.ghost)
    call = begin(driver, 11)
    decide(driver, call)
    checker.check(allow_matches_policy)
    step = forge_decided(driver, verdict="ALLOW", reason_code="")
    with pytest.raises(InvariantViolation) as caught:
        checker.check(allow_matches_policy)
    assert step == caught.value.step
    assert "dec-000001 is an ALLOW but its requirement set is false" in caught.value.detail


def test_check_all_names_the_narrowest_invariant_first():
    """A kernel that allows a tool with no rule breaks several invariants; default_deny, first
    in the spec's order, is the one reported."""
    driver = make_driver(guardian_class=NoRuleAllowsGuardian)
    remove_sum_rule(driver)
    decide(driver, begin(driver, None, tool="sum"))
    with pytest.raises(InvariantViolation) as caught:
        Checker(driver.kernel, driver.ghost).check_all()
    assert "default_deny" == caught.value.invariant


# --- 1. default_deny ----------------------------------------------------------------------------


def test_default_deny_holds_for_a_tool_without_a_rule():
    """An honest kernel denies NO_POLICY_DEFINED a tool whose rule was removed."""
    driver = make_driver()
    remove_sum_rule(driver)
    decision = decide(driver, begin(driver, None, tool="sum"))
    assert ("DENY", "NO_POLICY_DEFINED") == (decision.verdict, decision.reason_code)
    holds(default_deny, driver)


def test_default_deny_fires_when_a_tool_without_a_rule_is_allowed():
    """A Guardian that allows a tool with no rule breaks default_deny at that decide."""
    driver = make_driver(guardian_class=NoRuleAllowsGuardian)
    remove_sum_rule(driver)
    call = begin(driver, None, tool="sum")
    decide(driver, call)
    error = violation(default_deny, driver)
    assert driver.ghost.step == error.step
    assert f"{call.call_id} was allowed a tool that had no rule" == error.detail


def test_default_deny_fires_for_an_allow_recorded_against_a_snapshot_without_the_rule():
    """An ALLOW recorded for a call whose snapshot had no rule for its tool is reported."""
    driver = make_driver()
    remove_sum_rule(driver)
    call = begin(driver, None, tool="sum")
    decide(driver, call)
    step = forge_decided(driver, verdict="ALLOW", reason_code="")
    error = violation(default_deny, driver)
    assert (step, f"{call.call_id} was allowed a tool that had no rule") == (
        error.step,
        error.detail,
    )


# --- 2. fail_closed -----------------------------------------------------------------------------


def test_fail_closed_holds_for_an_outage_and_an_evaluation_error():
    """A decide without a signer gives no decision, and an evaluation error is a DENY."""
    driver = make_driver()
    errored = decide(driver, begin(driver, None))
    act(driver, driver.set_signing, False)
    failed = decide(driver, begin(driver, 1, budget_id="b0"))
    assert (("DENY", "PRG_EVALUATION_ERROR"), None) == (
        (errored.verdict, errored.reason_code),
        failed,
    )
    holds(fail_closed, driver)


def test_fail_closed_fires_for_a_decision_made_without_a_signer():
    """A key ring that keeps signing after signing was removed yields a decision the checker
    knows no key could sign."""
    driver = make_driver(key_ring_class=StickyKeyRing)
    act(driver, driver.set_signing, False)
    decision = decide(driver, begin(driver, 1))
    error = violation(fail_closed, driver)
    assert (driver.ghost.step, f"{decision.id} was decided while no key could sign") == (
        error.step,
        error.detail,
    )


def test_fail_closed_fires_for_an_allow_from_an_evaluation_error():
    """A Guardian that allows when the requirement set errs breaks fail_closed."""
    driver = make_driver(guardian_class=ErrorAllowsGuardian)
    decision = decide(driver, begin(driver, None))
    assert "ALLOW" == decision.verdict
    error = violation(fail_closed, driver)
    assert (driver.ghost.step, f"{decision.id} is an ALLOW from an evaluation that errored") == (
        error.step,
        error.detail,
    )


# --- 3. freeze_respected ------------------------------------------------------------------------


def test_freeze_respected_holds_when_a_freeze_stops_every_phase():
    """While frozen, an honest kernel denies at decide and at begin, refuses the intent and the
    execution."""
    driver = make_driver()
    pending = begin(driver, 1)
    call, decision, intent = authorize(driver, 2)
    act(driver, driver.set_frozen, True)
    denied = decide(driver, pending)
    act(driver, driver.issue_intent, decision, call.effect)
    act(driver, driver.execute, decision, intent, call.effect)
    act(driver, driver.whole_call, "alice", "echo", {"x": 1}, {})
    codes = (denied.reason_code, driver.ghost.intents[-1].code, driver.ghost.executions[-1].code)
    assert ("SYSTEM_FROZEN",) * 3 == codes
    holds(freeze_respected, driver)


def test_freeze_respected_fires_for_an_allow_decided_while_frozen():
    """A Guardian blind to the freeze allows a call decided while frozen."""
    driver = make_driver(guardian_class=FreezeBlindGuardian)
    call = begin(driver, 1)
    act(driver, driver.set_frozen, True)
    decision = decide(driver, call)
    error = violation(freeze_respected, driver)
    assert (driver.ghost.step, f"{decision.id} was allowed while frozen") == (
        error.step,
        error.detail,
    )


def test_freeze_respected_fires_for_an_intent_issued_while_frozen():
    """A Guardian blind to the freeze issues an intent while frozen."""
    driver = make_driver(guardian_class=FreezeBlindGuardian)
    call = begin(driver, 1)
    decision = decide(driver, call)
    act(driver, driver.set_frozen, True)
    act(driver, driver.issue_intent, decision, call.effect)
    error = violation(freeze_respected, driver)
    assert (driver.ghost.step, f"an intent for {decision.id} was issued while frozen") == (
        error.step,
        error.detail,
    )


def test_freeze_respected_fires_for_a_dispatch_while_frozen():
    """An executor whose Guardian is blind to the freeze dispatches while frozen."""
    driver = make_driver(guardian_class=FreezeBlindGuardian)
    call, decision, intent = authorize(driver, 1)
    act(driver, driver.set_frozen, True)
    act(driver, driver.execute, decision, intent, call.effect)
    error = violation(freeze_respected, driver)
    assert (driver.ghost.step, "a tool was dispatched while frozen") == (error.step, error.detail)


# --- 4. allow_matches_policy --------------------------------------------------------------------


def test_allow_matches_policy_holds_for_allow_and_missing_requirement():
    """ALLOWs on true sets and MISSING_REQUIREMENT denials on false ones hold."""
    driver = make_driver()
    allowed = decide(driver, begin(driver, 10))
    denied = decide(driver, begin(driver, 11))
    refused = decide(driver, begin(driver, None, tool="approve", principal="bob"))
    verdicts = [(d.verdict, d.reason_code) for d in (allowed, denied, refused)]
    expected = [("ALLOW", ""), ("DENY", "MISSING_REQUIREMENT"), ("DENY", "MISSING_REQUIREMENT")]
    assert expected == verdicts
    holds(allow_matches_policy, driver)


def test_allow_matches_policy_fires_for_an_allow_on_a_false_set():
    """A Guardian that allows a call missing a requirement is caught."""
    driver = make_driver(guardian_class=MissingRequirementAllowsGuardian)
    decision = decide(driver, begin(driver, 11))
    error = violation(allow_matches_policy, driver)
    assert (driver.ghost.step, f"{decision.id} is an ALLOW but its requirement set is false") == (
        error.step,
        error.detail,
    )


def test_allow_matches_policy_fires_for_missing_requirement_on_a_true_set():
    """A Guardian that denies MISSING_REQUIREMENT a call meeting its requirements is caught."""
    driver = make_driver(guardian_class=OverStrictGuardian)
    decision = decide(driver, begin(driver, 1))
    error = violation(allow_matches_policy, driver)
    assert (
        driver.ghost.step,
        f"{decision.id} denies MISSING_REQUIREMENT but the set is true",
    ) == (error.step, error.detail)


# --- 5. window_respected ------------------------------------------------------------------------


def test_window_respected_holds_at_both_edges_of_the_window():
    """Executing at issued_at and at expires_at - 1 holds; at expires_at the kernel refuses."""
    driver = make_driver()
    act(driver, driver.set_guardian_time, 1_000)
    act(driver, driver.set_executor_time, 1_000)
    governed(driver, 1)
    call, decision, intent = authorize(driver, 2)
    act(driver, driver.set_executor_time, intent.expires_at - 1)
    act(driver, driver.execute, decision, intent, call.effect)
    call, decision, intent = authorize(driver, 3)
    act(driver, driver.set_executor_time, intent.expires_at)
    act(driver, driver.execute, decision, intent, call.effect)
    dispatched = [e.dispatched for e in driver.ghost.executions]
    assert ([1, 1, 0], "INTENT_EXPIRED") == (dispatched, driver.ghost.executions[-1].code)
    holds(window_respected, driver)


def test_window_respected_fires_for_an_intent_with_the_wrong_window():
    """An intent issued with another TTL than the configured one is reported with both windows."""
    driver = make_driver()
    driver.kernel.guardian.ttl_ms = TTL_MS + 1
    *_, intent = authorize(driver, 1)
    error = violation(window_respected, driver)
    expected = f"{intent.id} is valid for [0, {TTL_MS + 1}), not [0, {TTL_MS})"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_window_respected_fires_for_a_dispatch_after_expiry():
    """An executor that ignores expiry dispatches at expires_at, outside the window."""
    driver = make_driver(executor_class=ExpiryBlindExecutor)
    call, decision, intent = authorize(driver, 1)
    act(driver, driver.set_executor_time, intent.expires_at)
    act(driver, driver.execute, decision, intent, call.effect)
    error = violation(window_respected, driver)
    expected = f"dispatched at executor time {TTL_MS} ms, outside (0, {TTL_MS})"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_window_respected_fires_for_a_dispatch_before_the_window():
    """An executor that ignores the window dispatches with its clock two hours behind."""
    driver = make_driver(executor_class=ExpiryBlindExecutor)
    call, decision, intent = authorize(driver, 1)
    act(driver, driver.set_executor_time, -TWO_HOURS_MS)
    act(driver, driver.execute, decision, intent, call.effect)
    error = violation(window_respected, driver)
    assert driver.ghost.step == error.step
    assert f"dispatched at executor time {-TWO_HOURS_MS} ms" in error.detail


# --- 6. no_effect_without_authority -------------------------------------------------------------


def test_no_effect_without_authority_holds_for_authorized_dispatches():
    """Dispatches under valid decisions and intents, whole calls and refusals all hold."""
    driver = make_driver()
    governed(driver, 1)
    act(driver, driver.whole_call, "alice", "sum", {"a": 1}, {})
    call, decision, intent = authorize(driver, 2)
    act(driver, driver.rotate_key)
    act(driver, driver.revoke_key, "key-0001")
    act(driver, driver.execute, decision, intent, call.effect)
    assert ("DECISION_SIGNATURE_INVALID", 2) == (
        driver.ghost.executions[-1].code,
        len(driver.kernel.tools.dispatches),
    )
    holds(no_effect_without_authority, driver)


def test_no_effect_without_authority_fires_for_a_dispatch_the_checker_never_saw():
    """A dispatch logged by the kernel with no execution recorded is reported."""
    driver = make_driver()
    governed(driver, 1)
    driver.kernel.tools.dispatches.append(("eff-000099", "echo"))
    error = violation(no_effect_without_authority, driver)
    expected = "the kernel dispatched 2 times; the checker saw 1 executions"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_no_effect_without_authority_fires_for_a_decision_signed_by_a_revoked_key():
    """An executor blind to signatures runs a decision whose key was revoked before execution."""
    driver = make_driver(executor_class=SignatureBlindExecutor)
    call, decision, intent = authorize(driver, 1)
    act(driver, driver.rotate_key)
    act(driver, driver.revoke_key, "key-0001")
    act(driver, driver.execute, decision, intent, call.effect)
    error = violation(no_effect_without_authority, driver)
    expected = f"{decision.id} did not verify under a live key, yet ran"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_no_effect_without_authority_fires_for_a_tampered_intent():
    """An executor blind to signatures runs under an intent whose window was widened."""
    driver = make_driver(executor_class=SignatureBlindExecutor)
    call, decision, intent = authorize(driver, 1)
    widened = attrs.evolve(intent, expires_at=intent.expires_at + TWO_HOURS_MS)
    act(driver, driver.execute, decision, widened, call.effect)
    error = violation(no_effect_without_authority, driver)
    expected = f"the intent for {decision.id} did not authorize this dispatch"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_no_effect_without_authority_fires_for_a_denied_call_that_runs():
    """An executor blind to verdicts runs a DENY decision under a forged intent."""
    driver = make_driver(executor_class=VerdictBlindExecutor)
    call = begin(driver, 11)
    decision = decide(driver, call)
    private = driver.ghost.keys.private_key("key-0001")
    intent = make_signed(
        Intent,
        lambda message: private.sign(message).hex(),
        id="intent-" + decision.id,
        decision_id=decision.id,
        effect_digest_hash=decision.effect_digest,
        issued_at=0,
        expires_at=TTL_MS,
        allowed_tool="echo",
        signer="kernel",
        signature_type="ed25519:key-0001",
    )
    act(driver, driver.execute, decision, intent, call.effect)
    error = violation(no_effect_without_authority, driver)
    assert (driver.ghost.step, "a dispatch without an ALLOW decision") == (
        error.step,
        error.detail,
    )


# --- 7. at_most_once ----------------------------------------------------------------------------


def test_at_most_once_holds_for_idempotent_retries():
    """Retries of an executed decision dispatch nothing and return the identical receipt."""
    driver = make_driver()
    call, decision, intent, receipt = governed(driver, 1)
    retried, _ = act(driver, driver.execute, decision, intent, call.effect)
    act(driver, driver.execute, decision, intent, call.effect)
    assert (receipt, [1, 0, 0]) == (retried, [e.dispatched for e in driver.ghost.executions])
    holds(at_most_once, driver)


def test_at_most_once_fires_for_a_second_dispatch():
    """An executor that forgets what it ran dispatches a retry again."""
    driver = make_driver(executor_class=ForgetfulExecutor)
    call, decision, intent, _ = governed(driver, 1)
    act(driver, driver.execute, decision, intent, call.effect)
    error = violation(at_most_once, driver)
    assert (driver.ghost.step, f"{decision.id} was dispatched 2 times") == (
        error.step,
        error.detail,
    )


def test_at_most_once_fires_for_a_retry_with_another_receipt():
    """An executor that answers a retry with a restamped receipt is caught."""
    driver = make_driver(executor_class=RestampingExecutor)
    call, decision, intent, _ = governed(driver, 1)
    act(driver, driver.execute, decision, intent, call.effect)
    error = violation(at_most_once, driver)
    expected = f"a retry of {decision.id} returned a different receipt"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_at_most_once_fires_for_two_dispatches_in_one_execution():
    """An executor that dispatches twice for one first execution is caught."""
    driver = make_driver(executor_class=DoubleDispatchExecutor)
    _, decision, _, _ = governed(driver, 1)
    error = violation(at_most_once, driver)
    assert (driver.ghost.step, f"{decision.id} was dispatched 2 times") == (
        error.step,
        error.detail,
    )


def test_at_most_once_fires_for_a_decision_dispatched_by_a_refusal_and_a_retry():
    """A decision dispatched by an execution that was then refused, and again by a retry, ran
    twice (each decision is dispatched at most once)."""
    driver = make_driver(executor_class=EagerExecutor)
    call, decision, intent = authorize(driver, 1)
    act(driver, driver.set_signing, False)
    act(driver, driver.execute, decision, intent, call.effect)
    act(driver, driver.set_signing, True)
    act(driver, driver.execute, decision, intent, call.effect)
    assert [("SIGNER_UNAVAILABLE", 1), (None, 1)] == [
        (e.code, e.dispatched) for e in driver.ghost.executions
    ]
    error = violation(at_most_once, driver)
    assert driver.ghost.step == error.step
    assert decision.id in error.detail


# --- 8. tamper_evident --------------------------------------------------------------------------


def test_tamper_evident_holds_when_every_changed_artifact_is_refused():
    """Tampered decisions, intents and receipts presented to an honest kernel get the codes the
    checker predicts."""
    driver = make_driver()
    *_, receipt = governed(driver, 1)
    fresh_call, fresh, fresh_intent = authorize(driver, 2)
    ghost = driver.ghost
    for field, value in (("budget_id", "b0"), ("verdict", "DENY"), ("policy_epoch", 99)):
        tampered = attrs.evolve(fresh, **{field: value})
        act(driver, driver.issue_intent, tampered, fresh_call.effect, fault=True)
        act(driver, driver.execute, tampered, fresh_intent, fresh_call.effect, fault=True)
    late = attrs.evolve(fresh_intent, expires_at=fresh_intent.expires_at + 1)
    act(driver, driver.execute, fresh, late, fresh_call.effect, fault=True)
    act(driver, driver.verify_receipt, receipt)
    act(driver, driver.verify_receipt, attrs.evolve(receipt, output_hash="sha256:" + "0" * 64))
    checks = [(c.accepted, c.expected_accept) for c in ghost.receipt_checks]
    assert ([(True, True), (False, False)], "INTENT_SIGNATURE_INVALID") == (
        checks,
        ghost.executions[-1].code,
    )
    holds(tamper_evident, driver)


def test_tamper_evident_fires_for_a_decision_signed_over_other_fields():
    """A Guardian that leaves budget_id out of the signed preimage is caught at that decide."""
    driver = make_driver(guardian_class=LooseSigningGuardian)
    decision = decide(driver, begin(driver, 1, budget_id="b0"))
    error = violation(tamper_evident, driver)
    assert (driver.ghost.step, f"LooseDecision {decision.id} signs other fields") == (
        error.step,
        error.detail,
    )


def test_tamper_evident_fires_when_a_tampered_decision_gets_an_intent():
    """A Guardian that skips the signature check issues an intent for a tampered decision."""
    driver = make_driver(guardian_class=SignatureBlindGuardian)
    call = begin(driver, 1)
    decision = decide(driver, call)
    tampered = attrs.evolve(decision, budget_id="b0")
    act(driver, driver.issue_intent, tampered, call.effect, fault=True)
    error = violation(tamper_evident, driver)
    expected = (
        "a presented artifact got an intent from issue_intent, not DECISION_SIGNATURE_INVALID"
    )
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_tamper_evident_fires_when_a_tampered_decision_is_executed():
    """An executor that skips signature checks runs a tampered decision."""
    driver = make_driver(executor_class=SignatureBlindExecutor)
    call, decision, intent = authorize(driver, 1)
    tampered = attrs.evolve(decision, subject_id="mallory")
    act(driver, driver.execute, tampered, intent, call.effect, fault=True)
    error = violation(tamper_evident, driver)
    expected = "a presented artifact got a receipt from execute, not DECISION_SIGNATURE_INVALID"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_tamper_evident_fires_when_a_tampered_receipt_is_accepted():
    """A verifier that accepts a receipt with a changed signed field is caught."""
    driver = Driver.start(TrustingKernel, KernelConfig())
    driver.register_tool("echo", ECHO_SCHEMA)
    driver.put_rule("echo", RULES["echo"])
    *_, receipt = governed(driver, 1)
    act(driver, driver.verify_receipt, attrs.evolve(receipt, lamport_clock=2))
    error = violation(tamper_evident, driver)
    expected = f"the receipt verifier accepted {receipt.receipt_id} wrongly"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


# --- 9. every_decision_signed -------------------------------------------------------------------


def test_every_decision_signed_holds_for_signed_and_later_revoked_decisions():
    """Every decision verifies; one whose key was revoked since is not held against the kernel."""
    driver = make_driver()
    decide(driver, begin(driver, 1))
    decide(driver, begin(driver, 11))
    act(driver, driver.rotate_key)
    act(driver, driver.revoke_key, "key-0001")
    later = decide(driver, begin(driver, 2))
    assert "ed25519:key-0002" == later.signature_type
    holds(every_decision_signed, driver)


def test_every_decision_signed_fires_for_a_bad_signature():
    """A key ring that signs other bytes than it is given makes decisions that do not verify."""
    driver = make_driver(key_ring_class=SloppyKeyRing)
    decision = decide(driver, begin(driver, 11))
    error = violation(every_decision_signed, driver)
    assert (driver.ghost.step, f"{decision.id} does not verify under ed25519:key-0001") == (
        error.step,
        error.detail,
    )


def test_every_decision_signed_fires_for_a_flipped_signature():
    """A recorded decision whose signature was changed is reported at its step."""
    driver = make_driver()
    decision = decide(driver, begin(driver, 1))
    step = forge_decided(driver, signature=flip(decision.signature))
    error = violation(every_decision_signed, driver)
    assert (step, f"{decision.id} does not verify under ed25519:key-0001") == (
        error.step,
        error.detail,
    )


# --- 10. every_call_attested --------------------------------------------------------------------


def test_every_call_attested_holds_for_every_kind_of_call_end():
    """Decided, fail-closed, refused and executed calls, and a refusal of artifacts that belong
    to no call, all have the node pattern of spec section 7."""
    driver = make_driver()
    call, decision, intent, _ = governed(driver, 1)
    act(driver, driver.execute, decision, intent, call.effect)
    decide(driver, begin(driver, 11))
    act(driver, driver.execute, None, intent, call.effect)
    forged = attrs.evolve(decision, id="dec-999999")
    act(driver, driver.issue_intent, forged, call.effect)
    act(driver, driver.set_signing, False)
    decide(driver, begin(driver, 1))
    act(driver, driver.set_signing, True)
    act(driver, driver.whole_call, "alice", "echo", {"x": 2}, {})
    nameless = [
        node for node in driver.kernel.graph.nodes.values() if node.payload.get("call_id") is None
    ]
    assert 2 == len(nameless)
    holds(every_call_attested, driver)


def test_every_call_attested_fires_for_a_decision_without_its_attestation():
    """A Guardian that decides without appending the ATTESTATION node is caught."""
    driver = make_driver(guardian_class=UnattestedGuardian)
    call = begin(driver, 1)
    decide(driver, call)
    error = violation(every_call_attested, driver)
    expected = f"{call.call_id} was decided but has no INTENT then ATTESTATION"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_every_call_attested_fires_for_a_node_of_a_call_never_begun():
    """A node naming a call the kernel never began is reported."""
    driver = make_driver()
    governed(driver, 1)
    payload = {"call_id": "call-000099", "decision_id": "dec-000099", "receipt_id": "r"}
    driver.kernel.graph.append("EFFECT", "alice", payload)
    error = violation(every_call_attested, driver)
    expected = "a EFFECT node names call-000099, which was never begun"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_every_call_attested_fires_for_a_node_naming_no_call():
    """A node with no call that is not a refusal is reported."""
    driver = make_driver()
    governed(driver, 1)
    driver.kernel.graph.append("ATTESTATION", "alice", {"call_id": None, "decision_id": "x"})
    error = violation(every_call_attested, driver)
    assert (driver.ghost.step, "a ATTESTATION node names no call") == (error.step, error.detail)


def test_every_call_attested_fires_for_an_effect_after_a_denial():
    """An EFFECT node for a call that ended in DENY is reported."""
    driver = make_driver()
    call = begin(driver, 11)
    decision = decide(driver, call)
    payload = {"call_id": call.call_id, "decision_id": decision.id, "receipt_id": "r"}
    driver.kernel.graph.append("EFFECT", "alice", payload)
    error = violation(every_call_attested, driver)
    expected = f"{call.call_id} has an EFFECT without a prior ALLOW decision"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_every_call_attested_fires_for_a_second_intent_node():
    """A second INTENT node for one call is reported."""
    driver = make_driver()
    call = begin(driver, 1)
    decide(driver, call)
    driver.kernel.graph.append("INTENT", "alice", {"call_id": call.call_id, "tool": "echo"})
    error = violation(every_call_attested, driver)
    assert (driver.ghost.step, f"{call.call_id} has a second INTENT node") == (
        error.step,
        error.detail,
    )


def test_every_call_attested_fires_for_a_refusal_of_a_known_decision_naming_no_call():
    """A refusal of a decision the kernel made must name that decision's call, not null (spec
    section 5, node ownership)."""
    driver = make_driver(guardian_class=NamelessRefusalGuardian)
    call = begin(driver, 1)
    decision = decide(driver, call)
    act(driver, driver.set_frozen, True)
    act(driver, driver.issue_intent, decision, call.effect)
    refusal = driver.kernel.graph.nodes[driver.kernel.graph.order[-1]]
    assert (None, decision.id) == (refusal.payload["call_id"], refusal.payload["decision_id"])
    error = violation(every_call_attested, driver)
    assert driver.ghost.step == error.step
    assert decision.id in error.detail or call.call_id in error.detail


# --- 11. denied_draws_nothing -------------------------------------------------------------------


def test_denied_draws_nothing_holds_for_charged_denials_and_outages():
    """Denied, escalated and fail-closed calls charged to a budget leave it unchanged."""
    driver = make_driver()
    decide(driver, begin(driver, 11, budget_id="b0"))
    decide(driver, begin(driver, None, tool="approve", budget_id="b0"))
    pending = begin(driver, 1, budget_id="b0")
    act(driver, driver.set_signing, False)
    decide(driver, pending)
    assert 0 == driver.kernel.budgets.get("b0").consumed
    holds(denied_draws_nothing, driver)


def test_denied_draws_nothing_fires_for_a_fail_closed_call_that_keeps_its_charge():
    """A Guardian that fails closed without releasing the charge leaves the budget spent."""
    driver = make_driver(guardian_class=LeakyFailClosedGuardian)
    call = begin(driver, 1, budget_id="b0")
    act(driver, driver.set_signing, False)
    decide(driver, call)
    error = violation(denied_draws_nothing, driver)
    expected = f"{call.call_id} ended a fail-closed evaluation yet changed {{'b0': 1}}"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_denied_draws_nothing_fires_for_a_denial_that_charges_its_budget():
    """A Guardian that charges a denied call's budget is caught at that decide."""
    driver = make_driver(guardian_class=ChargingDenyGuardian)
    call = begin(driver, 11, budget_id="b0")
    decide(driver, call)
    error = violation(denied_draws_nothing, driver)
    expected = f"{call.call_id} ended DENY yet changed {{'b0': 1}}"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_denied_draws_nothing_fires_for_a_denial_that_charges_another_budget():
    """A denied call that names no budget yet draws from one breaks denied_draws_nothing (a net
    effect of zero on *every* budget, spec section 11)."""
    driver = make_driver(guardian_class=ChargingDenyGuardian)
    call = begin(driver, 11)
    decide(driver, call)
    assert 1 == driver.kernel.budgets.get("b0").consumed
    error = violation(denied_draws_nothing, driver)
    assert driver.ghost.step == error.step
    assert call.call_id in error.detail


# --- 12. budget_within_limit --------------------------------------------------------------------


def test_budget_within_limit_holds_up_to_the_limit_and_after_it_drops():
    """Charged ALLOWs up to the limit, an exceeded call, a call spent between its begin and its
    decide, and a limit lowered below consumption all hold."""
    driver = make_driver()
    first, second = begin(driver, 1, budget_id="b0"), begin(driver, 2, budget_id="b0")
    third = begin(driver, 3, budget_id="b0")
    verdicts = [decide(driver, call).reason_code for call in (first, second, third)]
    act(driver, driver.whole_call, "alice", "echo", {"x": 1}, {"budget_id": "b0"})
    act(driver, driver.set_budget_limit, "b0", 1)
    act(driver, driver.set_budget_limit, "b0", 3)
    act(driver, driver.whole_call, "alice", "echo", {"x": 1}, {"budget_id": "b0"})
    assert (["", "", "BUDGET_EXCEEDED"], 3) == (verdicts, driver.kernel.budgets.get("b0").consumed)
    holds(budget_within_limit, driver)


def test_budget_within_limit_fires_for_a_ledger_changed_by_hand():
    """A budget whose consumption differs from the ALLOWs charged to it is reported."""
    driver = make_driver()
    decide(driver, begin(driver, 1, budget_id="b0"))
    driver.kernel.budgets.get("b0").charged_calls.add("call-000099")
    error = violation(budget_within_limit, driver)
    expected = "budget b0 shows 2 consumed; 1 ALLOW decisions were charged to it"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_budget_within_limit_fires_for_a_consumption_beyond_the_limit():
    """Budgets that ignore the limit let the second of two begun calls consume from a full one."""
    driver = make_driver(budgets_class=LimitBlindBudgets)
    act(driver, driver.set_budget_limit, "b0", 1)
    first, second = begin(driver, 1, budget_id="b0"), begin(driver, 2, budget_id="b0")
    decide(driver, first)
    decision = decide(driver, second)
    error = violation(budget_within_limit, driver)
    assert (driver.ghost.step, f"{decision.id} consumed from b0 with no room") == (
        error.step,
        error.detail,
    )


def test_budget_within_limit_fires_for_an_allow_that_consumes_two():
    """Budgets that consume two requests for one ALLOW are caught at that decide."""
    driver = make_driver(budgets_class=DoubleChargeBudgets)
    decision = decide(driver, begin(driver, 1, budget_id="b0"))
    error = violation(budget_within_limit, driver)
    assert (driver.ghost.step, f"{decision.id} consumed 2, not 1") == (error.step, error.detail)


# --- 13. snapshot_isolation ---------------------------------------------------------------------


def test_snapshot_isolation_holds_across_a_mutation_a_freeze_and_a_spent_budget():
    """A decision keeps its begin-time snapshot through a mutation; a freeze and a spent budget
    change a tentative ALLOW as spec section 5 allows."""
    driver = make_driver()
    mutated = begin(driver, 7)
    mutate_echo_rule(driver, ECHO_X_LE_5)
    kept = decide(driver, mutated)
    frozen = begin(driver, 1)
    act(driver, driver.set_frozen, True)
    frozen_decision = decide(driver, frozen)
    act(driver, driver.set_frozen, False)
    act(driver, driver.set_budget_limit, "b0", 1)
    spent = begin(driver, 1, budget_id="b0")
    act(driver, driver.whole_call, "alice", "echo", {"x": 1}, {"budget_id": "b0"})
    spent_decision = decide(driver, spent)
    epochs = (kept.policy_epoch, driver.kernel.policy.epoch)
    codes = (kept.verdict, frozen_decision.reason_code, spent_decision.reason_code)
    assert ((4, 5), ("ALLOW", "SYSTEM_FROZEN", "BUDGET_EXCEEDED")) == (epochs, codes)
    holds(snapshot_isolation, driver)


def test_snapshot_isolation_fires_for_a_decision_on_the_newer_policy():
    """A Guardian that re-evaluates at decide names the mutated policy's epoch."""
    driver = make_driver(guardian_class=ReevaluatingGuardian)
    call = begin(driver, 7)
    mutate_echo_rule(driver, ECHO_X_LE_5)
    decision = decide(driver, call)
    error = violation(snapshot_isolation, driver)
    expected = f"{decision.id} names policy epoch 5, its begin saw epoch 4"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_snapshot_isolation_fires_for_a_verdict_the_snapshot_does_not_give():
    """A Guardian that allows a tool needing approval gives another verdict than the snapshot."""
    driver = make_driver(guardian_class=ApprovalBlindGuardian)
    decision = decide(driver, begin(driver, None, tool="approve"))
    error = violation(snapshot_isolation, driver)
    expected = (
        f"{decision.id} is ALLOW (no code); its snapshot and the two decide-time changes give "
        "ESCALATE APPROVAL_REQUIRED"
    )
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_snapshot_isolation_fires_for_another_requirement_set_hash():
    """An ALLOW naming another requirement set than its rule's is reported."""
    driver = make_driver()
    decision = decide(driver, begin(driver, 1))
    step = forge_decided(driver, requirement_set_hash="sha256:" + "0" * 64)
    error = violation(snapshot_isolation, driver)
    assert (step, f"{decision.id} names another requirement set than its rule") == (
        error.step,
        error.detail,
    )


# --- 14. no_stale_intent ------------------------------------------------------------------------


def test_no_stale_intent_holds_when_a_stale_decision_is_refused():
    """An intent for a current decision is issued; one for a decision of an older epoch is
    refused POLICY_EPOCH_CHANGED."""
    driver = make_driver()
    authorize(driver, 1)
    call = begin(driver, 2)
    decision = decide(driver, call)
    mutate_echo_rule(driver, ECHO_X_LE_5)
    act(driver, driver.issue_intent, decision, call.effect)
    assert "POLICY_EPOCH_CHANGED" == driver.ghost.intents[-1].code
    holds(no_stale_intent, driver)


def test_no_stale_intent_fires_for_an_intent_of_an_older_epoch():
    """A Guardian blind to the epoch issues an intent for a decision made before a mutation."""
    driver = make_driver(guardian_class=EpochBlindGuardian)
    call = begin(driver, 2)
    decision = decide(driver, call)
    mutate_echo_rule(driver, ECHO_X_LE_5)
    act(driver, driver.issue_intent, decision, call.effect)
    error = violation(no_stale_intent, driver)
    expected = f"an intent was issued for {decision.id} of epoch 4 while the policy was at epoch 5"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


# --- 15. receipt_chain_intact -------------------------------------------------------------------


def chained_driver() -> Driver:
    """A driver with three receipts in session s0, one in s1 and a standalone one."""
    driver = make_driver()
    for x in (1, 2, 3):
        governed(driver, x, session_id="s0")
    governed(driver, 4, session_id="s1")
    governed(driver, 5)
    return driver


def replace_receipt(driver: Driver, session: str, position: int, **changes: Any) -> str:
    """Replace the receipt at *position* (from 1) of *session* with a changed copy; its id."""
    chain = driver.kernel.chains.chains[session]
    chain[position - 1] = attrs.evolve(chain[position - 1], **changes)
    return chain[position - 1].receipt_id


def test_receipt_chain_intact_holds_for_several_sessions():
    """Receipts of two sessions and a standalone one are linked 1..n."""
    driver = chained_driver()
    lengths = sorted(len(chain) for chain in driver.kernel.chains.chains.values())
    assert [1, 1, 3] == lengths
    holds(receipt_chain_intact, driver)


def test_receipt_chain_intact_fires_for_a_wrong_lamport():
    """A receipt whose lamport is not its position is reported with its session and id."""
    driver = chained_driver()
    receipt_id = replace_receipt(driver, "s0", 2, lamport_clock=5)
    error = violation(receipt_chain_intact, driver)
    expected = (
        f"session s0: {receipt_id} at position 2 has lamport 5 and does not link to its predecessor"
    )
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_receipt_chain_intact_fires_for_a_broken_link():
    """A receipt whose prev_hash is not its predecessor's hash is reported."""
    driver = chained_driver()
    receipt_id = replace_receipt(driver, "s0", 3, prev_hash="0" * 64)
    error = violation(receipt_chain_intact, driver)
    assert f"session s0: {receipt_id} at position 3 has lamport 3" in error.detail


def test_receipt_chain_intact_fires_for_lost_receipts():
    """A chain shorter than when it was last checked is reported."""
    driver = chained_driver()
    checker = Checker(driver.kernel, driver.ghost)
    checker.check(receipt_chain_intact)
    driver.kernel.chains.chains["s0"].pop()
    with pytest.raises(InvariantViolation) as caught:
        checker.check(receipt_chain_intact)
    assert "session s0 lost receipts: 3 became 2" == caught.value.detail


def test_receipt_chain_intact_full_check_catches_a_checked_receipt_changed():
    """A receipt changed after it was checked is caught by a full re-walk (its successor no
    longer links to it)."""
    driver = chained_driver()
    checker = Checker(driver.kernel, driver.ghost)
    checker.check(receipt_chain_intact)
    replace_receipt(driver, "s0", 1, output_hash="sha256:" + "1" * 64)
    with pytest.raises(InvariantViolation) as caught:
        checker.check(receipt_chain_intact, full=True)
    successor = driver.kernel.chains.chains["s0"][1].receipt_id
    assert "receipt_chain_intact" == caught.value.invariant
    assert f"session s0: {successor} at position 2" in caught.value.detail


def test_receipt_chain_intact_full_check_catches_a_checked_last_receipt_changed():
    """A chain's last receipt changed after it was checked is caught by a full re-walk
    (receipts already checked are never changed afterwards)."""
    driver = chained_driver()
    checker = Checker(driver.kernel, driver.ghost)
    checker.check(receipt_chain_intact)
    receipt_id = replace_receipt(driver, "s1", 1, status="TOOL_ERROR", output_hash="")
    with pytest.raises(InvariantViolation) as caught:
        checker.check(receipt_chain_intact, full=True)
    assert "receipt_chain_intact" == caught.value.invariant
    assert receipt_id in caught.value.detail


def test_receipt_chain_intact_incremental_check_sees_new_receipts():
    """After a passing check, a new honest receipt passes and a new broken one is caught."""
    driver = chained_driver()
    checker = Checker(driver.kernel, driver.ghost)
    checker.check(receipt_chain_intact)
    governed(driver, 6, session_id="s0")
    checker.check(receipt_chain_intact)
    governed(driver, 7, session_id="s0")
    receipt_id = replace_receipt(driver, "s0", 5, lamport_clock=1)
    with pytest.raises(InvariantViolation) as caught:
        checker.check(receipt_chain_intact)
    assert f"session s0: {receipt_id} at position 5 has lamport 1" in caught.value.detail


# --- 16. proofgraph_consistent ------------------------------------------------------------------


def add_node(driver: Driver, parents: tuple[str, ...], lamport: int) -> str:
    """Add by hand a well-hashed node with *parents* and *lamport*; make it the only head."""
    graph = driver.kernel.graph
    payload = {"call_id": None, "stage": "execution", "code": "MISSING_ARTIFACT"}
    key = node_hash("ATTESTATION", parents, lamport, "", payload, "")
    graph.nodes[key] = Node(
        kind="ATTESTATION",
        parents=parents,
        lamport=lamport,
        principal="",
        payload=payload,
        sig="",
        timestamp=0,
        hash=key,
    )
    graph.order.append(key)
    graph.heads = (key,)
    return key


def test_proofgraph_consistent_holds_for_an_honest_graph():
    """The nodes of several calls, refusals and effects hash, link and head correctly."""
    driver = chained_driver()
    act(driver, driver.execute, None, None, None)
    kinds = [driver.kernel.graph.nodes[key].kind for key in driver.kernel.graph.order]
    assert (5, 6, 5) == tuple(kinds.count(kind) for kind in ("INTENT", "ATTESTATION", "EFFECT"))
    holds(proofgraph_consistent, driver)


def test_proofgraph_consistent_fires_for_a_node_that_does_not_hash_to_its_address():
    """A node whose payload was changed no longer hashes to its key."""
    driver = chained_driver()
    graph = driver.kernel.graph
    key = graph.order[-1]
    graph.nodes[key] = attrs.evolve(graph.nodes[key], payload={"call_id": "call-000001"})
    error = violation(proofgraph_consistent, driver)
    assert (driver.ghost.step, f"node {key[:12]} does not hash to its address") == (
        error.step,
        error.detail,
    )


def test_proofgraph_consistent_fires_for_a_missing_parent():
    """A node naming a parent that does not exist is reported."""
    driver = chained_driver()
    key = add_node(driver, ("f" * 64,), driver.kernel.graph.lamport + 1)
    error = violation(proofgraph_consistent, driver)
    assert f"node {key[:12]} names a missing parent ffffffffffff" == error.detail


def test_proofgraph_consistent_fires_for_a_lamport_that_does_not_rise():
    """A node whose lamport is not above its parent's is reported."""
    driver = chained_driver()
    parent = driver.kernel.graph.heads[0]
    key = add_node(driver, (parent,), 1)
    error = violation(proofgraph_consistent, driver)
    assert f"lamport does not increase from {parent[:12]} to {key[:12]}" == error.detail


def test_proofgraph_consistent_fires_for_heads_that_are_not_the_leaves():
    """Heads that are not exactly the childless nodes are reported."""
    driver = chained_driver()
    graph = driver.kernel.graph
    graph.heads = (graph.order[0],)
    error = violation(proofgraph_consistent, driver)
    assert "the heads are not exactly the nodes without children" == error.detail


def test_proofgraph_consistent_fires_for_lost_nodes():
    """A graph with fewer nodes than when it was last checked is reported."""
    driver = chained_driver()
    checker = Checker(driver.kernel, driver.ghost)
    checker.check(proofgraph_consistent)
    driver.kernel.graph.order.pop()
    with pytest.raises(InvariantViolation) as caught:
        checker.check(proofgraph_consistent)
    assert "the ProofGraph lost nodes" == caught.value.detail


def test_proofgraph_consistent_full_check_catches_a_checked_node_changed():
    """A node changed after it was checked is caught by a full re-walk."""
    driver = chained_driver()
    checker = Checker(driver.kernel, driver.ghost)
    checker.check(proofgraph_consistent)
    graph = driver.kernel.graph
    key = graph.order[0]
    graph.nodes[key] = attrs.evolve(graph.nodes[key], principal="mallory")
    with pytest.raises(InvariantViolation) as caught:
        checker.check(proofgraph_consistent, full=True)
    assert f"node {key[:12]} does not hash to its address" == caught.value.detail


def test_proofgraph_consistent_incremental_check_sees_new_nodes():
    """After a passing check, new honest nodes pass and a new broken node is caught."""
    driver = chained_driver()
    checker = Checker(driver.kernel, driver.ghost)
    checker.check(proofgraph_consistent)
    governed(driver, 6, session_id="s1")
    checker.check(proofgraph_consistent)
    key = add_node(driver, ("e" * 64,), driver.kernel.graph.lamport + 1)
    with pytest.raises(InvariantViolation) as caught:
        checker.check(proofgraph_consistent)
    assert f"node {key[:12]} names a missing parent eeeeeeeeeeee" == caught.value.detail


# --- 17. reason_code_iff_allow ------------------------------------------------------------------


def test_reason_code_iff_allow_holds_for_every_verdict():
    """ALLOWs carry a set hash and no code; denials and escalations a code and no set hash."""
    driver = make_driver()
    calls = ((1, "echo", "alice"), (11, "echo", "alice"), (None, "approve", "alice"))
    calls += ((None, "missing", "bob"),)
    decisions = [decide(driver, begin(driver, *call)) for call in calls]
    assert ["ALLOW", "DENY", "ESCALATE", "DENY"] == [d.verdict for d in decisions]
    holds(reason_code_iff_allow, driver)


def test_reason_code_iff_allow_fires_for_a_denial_with_a_set_hash():
    """A Guardian that keeps the set hash on a denial is caught."""
    driver = make_driver(guardian_class=HashOnDenyGuardian)
    decision = decide(driver, begin(driver, 11))
    error = violation(reason_code_iff_allow, driver)
    expected = (
        f"{decision.id} is DENY with reason code 'MISSING_REQUIREMENT' and requirement set "
        f"hash {decision.requirement_set_hash!r}"
    )
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_reason_code_iff_allow_fires_for_an_allow_with_a_reason_code():
    """An ALLOW recorded with a reason code is reported."""
    driver = make_driver()
    decision = decide(driver, begin(driver, 1))
    step = forge_decided(driver, reason_code="APPROVAL_REQUIRED")
    error = violation(reason_code_iff_allow, driver)
    assert step == error.step
    assert f"{decision.id} is ALLOW with reason code 'APPROVAL_REQUIRED'" in error.detail


def test_reason_code_iff_allow_fires_for_an_allow_without_a_set_hash():
    """A Guardian that allows a tool with no rule gives an ALLOW without a set hash."""
    driver = make_driver(guardian_class=NoRuleAllowsGuardian)
    remove_sum_rule(driver)
    decision = decide(driver, begin(driver, None, tool="sum"))
    error = violation(reason_code_iff_allow, driver)
    expected = f"{decision.id} is ALLOW with reason code '' and requirement set hash ''"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_reason_code_iff_allow_fires_for_an_intent_issued_for_a_denial():
    """A Guardian that skips the verdict check issues an intent for a DENY decision."""
    driver = make_driver(guardian_class=VerdictBlindGuardian)
    call = begin(driver, 11)
    decision = decide(driver, call)
    act(driver, driver.issue_intent, decision, call.effect)
    error = violation(reason_code_iff_allow, driver)
    assert (driver.ghost.step, "an intent was issued for DENY decision") == (
        error.step,
        error.detail,
    )


# --- 18. error_budget_gate ----------------------------------------------------------------------


def test_error_budget_gate_holds_through_chaos_scenario_one():
    """Three admin injects reach 10; specs are created above 20 and gated below; other tokens
    change nothing."""
    driver = make_driver()
    statuses = [http(driver, "POST", SPECS_PATH, JSON, b'{"goal":"a"}')]
    statuses.append(http(driver, "POST", INJECT_PATH, USER, b""))
    statuses.append(http(driver, "POST", INJECT_PATH, {}, b""))
    statuses += [http(driver, "POST", INJECT_PATH, ADMIN, b"") for _ in range(2)]
    statuses.append(http(driver, "POST", SPECS_PATH, JSON, b'{"goal":"b"}'))
    statuses.append(http(driver, "POST", INJECT_PATH, ADMIN, b""))
    statuses.append(http(driver, "POST", SPECS_PATH, JSON, b'{"goal":"c"}'))
    statuses.append(http(driver, "POST", SPECS_PATH, JSON, b"not json"))
    statuses.append(http(driver, "GET", SPECS_PATH, JSON, b""))
    statuses.append(http(driver, "POST", INJECT_PATH, ADMIN, b'{"burn":50}'))
    assert ([201, 403, 401, 200, 200, 201, 200, 429, 429, 405, 200], 0) == (
        statuses,
        driver.kernel.error_budget.percent,
    )
    assert "BudgetExhausted" == driver.ghost.http[7].response_headers["X-Gate-Enforced"]
    holds(error_budget_gate, driver)


def test_error_budget_gate_holds_for_an_admin_inject_with_a_lowercase_header():
    """An admin inject sent with a lowercase ``authorization`` header (HTTP header names are
    case-insensitive) is an admin's change, not a violation."""
    driver = make_driver()
    status = http(driver, "POST", INJECT_PATH, {"authorization": f"Bearer {ADMIN_TOKEN}"}, b"")
    assert (200, 70) == (status, driver.kernel.error_budget.percent)
    holds(error_budget_gate, driver)


def test_error_budget_gate_fires_for_an_error_budget_changed_by_hand():
    """A kernel error budget that differs from the checker's is reported."""
    driver = make_driver()
    http(driver, "POST", INJECT_PATH, ADMIN, b"")
    driver.kernel.error_budget.percent = 55
    error = violation(error_budget_gate, driver)
    assert (driver.ghost.step, "the error budget is 55; the checker expects 70") == (
        error.step,
        error.detail,
    )


def test_error_budget_gate_fires_for_a_budget_below_zero():
    """An error budget that burns below zero is reported."""
    driver = make_driver(error_budget_class=UnflooredErrorBudget)
    for _ in range(4):
        http(driver, "POST", INJECT_PATH, ADMIN, b"")
    error = violation(error_budget_gate, driver)
    assert (driver.ghost.step, "the error budget is -20; the checker expects 0") == (
        error.step,
        error.detail,
    )


def test_error_budget_gate_fires_for_a_gate_left_open_below_20():
    """A gate that never closes creates a spec at 10 instead of answering 429."""
    driver = make_driver(error_budget_class=GatelessErrorBudget)
    for _ in range(3):
        http(driver, "POST", INJECT_PATH, ADMIN, b"")
    http(driver, "POST", SPECS_PATH, JSON, b'{"goal":"x"}')
    error = violation(error_budget_gate, driver)
    expected = f"POST {SPECS_PATH} answered 201 with the error budget at 10"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_error_budget_gate_fires_for_a_gate_closed_at_40():
    """A gate that closes below 50 answers 429 at 40."""
    driver = make_driver(error_budget_class=EagerGateErrorBudget)
    for _ in range(2):
        http(driver, "POST", INJECT_PATH, ADMIN, b"")
    http(driver, "POST", "/api/v1/workspaces/ws1/promotions", JSON, b'{"spec_id":"spec-000001"}')
    error = violation(error_budget_gate, driver)
    expected = "POST /api/v1/workspaces/ws1/promotions answered 429 with the error budget at 40"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_error_budget_gate_fires_for_a_gated_post_that_creates_something():
    """A surface that creates a spec behind a closed gate is caught."""
    driver = make_driver(surface_class=LeakyGateSurface)
    for _ in range(3):
        http(driver, "POST", INJECT_PATH, ADMIN, b"")
    http(driver, "POST", SPECS_PATH, JSON, b'{"goal":"x"}')
    error = violation(error_budget_gate, driver)
    assert (driver.ghost.step, f"a gated POST {SPECS_PATH} created something") == (
        error.step,
        error.detail,
    )


def test_error_budget_gate_fires_for_a_non_admin_inject():
    """A surface that lets a user inject chaos changes the budget without an admin."""
    driver = make_driver(surface_class=OpenInjectSurface)
    http(driver, "POST", INJECT_PATH, USER, b"")
    error = violation(error_budget_gate, driver)
    assert (driver.ghost.step, "the error budget changed without an admin inject") == (
        error.step,
        error.detail,
    )


# --- 19. malformed_input_rejected ---------------------------------------------------------------


def test_malformed_input_rejected_holds_for_every_first_failing_check():
    """Each malformed request gets the status of its first failing check and changes nothing;
    a schema violation is a 200 DENY that changes no budget."""
    driver = make_driver()
    valid = b'{"tool":"echo","args":{"x":1},"context":{"budget_id":"b0"}}'
    schema_invalid = b'{"tool":"echo","args":{"x":"1"},"context":{"budget_id":"b0"}}'
    unknown_tool = b'{"tool":"missing","args":{},"context":{"budget_id":"b0"}}'
    oversized = {**JSON, "Content-Length": str(2 * BODY_LIMIT)}
    requests = (
        ("POST", "/nowhere", oversized, valid),
        ("POST", "/nowhere", JSON, valid),
        ("GET", EXECUTE_PATH, JSON, valid),
        ("POST", EXECUTE_PATH, {"Authorization": "Bearer nobody-0123456789"}, valid),
        ("POST", EXECUTE_PATH, JSON, b'{"tool":"echo","tool":"sum","args":{}}'),
        ("POST", EXECUTE_PATH, JSON, b'{"tool":"echo","args":{"x":1.5}}'),
        ("POST", EXECUTE_PATH, JSON, b"[]"),
        ("POST", EXECUTE_PATH, JSON, schema_invalid),
        ("POST", EXECUTE_PATH, JSON, unknown_tool),
        ("POST", EXECUTE_PATH, JSON, valid),
        ("POST", INJECT_PATH, USER, b""),
        ("POST", INJECT_PATH, ADMIN, b'{"burn":0}'),
    )
    statuses = [http(driver, *request) for request in requests]
    assert [413, 404, 405, 401, 400, 400, 400, 200, 200, 200, 403, 400] == statuses
    assert [("DENY", "SCHEMA_VIOLATION"), ("DENY", "ERR_TOOL_NOT_FOUND"), ("ALLOW", "")] == [
        exchange.verdict for exchange in driver.ghost.http[7:10]
    ]
    holds(malformed_input_rejected, driver)


def test_malformed_input_rejected_fires_for_checks_in_the_wrong_order():
    """A surface that answers 404 before checking the size gives an oversized body the wrong
    status."""
    driver = make_driver(surface_class=PathFirstSurface)
    http(driver, "POST", "/nowhere", JSON, b"x" * (BODY_LIMIT + 1))
    error = violation(malformed_input_rejected, driver)
    expected = "POST /nowhere answered 404; the first check it fails gives 413"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


def test_malformed_input_rejected_fires_for_a_400_that_changes_state():
    """A surface that takes a call id before refusing malformed JSON changes the kernel."""
    driver = make_driver(surface_class=CountingSurface)
    http(driver, "POST", EXECUTE_PATH, JSON, b'{"tool":')
    error = violation(malformed_input_rejected, driver)
    assert (driver.ghost.step, f"a 400 for {EXECUTE_PATH} changed the kernel's state") == (
        error.step,
        error.detail,
    )


def test_malformed_input_rejected_fires_for_a_firewall_denial_that_charges_a_budget():
    """A Guardian that charges a budget on a firewall denial is caught over HTTP."""
    driver = make_driver(guardian_class=FirewallChargingGuardian)
    body = b'{"tool":"missing","args":{},"context":{"budget_id":"b0"}}'
    http(driver, "POST", EXECUTE_PATH, JSON, body)
    error = violation(malformed_input_rejected, driver)
    expected = "a firewall denial (('DENY', 'ERR_TOOL_NOT_FOUND')) changed state"
    assert (driver.ghost.step, expected) == (error.step, error.detail)


# --- 20. deterministic_replay -------------------------------------------------------------------


def run_script(driver: Driver) -> list[str]:
    """A short honest run; the kernel's state digest after each of its steps."""
    digests = []
    for operation, *args in (
        (driver.whole_call, "alice", "echo", {"x": 1}, {"session_id": "s0"}),
        (driver.set_guardian_time, 1_000),
        (driver.whole_call, "alice", "sum", {"a": 1}, {"budget_id": "b0"}),
        (driver.http, "POST", SPECS_PATH, JSON, b'{"goal":"x"}'),
    ):
        act(driver, operation, *args)
        digests.append(driver.kernel.state_digest())
    return digests


def test_deterministic_replay_holds_for_equal_digests():
    """Equal replayed and recorded digests hold."""
    driver = make_driver()
    digests = ["a" * 64, "b" * 64, "c" * 64]
    view = View(driver.kernel, driver.ghost, {}, full=True, replay=lambda: (digests, list(digests)))
    assert None is deterministic_replay(view)


def test_deterministic_replay_fires_at_the_first_differing_step():
    """The first step whose replayed digest differs is reported with both digests."""
    driver = make_driver()
    recorded = ["a" * 64, "b" * 64, "c" * 64]
    replayed = ["a" * 64, "d" * 64, "e" * 64]
    view = View(driver.kernel, driver.ghost, {}, full=True, replay=lambda: (replayed, recorded))
    with pytest.raises(InvariantViolation) as caught:
        deterministic_replay(view)
    expected = (
        "deterministic_replay",
        2,
        f"a fresh kernel replaying this run reaches state {'d' * 12}, not {'b' * 12}",
    )
    assert expected == (caught.value.invariant, caught.value.step, caught.value.detail)


def test_deterministic_replay_fires_for_a_replay_of_another_length():
    """A replay that runs fewer steps than the run is reported."""
    driver = make_driver()
    recorded = ["a" * 64, "b" * 64]
    view = View(driver.kernel, driver.ghost, {}, full=True, replay=lambda: (recorded[:1], recorded))
    with pytest.raises(InvariantViolation) as caught:
        deterministic_replay(view)
    assert (1, "the replay ran 1 steps, the run 2") == (caught.value.step, caught.value.detail)


def test_deterministic_replay_runs_only_in_a_full_check():
    """An incremental check never replays (the replay runs at the end of a machine run)."""
    driver = make_driver()
    calls = []

    def replay() -> tuple[list[str], list[str]]:
        calls.append(1)
        return ["a" * 64], ["b" * 64]

    checker = Checker(driver.kernel, driver.ghost)
    checker.check(deterministic_replay, replay=replay)
    assert [] == calls
    with pytest.raises(InvariantViolation):
        checker.check(deterministic_replay, full=True, replay=replay)
    assert [1] == calls


def test_deterministic_replay_holds_for_a_real_replay_into_a_fresh_kernel():
    """Replaying a run into a fresh honest kernel reaches the same digest after every step."""
    driver = make_driver()
    recorded = run_script(driver)
    view = View(
        driver.kernel,
        driver.ghost,
        {},
        full=True,
        replay=lambda: (run_script(make_driver()), recorded),
    )
    assert None is deterministic_replay(view)


def test_deterministic_replay_fires_for_counters_shared_between_kernels():
    """Kernels sharing one id counter (class-level state) replay to other digests from the
    first step."""

    class SharedIdsKernel(Kernel):
        """A kernel whose id counters are one object shared by every instance."""

        shared = IdCounters()

        def __init__(self, config=None):
            super().__init__(config)
            self.ids = self.guardian.ids = self.error_budget.ids = SharedIdsKernel.shared

    def fresh() -> Driver:
        driver = Driver.start(SharedIdsKernel, KernelConfig())
        driver.register_tool("echo", ECHO_SCHEMA)
        driver.register_tool("sum", SUM_SCHEMA, behaviour="sum")
        for tool in ("echo", "sum"):
            driver.put_rule(tool, RULES[tool])
        driver.create_budget("b0", 2)
        return driver

    driver = fresh()
    recorded = run_script(driver)
    view = View(
        driver.kernel, driver.ghost, {}, full=True, replay=lambda: (run_script(fresh()), recorded)
    )
    with pytest.raises(InvariantViolation) as caught:
        deterministic_replay(view)
    assert ("deterministic_replay", 1) == (caught.value.invariant, caught.value.step)


# --- 24. http_answer_faithful --------------------------------------------------------------------


def call_body(tool: str, x: int = 1) -> bytes:
    return b'{"tool":"%s","args":{"x":%d}}' % (tool.encode(), x)


def test_http_answer_faithful_fires_for_an_escalate_answered_as_a_deny():
    """alice's call of the approval tool is an ESCALATE; the answer may not call it a DENY."""
    driver = make_driver(surface_class=VerdictFromReasonSurface)
    assert 200 == http(driver, "POST", EXECUTE_PATH, {**JSON, **USER}, call_body("approve"))
    error = violation(http_answer_faithful, driver)
    assert (
        driver.ghost.step,
        "call-000001: the answer's verdict is 'DENY'; the call's is 'ESCALATE'",
    ) == (error.step, error.detail)


def test_http_answer_faithful_fires_for_an_execution_claimed_for_a_denial():
    """A denied call dispatched nothing: an answer that says it ran is false."""
    driver = make_driver(surface_class=ClaimsExecutionSurface)
    http(driver, "POST", EXECUTE_PATH, {**JSON, **USER}, call_body("echo", 50))
    error = violation(http_answer_faithful, driver)
    assert "call-000001: a DENY decision is answered 'executed' with intent None" == error.detail


def test_http_answer_faithful_fires_for_a_receipt_the_call_did_not_get():
    """An executed call's answer names its own receipt, not another."""
    driver = make_driver(surface_class=ClaimsExecutionSurface)
    http(driver, "POST", EXECUTE_PATH, {**JSON, **USER}, call_body("echo"))
    receipt = driver.ghost.executions[-1].receipt
    error = violation(http_answer_faithful, driver)
    assert error.detail.startswith(
        f"call-000001: the call ran with {receipt.receipt_id} (SUCCESS); answered"
    )


def test_http_answer_faithful_fires_for_a_request_that_runs_two_calls():
    driver = make_driver(surface_class=TwiceSurface)
    http(driver, "POST", EXECUTE_PATH, {**JSON, **USER}, call_body("echo"))
    assert "one request began 2 calls" == violation(http_answer_faithful, driver).detail


def test_http_answer_faithful_fires_for_a_200_that_hides_a_failed_closed_call():
    """No key can sign: the call fails closed and must be answered 503."""
    driver = make_driver(surface_class=HidesFailClosedSurface)
    act(driver, driver.set_signing, False)
    assert 200 == http(driver, "POST", EXECUTE_PATH, {**JSON, **USER}, call_body("echo"))
    assert (
        "call-000001 failed closed; answered 200" == violation(http_answer_faithful, driver).detail
    )


def test_http_answer_faithful_fires_for_an_answer_that_does_not_parse():
    """A 200 for a decided call whose body is not JSON is named, and the driver goes on."""
    driver = make_driver(surface_class=HidesFailClosedSurface)
    http(driver, "POST", EXECUTE_PATH, {**JSON, **USER}, call_body("echo"))
    driver.ghost.http[-1].response_body = b"{"
    assert violation(http_answer_faithful, driver).detail.startswith(
        "call-000001: the answer does not parse:"
    )
