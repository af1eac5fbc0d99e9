"""The helm-ai-kernel release's scoped emergency-stop fence (spec section 12).

HELM's ``POST /internal/emergency-stop/fence`` takes a JSON envelope ``{"command": {...},
"signature": "<hex>"}``: a control plane's Ed25519-signed command to fence one tenant/workspace
scope at an epoch. The kernel keeps only the active fence per scope. This module is that command's
semantics, as values: :class:`FenceStore` answers each request body with a :class:`FenceOutcome`
holding the status HELM answers with (201 created, 200 exact replay, 400 malformed, 403 not
verified, 409 conflict) and the fence state; the HTTP route is the server's.

The model never reads a wall clock: every request carries ``now_ms`` (integer milliseconds since
1970-01-01T00:00:00Z, the kernel clock's unit). Times inside commands are RFC 3339 with up to
nanosecond precision, as HELM's Go ``time.Time`` reads them; they are kept as integer nanoseconds
and written back in Go's ``RFC3339Nano`` UTC form (fraction without trailing zeros, ``Z``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from helmmodel.canonical import canonical_bytes, prefixed_hash
from helmmodel.errors import InvalidInput, SignerUnavailable
from helmmodel.kernel.clock import check_time_ms
from helmmodel.kernel.key_ring import SIGNATURE_TYPE_PREFIX, KeyRing, ed25519_valid
from helmmodel.kernel.rfc3339 import NS_PER_SECOND, days_from_civil, format_rfc3339

CONTRACT_VERSION = "emergency-stop-fence.v1"
COVERAGE = "new_governed_dispatches_only"
SIGNER_PROFILES = frozenset({"classical", "hybrid"})

CREATED = 201
REPLAYED = 200
MALFORMED = 400
FORBIDDEN = 403
CONFLICT = 409

REQUEST_BYTES_MAX = 64 << 10
EPOCH_MAX = 2**53 - 1  # HELM keeps epochs JCS-safe, so a JavaScript signer means the same number
UINT64_MAX = 2**64 - 1  # what Go's decoder takes into the epoch before the semantic check
NS_PER_MS = 1_000_000
FUTURE_SKEW_NS = 60 * NS_PER_SECOND
VALIDITY_MAX_NS = 10 * 60 * NS_PER_SECOND
AUDIENCE_MAX = 255
SCOPE_MAX = 255
COMMAND_ID_MAX = 128
ACTOR_MAX = 255
REASON_MAX = 2048
KERNEL_PUBLIC_KEY_MAX = 16384
SIGNATURE_HEX = re.compile(r"[0-9a-f]{128}")
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

# Go's strings.TrimSpace trims Unicode White_Space, which is not Python's str.isspace() (that one
# also counts U+001C..U+001F): HELM's "no outer whitespace" rule is over exactly this set.
GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)

_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?:Z|(?P<sign>[+-])(?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))"
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_COMMAND_STRINGS = (
    "contract_version",
    "audience",
    "key_id",
    "command_id",
    "tenant_id",
    "workspace_id",
    "actor_id",
    "reason",
)
_COMMAND_TIMES = ("issued_at", "expires_at")
_COMMAND_MEMBERS = frozenset((*_COMMAND_STRINGS, "epoch", *_COMMAND_TIMES))


class FenceMalformed(InvalidInput):
    """A request body HELM's decoder refuses (HELM answers 400)."""


class FenceInvalid(InvalidInput):
    """A command that breaks the fence contract's rules (HELM's ``ErrScopedStopInvalid``)."""


# --- RFC 3339 times ---------------------------------------------------------------------------


def _days_in_month(year: int, month: int) -> int:
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return days_from_civil(*following, 1) - days_from_civil(year, month, 1)


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since 1970-01-01T00:00:00Z of *text*, an RFC 3339 time as Go reads one:
    years 0000..9999, a ``.`` fraction of any length (digits past the ninth are dropped), ``Z``
    or a ``±HH:MM`` offset (hours below 24). Raise FenceMalformed otherwise."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise FenceMalformed(f"{text!r} is not an RFC 3339 time such as 2026-07-11T20:00:00Z")
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        raise FenceMalformed(f"{text!r} names no calendar day")
    if hour > 23 or minute > 59 or second > 59:
        raise FenceMalformed(f"{text!r} names no time of day")
    offset = 0
    if match["sign"] is not None:
        offset_hour, offset_minute = int(match["offset_hour"]), int(match["offset_minute"])
        if offset_hour > 23 or offset_minute > 59:
            raise FenceMalformed(f"{text!r} has an offset out of range")
        offset = (offset_hour * 60 + offset_minute) * 60 * (-1 if match["sign"] == "-" else 1)
    fraction = int((match["fraction"] or "0")[:9].ljust(9, "0"))
    seconds = (
        days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    )
    return seconds * NS_PER_SECOND + fraction


# Go's zero time.Time, which HELM reads as "no time given".
ZERO_TIME_NS = parse_rfc3339("0001-01-01T00:00:00Z")


# --- the command ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FenceCommand:
    """A control plane's command to fence one scope (HELM's ``FenceCommand``); times in ns.

    A member the request left out (or sent as null) holds Go's zero value: ``""``, 0 or
    ZERO_TIME_NS; :func:`command_signing_payload` then refuses it as HELM does."""

    contract_version: str = ""
    audience: str = ""
    key_id: str = ""
    command_id: str = ""
    tenant_id: str = ""
    workspace_id: str = ""
    epoch: int = 0
    actor_id: str = ""
    reason: str = ""
    issued_at: int = ZERO_TIME_NS
    expires_at: int = ZERO_TIME_NS

    @classmethod
    def from_json(cls, value: object) -> FenceCommand:
        """The command in *value* (a parsed JSON object); raise FenceMalformed as Go's strict
        decoder would refuse it: an unknown member, or a member of the wrong JSON type."""
        members = _object(value, "command")
        fields: dict[str, Any] = {}
        for name, item in members.items():
            if name not in _COMMAND_MEMBERS:
                raise FenceMalformed(f"command has an unknown member {name!r}")
            if item is None:  # Go's decoder leaves the zero value for a null
                continue
            if name == "epoch":
                if type(item) is not int or not 0 <= item <= UINT64_MAX:
                    raise FenceMalformed(f"command.epoch {item!r} is not a 64-bit unsigned integer")
                fields[name] = item
            elif type(item) is not str:
                raise FenceMalformed(f"command.{name} {item!r} is not a string")
            elif name in _COMMAND_TIMES:
                fields[name] = parse_rfc3339(item)
            else:
                fields[name] = item
        return cls(**fields)


@attrs.frozen
class FenceEnvelope:
    """A request: the command and the control plane's lowercase-hex signature over it."""

    command: FenceCommand
    signature: str


def _object(value: object, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise FenceMalformed(f"{what} is not a JSON object: {value!r}")
    return value


def _refuse_float(token: str) -> None:
    raise FenceMalformed(f"the number {token} is not an integer")


def _parse_unsigned(token: str) -> int:
    # The only number an envelope holds is the epoch, which Go decodes as unsigned: it refuses
    # any minus sign, "-0" included (which Python would read as 0, a 403 instead of a 400). A
    # token longer than 2^64-1's 20 digits is refused before int(), which caps digit counts.
    if token.startswith("-") or len(token) > len(str(UINT64_MAX)):
        raise FenceMalformed(f"the number {token[:32]} is not a 64-bit unsigned integer")
    return int(token)


def _refuse_constant(token: str) -> None:
    raise FenceMalformed(f"{token} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for key, item in pairs:
        if key in members:
            raise FenceMalformed(f"the member {key!r} appears twice")
        members[key] = item
    return members


def _go_strings(value: Any) -> Any:
    # Go's decoder writes U+FFFD for an escaped surrogate that has no partner (Python's keeps it).
    if type(value) is str:
        return _LONE_SURROGATE.sub("\ufffd", value)
    if type(value) is dict:
        return {_go_strings(key): _go_strings(item) for key, item in value.items()}
    if type(value) is list:
        return [_go_strings(item) for item in value]
    return value


def parse_fence_envelope(body: bytes) -> FenceEnvelope:
    """The envelope in *body* (the request's JSON text); raise FenceMalformed where HELM's route
    answers 400: over 64 KiB, not UTF-8 JSON, not one object, an unknown member, a wrong type."""
    if len(body) > REQUEST_BYTES_MAX:
        raise FenceMalformed(f"the body has {len(body)} bytes, over {REQUEST_BYTES_MAX}")
    try:
        text = body.decode("utf-8")
        value = json.loads(
            text,
            parse_float=_refuse_float,
            parse_int=_parse_unsigned,
            parse_constant=_refuse_constant,
            object_pairs_hook=_no_duplicates,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FenceMalformed(f"the body is not one JSON value: {error}") from None
    except RecursionError:
        # Go's decoder refuses nesting past 10000 levels; Python's gives up sooner, and either
        # way such a body is no envelope.
        raise FenceMalformed("the body nests too deeply") from None
    members = _object(_go_strings(value), "the envelope")
    unknown = sorted(set(members) - {"command", "signature"})
    if unknown:
        raise FenceMalformed(f"the envelope has unknown members {unknown}")
    signature = members.get("signature")
    if signature is None:
        signature = ""
    elif type(signature) is not str:
        raise FenceMalformed(f"signature {signature!r} is not a string")
    return FenceEnvelope(FenceCommand.from_json(members.get("command")), signature)


def _has_outer_space(value: str) -> bool:
    return bool(value) and (value[0] in GO_SPACE or value[-1] in GO_SPACE)


def check_command(command: FenceCommand) -> None:
    """Raise FenceInvalid unless *command* keeps the fence contract (HELM's ``normalize``)."""
    for name in _COMMAND_STRINGS:
        if _has_outer_space(getattr(command, name)):
            raise FenceInvalid(f"command.{name} {getattr(command, name)!r} has outer whitespace")
    if command.contract_version != CONTRACT_VERSION:
        raise FenceInvalid(
            f"command.contract_version {command.contract_version!r} is not {CONTRACT_VERSION!r}"
        )
    required = ("audience", "key_id", "command_id", "actor_id", "reason", "epoch")
    missing = [name for name in required if not getattr(command, name)]
    missing += [name for name in _COMMAND_TIMES if getattr(command, name) == ZERO_TIME_NS]
    if missing:
        raise FenceInvalid(f"command lacks {', '.join(missing)}")
    if command.epoch > EPOCH_MAX:
        raise FenceInvalid(f"command.epoch {command.epoch} is over 2^53-1")
    lengths = (
        ("audience", AUDIENCE_MAX),
        ("command_id", COMMAND_ID_MAX),
        ("actor_id", ACTOR_MAX),
        ("reason", REASON_MAX),
    )
    for name, limit in lengths:
        # Go measures strings in UTF-8 bytes.
        if len(getattr(command, name).encode("utf-8")) > limit:
            raise FenceInvalid(f"command.{name} is over {limit} bytes")
    if KEY_ID.fullmatch(command.key_id) is None:
        raise FenceInvalid(f"command.key_id {command.key_id!r} is not 1 to 128 of A-Za-z0-9._-")
    check_scope(command.tenant_id, command.workspace_id)
    if not command.issued_at < command.expires_at <= command.issued_at + VALIDITY_MAX_NS:
        raise FenceInvalid("command.expires_at must be after issued_at and within ten minutes")


def check_scope(tenant_id: str, workspace_id: str) -> None:
    """Raise FenceInvalid unless both ids are non-empty, at most 255 bytes, with no outer
    whitespace (HELM's ``StopScope.normalized``)."""
    for name, value in (("tenant_id", tenant_id), ("workspace_id", workspace_id)):
        if type(value) is not str or not value or _has_outer_space(value):
            raise FenceInvalid(f"{name} {value!r} must be non-empty, without outer whitespace")
        if len(value.encode("utf-8")) > SCOPE_MAX:
            raise FenceInvalid(f"{name} is over {SCOPE_MAX} bytes")


def command_signing_payload(command: FenceCommand) -> bytes:
    """The bytes the control plane signs: JCS of the command's members and ``action: FENCE``,
    its times in RFC3339Nano UTC. Raise FenceInvalid for a command HELM would not sign."""
    check_command(command)
    return canonical_bytes(
        {
            "action": "FENCE",
            **{name: getattr(command, name) for name in _COMMAND_STRINGS},
            "epoch": command.epoch,
            **{name: format_rfc3339(getattr(command, name)) for name in _COMMAND_TIMES},
        }
    )


# --- the kernel's state and acknowledgement ---------------------------------------------------


@attrs.frozen(kw_only=True)
class AcknowledgementIdentity:
    """The kernel signer that acknowledges fences: key id, profile and public key (hex)."""

    kernel_key_id: str
    kernel_signer_profile: str
    kernel_public_key: str

    def check(self) -> None:
        """Raise FenceInvalid unless the identity is one HELM accepts (``normalize``)."""
        if _has_outer_space(self.kernel_key_id) or KEY_ID.fullmatch(self.kernel_key_id) is None:
            raise FenceInvalid(  # pragma: no cover - the ring's key ids are key ids
                f"kernel_key_id {self.kernel_key_id!r} is not a key id"
            )
        if self.kernel_signer_profile not in SIGNER_PROFILES:
            raise FenceInvalid(  # pragma: no cover - kernel_identity's profile is classical
                f"kernel_signer_profile {self.kernel_signer_profile!r} is not one of "
                f"{sorted(SIGNER_PROFILES)}"
            )
        public = self.kernel_public_key
        if not public or _has_outer_space(public) or len(public.encode()) > KERNEL_PUBLIC_KEY_MAX:
            raise FenceInvalid(  # pragma: no cover - a ring's key is 64 hex digits
                f"kernel_public_key {public!r} is empty, padded or too long"
            )


def kernel_identity(keys: KeyRing) -> AcknowledgementIdentity:
    """The identity of *keys*' signing key as a classical Ed25519 acknowledgement signer;
    SignerUnavailable when no key can sign (HELM's route then answers 503)."""
    key_id = keys.signature_type().removeprefix(SIGNATURE_TYPE_PREFIX)
    return AcknowledgementIdentity(
        kernel_key_id=key_id,
        kernel_signer_profile="classical",
        kernel_public_key=keys.public_key(key_id).hex(),
    )


@attrs.frozen(kw_only=True)
class FenceState:
    """The active fence of one scope, as HELM persists and acknowledges it; times in ns."""

    command: FenceCommand
    command_hash: str
    fenced_at: int
    identity: AcknowledgementIdentity

    def acknowledgement_payload(self) -> bytes:
        """The bytes the kernel signs: JCS of the state with ``action: FENCE_ACK`` (the receipt
        hash and signature are not in it)."""
        command = self.command
        return canonical_bytes(
            {
                "action": "FENCE_ACK",
                **{name: getattr(command, name) for name in _COMMAND_STRINGS},
                "epoch": command.epoch,
                **{name: format_rfc3339(getattr(command, name)) for name in _COMMAND_TIMES},
                "command_hash": self.command_hash,
                "fenced_at": format_rfc3339(self.fenced_at),
                **attrs.asdict(self.identity),
            }
        )

    def sign_acknowledgement(self, keys: KeyRing) -> str:
        """The kernel's signature (lowercase hex) over the acknowledgement payload, by the key
        the state's identity names, which *keys* must still be able to sign with."""
        signature_type = SIGNATURE_TYPE_PREFIX + self.identity.kernel_key_id
        if signature_type != keys.signature_type():
            # The route signs a new state under the lock it took the identity in, and refuses
            # (409) a replay under another identity, so only a direct caller gets here.
            raise SignerUnavailable(  # pragma: no cover
                f"the state is acknowledged by {self.identity.kernel_key_id!r}, "
                f"but the ring signs with {keys.signature_type()!r}"
            )
        return keys.sign(signature_type, self.acknowledgement_payload())

    @property
    def receipt_hash(self) -> str:
        """``sha256:`` of the acknowledgement payload."""
        return prefixed_hash(self.acknowledgement_payload())

    def to_json(self) -> dict[str, Any]:
        """The state as HELM's response carries it (``state`` of the acknowledgement)."""
        payload = json.loads(self.acknowledgement_payload())
        del payload["action"]
        return {**payload, "receipt_hash": self.receipt_hash}


@attrs.frozen(kw_only=True)
class FenceOutcome:
    """HELM's answer to one request: its status, the active state (201 and 200 only), whether
    it was an exact replay, and why it was refused (empty when it was not)."""

    status: int
    state: FenceState | None = None
    replayed: bool = False
    refusal: str = ""


def _refused(status: int, refusal: str) -> FenceOutcome:
    return FenceOutcome(status=status, refusal=refusal)


class FenceStore:
    """The kernel's fences: per scope the active state, and the command keys it trusts.

    *audience* is this kernel's audience and *command_keys* its active control-plane keys
    (key id to 32 raw Ed25519 bytes); a command verifies only under a key named by its own
    ``key_id`` and with this ``audience``, both of which it signs."""

    def __init__(self, audience: str, command_keys: Mapping[str, bytes]) -> None:
        if type(audience) is not str or not audience or _has_outer_space(audience):
            raise InvalidInput(f"the command audience {audience!r} must be non-empty, unpadded")
        if len(audience.encode("utf-8")) > AUDIENCE_MAX:
            raise InvalidInput(f"the command audience is over {AUDIENCE_MAX} bytes")
        if not command_keys:
            raise InvalidInput("a fence store needs at least one command key")
        for key_id, public in command_keys.items():
            if type(key_id) is not str or KEY_ID.fullmatch(key_id) is None:
                raise InvalidInput(f"command key id {key_id!r} is not 1 to 128 of A-Za-z0-9._-")
            if type(public) is not bytes or len(public) != 32:
                raise InvalidInput(f"command key {key_id!r}: {public!r} is not 32 raw bytes")
        self._audience = audience
        self._keys = dict(command_keys)
        self._states: dict[tuple[str, str], FenceState] = {}

    # The release's API never asks for a scope's fence (a fence of its scope freezes the
    # kernel); HELM's vectors do (tests/unit/test_fence.py).
    def state(  # pragma: no cover
        self, tenant_id: str, workspace_id: str
    ) -> FenceState | None:
        """The active fence of the scope, or None."""
        check_scope(tenant_id, workspace_id)
        return self._states.get((tenant_id, workspace_id))

    def is_fenced(  # pragma: no cover - as state()
        self, tenant_id: str, workspace_id: str
    ) -> bool:
        """Whether the scope has an active fence (FenceInvalid for a scope HELM refuses)."""
        return self.state(tenant_id, workspace_id) is not None

    def _refusal_to_verify(self, envelope: FenceEnvelope, now_ns: int) -> str:
        """Why the envelope does not verify at *now_ns* (HELM answers 403), or ""."""
        command = envelope.command
        try:
            payload = command_signing_payload(command)
        except FenceInvalid as error:
            return str(error)
        public = self._keys.get(command.key_id)
        if public is None or command.audience != self._audience:
            return (
                f"no command key {command.key_id!r} for audience {command.audience!r} "
                f"(this kernel's audience is {self._audience!r})"
            )
        if now_ns >= command.expires_at:
            return f"the command expired at {format_rfc3339(command.expires_at)}"
        if command.issued_at > now_ns + FUTURE_SKEW_NS:
            issued = format_rfc3339(command.issued_at)
            return f"the command is issued at {issued}, over a minute ahead"
        if SIGNATURE_HEX.fullmatch(envelope.signature) is None:
            return "the signature is not 128 lowercase hex digits"
        if not ed25519_valid(public, payload, envelope.signature):
            return f"the signature does not verify under command key {command.key_id!r}"
        return ""

    def fence(self, body: bytes, now_ms: int, identity: AcknowledgementIdentity) -> FenceOutcome:
        """Answer one request *body* at *now_ms*, acknowledged by the kernel signer *identity*."""
        now_ns = check_time_ms(now_ms, "now_ms") * NS_PER_MS
        try:
            envelope = parse_fence_envelope(body)
        except FenceMalformed as error:
            return _refused(MALFORMED, str(error))
        refusal = self._refusal_to_verify(envelope, now_ns)
        if refusal:
            return _refused(FORBIDDEN, refusal)
        try:
            identity.check()
        except FenceInvalid as error:  # pragma: no cover - the route's identity is the ring's
            return _refused(MALFORMED, str(error))
        command = envelope.command
        command_hash = prefixed_hash(command_signing_payload(command))
        scope = (command.tenant_id, command.workspace_id)
        active = self._states.get(scope)
        if active is not None and active.command.command_id == command.command_id:
            if active.command_hash != command_hash:
                return _refused(CONFLICT, "command_id replayed with another payload")
            if active.identity != identity:
                return _refused(CONFLICT, "replay under another kernel acknowledgement identity")
            return FenceOutcome(status=REPLAYED, state=active, replayed=True)
        if active is not None and command.epoch <= active.command.epoch:
            return _refused(
                CONFLICT, f"stale epoch: requested {command.epoch}, active {active.command.epoch}"
            )
        # HELM's table holds each command_id once (a unique column), across scopes.
        if any(
            state.command.command_id == command.command_id
            for other, state in self._states.items()
            if other != scope
        ):
            return _refused(CONFLICT, f"command_id {command.command_id!r} fences another scope")
        state = FenceState(
            command=command, command_hash=command_hash, fenced_at=now_ns, identity=identity
        )
        self._states[scope] = state
        return FenceOutcome(status=CREATED, state=state)
