"""The release's emergency-stop FENCE command (spec section 12): parsing, verification and the
store's answers, each as HELM's route and store give them (``kernel/fence.py``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helmmodel.errors import InvalidInput, SignerUnavailable
from helmmodel.kernel.fence import (
    CONFLICT,
    CREATED,
    FORBIDDEN,
    MALFORMED,
    REPLAYED,
    ZERO_TIME_NS,
    AcknowledgementIdentity,
    FenceCommand,
    FenceInvalid,
    FenceMalformed,
    FenceStore,
    command_signing_payload,
    format_rfc3339,
    kernel_identity,
    parse_fence_envelope,
    parse_rfc3339,
)
from helmmodel.kernel.key_ring import KeyRing

CONTROL_PLANE = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
OTHER = Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32)
KEY_ID = "cp-key"
AUDIENCE = "kernel-a"
IDENTITY = AcknowledgementIdentity(
    kernel_key_id="kernel-key", kernel_signer_profile="classical", kernel_public_key="ab" * 32
)
ISSUED = "2026-07-11T20:00:00Z"
ISSUED_MS = parse_rfc3339(ISSUED) // 1_000_000
NOW_MS = ISSUED_MS + 1_000


def raw_public(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of *key*'s public key."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def command(**changes: Any) -> dict[str, Any]:
    """A valid command for tenant-a/workspace-a at epoch 1, with *changes* applied."""
    members: dict[str, Any] = {
        "contract_version": "emergency-stop-fence.v1",
        "audience": AUDIENCE,
        "key_id": KEY_ID,
        "command_id": "cmd-1",
        "tenant_id": "tenant-a",
        "workspace_id": "workspace-a",
        "epoch": 1,
        "actor_id": "operator",
        "reason": "containment",
        "issued_at": ISSUED,
        "expires_at": "2026-07-11T20:05:00Z",
    }
    members.update(changes)
    return members


def body(members: dict[str, Any], key: Ed25519PrivateKey = CONTROL_PLANE) -> bytes:
    """The request body of *members*, signed by *key* over their signing payload."""
    payload = command_signing_payload(FenceCommand.from_json(members))
    envelope = {"command": members, "signature": key.sign(payload).hex()}
    return json.dumps(envelope).encode()


def store() -> FenceStore:
    """A store for AUDIENCE that trusts CONTROL_PLANE as KEY_ID."""
    return FenceStore(AUDIENCE, {KEY_ID: raw_public(CONTROL_PLANE)})


# --- the store's answers ------------------------------------------------------------------------


def test_first_fence_is_created() -> None:
    """201 with the state; the scope is fenced from then on, and no other scope is."""
    fences = store()
    outcome = fences.fence(body(command()), NOW_MS, IDENTITY)
    assert (CREATED, False, "") == (outcome.status, outcome.replayed, outcome.refusal)
    assert outcome.state is not None
    assert NOW_MS * 1_000_000 == outcome.state.fenced_at
    assert outcome.state == fences.state("tenant-a", "workspace-a")
    assert fences.is_fenced("tenant-a", "workspace-a")
    assert not fences.is_fenced("tenant-a", "workspace-b")
    assert not fences.is_fenced("tenant-b", "workspace-a")


def test_exact_replay_returns_the_original_state() -> None:
    """The same command again is 200, replayed, with the first state (its fenced_at too)."""
    fences = store()
    first = fences.fence(body(command()), NOW_MS, IDENTITY)
    again = fences.fence(body(command()), NOW_MS + 5_000, IDENTITY)
    assert (REPLAYED, True) == (again.status, again.replayed)
    assert first.state == again.state


def test_a_reused_command_id_with_other_content_conflicts() -> None:
    """The same command_id with another payload is 409 and the fence stays."""
    fences = store()
    first = fences.fence(body(command()), NOW_MS, IDENTITY)
    outcome = fences.fence(body(command(reason="other")), NOW_MS, IDENTITY)
    assert CONFLICT == outcome.status and outcome.state is None
    assert first.state == fences.state("tenant-a", "workspace-a")


def test_a_replay_under_another_kernel_identity_conflicts() -> None:
    """An exact replay acknowledged by a different kernel signer is 409, not re-signed."""
    fences = store()
    fences.fence(body(command()), NOW_MS, IDENTITY)
    other = AcknowledgementIdentity(
        kernel_key_id="kernel-key-2", kernel_signer_profile="classical", kernel_public_key="cd"
    )
    assert CONFLICT == fences.fence(body(command()), NOW_MS, other).status


@pytest.mark.parametrize("epoch", [1, 2])
def test_an_epoch_not_above_the_active_one_conflicts(epoch: int) -> None:
    """A new command at an epoch at or below the active fence's is 409 (stale)."""
    fences = store()
    fences.fence(body(command(epoch=2)), NOW_MS, IDENTITY)
    outcome = fences.fence(body(command(command_id="cmd-2", epoch=epoch)), NOW_MS, IDENTITY)
    assert CONFLICT == outcome.status
    assert "stale epoch" in outcome.refusal


def test_a_higher_epoch_replaces_the_fence() -> None:
    """A new command at a higher epoch is 201 and becomes the active fence."""
    fences = store()
    fences.fence(body(command()), NOW_MS, IDENTITY)
    outcome = fences.fence(body(command(command_id="cmd-2", epoch=2)), NOW_MS, IDENTITY)
    assert CREATED == outcome.status
    state = fences.state("tenant-a", "workspace-a")
    assert state is not None and "cmd-2" == state.command.command_id


def test_a_command_id_active_in_another_scope_conflicts() -> None:
    """HELM holds each command_id once across scopes: reusing it for another scope is 409."""
    fences = store()
    fences.fence(body(command()), NOW_MS, IDENTITY)
    outcome = fences.fence(body(command(workspace_id="workspace-b")), NOW_MS, IDENTITY)
    assert CONFLICT == outcome.status
    assert not fences.is_fenced("tenant-a", "workspace-b")


@pytest.mark.parametrize(
    ("request_body", "named"),
    [
        pytest.param(body(command(), OTHER), "does not verify", id="other-signer"),
        pytest.param(body(command(key_id="cp-unknown")), "no command key", id="unknown-key"),
        pytest.param(body(command(audience="kernel-b")), "no command key", id="other-audience"),
        pytest.param(
            json.dumps({"command": command(), "signature": "AB" * 64}).encode(),
            "lowercase hex",
            id="uppercase-hex",
        ),
        pytest.param(
            json.dumps({"command": command()}).encode(), "lowercase hex", id="no-signature"
        ),
    ],
)
def test_a_command_that_does_not_verify_is_forbidden(request_body: bytes, named: str) -> None:
    """A bad signature, an unknown key or audience is 403 and fences nothing."""
    fences = store()
    outcome = fences.fence(request_body, NOW_MS, IDENTITY)
    assert FORBIDDEN == outcome.status
    assert named in outcome.refusal
    assert not fences.is_fenced("tenant-a", "workspace-a")


def test_expiry_is_exclusive() -> None:
    """A command is good until the millisecond before expires_at, and 403 from then on."""
    expires_ms = parse_rfc3339("2026-07-11T20:05:00Z") // 1_000_000
    assert CREATED == store().fence(body(command()), expires_ms - 1, IDENTITY).status
    outcome = store().fence(body(command()), expires_ms, IDENTITY)
    assert FORBIDDEN == outcome.status
    assert "expired" in outcome.refusal


def test_issue_at_most_a_minute_ahead() -> None:
    """issued_at may be up to one minute after now; later is 403."""
    assert CREATED == store().fence(body(command()), ISSUED_MS - 60_000, IDENTITY).status
    outcome = store().fence(body(command()), ISSUED_MS - 60_001, IDENTITY)
    assert FORBIDDEN == outcome.status
    assert "ahead" in outcome.refusal


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"contract_version": "v2"}, "contract_version", id="contract-version"),
        pytest.param({"reason": ""}, "reason", id="empty-reason"),
        pytest.param({"epoch": 0}, "epoch", id="epoch-0"),
        pytest.param({"epoch": 2**53}, "2^53-1", id="epoch-unsafe"),
        pytest.param({"tenant_id": ""}, "tenant_id", id="no-tenant"),
        pytest.param({"workspace_id": " w"}, "workspace_id", id="padded-workspace"),
        pytest.param({"reason": "stop\u00a0"}, "outer whitespace", id="nbsp-is-space"),
        pytest.param({"reason": "é" * 1025}, "2048 bytes", id="reason-bytes"),
        pytest.param({"command_id": "c" * 129}, "128 bytes", id="command-id-long"),
        pytest.param({"key_id": "cp key"}, "key_id", id="key-id-charset"),
        pytest.param({"tenant_id": "t" * 256}, "255 bytes", id="tenant-long"),
        pytest.param({"expires_at": ISSUED}, "ten minutes", id="expires-at-issue"),
        pytest.param({"expires_at": "2026-07-11T20:10:00.000000001Z"}, "ten", id="window"),
        pytest.param({"issued_at": "0001-01-01T00:00:00Z"}, "issued_at", id="zero-time"),
    ],
)
def test_a_command_breaking_the_contract_is_forbidden(changes: dict[str, Any], named: str) -> None:
    """HELM checks the contract while verifying, so a well-formed but invalid command is 403
    (not 400), and it has no signing payload."""
    members = command(**changes)
    with pytest.raises(FenceInvalid, match=named.replace("^", r"\^")):
        command_signing_payload(FenceCommand.from_json(members))
    envelope = json.dumps({"command": members, "signature": "00" * 64}).encode()
    outcome = store().fence(envelope, NOW_MS, IDENTITY)
    assert FORBIDDEN == outcome.status
    assert named in outcome.refusal


def test_a_null_command_is_a_command_of_zero_values() -> None:
    """As Go's decoder leaves zero values for null, a null command is refused as invalid (403)."""
    outcome = store().fence(b'{"command": null, "signature": null}', NOW_MS, IDENTITY)
    assert FORBIDDEN == outcome.status
    assert "contract_version" in outcome.refusal


def test_a_null_member_is_its_zero_value() -> None:
    """A member sent as null is left at Go's zero value, so the command lacks it (403)."""
    members = command(reason=None)
    assert "" == FenceCommand.from_json(members).reason
    envelope = json.dumps({"command": members, "signature": "00" * 64}).encode()
    outcome = store().fence(envelope, NOW_MS, IDENTITY)
    assert (FORBIDDEN, "command lacks reason") == (outcome.status, outcome.refusal)


def test_a_command_from_a_mapping_is_checked_like_one_from_text() -> None:
    """FenceCommand.from_json refuses a negative epoch given as a Python value too."""
    with pytest.raises(FenceMalformed, match="-1"):
        FenceCommand.from_json(command(epoch=-1))


def test_a_ten_minute_window_is_allowed() -> None:
    """expires_at exactly ten minutes after issued_at is within the window."""
    members = command(expires_at="2026-07-11T20:10:00Z")
    assert CREATED == store().fence(body(members), NOW_MS, IDENTITY).status


def test_a_file_separator_is_not_outer_whitespace() -> None:
    """U+001C is whitespace to Python's strip() but not to Go's TrimSpace, which HELM uses."""
    assert CREATED == store().fence(body(command(reason="stop\x1c")), NOW_MS, IDENTITY).status


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'{"command": {}, "signature": ""} {}', id="trailing-value"),
        pytest.param(b'{"command": {}, "signature": "", "extra": 1}', id="unknown-envelope"),
        pytest.param(b'{"command": {"extra": 1}, "signature": ""}', id="unknown-command"),
        pytest.param(b'{"command": {"epoch": "1"}}', id="epoch-string"),
        pytest.param(b'{"command": {"epoch": 1.0}}', id="epoch-float"),
        pytest.param(b'{"command": {"epoch": -1}}', id="epoch-negative"),
        pytest.param(b'{"command": {"epoch": -0}}', id="epoch-minus-zero"),
        pytest.param(b'{"command": {"reason": -1}}', id="negative-elsewhere"),
        pytest.param(b'{"command": {"epoch": 1' + b"0" * 5000 + b"}}", id="epoch-5001-digits"),
        pytest.param(b'{"command": ' + b"[" * 20000 + b"]" * 20000 + b"}", id="deep-nesting"),
        pytest.param(b'{"command": {"epoch": 18446744073709551616}}', id="epoch-over-uint64"),
        pytest.param(b'{"command": {"epoch": NaN}}', id="nan"),
        pytest.param(b'{"command": {"reason": 5}}', id="reason-number"),
        pytest.param(b'{"command": {"issued_at": 5}}', id="time-number"),
        pytest.param(b'{"command": {"issued_at": "2026-07-11 20:00:00Z"}}', id="time-space"),
        pytest.param(b'{"command": "x"}', id="command-string"),
        pytest.param(b'{"signature": 5}', id="signature-number"),
        pytest.param(b'{"signature": "", "signature": ""}', id="duplicate"),
        pytest.param(b'{"signature": "\xff"}', id="not-utf8"),
        pytest.param(b'{"signature": "' + b"a" * (64 << 10) + b'"}', id="over-64-kib"),
    ],
)
def test_a_malformed_body_is_a_bad_request(request_body: bytes) -> None:
    """A body HELM's strict decoder refuses is 400."""
    fences = store()
    outcome = fences.fence(request_body, NOW_MS, IDENTITY)
    assert MALFORMED == outcome.status and outcome.refusal
    with pytest.raises(FenceMalformed):
        parse_fence_envelope(request_body)


def test_an_unpaired_surrogate_escape_reads_as_the_replacement_character() -> None:
    """Go's decoder writes U+FFFD for "\\ud800" alone; a paired escape is one character."""
    envelope = parse_fence_envelope(b'{"command": {"reason": "a\\ud800b\\ud83d\\ude80"}}')
    assert "a\ufffdb\U0001f680" == envelope.command.reason


@pytest.mark.parametrize(
    "identity",
    [
        pytest.param(
            AcknowledgementIdentity(
                kernel_key_id="k", kernel_signer_profile="pqc", kernel_public_key="ab"
            ),
            id="profile",
        ),
        pytest.param(
            AcknowledgementIdentity(
                kernel_key_id=" k", kernel_signer_profile="classical", kernel_public_key="ab"
            ),
            id="key-id",
        ),
        pytest.param(
            AcknowledgementIdentity(
                kernel_key_id="k", kernel_signer_profile="hybrid", kernel_public_key=""
            ),
            id="public-key",
        ),
        pytest.param(
            AcknowledgementIdentity(
                kernel_key_id="k", kernel_signer_profile="classical", kernel_public_key="ab\u2029"
            ),
            id="public-key-padded",
        ),
        pytest.param(
            AcknowledgementIdentity(
                kernel_key_id="k", kernel_signer_profile="classical", kernel_public_key="é" * 8193
            ),
            id="public-key-bytes",
        ),
    ],
)
def test_a_bad_kernel_identity_is_a_bad_request(identity: AcknowledgementIdentity) -> None:
    """A verified command acknowledged by an identity HELM refuses is 400; nothing is fenced."""
    fences = store()
    assert MALFORMED == fences.fence(body(command()), NOW_MS, identity).status
    assert not fences.is_fenced("tenant-a", "workspace-a")


# --- configuration and arguments ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("audience", "keys", "named"),
    [
        pytest.param("", {KEY_ID: bytes(32)}, "''", id="empty-audience"),
        pytest.param(" a", {KEY_ID: bytes(32)}, "' a'", id="padded-audience"),
        pytest.param("a\u3000", {KEY_ID: bytes(32)}, r"'a\\u3000'", id="ideographic-space"),
        pytest.param("a" * 256, {KEY_ID: bytes(32)}, "255", id="long-audience"),
        pytest.param("a", {}, "at least one", id="no-keys"),
        pytest.param("a", {"bad id": bytes(32)}, "'bad id'", id="key-id"),
        pytest.param("a", {KEY_ID: bytes(31)}, "32 raw bytes", id="short-key"),
    ],
)
def test_a_bad_configuration_is_refused(audience: str, keys: dict[str, bytes], named: str) -> None:
    """The store refuses a configuration HELM would not start the route with, naming it."""
    with pytest.raises(InvalidInput, match=named):
        FenceStore(audience, keys)


@pytest.mark.parametrize("scope", [("", "w"), ("t", " w"), ("t", "w" * 256)])
def test_is_fenced_refuses_a_scope_helm_refuses(scope: tuple[str, str]) -> None:
    """A scope that is empty, padded or too long is refused, not answered "not fenced"."""
    with pytest.raises(FenceInvalid):
        store().is_fenced(*scope)


@pytest.mark.parametrize("now_ms", [1.5, "0", 2**53])
def test_now_must_be_milliseconds(now_ms: object) -> None:
    """now_ms is a safe integer of milliseconds."""
    with pytest.raises(InvalidInput, match="now_ms"):
        store().fence(body(command()), now_ms, IDENTITY)  # type: ignore[arg-type]


# --- times --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("2026-07-11T20:00:00Z", "2026-07-11T20:00:00Z"),
        ("2026-07-11T22:30:00+02:30", "2026-07-11T20:00:00Z"),
        ("2026-07-11T19:00:00-01:00", "2026-07-11T20:00:00Z"),
        ("2026-07-11T20:00:00.500000000Z", "2026-07-11T20:00:00.5Z"),
        ("2026-07-11T20:00:00.000Z", "2026-07-11T20:00:00Z"),
        ("2026-07-11T20:00:00.1234567891Z", "2026-07-11T20:00:00.123456789Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
        ("0000-01-01T00:00:00+01:00", "-0001-12-31T23:00:00Z"),
        ("9999-12-31T23:59:59-01:00", "10000-01-01T00:59:59Z"),
    ],
)
def test_times_are_written_as_go_writes_them(given: str, written: str) -> None:
    """A time is read as Go reads RFC 3339 and written in RFC3339Nano UTC."""
    assert written == format_rfc3339(parse_rfc3339(given))


def test_the_signing_payload_writes_times_in_utc() -> None:
    """Two spellings of one instant sign the same payload."""
    plain = command_signing_payload(FenceCommand.from_json(command()))
    offset = command(issued_at="2026-07-11T21:00:00+01:00", expires_at="2026-07-11T20:05:00.0Z")
    assert plain == command_signing_payload(FenceCommand.from_json(offset))


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-07-11T24:00:00Z",
        "2026-07-11T20:60:00Z",
        "2026-07-11T20:00:60Z",
        "2026-07-11T20:00:00+24:00",
        "2026-07-11T20:00:00+01:60",
        "2026-07-11T20:00:00",
        "2026-07-11t20:00:00Z",
        "2026-07-11T20:00:00.Z",
        "2026-07-11T20:00:00,5Z",
        "2026-07-11T20:00:00z",
    ],
)
def test_a_time_go_refuses_is_malformed(text: str) -> None:
    """Invalid dates, times, offsets and spellings are refused."""
    with pytest.raises(FenceMalformed, match="2026"):
        parse_rfc3339(text)


def test_the_zero_time_is_go_s() -> None:
    """Go's zero time.Time is 0001-01-01T00:00:00Z."""
    assert "0001-01-01T00:00:00Z" == format_rfc3339(ZERO_TIME_NS)
    assert 0 == parse_rfc3339("1970-01-01T00:00:00Z")


# --- the kernel's acknowledgement ---------------------------------------------------------------


def test_the_kernel_signs_its_acknowledgement_with_its_ring() -> None:
    """kernel_identity() names the ring's signing key; the state's acknowledgement signed by the
    ring verifies under that key, and the identity is what the state and its JSON carry."""
    ring = KeyRing(b"fence-test-seed")
    identity = kernel_identity(ring)
    assert ("key-0001", "classical") == (identity.kernel_key_id, identity.kernel_signer_profile)
    assert ring.public_key("key-0001").hex() == identity.kernel_public_key
    state = store().fence(body(command()), NOW_MS, identity).state
    assert state is not None
    signature = state.sign_acknowledgement(ring)
    ring.verify("ed25519:key-0001", state.acknowledgement_payload(), signature)
    assert "key-0001" == state.to_json()["kernel_key_id"]


def test_an_acknowledgement_is_signed_only_by_the_key_it_names() -> None:
    """After a rotation the ring signs with another key, so the old state is not re-signed
    under a new identity (HELM refuses that too); with no key to sign, nothing is signed."""
    ring = KeyRing(b"fence-test-seed")
    state = store().fence(body(command()), NOW_MS, kernel_identity(ring)).state
    assert state is not None
    ring.rotate()
    with pytest.raises(SignerUnavailable, match="key-0002"):
        state.sign_acknowledgement(ring)
    ring.remove_signing()
    with pytest.raises(SignerUnavailable):
        kernel_identity(ring)
