"""The data model of spec section 2: frozen records that never change once made.

Each signed record knows its signed fields (spec section 4) and builds its own preimage: exactly
the JCS bytes of an object holding those fields, with ``signature_version`` inside it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import attrs

from helmmodel.canonical import (
    canonical_bytes,
    check_subset,
    flat_encoder,
    prefixed_hash,
)
from helmmodel.errors import InvalidInput

IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]{1,64}")

ALLOW = "ALLOW"
DENY = "DENY"
ESCALATE = "ESCALATE"

ACTION_EXECUTE_TOOL = "EXECUTE_TOOL"

DECISION_VERSION = "decision_record.v4"
INTENT_VERSION = "authorized_execution_intent.v2"
RECEIPT_VERSION = "receipt.v5"

STATUS_SUCCESS = "SUCCESS"
STATUS_TOOL_ERROR = "TOOL_ERROR"


@functools.lru_cache(maxsize=4096)
def _is_identifier(value: str) -> bool:
    # Every call and every policy mutation checks a few identifiers, mostly the same ones; the
    # answer is a pure function of the string, and only strings of at most 64 characters (the
    # only ones that can match) reach this cache, so it stays small.
    return IDENTIFIER.fullmatch(value) is not None


def check_identifier(value: object, what: str) -> str:
    """Return *value* if it is an identifier (``[A-Za-z0-9_.-]{1,64}``); raise InvalidInput."""
    if type(value) is not str or len(value) > 64 or not _is_identifier(value):
        raise InvalidInput(
            f"{what} {value!r} is not an identifier: use 1 to 64 characters from A-Z a-z 0-9 _ . -"
        )
    return value


def _effect_digest_from_jcs(tool: str, args_jcs: bytes) -> str:
    # The effect digest is ``sha256:`` of JCS {"tool", "args"} (identity-free, so the effect id
    # is not in it), and that JCS is exactly this concatenation: "args" sorts before "tool", and a
    # tool name is an identifier, so it needs no escaping.
    return prefixed_hash(b'{"args":' + args_jcs + b',"tool":"' + tool.encode("ascii") + b'"}')


_CONTEXT_IDENTIFIERS = (("session_id", "context.session_id"), ("budget_id", "context.budget_id"))


@attrs.frozen
class Request:
    """A tool call as it comes in: who asks, which tool, its arguments and context."""

    principal: str
    tool: str
    args: dict[str, Any]
    context: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if type(self.principal) is not str or not self.principal:
            raise InvalidInput(f"principal {self.principal!r} must be a non-empty string")
        check_identifier(self.tool, "tool name")
        if type(self.args) is not dict:
            raise InvalidInput(f"args must be a JSON object, not {type(self.args).__name__}")
        if type(self.context) is not dict:
            raise InvalidInput(f"context must be a JSON object, not {type(self.context).__name__}")
        # Refuse floats and unsafe integers here, before any phase sees them: each checked as
        # the member it is of {"args": ..., "context": ...}, so a refusal names it the same way.
        check_subset(self.args, "args", 1)
        check_subset(self.context, "context", 1)
        for key, what in _CONTEXT_IDENTIFIERS:
            if key in self.context:
                check_identifier(self.context[key], what)

    @property
    def session_id(self) -> str | None:
        value = self.context.get("session_id")
        return value if isinstance(value, str) else None

    @property
    def budget_id(self) -> str | None:
        value = self.context.get("budget_id")
        return value if isinstance(value, str) else None

    def evaluation_input(self) -> dict[str, Any]:
        """The object policy predicates read (spec section 3)."""
        return {
            "principal": self.principal,
            "tool": self.tool,
            "args": self.args,
            "context": self.context,
        }


@attrs.frozen
class Effect:
    """What a call wants to run; its digest binds decisions and intents to it."""

    effect_id: str
    tool: str
    args: dict[str, Any]
    args_jcs: bytes = attrs.field(init=False, repr=False)
    digest: str = attrs.field(init=False)
    args_hash: str = attrs.field(init=False)

    @args_jcs.default
    def _args_jcs(self) -> bytes:
        check_identifier(self.tool, "tool name")
        return canonical_bytes(self.args)

    @digest.default
    def _digest(self) -> str:
        return _effect_digest_from_jcs(self.tool, self.args_jcs)

    @args_hash.default
    def _args_hash(self) -> str:
        return prefixed_hash(self.args_jcs)


@attrs.frozen(kw_only=True)
class Decision:
    """The Guardian's signed verdict on one call (decision_record.v4)."""

    id: str
    call_id: str
    verdict: str
    reason_code: str
    reason: str
    reason_hash: str
    subject_id: str
    action: str
    resource: str
    effect_digest: str
    policy_version: str
    policy_epoch: int
    requirement_set_hash: str
    budget_id: str
    timestamp: int
    signature_type: str
    signature_version: str = DECISION_VERSION
    signature: str = ""

    SIGNED_FIELDS: ClassVar[tuple[str, ...]] = (
        "id",
        "verdict",
        "reason_code",
        "reason_hash",
        "subject_id",
        "action",
        "resource",
        "effect_digest",
        "policy_version",
        "policy_epoch",
        "requirement_set_hash",
        "budget_id",
        "signature_type",
        "signature_version",
    )

    @functools.cached_property
    def _preimage(self) -> bytes:
        return flat_encoder(self.SIGNED_FIELDS).from_object(self)

    def preimage(self) -> bytes:
        """The signed bytes: JCS of the signed fields (computed once; the record is frozen)."""
        return self._preimage


@attrs.frozen(kw_only=True)
class Intent:
    """The Guardian's signed permission to run one effect within a time window."""

    id: str
    decision_id: str
    effect_digest_hash: str
    issued_at: int
    expires_at: int
    allowed_tool: str
    signer: str
    signature_type: str
    signature_version: str = INTENT_VERSION
    signature: str = ""

    SIGNED_FIELDS: ClassVar[tuple[str, ...]] = (
        "id",
        "decision_id",
        "effect_digest_hash",
        "issued_at",
        "expires_at",
        "allowed_tool",
        "signer",
        "signature_type",
        "signature_version",
    )

    @functools.cached_property
    def _preimage(self) -> bytes:
        return flat_encoder(self.SIGNED_FIELDS).from_object(self)

    def preimage(self) -> bytes:
        """The signed bytes: JCS of the signed fields (computed once; the record is frozen)."""
        return self._preimage


@attrs.frozen(kw_only=True)
class Receipt:
    """The executor's signed record of one dispatch, chained per session (receipt.v5)."""

    receipt_id: str
    decision_id: str
    effect_id: str
    status: str
    output_hash: str
    prev_hash: str
    lamport_clock: int
    args_hash: str
    verdict: str
    reason_code: str
    policy_hash: str
    session_id: str
    timestamp: int
    signature_type: str
    signature_version: str = RECEIPT_VERSION
    signature: str = ""

    SIGNED_FIELDS: ClassVar[tuple[str, ...]] = (
        "receipt_id",
        "decision_id",
        "effect_id",
        "status",
        "output_hash",
        "prev_hash",
        "lamport_clock",
        "args_hash",
        "verdict",
        "reason_code",
        "policy_hash",
        "session_id",
        "signature_version",
    )

    @functools.cached_property
    def _preimage(self) -> bytes:
        return flat_encoder(self.SIGNED_FIELDS).from_object(self)

    def preimage(self) -> bytes:
        """The signed bytes: JCS of the signed fields (computed once; the record is frozen)."""
        return self._preimage

    def member_bytes(self) -> bytes:
        """JCS of every member, signature included: what the next receipt's ``prev_hash`` covers."""
        return flat_encoder(_RECEIPT_MEMBERS).from_object(self)


_RECEIPT_MEMBERS = tuple(field.name for field in attrs.fields(Receipt))
_VERSIONS = {
    cls: attrs.fields(cls).signature_version.default for cls in (Decision, Intent, Receipt)
}


SignedT = TypeVar("SignedT", Decision, Intent, Receipt)


def make_signed(cls: type[SignedT], sign: Callable[[bytes], str], **fields: Any) -> SignedT:
    """Build a signed record: encode its signed fields once, sign them, and keep those bytes
    as the record's preimage (the signature is not a signed field, so they stay exact)."""
    # A caller may name the version (a mutant re-signing a record does); the kernel never does.
    fields.setdefault(
        "signature_version", _VERSIONS.get(cls) or attrs.fields(cls).signature_version.default
    )
    preimage = flat_encoder(cls.SIGNED_FIELDS).from_mapping(fields)
    record = cls(**fields, signature=sign(preimage))
    object.__setattr__(record, "_preimage", preimage)
    return record


def decision_hash(decision: Decision) -> str:
    """``sha256:`` of the decision's signed bytes: what the release's decision receipt binds."""
    return prefixed_hash(decision.preimage())


def reason_hash(reason: str) -> str:
    """``sha256:`` of the reason text (UTF-8)."""
    if len(reason) <= 64:
        return _short_reason_hash(reason)
    return prefixed_hash(reason.encode("utf-8"))


@functools.lru_cache(maxsize=256)
def _short_reason_hash(reason: str) -> str:
    # Most decisions carry one of a few short reasons ("policy satisfied" on every ALLOW); the
    # hash is a pure function of the text, and only short texts are kept.
    return prefixed_hash(reason.encode("utf-8"))


# Every kernel record that is signed, for code that handles them alike.
SignedRecord = Decision | Intent | Receipt


@attrs.frozen
class Principal:
    """Who a bearer token stands for, and its roles (``admin`` changes the error budget)."""

    name: str
    roles: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class CallOutcome:
    """How a whole call ended: its decision, intent and receipt as far as they exist."""

    call_id: str
    decision: Decision | None
    intent: Intent | None
    receipt: Receipt | None
    refusal_stage: str = ""  # "", "intent" or "execution"
    refusal_code: str = ""
    fail_closed: bool = False
    output: Any = None
