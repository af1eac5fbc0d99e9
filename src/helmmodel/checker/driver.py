"""The driver: one method per kernel operation, each calling the kernel once and recording, in the
checker's ghost state, what was asked, the conditions at that moment, and what came back.

Machines stay thin by calling these methods; the invariants read what they record. The phases
return ``(value, outcome)``, every other method just the outcome: a small JSON object for the
trace (and for the coverage counts: verdicts, reason codes, refusal codes, HTTP statuses).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from helmmodel.checker.ghost import (
    Answer,
    Begun,
    Decided,
    ExecAttempt,
    FreezeSwitch,
    Ghost,
    HttpExchange,
    IntentAttempt,
    ReceiptCheck,
    ReleaseExchange,
    ReleaseRead,
    ReleaseVerification,
    ToolRegistration,
    schema_compiles,
)
from helmmodel.checker.http import Malformed, endpoint, expected_http_status, strict_json
from helmmodel.checker.policy import PolicyView, add_leaf_json, remove_leaf_json, rule_problem
from helmmodel.checker.refusals import (
    arguments_refused,
    budget_change_refused,
    expected_execution_code,
    expected_intent_code,
    guardian_time_valid,
    inject_refused,
    record_valid,
    release_receipt_valid,
    time_ms_valid,
    trust_key_importable,
)
from helmmodel.errors import (
    ExecutionRefused,
    FreezeRefused,
    IntentRefused,
    InvalidInput,
    ReceiptInvalid,
    SignerUnavailable,
    UsageError,
)
from helmmodel.kernel import Kernel, KernelConfig, KernelFactory
from helmmodel.kernel.guardian import PendingCall
from helmmodel.kernel.helm_api import HelmSurface, ReleaseConfig
from helmmodel.kernel.records import Decision, Effect, Intent, Receipt, Request
from helmmodel.kernel.semantics import FreezeReceipt

Outcome = dict[str, Any]

ADMIN_TOKEN = "admin-token-0123456789"
USER_TOKEN = "user-token-0123456789"
USER_PRINCIPAL = "alice"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

# The release's API as the driver attaches it under the release (spec 12, README "HELM's release
# API on the twin"): its keys, its one tenant and workspace, and the emergency-stop fence's
# audience and one command key, whose private seed the world holds to sign commands with. The
# principal is alice, so that an evaluation over HTTP can reach every verdict, as USER_TOKEN's.
RELEASE_ADMIN_KEY = "release-admin-key-0123456789"
RELEASE_SERVICE_KEY = "release-service-key-0123456789"
RELEASE_TENANT = "tenant-1"
RELEASE_PRINCIPAL = USER_PRINCIPAL
RELEASE_WORKSPACE = "ws-1"
FENCE_AUDIENCE = "helmmodel-twin"
FENCE_KEY_ID = "control-plane-1"
FENCE_KEY_SEED = hashlib.sha256(b"helmmodel fence command key").digest()


def release_config() -> ReleaseConfig:
    """The release's configuration the driver attaches: time is the Guardian's clock."""
    public = Ed25519PrivateKey.from_private_bytes(FENCE_KEY_SEED).public_key().public_bytes_raw()
    return ReleaseConfig(
        admin_key=RELEASE_ADMIN_KEY,
        service_key=RELEASE_SERVICE_KEY,
        tenant_id=RELEASE_TENANT,
        principal_id=RELEASE_PRINCIPAL,
        fence_audience=FENCE_AUDIENCE,
        fence_keys={FENCE_KEY_ID: public},
        workspace_id=RELEASE_WORKSPACE,
        clock=None,
    )


@attrs.frozen(kw_only=True)
class _Conditions:
    """What the checker knew just before a kernel operation: the conditions its records keep."""

    calls: int  # calls the kernel had begun
    frozen: bool
    signer: bool  # whether the checker's key record had a key that can sign
    policy: PolicyView
    budgets: dict[str, tuple[bool, int, int]]  # the checker's view of each budget it knows
    guardian_ms: int
    executor_ms: int
    dispatches: int  # dispatches the kernel had logged
    kernel_consumed: dict[str, int]  # the kernel's consumed, for each budget the checker knows


@attrs.frozen(kw_only=True)
class _Surface:
    """What a request may change, read from the kernel before or after it."""

    digest: str
    error_budget: int
    specs: int
    consumed: dict[str, int]
    epoch: int
    receipts: int


def decision_outcome(decision: Decision) -> Outcome:
    return {"verdict": decision.verdict, "reason_code": decision.reason_code}


def _answer(body: bytes) -> tuple[str, str] | None:
    """The (verdict, reason code) a governed call's 200 body reports, or None for a body that
    is no call's answer (the kernel's to explain, not the driver's to crash on)."""
    try:
        answer = strict_json(body)
    except Malformed:
        return None
    if not isinstance(answer, dict):
        return None
    verdict, reason = answer.get("verdict"), answer.get("reason_code")
    if not isinstance(verdict, str) or not isinstance(reason, str):
        return None
    return verdict, reason


class Driver:
    """A kernel and the checker's ghost state, advanced together one operation at a time."""

    def __init__(self, kernel: Kernel, ghost: Ghost) -> None:
        self.kernel = kernel
        self.ghost = ghost

    @classmethod
    def start(cls, factory: KernelFactory, config: KernelConfig) -> Driver:
        """A fresh kernel from *factory* and a ghost that knows its seed, tokens and TTL."""
        kernel = factory(config)
        ghost = Ghost.for_seed(config.seed, config.ttl_ms, config.keys_max)
        ghost.semantics = config.semantics
        ghost.guardian_ms = config.guardian_start_ms
        ghost.executor_ms = config.executor_start_ms
        driver = cls(kernel, ghost)
        kernel.tools.observe(ghost.record_dispatch)  # the tools' own log of what really ran
        kernel.add_token(ADMIN_TOKEN, "admin", frozenset({"admin"}))
        # The user's token speaks for alice, a principal the machines' policies name, so a call
        # over HTTP can reach every verdict (the approval tool's rule admits alice alone).
        kernel.add_token(USER_TOKEN, USER_PRINCIPAL)
        ghost.tokens.update({ADMIN_TOKEN: "admin", USER_TOKEN: USER_PRINCIPAL})
        ghost.admin_tokens.add(ADMIN_TOKEN)
        if ghost.release:
            kernel.surface.attach_release(HelmSurface(kernel, release_config()))
        return driver

    # --- set-up ---------------------------------------------------------------------------------

    def register_tool(
        self, name: str, schema: Any, approval: bool = False, behaviour: str = "echo"
    ) -> Outcome:
        """Allowlist (or replace) a tool; the checker judges the schema itself and updates its
        own table only when the kernel accepted a schema the checker finds compiling."""
        ghost = self.ghost
        compiles = schema_compiles(schema)
        replaced = name in ghost.tools
        try:
            self.kernel.register_tool(
                name, copy.deepcopy(schema), approval=approval, behaviour=behaviour
            )
            accepted = True
        except InvalidInput:
            accepted = False
        ghost.registrations.append(
            ToolRegistration(
                step=ghost.step,
                name=name,
                schema=schema,
                approval=approval,
                behaviour=behaviour,
                replaced=replaced,
                compiles=compiles,
                accepted=accepted,
            )
        )
        if not accepted:
            return {"registered": "refused"}
        if not compiles:  # the ghost keeps its table: the next begin shows the kernel wrong
            return {"registered": "invalid"}
        ghost.register_tool(name, copy.deepcopy(schema), approval)
        return {"registered": "replaced" if replaced else "new"}

    # --- helpers --------------------------------------------------------------------------------

    def _dispatch_count(self) -> int:
        return len(self.kernel.tools.dispatches)

    def _consumed(self, budget_id: str | None) -> int:
        budget = self.kernel.budgets.get(budget_id) if budget_id else None
        return budget.consumed if budget is not None else 0

    def _deltas(self, before: Mapping[str, int]) -> dict[str, int]:
        return {budget: self._consumed(budget) - n for budget, n in before.items()}

    def _refused(self, error: Exception) -> Outcome:
        return {"error": type(error).__name__}

    def _answered(
        self,
        operation: str,
        argument: Any,
        expected: bool,
        apply: Callable[[], Any],
        *,
        watch_state: bool = False,
    ) -> InvalidInput | None:
        """Apply an operation whose input the checker judged itself (*expected*: it must be
        accepted); record the judgement and the kernel's answer; return the refusal, if any.
        With *watch_state*, also whether a refusal changed the state digest (a refusal changes
        nothing); only fault rules ask, so ordinary steps pay for no extra digests."""
        before = self.kernel.state_digest() if watch_state else None
        refusal = None
        try:
            apply()
        except InvalidInput as error:
            refusal = error
        changed = (
            refusal is not None and before is not None and self.kernel.state_digest() != before
        )
        self.ghost.answers.append(
            Answer(
                step=self.ghost.step,
                operation=operation,
                argument=argument,
                expected=expected,
                accepted=refusal is None,
                changed=changed,
            )
        )
        return refusal

    # --- the phases -----------------------------------------------------------------------------

    def begin(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> tuple[PendingCall | None, Outcome]:
        """Phase 1 on a request built from drawn values (a bad draw is refused, not begun)."""
        try:
            request = Request(principal, tool, args, context)
        except InvalidInput as error:
            return None, self._refused(error)
        before = self._conditions()
        call = self.kernel.begin(request)
        self._record_begun(before, call.call_id, request, call.effect)
        return call, {"begun": call.verdict, "reason_code": call.reason_code}

    def decide(self, call: PendingCall) -> tuple[Decision | None, Outcome]:
        """Phase 2: a signed decision, or None when the evaluation failed closed."""
        begun = self.ghost.begun_by_call.get(call.call_id)
        if begun is None:
            raise UsageError(f"{call.call_id} was not begun through this driver")
        before = self._conditions()
        try:
            decision: Decision | None = self.kernel.decide(call)
            outcome = decision_outcome(decision)  # type: ignore[arg-type]
        except SignerUnavailable:
            decision, outcome = None, {"fail_closed": "SIGNER_UNAVAILABLE"}
        self._record_decided(before, call, begun, decision)
        return decision, outcome

    def issue_intent(
        self, decision: Decision, effect: Effect, *, fault: bool = False
    ) -> tuple[Intent | None, Outcome]:
        """Phase 3. A *fault* (an artifact the machine changed, forged or mismatched) is recorded
        with the refusal the checker's own order predicts ("" when it must be granted)."""
        expected_code = None
        if fault:
            expected_code = expected_intent_code(self.ghost, decision, effect) or ""
        before = self._conditions()
        intent, code = None, None
        try:
            intent = self.kernel.issue_intent(decision, effect)
            outcome: Outcome = {"intent": "issued"}
        except IntentRefused as refusal:
            code = refusal.code
            outcome = {"intent_refused": refusal.code}
        self.ghost.intents.append(
            IntentAttempt(
                step=self.ghost.step,
                decision=decision,
                effect=effect,
                intent=intent,
                code=code,
                frozen=before.frozen,
                policy=before.policy,
                guardian_ms=before.guardian_ms,
                expected_code=expected_code,
            )
        )
        return intent, outcome

    def execute(
        self,
        decision: Decision | None,
        intent: Intent | None,
        effect: Effect | None,
        *,
        fault: bool = False,
    ) -> tuple[Receipt | None, Outcome]:
        """Phase 4. A *fault* (an artifact the machine changed, forged, mismatched or left out)
        is recorded with the refusal the checker's own order predicts ("" when it must run)."""
        expected_code = None
        if fault:
            expected_code = expected_execution_code(self.ghost, decision, intent, effect) or ""
        before = self._conditions()
        receipt, code = None, None
        try:
            receipt = self.kernel.execute(decision, intent, effect)
            outcome: Outcome = {"executed": receipt.status}
        except ExecutionRefused as refusal:
            code = refusal.code
            outcome = {"execution_refused": refusal.code}
        self._record_execution(
            before, decision, intent, effect, receipt, code, expected_code=expected_code
        )
        return receipt, outcome

    def verify_receipt(self, receipt: Receipt) -> Outcome:
        """Present a receipt to the kernel's verifier; the checker predicts the answer itself."""
        expected = record_valid(self.ghost, receipt)
        try:
            self.kernel.verify_receipt(receipt)
            accepted = True
        except ReceiptInvalid:
            accepted = False
        self.ghost.receipt_checks.append(
            ReceiptCheck(
                step=self.ghost.step, receipt=receipt, accepted=accepted, expected_accept=expected
            )
        )
        return {"receipt": "accepted" if accepted else "RECEIPT_SIGNATURE_INVALID"}

    def whole_call(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> Outcome:
        """Every phase through ``Kernel.call``; the checker records each phase it implies."""
        try:
            request = Request(principal, tool, args, context)
        except InvalidInput as error:
            return self._refused(error)
        before = self._conditions()
        result = self.kernel.call(request)
        self._after_calls(before, {result.call_id: request})
        if result.fail_closed:
            return {"fail_closed": "SIGNER_UNAVAILABLE"}
        assert result.decision is not None
        outcome = decision_outcome(result.decision)
        if result.refusal_code:
            outcome[f"{result.refusal_stage}_refused"] = result.refusal_code
        elif result.receipt is not None:
            outcome["executed"] = result.receipt.status
        return outcome

    # Whole calls (through Kernel.call or HTTP) run their phases inside the kernel. The checker
    # learns of them afterwards, from the calls the kernel began during the step, and records
    # each phase with the conditions of this step (nothing else ran in between).

    def _after_calls(self, before: _Conditions, requests: Mapping[str, Request] | None) -> None:
        """Record the phases of each call the kernel began since *before* (*requests*, when
        given, are the requests sent, by call id: a call must record the one it was sent)."""
        for call in list(self.kernel.guardian.calls.values())[before.calls :]:
            request = call.request
            if requests is not None and requests.get(call.call_id, request) != request:
                raise UsageError(f"{call.call_id} records another request than the one sent")
            begun = self._record_begun(before, call.call_id, request, call.effect)
            decision = call.decision
            self._record_decided(before, call, begun, decision)
            if decision is None or decision.verdict != "ALLOW":
                continue
            receipt = self.kernel.executor.executed.get(decision.id)
            if receipt is not None and self._dispatch_count() != before.dispatches:
                window = (before.guardian_ms, before.guardian_ms + self.ghost.ttl_ms)
                self._record_execution(
                    before, decision, None, call.effect, receipt, None, window=window
                )

    # --- recording: each phase is recorded here, whether the machine ran it alone or in a whole
    # call, so that every path fills every field the same way.

    def _conditions(self) -> _Conditions:
        """The conditions now, taken just before the kernel operation a record will describe."""
        ghost = self.ghost
        return _Conditions(
            calls=len(self.kernel.guardian.calls),
            frozen=ghost.frozen,
            signer=ghost.keys.signer() is not None,
            policy=ghost.policy(),
            budgets={b: ghost.budget_view(b) for b in ghost.budget_limits},  # type: ignore[misc]
            guardian_ms=ghost.guardian_ms,
            executor_ms=ghost.executor_ms,
            dispatches=self._dispatch_count(),
            kernel_consumed={b: self._consumed(b) for b in ghost.budget_limits},
        )

    def _record_begun(
        self, before: _Conditions, call_id: str, request: Request, effect: Effect
    ) -> Begun:
        """Record a *begin*, with the budget view of the budget its request names."""
        ghost = self.ghost
        budget = None
        if request.budget_id is not None:
            budget = before.budgets.get(request.budget_id, (False, 0, 0))
        begun = Begun(
            step=ghost.step,
            call_id=call_id,
            request=request,
            effect=effect,
            frozen=before.frozen,
            policy=before.policy,
            budget=budget,
            tools=ghost.tools,
        )
        ghost.begun.append(begun)
        ghost.begun_by_call[call_id] = begun
        return begun

    def _record_decided(
        self, before: _Conditions, call: PendingCall, begun: Begun, decision: Decision | None
    ) -> None:
        """Record a *decide*, and charge the checker's ledger for an ALLOW of a budgeted call."""
        ghost = self.ghost
        budget_id = call.request.budget_id
        budget_before = None
        delta = 0
        if budget_id is not None:
            if budget_id in before.budgets:
                limit = before.budgets[budget_id][2]
                budget_before = (ghost.budget_charged.get(budget_id, 0), limit)
            delta = self._consumed(budget_id) - before.kernel_consumed.get(budget_id, 0)
        ghost.decided.append(
            Decided(
                step=ghost.step,
                begun=begun,
                decision=decision,
                frozen=before.frozen,
                signer=before.signer,
                budget_before=budget_before,
                kernel_consumed_delta=delta,
                budget_deltas=self._deltas(before.kernel_consumed),
                begin_code=call.reason_code,
            )
        )
        if decision is not None and decision.verdict == "ALLOW" and budget_id is not None:
            ghost.budget_charged[budget_id] = ghost.budget_charged.get(budget_id, 0) + 1
        if decision is not None and ghost.release:
            # Spec 12.1: the decision's receipt ends its session's chain (the context's session,
            # else the principal).
            session = call.request.context.get("session_id")
            session = session if isinstance(session, str) else call.request.principal
            ghost.chain(session, f"rcpt-{decision.id}-decision")

    def _record_execution(
        self,
        before: _Conditions,
        decision: Decision | None,
        intent: Intent | None,
        effect: Effect | None,
        receipt: Receipt | None,
        code: str | None,
        *,
        expected_code: str | None = None,
        window: tuple[int, int] | None = None,
    ) -> None:
        """Record an *execute*, with the dispatches the kernel logged since *before*."""
        if receipt is not None and self.ghost.release:
            # Its decision's chain, after the decision's receipt (spec 12.1).
            self.ghost.chain(receipt.session_id, receipt.receipt_id)
        self.ghost.executions.append(
            ExecAttempt(
                step=self.ghost.step,
                decision=decision,
                intent=intent,
                effect=effect,
                receipt=receipt,
                code=code,
                frozen=before.frozen,
                executor_ms=before.executor_ms,
                dispatched=self._dispatch_count() - before.dispatches,
                expected_code=expected_code,
                window=window,
            )
        )

    # --- mutations, switches, clocks, keys, budgets ---------------------------------------------

    def put_rule(self, tool: str, rule: dict[str, Any]) -> Outcome:
        """Put *rule* for *tool*; the checker keeps its own copy of it (invalid, for the checker,
        when its own reading of the spec refuses the rule)."""
        kernel_rule = copy.deepcopy(rule)
        rules = None
        if rule_problem(rule) is None:
            rules = {**self.ghost.rules, tool: copy.deepcopy(rule)}
        return self.mutate_policy("put", lambda: self.kernel.put_rule(tool, kernel_rule), rules)

    def remove_rule(self, tool: str) -> Outcome:
        """Remove *tool*'s rule (invalid, for the checker, when it knows no rule for *tool*)."""
        rules = None
        if tool in self.ghost.rules:
            rules = {k: v for k, v in self.ghost.rules.items() if k != tool}
        return self.mutate_policy("remove", lambda: self.kernel.remove_rule(tool), rules)

    def add_leaf(self, tool: str, set_id: str, leaf_id: str, predicate: list[Any]) -> Outcome:
        """Add a leaf to the set *set_id* of *tool*'s rule, and to the checker's own copy."""
        rules = None
        if tool in self.ghost.rules:
            leaf = {"id": leaf_id, "predicate": predicate}
            rule = add_leaf_json(self.ghost.rules[tool], set_id, leaf)
            rules = {**self.ghost.rules, tool: rule} if rule is not None else None
        return self.mutate_policy(
            "add_leaf", lambda: self.kernel.add_leaf(tool, set_id, leaf_id, predicate), rules
        )

    def remove_leaf(self, tool: str, set_id: str, leaf_id: str) -> Outcome:
        """Remove a leaf from the set *set_id* of *tool*'s rule, and from the checker's copy."""
        rules = None
        if tool in self.ghost.rules:
            rule = remove_leaf_json(self.ghost.rules[tool], set_id, leaf_id)
            rules = {**self.ghost.rules, tool: rule} if rule is not None else None
        return self.mutate_policy(
            "remove_leaf", lambda: self.kernel.remove_leaf(tool, set_id, leaf_id), rules
        )

    def mutate_policy(
        self, change: str, apply: Callable[[], None], rules: dict[str, Any] | None
    ) -> Outcome:
        """Apply a policy mutation. *rules* is the checker's own copy of the rules after it, or
        None when the checker judges it invalid: then the ghost keeps its rules and epoch even
        if the kernel accepts, and the next decision shows the kernel's policy wrong."""
        try:
            apply()
        except InvalidInput as error:
            return self._refused(error)
        if rules is None:
            return {"policy": change, "accepted": "invalid"}
        self.ghost.set_rules(rules)
        return {"policy": change, "epoch": self.ghost.epoch}

    def set_frozen(self, frozen: bool) -> Outcome:
        return self._switch(frozen, lambda: self.kernel.set_frozen(frozen))

    def set_frozen_shorthand(self, frozen: bool) -> Outcome:
        """The switch through the spec's named operations, ``freeze()`` and ``unfreeze()``."""
        return self._switch(frozen, self.kernel.freeze if frozen else self.kernel.unfreeze)

    def _switch(self, frozen: bool, apply: Callable[[], FreezeReceipt | None]) -> Outcome:
        """Freeze or unfreeze; under the release, record the transition for the checker to
        judge (its receipt, or its refusal when the kernel is already so: spec 12.3)."""
        ghost = self.ghost
        if not ghost.release:
            apply()
            ghost.frozen = frozen
            return {"frozen": frozen}
        receipt, code = None, None
        try:
            receipt = apply()
        except FreezeRefused as refusal:
            code = refusal.code
        ghost.freeze_switches.append(
            FreezeSwitch(
                step=ghost.step,
                frozen=frozen,
                was_frozen=ghost.frozen,
                guardian_ms=ghost.guardian_ms,
                receipt=receipt,
                code=code,
            )
        )
        if code is not None:
            return {"frozen": frozen, "refused": code}
        ghost.frozen = frozen
        return {"frozen": frozen}

    def present_arguments(
        self, operation: str, values: dict[str, Any], apply: Callable[[], object]
    ) -> Outcome:
        """Call *apply* (an *operation* on *values*), which the checker's own judgement of
        *values* says must be refused, and record the kernel's answer and whether it changed
        the state. Fault rules present only arguments the checker refuses: accepting one would
        change the kernel in a way the ghost does not follow."""
        if not arguments_refused(operation, values):
            raise UsageError(f"{operation} {values!r}: a fault rule presents refused arguments")
        refusal = self._answered(operation, values, False, apply, watch_state=True)
        # A refusal counts as the error it is, as every other refused argument does.
        if refusal is not None:
            return {"arguments": operation, "error": "InvalidInput"}
        return {"arguments": operation}

    def set_guardian_time(self, now_ms: Any) -> Outcome:
        """Set the Guardian's clock; a time the checker finds outside the spec's range must be
        refused, and then the ghost keeps its time."""
        valid = guardian_time_valid(now_ms, self.ghost.ttl_ms)
        return self._set_time("guardian", now_ms, valid, self.kernel.set_guardian_time)

    def set_executor_time(self, now_ms: Any) -> Outcome:
        """Set the executor's clock, judged as set_guardian_time judges the Guardian's."""
        return self._set_time(
            "executor", now_ms, time_ms_valid(now_ms), self.kernel.set_executor_time
        )

    def _set_time(
        self, clock: str, now_ms: Any, valid: bool, apply: Callable[[Any], Any]
    ) -> Outcome:
        """Set *clock* (``guardian`` or ``executor``) to *now_ms*, which the checker judged
        *valid*; the ghost follows only a time the spec's clock may hold."""
        refusal = self._answered(f"set_{clock}_time", now_ms, valid, lambda: apply(now_ms))
        if refusal is not None:
            return self._refused(refusal)
        if not valid:  # the ghost keeps its time: the spec's clock never held this one
            return {f"{clock}_ms": now_ms, "accepted": "invalid"}
        setattr(self.ghost, f"{clock}_ms", now_ms)
        return {f"{clock}_ms": now_ms}

    def set_signing(self, available: bool) -> Outcome:
        keys = self.ghost.keys
        if available:
            self.kernel.restore_signing()
            keys.private = {k for k in keys.public if k not in keys.revoked_at}
        else:
            self.kernel.remove_signing()
            keys.private = set()
        return {"signing": available}

    def rotate_key(self) -> Outcome:
        """Rotate; past the configured limit of keys the checker expects a refusal, and then
        the ghost makes no key."""
        keys = self.ghost.keys
        made: list[str] = []
        allowed = keys.count < keys.keys_max
        keys.rotated_past_limit |= not allowed
        refusal = self._answered(
            "rotate_key", keys.count, allowed, lambda: made.append(self.kernel.rotate_key())
        )
        if refusal is not None:
            return self._refused(refusal)
        if not allowed:  # the ghost keeps its keys: the next signature shows the kernel wrong
            return {"rotated": made[0], "accepted": "invalid"}
        key_id = made[0]
        expected = keys.derive()
        if key_id != expected:
            raise UsageError(f"the kernel made key {key_id}, the checker expected {expected}")
        return {"rotated": key_id}

    def revoke_key(self, key_id: str) -> Outcome:
        try:
            self.kernel.revoke_key(key_id)
        except InvalidInput as error:
            return self._refused(error)
        keys = self.ghost.keys
        keys.revoked_at.setdefault(key_id, self.ghost.step)
        keys.private.discard(key_id)
        return {"revoked": key_id}

    # The ghost follows the checker's own judgement of a budget change or an inject, not the
    # kernel's answer: a kernel that refuses a good one or takes a bad one parts from the ghost,
    # and the budget and error-budget invariants see it.

    def create_budget(self, budget_id: Any, limit: Any) -> Outcome:
        refused = budget_change_refused(self.ghost, budget_id, limit, create=True)
        try:
            self.kernel.create_budget(budget_id, limit)
            outcome: Outcome = {"budget": budget_id}
        except InvalidInput as error:
            outcome = self._refused(error)
        if not refused:
            self.ghost.budget_limits[budget_id] = limit
        return outcome

    def set_budget_limit(self, budget_id: Any, limit: Any) -> Outcome:
        refused = budget_change_refused(self.ghost, budget_id, limit, create=False)
        try:
            self.kernel.set_budget_limit(budget_id, limit)
            outcome: Outcome = {"budget_limit": limit}
        except InvalidInput as error:
            outcome = self._refused(error)
        if not refused:
            self.ghost.budget_limits[budget_id] = limit
        return outcome

    def inject_chaos(self, burn: Any) -> Outcome:
        """The console's inject called directly, not through its endpoint."""
        try:
            budget, _ = self.kernel.inject_chaos(burn)
            outcome: Outcome = {"error_budget": budget}
        except InvalidInput as error:
            outcome = self._refused(error)
        if not inject_refused(burn):
            self.ghost.error_budget = max(0, self.ghost.error_budget - burn)
        return outcome

    # --- the request surface --------------------------------------------------------------------

    def http(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Outcome:
        """One request through ``handle``, recorded with the state before and after."""
        ghost = self.ghost
        before_calls = self._conditions()
        budgets = list(ghost.budget_limits)
        before = self._surface(budgets)
        expected_status = expected_http_status(ghost, method, path, headers, body)
        response = self.kernel.handle(method, path, headers, body)
        after = self._surface(budgets)
        exchange = HttpExchange(
            step=ghost.step,
            method=method,
            path=path,
            headers=dict(headers),
            body=body,
            status=response.status,
            response_headers=dict(response.headers),
            response_body=response.body,
            digest_before=before.digest,
            digest_after=after.digest,
            error_budget_before=before.error_budget,
            error_budget_after=after.error_budget,
            specs_before=before.specs,
            specs_after=after.specs,
            consumed_before=before.consumed,
            consumed_after=after.consumed,
            epoch_before=before.epoch,
            epoch_after=after.epoch,
            receipts_before=before.receipts,
            receipts_after=after.receipts,
            expected_status=expected_status,
        )
        outcome: Outcome = {"http": response.status}
        if response.status in (200, 503) and endpoint(path) == ("POST", "execute"):
            decided, executions = len(ghost.decided), len(ghost.executions)
            self._after_calls(before_calls, None)
            exchange.decided = ghost.decided[decided:]
            exchange.executions = ghost.executions[executions:]
            if response.status == 200:
                answer = _answer(response.body)
                if answer is not None:  # else http_answer_faithful names the body
                    exchange.verdict = answer
                    outcome.update(verdict=answer[0], reason_code=answer[1])
        ghost.http.append(exchange)
        self._follow_error_budget(exchange)
        return outcome

    def _surface(self, budgets: Sequence[str]) -> _Surface:
        kernel = self.kernel
        return _Surface(
            digest=kernel.state_digest(),
            error_budget=kernel.error_budget.percent,
            specs=len(kernel.error_budget.specs),
            consumed={budget: self._consumed(budget) for budget in budgets},
            epoch=kernel.policy.epoch,
            receipts=sum(len(chain) for chain in kernel.chains.chains.values()),
        )

    def _follow_error_budget(self, exchange: HttpExchange) -> None:
        """Advance the checker's error budget and spec list from what a request should do."""
        ghost = self.ghost
        found = endpoint(exchange.path)
        if found == ("POST", "inject") and exchange.status == 200:
            burn = 30 if not exchange.body else strict_json(exchange.body)["burn"]
            ghost.error_budget = max(0, ghost.error_budget - burn)
        elif found == ("POST", "specs") and exchange.status == 201:
            ghost.specs.add(strict_json(exchange.response_body)["id"])

    # --- the release's facade and API (spec 12) -------------------------------------------------

    def evaluate(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> Outcome:
        """``Kernel.evaluate``: *begin* and *decide* in one step, recorded as both phases."""
        try:
            request = Request(principal, tool, args, context)
        except InvalidInput as error:
            return self._refused(error)
        before = self._conditions()
        try:
            decision: Decision | None = self.kernel.evaluate(request)
        except SignerUnavailable:
            decision = None
        self._after_calls(before, None)
        if decision is None:
            return {"fail_closed": "SIGNER_UNAVAILABLE"}
        return decision_outcome(decision)

    def _read(
        self, operation: str, argument: str | None, known: Any, apply: Callable[[], Any]
    ) -> Outcome:
        """A facade read, recorded with what the checker knew when it was asked."""
        record = ReleaseRead(
            step=self.ghost.step, operation=operation, argument=argument, known=known
        )
        try:
            record.answer = apply()
        except InvalidInput as error:
            record.error = type(error).__name__
        self.ghost.release_reads.append(record)
        if record.error is not None:
            return {"read": operation, "error": record.error}
        return {"read": operation, "found": record.answer is not None}

    def sessions(self) -> Outcome:
        return self._read("sessions", None, sorted(self.ghost.chains), self.kernel.sessions)

    def session_receipts(self, session_id: str) -> Outcome:
        known = list(self.ghost.chains.get(session_id, ()))
        return self._read(
            "session_receipts", session_id, known, lambda: self.kernel.session_receipts(session_id)
        )

    def receipt(self, receipt_id: str) -> Outcome:
        known = receipt_id in self.ghost.chained
        return self._read("receipt", receipt_id, known, lambda: self.kernel.receipt(receipt_id))

    def receipt_wire(self, receipt_id: str) -> Outcome:
        known = receipt_id in self.ghost.chained
        return self._read(
            "receipt_wire", receipt_id, known, lambda: self.kernel.receipt_wire(receipt_id)
        )

    def public_key(self, key_id: str) -> Outcome:
        known = self.ghost.keys.held(key_id)
        return self._read("public_key", key_id, known, lambda: self.kernel.public_key(key_id))

    def import_trust_key(self, key_id: str, public: bytes) -> Outcome:
        """Import a trust key; the checker judges it (spec 12.6) and follows its own judgement."""
        keys = self.ghost.keys
        importable = trust_key_importable(keys, key_id, public)
        refusal = self._answered(
            "import_trust_key",
            key_id,
            importable,
            lambda: self.kernel.import_trust_key(key_id, public),
            watch_state=True,
        )
        if importable:
            keys.trusted[key_id] = public
        if refusal is not None:
            return self._refused(refusal)
        return {"trust_key": key_id}

    def verify_release_receipt(self, envelope: Any) -> Outcome:
        """Present a receipt.v5 envelope; the checker verifies it with its own code first."""
        expected = release_receipt_valid(self.ghost.keys, envelope)
        try:
            self.kernel.verify_release_receipt(copy.deepcopy(envelope))
            accepted, outcome = True, {"release_receipt": "accepted"}
        except ReceiptInvalid as error:
            accepted, outcome = False, {"release_receipt": error.code}
        self.ghost.release_verifications.append(
            ReleaseVerification(
                step=self.ghost.step,
                envelope=envelope,
                expected_accept=expected,
                accepted=accepted,
            )
        )
        return outcome

    def release_http(
        self, method: str, path: str, headers: dict[str, str], body: bytes, *, trust: str = ""
    ) -> Outcome:
        """One request to the release's API. *trust* names a trust key route (``add`` or
        ``revoke``) whose effect on the ring the checker follows by its own judgement."""
        ghost = self.ghost
        before = self._conditions()
        digest_before = self.kernel.state_digest()
        expected_status, follow = self._trust_judgement(trust, headers, body)
        response = self.kernel.handle(method, path, headers, body)
        exchange = ReleaseExchange(
            step=ghost.step,
            method=method,
            path=path,
            body=body,
            status=response.status,
            response_body=response.body,
            digest_before=digest_before,
            digest_after=self.kernel.state_digest(),
            expected_status=expected_status,
        )
        decided = len(ghost.decided)
        self._after_calls(before, None)
        exchange.decided = ghost.decided[decided:]
        if follow is not None:
            follow()
        if path.startswith("/internal/emergency-stop/fence") and response.status == 201:
            self._follow_fence(body)
        exchange.chains = {session: list(ids) for session, ids in ghost.chains.items()}
        ghost.release_http.append(exchange)
        return {"http": response.status}

    def _trust_judgement(
        self, trust: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int | None, Callable[[], None] | None]:
        """For a trust key route the machine authorized with a well-formed body: the status the
        checker's judgement gives and how the checker's key record follows it."""
        keys = self.ghost.keys
        if not trust or headers.get("Authorization") != f"Bearer {RELEASE_ADMIN_KEY}":
            return None, None
        try:
            value = strict_json(body)
        except Malformed:
            return None, None
        if not isinstance(value, dict):
            return None, None
        key_id, public = value.get("key_id"), value.get("public_key")
        if not isinstance(key_id, str) or not key_id or not value.get("tenant_id"):
            return None, None
        step = self.ghost.step
        if trust == "revoke":
            if key_id not in keys.trusted:  # unknown ids and the kernel's own keys: left alone
                return 200, None

            def revoke() -> None:
                keys.revoked_at.setdefault(key_id, step)
                keys.api_revoked.add(key_id)

            return 200, revoke
        if not isinstance(public, str) or _HEX64.fullmatch(public) is None:
            return None, None
        raw = bytes.fromhex(public)
        if key_id in keys.api_revoked:
            return 400, None
        if keys.trusted.get(key_id) == raw:
            return 200, None
        if not trust_key_importable(keys, key_id, raw):
            return 400, None
        return 200, lambda: keys.trusted.__setitem__(key_id, raw)

    def _follow_fence(self, body: bytes) -> None:
        """A fence created for the served scope freezes the kernel (spec 12.2, 12.9)."""
        command = strict_json(body).get("command", {})
        if (command.get("tenant_id"), command.get("workspace_id")) == (
            RELEASE_TENANT,
            RELEASE_WORKSPACE,
        ):
            self.ghost.frozen = True
