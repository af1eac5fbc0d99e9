"""The checker's ghost state: its key record, the record of each step, and the standing truth.

TigerBeetle's state checker sits outside the system and keeps its own copy of the truth; so does
the checker. Ghost state is history the kernel does not hold: public keys the checker derived
itself and when each was revoked, the budget ledger, the error-budget model, and what each step
asked of the kernel, the conditions at that moment, and what came back. The driver writes it, the
invariants read it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from typing import Any

import attrs
import jsonschema
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from helmmodel.checker.encoding import jcs
from helmmodel.checker.policy import PolicyView, policy_version
from helmmodel.kernel.records import Decision, Effect, Intent, Receipt, Request
from helmmodel.kernel.semantics import CHAOS_PAGE, HELM_AI_KERNEL, FreezeReceipt

# --- the checker's key record -------------------------------------------------------------------

# A signature is 128 lowercase hex digits (spec section 4): the checker's own reading.
LOWERCASE_HEX_SIGNATURE = re.compile("[0-9a-f]{128}")


class KeyRecord:
    """Public keys the checker derived itself, which keys can sign, and when each was revoked."""

    def __init__(self, seed: bytes, keys_max: int) -> None:
        self.seed = seed
        self.keys_max = keys_max  # the configured limit of keys the ring may make
        self.public: dict[str, Ed25519PublicKey] = {}
        self.private: set[str] = set()
        self.revoked_at: dict[str, int] = {}  # key id -> step it was revoked at
        self.count = 0
        self.rotated_past_limit = False  # a rotation past keys_max was asked for
        self._verified: dict[tuple[str, bytes, str], bool] = {}
        # The private key of every key in ``public`` (``private`` says which may sign now).
        self._derived: dict[str, Ed25519PrivateKey] = {}
        # Trust keys (spec 12.6): raw public keys the checker judged importable, by id; a revoked
        # one stays here (the ring never holds an id again) and in ``revoked_at``.
        self.trusted: dict[str, bytes] = {}
        self.api_revoked: set[str] = set()  # trust keys revoked through the release's API

    def held(self, key_id: str) -> bytes | None:
        """The raw public key the checker holds under *key_id* (made or imported), or None."""
        if key_id in self.trusted:
            return self.trusted[key_id]
        public = self.public.get(key_id)
        return public.public_bytes_raw() if public is not None else None

    def derive(self) -> str:
        self.count += 1
        key_id = f"key-{self.count:04d}"
        seed = hashlib.sha256(self.seed + key_id.encode()).digest()
        self._derived[key_id] = Ed25519PrivateKey.from_private_bytes(seed)
        self.public[key_id] = self._derived[key_id].public_key()
        self.private.add(key_id)
        return key_id

    def private_key(self, key_id: str) -> Ed25519PrivateKey:
        """The private key the checker derives for *key_id* (to forge with a live key)."""
        return Ed25519PrivateKey.from_private_bytes(
            hashlib.sha256(self.seed + key_id.encode()).digest()
        )

    def signer(self) -> str | None:
        live = [k for k in self.private if k not in self.revoked_at]
        return max(live) if live else None

    def signature_ok(self, signature_type: object, message: bytes, signature: object) -> bool:
        """Whether *signature* verifies *message* under the named key (revocation not checked).
        A signature is 128 lowercase hex digits and nothing else (spec section 4)."""
        if type(signature_type) is not str or type(signature) is not str:
            return False
        if LOWERCASE_HEX_SIGNATURE.fullmatch(signature) is None:
            return False
        key_id = signature_type.removeprefix("ed25519:")
        memo_key = (key_id, message, signature)
        if memo_key in self._verified:
            return self._verified[memo_key]
        public = self.public.get(key_id)
        ok = False
        if public is not None and signature_type.startswith("ed25519:"):
            # Ed25519 signing is deterministic (RFC 8032) and costs half a verification: the
            # checker's own signature of *message* with the key it derived verifies under that
            # key, so a signature equal to it is valid; any other is verified in full.
            if self._derived[key_id].sign(message).hex() == signature:
                ok = True
            else:
                try:
                    public.verify(bytes.fromhex(signature), message)
                    ok = True
                except InvalidSignature:
                    ok = False
        self._verified[memo_key] = ok
        return ok

    def live(self, signature_type: object, at_step: int | None = None) -> bool:
        """Whether the named key was not revoked (now, or as of step *at_step*)."""
        if type(signature_type) is not str:
            return False
        revoked = self.revoked_at.get(signature_type.removeprefix("ed25519:"))
        return revoked is None or (at_step is not None and revoked > at_step)


ToolTable = dict[str, tuple[dict[str, Any], bool]]  # tool -> (schema, approval)


def schema_compiles(schema: Any) -> bool:
    """The checker's own judgement of a tool schema: an object in the canonical subset that is
    valid against the Draft 2020-12 metaschema, and whose references stay inside it and end
    (kernel-spec section 2, Tool)."""
    if type(schema) is not dict:
        return False
    try:
        encoded = jcs(schema)
    except ValueError:
        return False
    return _metaschema_accepts(encoded) and _references_resolve(json.loads(encoded))


# The spec's subschema positions of Draft 2020-12, by the shape of the keyword's value.
_SINGLE = (
    *("additionalProperties", "contains", "contentSchema", "else", "if", "items", "not"),
    *("propertyNames", "then", "unevaluatedItems", "unevaluatedProperties"),
)
_ARRAYS = ("allOf", "anyOf", "oneOf", "prefixItems")
_OBJECTS = ("$defs", "definitions", "dependentSchemas", "patternProperties", "properties")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_IDENTIFIER_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _subschemas(schema: Any) -> list[dict[str, Any]]:
    """*schema* and every subschema under it that is an object, at any depth (the root first)."""
    found, index = [schema], 0
    while index < len(found):
        node = found[index]
        index += 1
        if isinstance(node, dict):
            found.extend(node[k] for k in _SINGLE if k in node)
            for k in _ARRAYS:
                found.extend(node.get(k, []))
            for k in _OBJECTS:
                found.extend(node.get(k, {}).values())
    return [node for node in found if isinstance(node, dict)]


def _references_resolve(schema: dict[str, Any]) -> bool:
    """Every $ref names a member of the root's $defs as ``#/$defs/<identifier>``, no member
    reaches itself through references, nothing can move the base URI, and $schema is the
    2020-12 dialect at the root only."""
    defs = schema.get("$defs", {})
    nodes = _subschemas(schema)
    if any({"$id", "$anchor", "$dynamicAnchor", "$dynamicRef"} & node.keys() for node in nodes):
        return False
    if any("$schema" in node for node in nodes[1:]) or schema.get("$schema", DIALECT) != DIALECT:
        return False
    for node in nodes:
        name = node.get("$ref", "#/$defs/")[len("#/$defs/") :]
        if "$ref" in node and not (
            node["$ref"].startswith("#/$defs/")
            and name in defs
            and 0 < len(name) <= 64
            and set(name) <= _IDENTIFIER_CHARS
        ):
            return False
    # Each member's references, then whether any member reaches itself along them.
    edges = {
        name: {node["$ref"][len("#/$defs/") :] for node in _subschemas(member) if "$ref" in node}
        for name, member in defs.items()
    }
    for start, first in edges.items():
        seen: set[str] = set()
        frontier = set(first)
        while frontier:
            if start in frontier:
                return False
            seen |= frontier
            frontier = set().union(*(edges[name] for name in frontier)) - seen
    return True


@functools.lru_cache(maxsize=256)
def _metaschema_accepts(encoded: bytes) -> bool:
    """Whether the schema with canonical bytes *encoded* is valid against the metaschema (it
    costs milliseconds and depends on the bytes alone, so it is memoised)."""
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(encoded))
    except jsonschema.exceptions.SchemaError:
        return False
    return True


# --- what each step asked and what came back -----------------------------------------------------


@attrs.define(kw_only=True)
class Begun:
    """A *begin* the machine made, with what the checker knew at that moment."""

    step: int
    call_id: str
    request: Request
    effect: Effect
    frozen: bool
    policy: PolicyView
    budget: tuple[bool, int, int] | None  # (exists, consumed, limit) when the call names one
    # The checker's tool table at this begin (None: the ghost's current one). Tables are replaced,
    # never changed in place, so this is the table the begin was judged against.
    tools: ToolTable | None = None


@attrs.define(kw_only=True)
class Decided:
    """A *decide*: the decision (None when it failed closed) and the conditions around it."""

    step: int
    begun: Begun
    decision: Decision | None
    frozen: bool
    signer: bool
    budget_before: tuple[int, int] | None  # ghost (consumed, limit) before this decide
    kernel_consumed_delta: int  # change in the kernel's consumed for the call's budget
    # The kernel's tentative reason code from *begin* (for counting where a code arose).
    begin_code: str | None = None
    # Change in the kernel's consumed for every budget the checker knows, across this decide.
    budget_deltas: dict[str, int] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class IntentAttempt:
    """An *issue_intent*: what was presented and what the kernel answered."""

    step: int
    decision: Decision
    effect: Effect
    intent: Intent | None
    code: str | None
    frozen: bool
    policy: PolicyView
    guardian_ms: int
    # Set for a fault: the refusal code the checker predicts ("" when it must be granted).
    expected_code: str | None = None


@attrs.define(kw_only=True)
class ExecAttempt:
    """An *execute*: what was presented, the conditions, and what the kernel answered."""

    step: int
    decision: Decision | None
    intent: Intent | None
    effect: Effect | None
    receipt: Receipt | None
    code: str | None
    frozen: bool
    executor_ms: int
    dispatched: int  # dispatches the kernel logged during this step
    expected_code: str | None = None
    # For a whole call (its intent never leaves the kernel): the window the checker computes
    # from its own Guardian clock and TTL. For a direct execute, None: the intent's own window.
    window: tuple[int, int] | None = None


@attrs.define(kw_only=True)
class ReceiptCheck:
    """A receipt presented to the kernel's verifier, and whether it was accepted."""

    step: int
    receipt: Receipt
    accepted: bool
    expected_accept: bool


@attrs.define(kw_only=True)
class HttpExchange:
    """One request through ``handle`` and the state around it."""

    step: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    digest_before: str
    digest_after: str
    error_budget_before: int
    error_budget_after: int
    specs_before: int
    specs_after: int
    consumed_before: dict[str, int]
    consumed_after: dict[str, int]
    epoch_before: int
    epoch_after: int
    receipts_before: int
    receipts_after: int
    verdict: tuple[str, str] | None = None  # (verdict, reason code) of a governed call
    expected_status: int | None = None  # the checker's status for the first failing check
    # For a governed call (POST /v1/tools/execute): the decides and executions the checker
    # recorded during this request, to hold its answer against.
    decided: list[Decided] = attrs.field(factory=list)
    executions: list[ExecAttempt] = attrs.field(factory=list)


# --- what the checker saw outside the kernel's own records ---------------------------------------


@attrs.define(kw_only=True)
class Crash:
    """A kernel operation that raised an exception other than its typed refusals."""

    step: int
    rule: str
    error: str  # the exception's type name
    message: str
    where: str  # file:line of the innermost kernel frame


@attrs.define(kw_only=True)
class Dispatch:
    """One real call of a tool, as the world's tools saw it (not as the kernel logged it)."""

    step: int
    effect_id: str
    tool: str
    args: Any


@attrs.define(kw_only=True)
class ToolRegistration:
    """A tool registration the machine asked for, the checker's judgement and the kernel's."""

    step: int
    name: str
    schema: Any
    approval: bool
    behaviour: str
    replaced: bool  # the checker knew a tool of that name already
    compiles: bool  # the checker's own judgement: the schema compiles and is canonical JSON
    accepted: bool  # the kernel allowlisted it


@attrs.define(kw_only=True)
class Answer:
    """An operation given input the checker judges itself (a clock time, a rotation past the
    ring's limit, arguments of the wrong type): whether the checker expects it accepted, and
    whether the kernel accepted it."""

    step: int
    operation: str
    argument: Any
    expected: bool
    accepted: bool
    changed: bool = False  # refused, yet the state digest moved (watched for fault rules only)


@attrs.define(kw_only=True)
class FreezeSwitch:
    """A freeze or unfreeze under the release (spec 12.3): what was asked, in which state, the
    Guardian's time as the checker keeps it, and what the kernel answered."""

    step: int
    frozen: bool  # asked for
    was_frozen: bool  # the checker's state before
    guardian_ms: int
    receipt: FreezeReceipt | None
    code: str | None  # the FreezeRefused code, if refused


@attrs.define(kw_only=True)
class ReleaseRead:
    """A read of the release's facade (spec 12): what was asked, what the checker knew then
    (``known``: its sessions, a session's receipt ids in chain order, or a key's raw bytes; None
    for nothing), and what the kernel answered (``error``: the refusal's type, if any)."""

    step: int
    operation: str  # sessions, session_receipts, receipt, receipt_wire, public_key
    argument: str | None
    known: Any
    answer: Any = None
    error: str | None = None


@attrs.define(kw_only=True)
class ReleaseVerification:
    """A receipt.v5 envelope presented to ``verify_release_receipt``, the checker's own
    verdict on it, and whether the kernel accepted it."""

    step: int
    envelope: Any
    expected_accept: bool
    accepted: bool


@attrs.define(kw_only=True)
class ReleaseExchange:
    """One request to the release's API (spec 12) and what the checker knew around it."""

    step: int
    method: str
    path: str
    body: bytes
    status: int
    response_body: bytes
    digest_before: str
    digest_after: str
    # Each session's receipt ids in chain order, as the checker knows them after the request.
    chains: dict[str, list[str]] = attrs.field(factory=dict)
    # For an evaluate: the decides the checker recorded during the request.
    decided: list[Decided] = attrs.field(factory=list)
    # For a trust key's add: the status the checker's own judgement gives (None: not judged).
    expected_status: int | None = None


@attrs.define(kw_only=True)
class Ghost:
    """Everything the checker knows that the kernel does not tell it."""

    seed: bytes
    ttl_ms: int
    keys: KeyRecord
    # Which kernel is checked (spec section 12): chosen by the run's configuration, never read
    # off the kernel.
    semantics: str = CHAOS_PAGE
    tools: ToolTable = attrs.field(factory=dict)  # replaced on each registration, never mutated
    rules: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    epoch: int = 0
    version: str = attrs.field(factory=lambda: policy_version({}))
    frozen: bool = False
    guardian_ms: int = 0
    executor_ms: int = 0
    budget_limits: dict[str, int] = attrs.field(factory=dict)
    budget_charged: dict[str, int] = attrs.field(factory=dict)  # ALLOW decisions charged
    error_budget: int = 100
    specs: set[str] = attrs.field(factory=set)
    admin_tokens: set[str] = attrs.field(factory=set)
    tokens: dict[str, str] = attrs.field(factory=dict)  # token -> principal
    step: int = 0
    begun: list[Begun] = attrs.field(factory=list)
    decided: list[Decided] = attrs.field(factory=list)
    intents: list[IntentAttempt] = attrs.field(factory=list)
    executions: list[ExecAttempt] = attrs.field(factory=list)
    receipt_checks: list[ReceiptCheck] = attrs.field(factory=list)
    http: list[HttpExchange] = attrs.field(factory=list)
    registrations: list[ToolRegistration] = attrs.field(factory=list)
    begun_by_call: dict[str, Begun] = attrs.field(factory=dict)
    crashes: list[Crash] = attrs.field(factory=list)
    dispatch_log: list[Dispatch] = attrs.field(factory=list)
    answers: list[Answer] = attrs.field(factory=list)
    freeze_switches: list[FreezeSwitch] = attrs.field(factory=list)
    # Under the release (spec 12): each session's receipt ids in chain order, as the checker
    # records decisions and dispatches, and what was read and verified through the release.
    chains: dict[str, list[str]] = attrs.field(factory=dict)
    chained: set[str] = attrs.field(factory=set)
    release_reads: list[ReleaseRead] = attrs.field(factory=list)
    release_verifications: list[ReleaseVerification] = attrs.field(factory=list)
    release_http: list[ReleaseExchange] = attrs.field(factory=list)

    @property
    def release(self) -> bool:
        """Whether the kernel checked is HELM's release (spec section 12)."""
        return self.semantics == HELM_AI_KERNEL

    @property
    def freeze_stops_intents_and_executions(self) -> bool:
        """The chaos page's freeze stops intents and executions too; the release's does not."""
        return not self.release

    @classmethod
    def for_seed(cls, seed: bytes, ttl_ms: int, keys_max: int) -> Ghost:
        keys = KeyRecord(seed, keys_max)
        keys.derive()
        return cls(seed=seed, ttl_ms=ttl_ms, keys=keys)

    _validators: dict[int, Any] = attrs.field(factory=dict)  # by id() of a schema held

    def schema_accepts(self, tool: str, args: Any, tools: ToolTable | None = None) -> bool:
        """Whether *args* is valid against the schema the checker registered for *tool* (in
        *tools*, a table the ghost had, or its current one)."""
        schema = (self.tools if tools is None else tools)[tool][0]
        # Keyed by the schema object: a replaced tool has a new schema, and tables keep theirs.
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = jsonschema.Draft202012Validator(schema)
            self._validators[id(schema)] = validator
        return bool(validator.is_valid(args))

    def register_tool(self, name: str, schema: dict[str, Any], approval: bool) -> None:
        """An accepted registration: a new table with *name*'s schema and approval."""
        self.tools = {**self.tools, name: (schema, approval)}

    def record_dispatch(self, effect_id: str, tool: str, args: Any) -> None:
        """The world's tools call this on every real run: the dispatch log the checker keeps."""
        self.dispatch_log.append(
            Dispatch(step=self.step, effect_id=effect_id, tool=tool, args=copy.deepcopy(args))
        )

    def chain(self, session: str, receipt_id: str) -> None:
        """A receipt the checker expects at the end of *session*'s chain (once: a retry that
        returns the same receipt adds none)."""
        if receipt_id not in self.chained:
            self.chained.add(receipt_id)
            self.chains.setdefault(session, []).append(receipt_id)

    def policy(self) -> PolicyView:
        return PolicyView(dict(self.rules), self.epoch, self.version)

    def set_rules(self, rules: dict[str, dict[str, Any]]) -> None:
        """An accepted mutation: new rules, epoch + 1, version recomputed by the checker."""
        self.rules = rules
        self.epoch += 1
        self.version = policy_version(rules)

    def budget_view(self, budget_id: str | None) -> tuple[bool, int, int] | None:
        if budget_id is None:
            return None
        if budget_id not in self.budget_limits:
            return (False, 0, 0)
        return (True, self.budget_charged.get(budget_id, 0), self.budget_limits[budget_id])
