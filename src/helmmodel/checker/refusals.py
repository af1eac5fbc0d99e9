"""The checker's models of the refusal orders: of *begin* (spec section 5), of *issue_intent*
(section 5) and of *execute* (section 6), and its own verification of signed records.

Written again on purpose, apart from the kernel's Guardian and executor: each function gives the
answer the spec's order gives, from the checker's ghost state and its own policy model.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from helmmodel.checker.encoding import RECEIPT_SIGNED, effect_digest, expected_preimage, jcs
from helmmodel.checker.ghost import LOWERCASE_HEX_SIGNATURE, Begun, Ghost, KeyRecord
from helmmodel.checker.policy import ERROR, FALSE, check_set
from helmmodel.kernel.records import Decision, Effect, Intent, Receipt
from helmmodel.kernel.semantics import HELM_AI_KERNEL


@attrs.frozen
class BeginVerdict:
    """The tentative verdict of a *begin*, its reason code, and the policy's outcome."""

    verdict: str
    reason_code: str
    policy_outcome: str  # "true", "false", "error", "no_rule" or "not_evaluated"


def expected_begin(ghost: Ghost, begun: Begun) -> BeginVerdict:
    """The checker's own tentative verdict for *begun*, from the conditions it recorded."""
    request = begun.request
    if begun.frozen:
        return BeginVerdict("DENY", "SYSTEM_FROZEN", "not_evaluated")
    tools = ghost.tools if begun.tools is None else begun.tools  # the table at this begin
    tool = tools.get(request.tool)
    if tool is None:
        # The release's policy decision point denies a tool it does not know (spec 12.5).
        code = "PDP_DENY" if ghost.release else "ERR_TOOL_NOT_FOUND"
        return BeginVerdict("DENY", code, "not_evaluated")
    if not ghost.schema_accepts(request.tool, request.args, tools):
        return BeginVerdict("DENY", "SCHEMA_VIOLATION", "not_evaluated")
    if begun.budget is not None:
        exists, consumed, limit = begun.budget
        if not exists:
            return BeginVerdict("DENY", "BUDGET_ERROR", "not_evaluated")
        if consumed >= limit:
            return BeginVerdict("DENY", "BUDGET_EXCEEDED", "not_evaluated")
    rule = begun.policy.rules.get(request.tool)
    if rule is None:
        return BeginVerdict("DENY", "NO_POLICY_DEFINED", "no_rule")
    outcome = check_set(rule, request.evaluation_input())
    if outcome == ERROR:
        return BeginVerdict("DENY", "PRG_EVALUATION_ERROR", outcome)
    if outcome == FALSE:
        return BeginVerdict("DENY", "MISSING_REQUIREMENT", outcome)
    if tool[1]:
        return BeginVerdict("ESCALATE", "APPROVAL_REQUIRED", outcome)
    return BeginVerdict("ALLOW", "", outcome)


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


# --- the release's trust keys and receipt.v5 (spec 12.6, 12.7) -----------------------------------

# An identifier of spec section 2, and the form of the ring's own key ids (spec 12.6).
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_OWN_KEY_ID = re.compile(r"key-[0-9]{4}")


def trust_key_importable(keys: KeyRecord, key_id: object, public: object) -> bool:
    """Whether the ring must take *public* as a trust key under *key_id* (spec 12.6): an
    identifier not of the ring's own form, held by no key yet, and 32 raw bytes."""
    return (
        type(key_id) is str
        and _IDENTIFIER.fullmatch(key_id) is not None
        and _OWN_KEY_ID.fullmatch(key_id) is None
        and keys.held(key_id) is None
        and type(public) is bytes
        and len(public) == 32
    )


def release_receipt_valid(keys: KeyRecord, receipt: Any) -> bool:
    """The checker's own receipt.v5 verification (spec 12.7): an object of version receipt.v5
    with the thirteen signed members, every number of it interoperable, signed over the checker's
    JCS of those members by a key it holds and has not revoked, whose hex its
    ``public_key_set`` names."""
    if not isinstance(receipt, dict) or receipt.get("signature_version") != "receipt.v5":
        return False
    if not all(name in receipt for name in RECEIPT_SIGNED):
        return False
    try:
        jcs(receipt)  # refuses floats and unsafe integers anywhere in it
        payload = jcs({name: receipt[name] for name in RECEIPT_SIGNED})
    except ValueError:
        return False
    key_id, signature = receipt.get("key_id"), receipt.get("signature")
    if type(key_id) is not str or key_id in keys.revoked_at:
        return False
    public = keys.held(key_id)
    if public is None or type(signature) is not str:
        return False
    if LOWERCASE_HEX_SIGNATURE.fullmatch(signature) is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(signature), payload)
    except InvalidSignature:
        return False
    key_set = receipt.get("public_key_set")
    return isinstance(key_set, dict) and key_set.get("ed25519") == public.hex()


def expected_intent_code(ghost: Ghost, decision: Decision, effect: Effect) -> str | None:
    """The refusal the spec's order gives for issuing an intent now, or None to issue it."""
    if ghost.frozen and ghost.freeze_stops_intents_and_executions:
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
    if ghost.frozen and ghost.freeze_stops_intents_and_executions:
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


def _identifier(value: object) -> bool:
    # Section 4's identifier: 1 to 64 characters from A-Z a-z 0-9 _ . -
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
    return type(value) is str and 1 <= len(value) <= 64 and set(value) <= allowed


def arguments_refused(operation: str, values: dict[str, object]) -> bool:
    """Whether the spec's argument types refuse *values* for *operation* (InvalidInput).

    Only the checks the fault rules present are modelled: a request's principal (a non-empty
    string), tool (an identifier), args and context (objects); a bearer token (a string of 16
    to 256 characters) and its principal; the freeze switch (true or false); a kernel's
    configuration (a non-empty seed of bytes, a positive ttl); the release API's configuration."""
    if operation == "request":
        principal, tool = values["principal"], values["tool"]
        return not (
            type(principal) is str
            and principal != ""
            and _identifier(tool)
            and type(values["args"]) is dict
            and type(values["context"]) is dict
        )
    if operation == "add_token":
        token, principal = values["token"], values["principal"]
        valid_token = type(token) is str and 16 <= len(token) <= 256
        return not (valid_token and type(principal) is str and principal != "")
    if operation == "set_frozen":
        return type(values["frozen"]) is not bool
    if operation == "config":
        seed, ttl = values["seed"], values["ttl_ms"]
        return not (type(seed) is bytes and seed != b"" and type(ttl) is int and ttl > 0)
    if operation == "release_config":
        return _release_config_refused(values)
    raise ValueError(f"no argument model for {operation!r}")


_FENCE_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _blank(value: object) -> bool:
    return type(value) is not str or not value.strip()


def _release_config_refused(values: dict[str, object]) -> bool:
    """Whether the release's API refuses to start with *values* changed in the driver's
    configuration (README, "HELM's release API on the twin"; spec 12.9): a kernel under another
    semantics, a blank key, tenant or principal, a fence audience that is empty, padded or over
    255 bytes, or fence command keys that are none, misnamed or not 32 bytes."""
    if values.get("semantics", HELM_AI_KERNEL) != HELM_AI_KERNEL:
        return True
    if any(
        name in values and values[name] is not None and _blank(values[name])
        for name in ("admin_key", "service_key")
    ):
        return True
    if any(name in values and _blank(values[name]) for name in ("tenant_id", "principal_id")):
        return True
    audience = values.get("fence_audience", "audience")
    if type(audience) is not str or not audience or audience != audience.strip():
        return True
    if len(audience.encode("utf-8")) > 255:
        return True
    keys = values.get("fence_keys", {"key": bytes(32)})
    return not (
        isinstance(keys, dict)
        and keys
        and all(
            type(key_id) is str
            and _FENCE_KEY_ID.fullmatch(key_id) is not None
            and type(public) is bytes
            and len(public) == 32
            for key_id, public in keys.items()
        )
    )


# The safe-integer range of spec section 1: times outside it cannot be signed into an intent.
SAFE_INTEGER_LIMIT = 2**53 - 1


def time_ms_valid(value: object) -> bool:
    """Whether a clock may be set to *value*: an integer (not a bool) of milliseconds within
    ±(2^53−1), spec section 1."""
    return type(value) is int and -SAFE_INTEGER_LIMIT <= value <= SAFE_INTEGER_LIMIT


def guardian_time_valid(value: object, ttl_ms: int) -> bool:
    """Whether the Guardian's clock may be set to *value*: a valid time that leaves room for an
    intent's expiry, *ttl_ms* later, within the safe range (spec section 1)."""
    return type(value) is int and time_ms_valid(value) and value <= SAFE_INTEGER_LIMIT - ttl_ms


# --- operator inputs: budget changes and direct chaos injects (spec section 8) --------------------

_IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SAFE_MAX = 2**53 - 1


def _integer_in(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def budget_change_refused(ghost: Ghost, budget_id: object, limit: object, *, create: bool) -> bool:
    """Whether the spec refuses creating the budget *budget_id* (*create*) or setting its limit:
    an id that is no identifier or names a budget that exists (create), a budget the checker does
    not know (a limit change), or a limit that is no integer from 0 to 2^53−1."""
    if create:
        fresh = type(budget_id) is str and _IDENTIFIER.fullmatch(budget_id) is not None
        if not fresh or budget_id in ghost.budget_limits:
            return True
    elif budget_id not in ghost.budget_limits:
        return True
    return not _integer_in(limit, 0, _SAFE_MAX)


def inject_refused(burn: object) -> bool:
    """Whether the spec refuses a chaos inject of *burn* points (an integer from 1 to 100)."""
    return not _integer_in(burn, 1, 100)
