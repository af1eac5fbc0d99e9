"""The Kernel facade: the components composed, each operation atomic, safe from many threads.

Every public method takes one kernel-wide lock, so each phase of a call and each mutation is
atomic; :meth:`Kernel.call` runs the phases one after another, *releasing the lock between them*,
so a mutation from another thread may land between two phases of a call, exactly as the spec's
phase model allows (and as the state machines explore deliberately).

Components are built from class attributes (``guardian_class`` and so on), so a mutant kernel is
a subclass that swaps one component class or overrides one method.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs

from helmmodel.canonical import SAFE_INTEGER_MAX, JSONValue
from helmmodel.errors import (
    ExecutionRefused,
    IntentRefused,
    InvalidInput,
    ReceiptInvalid,
    SignatureInvalid,
    SignerUnavailable,
)
from helmmodel.kernel.api import RequestSurface, Response
from helmmodel.kernel.budgets import RequestBudgets
from helmmodel.kernel.clock import SimClock, check_time_ms
from helmmodel.kernel.error_budget import ErrorBudget
from helmmodel.kernel.executor import SafeExecutor
from helmmodel.kernel.guardian import DEFAULT_TTL_MS, Guardian, PendingCall
from helmmodel.kernel.helm_receipt import verify_helm_receipt
from helmmodel.kernel.ids import IdCounters
from helmmodel.kernel.key_ring import KEYS_MAX, KeyRing
from helmmodel.kernel.policy_graph import PolicyGraph, Requirement, RequirementSet, build_set
from helmmodel.kernel.proofgraph import ProofGraph, ReceiptChains
from helmmodel.kernel.records import (
    ALLOW,
    CallOutcome,
    Decision,
    Effect,
    Intent,
    Principal,
    Receipt,
    Request,
)
from helmmodel.kernel.semantics import CHAOS_PAGE, FreezeReceipt, Semantics, semantics_named
from helmmodel.kernel.tools import ToolTable

RECEIPT_SIGNATURE_INVALID = "RECEIPT_SIGNATURE_INVALID"

P = ParamSpec("P")
R = TypeVar("R")


def atomic(method: Callable[Concatenate[Kernel, P], R]) -> Callable[Concatenate[Kernel, P], R]:
    """Run *method* under the kernel's lock."""

    def locked(self: Kernel, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    functools.update_wrapper(locked, method)
    return locked


@attrs.frozen
class KernelConfig:
    """What a kernel is made from; two kernels of equal configs behave identically."""

    seed: bytes = b"helmmodel"
    ttl_ms: int = DEFAULT_TTL_MS
    guardian_start_ms: int = 0
    executor_start_ms: int = 0
    keys_max: int = KEYS_MAX  # how many keys the ring may make, rotations included
    semantics: str = CHAOS_PAGE  # which kernel: the chaos page's or HELM's release (section 12)

    def __attrs_post_init__(self) -> None:
        semantics_named(self.semantics)
        if type(self.seed) is not bytes or not self.seed:
            raise InvalidInput(f"the kernel seed must be non-empty bytes, not {self.seed!r}")
        if type(self.ttl_ms) is not int or self.ttl_ms <= 0:
            raise InvalidInput(f"ttl_ms must be a positive integer, not {self.ttl_ms!r}")
        check_time_ms(self.guardian_start_ms, "guardian_start_ms")
        check_time_ms(self.executor_start_ms, "executor_start_ms")
        if type(self.keys_max) is not int or not 1 <= self.keys_max <= KEYS_MAX:
            raise InvalidInput(
                f"keys_max must be an integer in 1..{KEYS_MAX}, not {self.keys_max!r}"
            )


class Kernel:
    """The HELM kernel model: Guardian, SafeExecutor, key ring, budgets, ProofGraph."""

    tool_table_class: type[ToolTable] = ToolTable
    policy_graph_class: type[PolicyGraph] = PolicyGraph
    key_ring_class: type[KeyRing] = KeyRing
    budgets_class: type[RequestBudgets] = RequestBudgets
    proofgraph_class: type[ProofGraph] = ProofGraph
    chains_class: type[ReceiptChains] = ReceiptChains
    guardian_class: type[Guardian] = Guardian
    executor_class: type[SafeExecutor] = SafeExecutor
    error_budget_class: type[ErrorBudget] = ErrorBudget
    surface_class: type[RequestSurface] = RequestSurface

    def __init__(self, config: KernelConfig | None = None) -> None:
        self.config = config or KernelConfig()
        self.lock = threading.RLock()
        self.ids = IdCounters()
        self.tools = self.tool_table_class()
        self.policy = self.policy_graph_class()
        self.keys = self.key_ring_class(self.config.seed, self.config.keys_max)
        self.budgets = self.budgets_class()
        self.guardian_clock = SimClock(self.config.guardian_start_ms)
        self.executor_clock = SimClock(self.config.executor_start_ms)
        # The ProofGraph stamps nodes (outside their hashes) with the Guardian's time.
        self.graph = self.proofgraph_class(self.guardian_clock)
        self.chains = self.chains_class()
        self.error_budget = self.error_budget_class(self.ids)
        self.tokens: dict[str, Principal] = {}
        self.semantics: Semantics = semantics_named(self.config.semantics)
        self.guardian = self.guardian_class(
            tools=self.tools,
            policy=self.policy,
            keys=self.keys,
            budgets=self.budgets,
            clock=self.guardian_clock,
            graph=self.graph,
            ids=self.ids,
            ttl_ms=self.config.ttl_ms,
            chains=self.chains,
            semantics=self.semantics,
        )
        self.executor = self.executor_class(
            guardian=self.guardian,
            tools=self.tools,
            keys=self.keys,
            chains=self.chains,
            graph=self.graph,
            clock=self.executor_clock,
        )
        self.surface = self.surface_class(self)

    # --- configuration: tools and tokens -------------------------------------------------------

    @atomic
    def register_tool(
        self,
        name: str,
        schema: Mapping[str, Any],
        *,
        approval: bool = False,
        behaviour: str = "echo",
    ) -> None:
        """Allowlist a tool; a schema that does not compile is refused and nothing changes."""
        self.tools.register(name, schema, approval=approval, behaviour=behaviour)

    @atomic
    def add_token(self, token: str, principal: str, roles: frozenset[str] = frozenset()) -> None:
        """Let bearer *token* stand for *principal* with *roles*."""
        if type(token) is not str or not 16 <= len(token) <= 256:
            raise InvalidInput("a bearer token must be a string of 16 to 256 characters")
        if type(principal) is not str or not principal:
            raise InvalidInput(f"principal {principal!r} must be a non-empty string")
        self.tokens[token] = Principal(principal, frozenset(roles))

    # --- policy mutations -----------------------------------------------------------------------

    @atomic
    def put_rule(self, tool: str, rule: RequirementSet | Mapping[str, Any]) -> None:
        """Add or replace *tool*'s rule (a RequirementSet or its JSON form); bumps the epoch."""
        requirement_set = rule if isinstance(rule, RequirementSet) else build_set(rule)
        self.policy.put_rule(tool, requirement_set)

    @atomic
    def remove_rule(self, tool: str) -> None:
        """Remove *tool*'s rule; bumps the epoch."""
        self.policy.remove_rule(tool)

    @atomic
    def add_leaf(self, tool: str, set_id: str, requirement_id: str, predicate: list[Any]) -> None:
        """Add a requirement to a set of *tool*'s rule; bumps the epoch."""
        self.policy.add_leaf(tool, set_id, Requirement(requirement_id, predicate))

    @atomic
    def remove_leaf(self, tool: str, set_id: str, requirement_id: str) -> None:
        """Remove a requirement from a set of *tool*'s rule; bumps the epoch."""
        self.policy.remove_leaf(tool, set_id, requirement_id)

    # --- operator switches, clocks, keys, budgets -----------------------------------------------

    @atomic
    def set_frozen(self, frozen: bool, principal: str = "operator") -> FreezeReceipt | None:
        """Freeze or unfreeze the kernel: an explicit state under the chaos page; under the
        release a receipted transition (FreezeRefused when already in that state)."""
        if type(frozen) is not bool:
            raise InvalidInput(f"frozen must be true or false, not {frozen!r}")
        return self.guardian.set_frozen(frozen, principal)

    def freeze(self) -> FreezeReceipt | None:
        """Stop everything new: no ALLOW (and, under the chaos page, no intent, no execution)."""
        return self.set_frozen(True)

    def unfreeze(self) -> FreezeReceipt | None:
        """Lift a freeze."""
        return self.set_frozen(False)

    @atomic
    def set_guardian_time(self, now_ms: int) -> None:
        """Set the Guardian's clock, forwards or backwards; never so late that an intent's
        expiry would pass the safe-integer range and could not be signed."""
        check_time_ms(now_ms, "clock time")
        if now_ms > SAFE_INTEGER_MAX - self.config.ttl_ms:
            raise InvalidInput(
                f"the Guardian's clock at {now_ms} would put an intent's expiry past 2^53−1 "
                f"(ttl {self.config.ttl_ms} ms)"
            )
        self.guardian_clock.set(now_ms)

    @atomic
    def set_executor_time(self, now_ms: int) -> None:
        """Set the executor's clock, forwards or backwards (drift)."""
        self.executor_clock.set(now_ms)

    @atomic
    def remove_signing(self) -> None:
        """Drop every private key: the signer becomes unavailable."""
        self.keys.remove_signing()

    @atomic
    def restore_signing(self) -> None:
        """Bring back the private keys of the non-revoked keys."""
        self.keys.restore_signing()

    @atomic
    def rotate_key(self) -> str:
        """Make a new signing key; return its id."""
        return self.keys.rotate()

    @atomic
    def revoke_key(self, key_id: str) -> None:
        """Revoke *key_id* (made or imported), retroactively."""
        self.keys.revoke(key_id)

    @atomic
    def import_trust_key(self, key_id: str, public: bytes) -> None:
        """Trust a public key the kernel did not make: it verifies receipts, never signs."""
        self.keys.import_trust_key(key_id, public)

    @atomic
    def verify_release_receipt(self, receipt: Mapping[str, Any]) -> None:
        """Verify a receipt.v5 in the release's JSON under the ring's keys (spec 12.6); raise
        ReceiptRejected with HELM's name for the failure."""
        verify_helm_receipt(receipt, self.keys)

    @atomic
    def create_budget(self, budget_id: str, limit_requests: int) -> None:
        """Create a request budget."""
        self.budgets.create(budget_id, limit_requests)

    @atomic
    def set_budget_limit(self, budget_id: str, limit_requests: int) -> None:
        """Raise or lower a budget's limit."""
        self.budgets.set_limit(budget_id, limit_requests)

    # --- error budget ---------------------------------------------------------------------------

    @atomic
    def inject_chaos(self, burn: int) -> tuple[int, str]:
        """Burn error budget points; return the new budget and system state."""
        return self.error_budget.inject(burn), self.error_budget.state

    @atomic
    def create_spec(self, workspace_id: str, goal: str) -> str | None:
        """Create a generated spec, or return None when the budget gate is closed."""
        if self.error_budget.gated():
            return None
        return self.error_budget.create_spec(workspace_id, goal)

    @atomic
    def promote_spec(self, workspace_id: str, spec_id: str) -> bool | None:
        """Promote a spec: None when gated, False for an unknown spec, True when promoted."""
        if self.error_budget.gated():
            return None
        return self.error_budget.promote(workspace_id, spec_id)

    # --- the phases of a governed call ------------------------------------------------------------

    @atomic
    def begin(self, request: Request) -> PendingCall:
        """Phase 1: open a call and judge it against a policy snapshot."""
        return self.guardian.begin(request)

    @atomic
    def decide(self, call: PendingCall) -> Decision:
        """Phase 2: sign the decision, or raise SignerUnavailable (fail closed)."""
        return self.guardian.decide(call)

    @atomic
    def issue_intent(self, decision: Decision, effect: Effect) -> Intent:
        """Phase 3: authorize *effect* under *decision*, or raise IntentRefused."""
        return self.guardian.issue_intent(decision, effect)

    @atomic
    def execute(
        self, decision: Decision | None, intent: Intent | None, effect: Effect | None
    ) -> Receipt:
        """Phase 4: dispatch once, or raise ExecutionRefused."""
        return self.executor.execute(decision, intent, effect)

    def call(self, request: Request) -> CallOutcome:
        """Run every phase of a governed call; each phase is atomic, the whole call is not."""
        pending = self.begin(request)
        try:
            decision = self.decide(pending)
        except SignerUnavailable:
            return CallOutcome(
                call_id=pending.call_id, decision=None, intent=None, receipt=None, fail_closed=True
            )
        if decision.verdict != ALLOW:
            return CallOutcome(
                call_id=pending.call_id, decision=decision, intent=None, receipt=None
            )
        try:
            intent = self.issue_intent(decision, pending.effect)
        except IntentRefused as refusal:
            return CallOutcome(
                call_id=pending.call_id,
                decision=decision,
                intent=None,
                receipt=None,
                refusal_stage="intent",
                refusal_code=refusal.code,
            )
        try:
            receipt = self.execute(decision, intent, pending.effect)
        except ExecutionRefused as refusal:
            return CallOutcome(
                call_id=pending.call_id,
                decision=decision,
                intent=intent,
                receipt=None,
                refusal_stage="execution",
                refusal_code=refusal.code,
            )
        output = self.executor.outputs.get(receipt.receipt_id)
        return CallOutcome(
            call_id=pending.call_id,
            decision=decision,
            intent=intent,
            receipt=receipt,
            output=output,
        )

    @atomic
    def evaluate(self, request: Request) -> Decision:
        """*begin* and *decide* as one atomic step: the release's ``POST /api/v1/evaluate``,
        which decides (and, under the release, receipts the decision) but runs nothing."""
        return self.guardian.decide(self.guardian.begin(request))

    # --- reading receipts -------------------------------------------------------------------------

    @atomic
    def sessions(self) -> tuple[str, ...]:
        """Every session that has a receipt chain, sorted."""
        return tuple(sorted(self.chains.chains))

    @atomic
    def session_receipts(self, session_id: str) -> tuple[Receipt, ...]:
        """*session_id*'s receipts in chain order (empty for a session with none)."""
        return tuple(self.chains.chains.get(session_id, ()))

    @atomic
    def receipt(self, receipt_id: str) -> Receipt | None:
        """The receipt with id *receipt_id*, in any session, or None."""
        for chain in self.chains.chains.values():
            for receipt in chain:
                if receipt.receipt_id == receipt_id:
                    return receipt
        return None

    @atomic
    def receipt_wire(self, receipt_id: str) -> dict[str, JSONValue] | None:
        """The release's envelope of a receipt (what its API serves), or None: under the chaos
        page, and for a receipt it never held."""
        wire = self.chains.wires.get(receipt_id)
        # A copy: the chain's own envelope is what the next receipt's link was computed from.
        return copy.deepcopy(wire) if wire is not None else None

    @atomic
    def public_key(self, key_id: str) -> bytes:
        """The raw Ed25519 public key *key_id* names in the ring (made or imported); raise
        InvalidInput for a key it never held."""
        return self.keys.public_key(key_id)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer an HTTP request through the request surface (spec section 9)."""
        return self.surface.handle(method, path, headers, body)

    @atomic
    def verify_receipt(self, receipt: Receipt) -> None:
        """Raise ReceiptInvalid unless *receipt*'s signature verifies under a live key."""
        try:
            self.keys.verify(receipt.signature_type, receipt.preimage(), receipt.signature)
        except SignatureInvalid as exc:
            raise ReceiptInvalid(RECEIPT_SIGNATURE_INVALID, str(exc)) from None

    # --- state digest ---------------------------------------------------------------------------

    @atomic
    def state_digest(self) -> str:
        """SHA-256 hex over the per-component digests (spec section 11); no ghost state in it.

        Every component keeps its own digest material current as it changes (sets through an
        order-free running sum), so this costs the same at step 10 and at step 10,000.
        """
        parts: tuple[bytes, ...] = (
            b"policy:" + self.policy.digest_material(),
            b"keys:" + self.keys.digest_material(),
            b"clocks:%d|%d" % (self.guardian_clock.now_ms, self.executor_clock.now_ms),
            b"budgets:" + self.budgets.digest_material(),
            b"error_budget:" + self.error_budget.digest_material(),
            b"frozen:%d" % self.guardian.frozen,
            b"ids:" + self.ids.digest_material(),
            b"chains:" + self.chains.digest_material(),
            b"graph:" + self.graph.digest_material(),
            b"executed:" + self.executor.digest_material(),
            b"tools:" + self.tools.digest_material(),
        )
        if self.semantics.name != CHAOS_PAGE:
            # Only another semantics adds parts, so every chaos-page digest stays as it was.
            parts += (
                b"semantics:" + self.semantics.name.encode(),
                b"freeze_receipts:%d" % len(self.guardian.freeze_receipts),
            )
        return hashlib.sha256(b"\n".join(parts)).hexdigest()


# How a run builds a kernel: the Kernel class itself, a mutant's subclass, or any function of a
# configuration that returns a Kernel.
KernelFactory = Callable[[KernelConfig], Kernel]
