"""The checker's own truth: ghost state and second implementations, never shared with the kernel.

TigerBeetle's state checker sits outside the system and keeps its own copy of the truth; so does
this module. Everything here is written again on purpose, apart from the kernel: a canonical
encoder, the policy evaluator and its hashes, Ed25519 verification against public keys the
checker derived itself, a budget ledger, an error-budget model, and the record of what each step
asked of the kernel and what came back. If the kernel and the checker shared a function, a bug in
it would hide itself. Only the third-party libraries (``cryptography``, ``jsonschema``) are shared.

Ghost state is history the kernel does not hold; the machines write it, the invariants read it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import jsonschema
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from helmmodel.kernel.records import Decision, Effect, Intent, Receipt, Request

# --- the checker's canonical encoder ------------------------------------------------------------


# JSON string quoting as RFC 8785 wants it (only U+0000..U+001F, quote and backslash escaped);
# the C function behind json.dumps(ensure_ascii=False), without json.dumps's per-call overhead.
_quote: Callable[[str], str] = json.encoder.encode_basestring


def jcs(value: Any) -> bytes:
    """JCS bytes, written independently of :mod:`helmmodel.canonical` (keys by UTF-16 units)."""
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        if abs(value) > 2**53 - 1:
            raise ValueError(f"unsafe integer {value}")
        return str(value)
    if type(value) is str:
        return _quote(value)
    if type(value) is list or type(value) is tuple:
        return "[" + ",".join(_jcs(item) for item in value) + "]"
    if type(value) is dict:
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return (
            "{"
            + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _jcs(value[k]) for k in keys)
            + "}"
        )
    raise ValueError(f"{type(value).__name__} is not in the canonical subset")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the checker's signed-field lists (spec section 4, copied from the spec, not the kernel) ------

DECISION_SIGNED = (
    "id", "verdict", "reason_code", "reason_hash", "subject_id", "action", "resource",
    "effect_digest", "policy_version", "policy_epoch", "requirement_set_hash", "budget_id",
    "signature_type", "signature_version",
)  # fmt: skip
INTENT_SIGNED = (
    "id", "decision_id", "effect_digest_hash", "issued_at", "expires_at", "allowed_tool",
    "signer", "signature_type", "signature_version",
)  # fmt: skip
RECEIPT_SIGNED = (
    "receipt_id", "decision_id", "effect_id", "status", "output_hash", "prev_hash",
    "lamport_clock", "args_hash", "verdict", "reason_code", "policy_hash", "session_id",
    "signature_version",
)  # fmt: skip


def signed_fields(record: Decision | Intent | Receipt) -> tuple[str, ...]:
    if isinstance(record, Decision):
        return DECISION_SIGNED
    if isinstance(record, Intent):
        return INTENT_SIGNED
    return RECEIPT_SIGNED


def expected_preimage(record: Decision | Intent | Receipt) -> bytes:
    """The checker's own encoding of exactly the record's signed fields."""
    return jcs({name: getattr(record, name) for name in signed_fields(record)})


def receipt_link(receipt: Receipt) -> str:
    """SHA-256 hex of the receipt's JCS, every member included (the next ``prev_hash``)."""
    return sha256_hex(jcs(attrs.asdict(receipt)))


def effect_digest(tool: str, args: Any) -> str:
    return "sha256:" + sha256_hex(jcs({"tool": tool, "args": args}))


def node_hash(node: Any) -> str:
    members = {
        "kind": node.kind,
        "parents": list(node.parents),
        "lamport": node.lamport,
        "principal": node.principal,
        "payload": node.payload,
        "sig": node.sig,
    }
    return sha256_hex(jcs(members))


# --- the checker's policy model (spec section 3) ------------------------------------------------

TRUE, FALSE, ERROR = "true", "false", "error"
_MISSING = object()


def _lookup(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, dict) or part not in document:
            return _MISSING
        document = document[part]
    return document


def _same(a: Any, b: Any) -> bool:
    # JSON equality: a bool is never a number.
    return type(a) is type(b) and jcs(a) == jcs(b)


def check_predicate(predicate: list[Any], document: Any) -> str:
    op = predicate[0]
    if op == "const":
        return TRUE if predicate[1] is True else FALSE
    found = _lookup(document, predicate[1])
    if op == "has":
        return FALSE if found is _MISSING else TRUE
    if found is _MISSING:
        return ERROR
    if op == "eq":
        return TRUE if _same(found, predicate[2]) else FALSE
    if op == "in":
        return TRUE if any(_same(found, v) for v in predicate[2]) else FALSE
    if type(found) is not int:
        return ERROR
    return TRUE if found <= predicate[2] else FALSE


def check_set(rule: Mapping[str, Any], document: Any) -> str:
    """Evaluate a requirement set given as JSON: HELM's order, NOT as NAND, empty true."""
    leaves = rule.get("leaves", [])
    children = rule.get("children", [])
    if not leaves and not children:
        return TRUE
    outcomes = []
    for leaf in leaves:
        outcome = check_predicate(leaf["predicate"], document)
        if outcome == ERROR:
            return ERROR
        outcomes.append(outcome == TRUE)
    for child in children:
        outcome = check_set(child, document)
        if outcome == ERROR:
            return ERROR
        outcomes.append(outcome == TRUE)
    logic = rule.get("logic", "") or "AND"
    if logic == "AND":
        return TRUE if all(outcomes) else FALSE
    if logic == "OR":
        return TRUE if any(outcomes) else FALSE
    if logic == "NOT":
        return FALSE if all(outcomes) else TRUE
    return ERROR


def set_hash(rule: Mapping[str, Any]) -> str:
    content = f"id={rule['id']}:logic={rule.get('logic', '')}:"
    for leaf in rule.get("leaves", []):
        content += f"req={leaf['id']}:" + jcs(leaf["predicate"]).decode("utf-8") + ";"
    for child in rule.get("children", []):
        content += f"child={set_hash(child)};"
    return "sha256:" + sha256_hex(content.encode("utf-8"))


def policy_version(rules: Mapping[str, Mapping[str, Any]]) -> str:
    content = "".join(f"{tool}={set_hash(rules[tool])};" for tool in sorted(rules))
    return "sha256:" + sha256_hex(content.encode("utf-8"))


@attrs.frozen
class PolicyView:
    """The checker's copy of the policy at one moment: rules as JSON, epoch, version."""

    rules: Mapping[str, Mapping[str, Any]]
    epoch: int
    version: str


# --- the checker's key record -------------------------------------------------------------------


class KeyRecord:
    """Public keys the checker derived itself, which keys can sign, and when each was revoked."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.public: dict[str, Ed25519PublicKey] = {}
        self.private: set[str] = set()
        self.revoked_at: dict[str, int] = {}  # key id -> step it was revoked at
        self.count = 0
        self._verified: dict[tuple[str, bytes, str], bool] = {}

    def derive(self) -> str:
        self.count += 1
        key_id = f"key-{self.count:04d}"
        seed = hashlib.sha256(self.seed + key_id.encode()).digest()
        self.public[key_id] = Ed25519PrivateKey.from_private_bytes(seed).public_key()
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

    def signature_ok(self, signature_type: str, message: bytes, signature: str) -> bool:
        """Whether *signature* verifies *message* under the named key (revocation not checked)."""
        key_id = signature_type.removeprefix("ed25519:")
        memo_key = (key_id, message, signature)
        if memo_key in self._verified:
            return self._verified[memo_key]
        public = self.public.get(key_id)
        ok = False
        if public is not None and signature_type.startswith("ed25519:"):
            try:
                public.verify(bytes.fromhex(signature), message)
                ok = True
            except (InvalidSignature, ValueError):
                ok = False
        self._verified[memo_key] = ok
        return ok

    def live(self, signature_type: str, at_step: int | None = None) -> bool:
        """Whether the named key was not revoked (now, or as of step *at_step*)."""
        revoked = self.revoked_at.get(signature_type.removeprefix("ed25519:"))
        return revoked is None or (at_step is not None and revoked > at_step)


# --- what each step asked and what came back -----------------------------------------------------


@attrs.define
class Begun:
    """A *begin* the machine made, with what the checker knew at that moment."""

    step: int
    call_id: str
    request: Request
    effect: Effect
    frozen: bool
    policy: PolicyView
    budget: tuple[bool, int, int] | None  # (exists, consumed, limit) when the call names one


@attrs.define
class Decided:
    """A *decide*: the decision (None when it failed closed) and the conditions around it."""

    step: int
    begun: Begun
    decision: Decision | None
    frozen: bool
    signer: bool
    budget_before: tuple[int, int] | None  # ghost (consumed, limit) before this decide
    kernel_consumed_delta: int  # change in the kernel's consumed for the call's budget
    # Change in the kernel's consumed for every budget the checker knows, across this decide.
    budget_deltas: dict[str, int] = attrs.field(factory=dict)


@attrs.define
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


@attrs.define
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


@attrs.define
class ReceiptCheck:
    """A receipt presented to the kernel's verifier, and whether it was accepted."""

    step: int
    receipt: Receipt
    accepted: bool
    expected_accept: bool


@attrs.define
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


@attrs.define
class Ghost:
    """Everything the checker knows that the kernel does not tell it."""

    seed: bytes
    ttl_ms: int
    keys: KeyRecord
    tools: dict[str, tuple[dict[str, Any], bool]] = attrs.field(factory=dict)  # schema, approval
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
    begun_by_call: dict[str, Begun] = attrs.field(factory=dict)

    @classmethod
    def for_seed(cls, seed: bytes, ttl_ms: int) -> Ghost:
        keys = KeyRecord(seed)
        keys.derive()
        return cls(seed=seed, ttl_ms=ttl_ms, keys=keys)

    _validators: dict[str, Any] = attrs.field(factory=dict)

    def schema_accepts(self, tool: str, args: Any) -> bool:
        """Whether *args* is valid against the schema the checker registered for *tool*."""
        validator = self._validators.get(tool)
        if validator is None:
            validator = jsonschema.Draft202012Validator(self.tools[tool][0])
            self._validators[tool] = validator
        return bool(validator.is_valid(args))

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


# --- the checker's models of the refusal orders (spec sections 5 and 6) ---------------------------


def record_valid(
    ghost: Ghost, record: Decision | Intent | Receipt, at_step: int | None = None
) -> bool:
    """Whether the checker's own verification accepts *record* now (or as of *at_step*): its
    key was not revoked, and its signature verifies over the checker's own encoding."""
    try:
        message = expected_preimage(record)
    except ValueError:
        return False
    return ghost.keys.live(record.signature_type, at_step) and ghost.keys.signature_ok(
        record.signature_type, message, record.signature
    )


def expected_intent_code(ghost: Ghost, decision: Decision, effect: Effect) -> str | None:
    """The refusal the spec's order gives for issuing an intent now, or None to issue it."""
    if ghost.frozen:
        return "SYSTEM_FROZEN"
    if decision.verdict != "ALLOW":
        return "VERDICT_NOT_ALLOW"
    if not record_valid(ghost, decision):
        return "DECISION_SIGNATURE_INVALID"
    if decision.policy_epoch != ghost.epoch or decision.policy_version != ghost.version:
        return "POLICY_EPOCH_CHANGED"
    if effect_digest(effect.tool, effect.args) != decision.effect_digest:
        return "DIGEST_MISMATCH"
    if ghost.keys.signer() is None:
        return "SIGNER_UNAVAILABLE"
    return None


def expected_execution_code(
    ghost: Ghost, decision: Decision | None, intent: Intent | None, effect: Effect | None
) -> str | None:
    """The refusal the spec's order gives for executing now, or None to execute."""
    if ghost.frozen:
        return "SYSTEM_FROZEN"
    if decision is None or intent is None or effect is None:
        return "MISSING_ARTIFACT"
    if intent.decision_id != decision.id:
        return "INTENT_MISMATCH"
    digest = effect_digest(effect.tool, effect.args)
    if digest != decision.effect_digest or digest != intent.effect_digest_hash:
        return "DIGEST_MISMATCH"
    if not record_valid(ghost, decision):
        return "DECISION_SIGNATURE_INVALID"
    if not record_valid(ghost, intent):
        return "INTENT_SIGNATURE_INVALID"
    if decision.verdict != "ALLOW":
        return "VERDICT_NOT_ALLOW"
    if ghost.executor_ms < intent.issued_at:
        return "INTENT_NOT_YET_VALID"
    if ghost.executor_ms >= intent.expires_at:
        return "INTENT_EXPIRED"
    if ghost.keys.signer() is None:
        return "SIGNER_UNAVAILABLE"
    return None


# --- the checker's model of the request surface (spec section 9) ----------------------------------

BODY_LIMIT = 1_048_576
_WORKSPACE = r"[A-Za-z0-9_.-]{1,64}"
_IDENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENDPOINTS = (
    (re.compile(r"/v1/tools/execute"), "POST", "execute"),
    (re.compile(r"/api/ops/chaos/inject"), "POST", "inject"),
    (re.compile(r"/api/ops/status"), "GET", "status"),
    (re.compile(rf"/api/v1/workspaces/{_WORKSPACE}/generated-specs"), "POST", "specs"),
    (re.compile(rf"/api/v1/workspaces/{_WORKSPACE}/promotions"), "POST", "promotions"),
)


class _Malformed(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Malformed("duplicate key")
    return dict(pairs)


def _int_token(token: str) -> int:
    if token == "-0" or abs(int(token)) > 2**53 - 1:
        raise _Malformed(token)
    return int(token)


def _no_float(token: str) -> None:
    raise _Malformed(token)


def strict_json(body: bytes) -> Any:
    """The checker's own strict RFC 8259 reader for the canonical subset; raise _Malformed."""
    try:
        text = body.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_int=_int_token,
            parse_constant=_no_float,
        )
        jcs(value)  # refuses lone surrogates (UTF-8 cannot carry them) and unsafe values
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise _Malformed(str(exc)) from None
    return value


def endpoint(path: str) -> tuple[str, str] | None:
    """``(method, name)`` of the endpoint at *path*, or None."""
    path = path.split("?", 1)[0]
    for pattern, method, name in _ENDPOINTS:
        if pattern.fullmatch(path):
            return method, name
    return None


def bearer(headers: Mapping[str, str]) -> str | None:
    """The bearer token of *headers* (any case), ``""`` for another scheme, or None."""
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, token = value.strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return None


def _announced(headers: Mapping[str, str]) -> int:
    for name, value in headers.items():
        if name.lower() == "content-length" and value.strip().isdigit():
            return int(value)
    return 0


def exceeds_body_limit(headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a request's body, or the length it announces, is over 1 MiB."""
    return len(body) > BODY_LIMIT or _announced(headers) > BODY_LIMIT


def expected_http_status(
    ghost: Ghost, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> int | None:
    """The status of the first check (spec section 9) the request fails, or None if it passes
    them all and reaches its handler."""
    if exceeds_body_limit(headers, body):
        return 413
    found = endpoint(path)
    if found is None:
        return 404
    wanted, name = found
    if method.upper() != wanted:
        return 405
    if name in ("specs", "promotions") and ghost.error_budget < 20:
        return 429
    token = bearer(headers)
    if name == "execute" and token is not None and token not in ghost.tokens:
        return 401
    if name == "inject":
        if not token or token not in ghost.tokens:
            return 401
        if token not in ghost.admin_tokens:
            return 403
    if name == "status" or (name == "inject" and not body):
        return None
    try:
        value = strict_json(body)
    except _Malformed:
        return 400
    if type(value) is not dict:
        return 400
    if name == "execute":
        if set(value) - {"tool", "args", "context"} or not {"tool", "args"} <= set(value):
            return 400
        context = value.get("context", {})
        if type(value["tool"]) is not str or not _IDENT.fullmatch(value["tool"]):
            return 400
        if type(value["args"]) is not dict or type(context) is not dict:
            return 400
        for key in ("session_id", "budget_id"):
            if key in context and (
                type(context[key]) is not str or not _IDENT.fullmatch(context[key])
            ):
                return 400
        return None
    if name == "inject":
        burn = value.get("burn")
        return None if set(value) == {"burn"} and type(burn) is int and 1 <= burn <= 100 else 400
    if name == "specs":
        goal = value.get("goal")
        ok = set(value) == {"goal"} and type(goal) is str and len(goal) <= 4096
        return None if ok else 400
    if set(value) != {"spec_id"} or type(value["spec_id"]) is not str:
        return 400
    return None if value["spec_id"] in ghost.specs else 404
