"""Records (spec sections 2 and 4): signed fields, preimages, effect digests, request checks."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helmmodel.canonical import canonical_bytes
from helmmodel.errors import CanonicalJSONError, InvalidInput, SignatureInvalid
from helmmodel.kernel import Decision, Effect, Intent, Kernel, Receipt, Request
from tests.conftest import echo, make_kernel
from tests.spec import SPEC_SIGNED_FIELDS

SignedRecord = Decision | Intent | Receipt

SPEC_VERSIONS = {
    "decision": "decision_record.v4",
    "intent": "authorized_execution_intent.v2",
    "receipt": "receipt.v5",
}
RECORD_CLASSES: dict[str, type[SignedRecord]] = {
    "decision": Decision,
    "intent": Intent,
    "receipt": Receipt,
}
# Members that carry no authority and so stay out of the preimage.
UNSIGNED_FIELDS = {
    "decision": ("call_id", "reason", "timestamp", "signature"),
    "intent": ("signature",),
    "receipt": ("timestamp", "signature_type", "signature"),
}

SIGNED_FIELD_CASES = [
    pytest.param(kind, name, id=f"{kind}.{name}")
    for kind, cls in RECORD_CLASSES.items()
    for name in cls.SIGNED_FIELDS
]
UNSIGNED_FIELD_CASES = [
    pytest.param(kind, name, id=f"{kind}.{name}")
    for kind, names in UNSIGNED_FIELDS.items()
    for name in names
]
KINDS = list(RECORD_CLASSES)


@pytest.fixture
def records(kernel: Kernel) -> dict[str, SignedRecord]:
    """The decision, intent and receipt of one completed echo call in session s1."""
    outcome = kernel.call(echo(1, session_id="s1"))
    assert outcome.decision is not None
    assert outcome.intent is not None
    assert outcome.receipt is not None
    return {"decision": outcome.decision, "intent": outcome.intent, "receipt": outcome.receipt}


def changed(value: object) -> object:
    """A different value of the same type: an integer plus one, a string with "x" appended."""
    if type(value) is int:
        return value + 1
    if type(value) is str:
        return value + "x"
    raise AssertionError(f"no change defined for {value!r}")


def verify(kernel: Kernel, record: SignedRecord) -> None:
    """Verify *record*'s signature over its own preimage under the key it names."""
    kernel.keys.verify(record.signature_type, record.preimage(), record.signature)


def own_jcs(fields: dict[str, Any]) -> bytes:
    """JCS of an object with ASCII keys and string or integer values (the checker's encoder)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- signed fields and preimages ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_signed_fields_are_those_of_the_spec(kind: str) -> None:
    """Each record signs exactly the fields spec section 4 lists for it."""
    assert SPEC_SIGNED_FIELDS[kind] == list(RECORD_CLASSES[kind].SIGNED_FIELDS)


@pytest.mark.parametrize("kind", KINDS)
def test_unsigned_fields_are_only_the_expected_ones(kind: str) -> None:
    """The members left out of the preimage are only those that carry no authority."""
    members = {field.name for field in attrs.fields(RECORD_CLASSES[kind])}
    assert set(UNSIGNED_FIELDS[kind]) == members - set(SPEC_SIGNED_FIELDS[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_records_of_a_call_verify(
    kernel: Kernel, records: dict[str, SignedRecord], kind: str
) -> None:
    """The untouched decision, intent and receipt of a call verify under the ring."""
    verify(kernel, records[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_preimage_holds_exactly_the_signed_fields(
    records: dict[str, SignedRecord], kind: str
) -> None:
    """The preimage decodes to an object whose members are exactly the signed fields."""
    record = records[kind]
    decoded = json.loads(record.preimage())
    assert set(SPEC_SIGNED_FIELDS[kind]) == set(decoded)
    assert {name: getattr(record, name) for name in SPEC_SIGNED_FIELDS[kind]} == decoded


@pytest.mark.parametrize("kind", KINDS)
def test_preimage_carries_its_version_inside(records: dict[str, SignedRecord], kind: str) -> None:
    """The version marker is the preimage's signature_version member, the spec's string."""
    record = records[kind]
    assert SPEC_VERSIONS[kind] == record.signature_version
    assert SPEC_VERSIONS[kind] == json.loads(record.preimage())["signature_version"]


@pytest.mark.parametrize("kind", KINDS)
def test_preimage_is_jcs_with_nothing_prepended(
    records: dict[str, SignedRecord], kind: str
) -> None:
    """The preimage is byte for byte the JCS of the signed fields, nothing before or after."""
    record = records[kind]
    fields = {name: getattr(record, name) for name in SPEC_SIGNED_FIELDS[kind]}
    assert own_jcs(fields) == record.preimage()


@pytest.mark.parametrize("kind", KINDS)
def test_signature_is_over_the_preimage_alone(
    kernel: Kernel, records: dict[str, SignedRecord], kind: str
) -> None:
    """The signature verifies over the checker's own JCS of the signed fields."""
    record = records[kind]
    fields = {name: getattr(record, name) for name in SPEC_SIGNED_FIELDS[kind]}
    kernel.keys.verify(record.signature_type, own_jcs(fields), record.signature)


# --- tampering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), SIGNED_FIELD_CASES)
def test_changing_a_signed_field_breaks_the_signature(
    kernel: Kernel, records: dict[str, SignedRecord], kind: str, name: str
) -> None:
    """A record with any signed field changed no longer verifies."""
    record = records[kind]
    verify(kernel, record)
    tampered = attrs.evolve(record, **{name: changed(getattr(record, name))})
    assert type(getattr(record, name)) is type(getattr(tampered, name))
    with pytest.raises(SignatureInvalid):
        verify(kernel, tampered)


@pytest.mark.parametrize(("kind", "name"), SIGNED_FIELD_CASES)
def test_changing_a_signed_field_changes_the_preimage(
    kernel: Kernel, records: dict[str, SignedRecord], kind: str, name: str
) -> None:
    """A changed signed field changes the preimage, which the original key then refuses."""
    record = records[kind]
    tampered = attrs.evolve(record, **{name: changed(getattr(record, name))})
    assert record.preimage() != tampered.preimage()
    with pytest.raises(SignatureInvalid):
        kernel.keys.verify(record.signature_type, tampered.preimage(), record.signature)


@pytest.mark.parametrize("kind", ["decision", "intent"])
def test_naming_another_live_key_breaks_the_signature(
    kernel: Kernel, records: dict[str, SignedRecord], kind: str
) -> None:
    """A decision or intent relabelled as signed by another key the ring holds does not verify."""
    kernel.keys.rotate()
    tampered = attrs.evolve(records[kind], signature_type="ed25519:key-0002")
    with pytest.raises(SignatureInvalid):
        verify(kernel, tampered)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("signature_type", ["ed25519:key-0999", "ed25519:key-0002", "rsa:key-0001"])
def test_naming_a_nonexistent_key_breaks_the_signature(
    kernel: Kernel, records: dict[str, SignedRecord], kind: str, signature_type: str
) -> None:
    """A record relabelled as signed by a key the ring never held does not verify."""
    tampered = attrs.evolve(records[kind], signature_type=signature_type)
    with pytest.raises(SignatureInvalid):
        verify(kernel, tampered)


@pytest.mark.parametrize(("kind", "name"), UNSIGNED_FIELD_CASES)
def test_unsigned_fields_do_not_change_the_preimage(
    records: dict[str, SignedRecord], kind: str, name: str
) -> None:
    """Changing a member that is not signed leaves the preimage as it was."""
    record = records[kind]
    value = getattr(record, name)
    tampered = attrs.evolve(record, **{name: changed(value)})
    assert value != getattr(tampered, name)
    assert record.preimage() == tampered.preimage()


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("decision", "call_id"),
        ("decision", "reason"),
        ("decision", "timestamp"),
        ("receipt", "timestamp"),
    ],
)
def test_unsigned_fields_do_not_break_the_signature(
    kernel: Kernel, records: dict[str, SignedRecord], kind: str, name: str
) -> None:
    """A record with an unsigned, authority-free member changed still verifies."""
    record = records[kind]
    verify(kernel, attrs.evolve(record, **{name: changed(getattr(record, name))}))


# --- effect digests -----------------------------------------------------------------------------


def own_effect_digest(tool: str, args: dict[str, Any]) -> str:
    """``sha256:`` of the checker's own JCS of ``{"tool", "args"}``."""
    return "sha256:" + hashlib.sha256(own_jcs({"tool": tool, "args": args})).hexdigest()


def test_effect_digest_is_identity_free() -> None:
    """Two effects with different ids but the same tool and args have the same digest."""
    first = Effect("eff-000001", "echo", {"x": 1})
    second = Effect("eff-000002", "echo", {"x": 1})
    assert first.digest == second.digest


def test_effect_digest_is_sha256_of_jcs_tool_and_args() -> None:
    """An effect's digest is sha256: of the JCS of {"tool", "args"}."""
    args = {"y": [1, 2], "x": "a"}
    assert own_effect_digest("echo", args) == Effect("eff-000001", "echo", args).digest


@pytest.mark.parametrize(
    ("tool", "args"),
    [("echo", {"x": 2}), ("echo", {"y": 1}), ("echo", {}), ("sum", {"x": 1})],
)
def test_effect_digest_changes_with_tool_or_args(tool: str, args: dict[str, Any]) -> None:
    """A different tool or different args give a different digest."""
    assert Effect("eff-000001", "echo", {"x": 1}).digest != Effect("eff-000001", tool, args).digest


def test_effect_digest_ignores_args_key_order() -> None:
    """Args with the same members in another order give the same digest."""
    first = Effect("eff-000001", "sum", {"a": 1, "b": 2})
    second = Effect("eff-000001", "sum", {"b": 2, "a": 1})
    assert first.digest == second.digest


def test_call_records_carry_the_effect_digest(records: dict[str, SignedRecord]) -> None:
    """The decision's effect_digest and the intent's effect_digest_hash are those of the call."""
    decision, intent = records["decision"], records["intent"]
    assert isinstance(decision, Decision)
    assert isinstance(intent, Intent)
    assert own_effect_digest("echo", {"x": 1}) == decision.effect_digest
    assert decision.effect_digest == intent.effect_digest_hash


def test_receipt_args_hash_is_sha256_of_jcs_args(records: dict[str, SignedRecord]) -> None:
    """The receipt's args_hash is sha256: of the JCS of the call's args."""
    receipt = records["receipt"]
    assert isinstance(receipt, Receipt)
    assert "sha256:" + hashlib.sha256(b'{"x":1}').hexdigest() == receipt.args_hash


# --- request checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["", "has space", "x" * 65, "tool/x", "café", "a\n", None, 7])
def test_request_refuses_non_identifier_tool(tool: object) -> None:
    """A tool name outside [A-Za-z0-9_.-]{1,64} is refused, naming the tool name."""
    with pytest.raises(InvalidInput, match="tool name"):
        Request("alice", tool, {})  # type: ignore[arg-type]


@pytest.mark.parametrize("tool", ["a", "x" * 64, "A-Z_a.z-09"])
def test_request_accepts_identifier_tool(tool: str) -> None:
    """A tool name made of 1 to 64 identifier characters is accepted."""
    assert tool == Request("alice", tool, {}).tool


@pytest.mark.parametrize("args", [["x"], None, "x", ("x", 1), 1])
def test_request_refuses_non_dict_args(args: object) -> None:
    """Args that are not a JSON object are refused, naming args."""
    with pytest.raises(InvalidInput, match="args"):
        Request("alice", "echo", args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "path"),
    [
        pytest.param({"amount": 1.5}, "args.amount", id="float"),
        pytest.param({"amount": 1.0}, "args.amount", id="integral-float"),
        pytest.param({"items": [1, 2.5]}, "args.items[1]", id="nested-float"),
        pytest.param({"amount": 2**53}, "args.amount", id="2**53"),
        pytest.param({"amount": -(2**53)}, "args.amount", id="-(2**53)"),
        pytest.param({"outer": {"inner": 10**20}}, "args.outer.inner", id="nested-huge"),
    ],
)
def test_request_refuses_floats_and_unsafe_integers(args: dict[str, Any], path: str) -> None:
    """Floats and integers beyond ±(2^53−1) in args are refused, naming their path."""
    with pytest.raises(InvalidInput, match=re.escape(path)):
        Request("alice", "echo", args)


def test_request_refuses_float_in_context() -> None:
    """A float anywhere in the context is refused, naming its path."""
    with pytest.raises(InvalidInput, match=re.escape("context.weight")):
        Request("alice", "echo", {"x": 1}, {"weight": 0.5})


@pytest.mark.parametrize("key", ["session_id", "budget_id"])
@pytest.mark.parametrize("value", ["", "has space", "x" * 65, "s/1", "sé", None, 1, ["s1"]])
def test_request_refuses_non_identifier_context_ids(key: str, value: object) -> None:
    """A context session_id or budget_id that is not an identifier is refused, naming it."""
    with pytest.raises(InvalidInput, match=re.escape(f"context.{key}")):
        Request("alice", "echo", {"x": 1}, {key: value})


@pytest.mark.parametrize("key", ["session_id", "budget_id"])
def test_request_accepts_identifier_context_ids(key: str) -> None:
    """A context session_id or budget_id of identifier characters is accepted."""
    request = Request("alice", "echo", {"x": 1}, {key: "s-1.a_B"})
    assert "s-1.a_B" == getattr(request, key)


def test_request_accepts_safe_integer_bounds() -> None:
    """Args at ±(2^53−1) are accepted."""
    args = {"max": 2**53 - 1, "min": -(2**53 - 1)}
    assert args == Request("alice", "sum", args).args


# --- the receipt's chain-link bytes -------------------------------------------------------------


@functools.cache
def a_receipt() -> Receipt:
    """The receipt of one completed echo call (made once: hypothesis varies copies of it)."""
    receipt = make_kernel().call(echo(1, session_id="s1")).receipt
    assert receipt is not None
    return receipt


RECEIPT_MEMBERS = [field.name for field in attrs.fields(Receipt)]
MEMBER_VALUES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["", "\ud800", 'x","verdict":"y', ',"signature_version":', "\\", "\x1f"]),
    st.integers(min_value=-(2**54), max_value=2**54),
    st.booleans(),
    st.none(),
    st.lists(st.integers(min_value=0, max_value=2), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(RECEIPT_MEMBERS), MEMBER_VALUES, max_size=4))
def test_receipt_member_bytes_are_the_jcs_of_every_member(changes: dict[str, Any]) -> None:
    """member_bytes (what the next receipt's prev_hash covers) is canonical_bytes of every
    member in field order, or that encoding's refusal, whatever the members hold."""
    receipt = attrs.evolve(a_receipt(), **changes)

    def outcome(encode: Callable[[], bytes]) -> object:
        try:
            return encode()
        except CanonicalJSONError as exc:
            return str(exc)

    everything = {name: getattr(receipt, name) for name in RECEIPT_MEMBERS}
    assert outcome(lambda: canonical_bytes(everything)) == outcome(receipt.member_bytes)
