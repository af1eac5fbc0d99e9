"""Canonical JSON (spec section 1): HELM vectors, RFC 8785 examples, refusals, strict reader."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helmmodel.canonical import (
    FlatEncoder,
    canonical_bytes,
    canonical_bytes_full,
    flat_encoder,
    parse_strict,
)
from helmmodel.errors import CanonicalJSONError

# HELM's own vectors, copied into the repository with their provenance (tests/data/helm/README.md).
VECTORS_PATH = Path(__file__).resolve().parents[1] / "data" / "helm" / "canonical-json-v1.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]

INTEROPERABLE = [pytest.param(v, id=v["id"]) for v in VECTORS if v["interoperable"] is True]
REFUSED = [pytest.param(v, id=v["id"]) for v in VECTORS if v["interoperable"] is not True]

SAFE = 2**53 - 1
ENCODERS = [
    pytest.param(canonical_bytes, id="fast"),
    pytest.param(canonical_bytes_full, id="full"),
]


def nested_lists(levels: int, leaf: object) -> object:
    """*leaf* inside *levels* nested arrays."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def nested_containers(levels: int, leaf: str) -> object:
    """An object ``{"a": ...}`` and arrays, *levels* containers in all, the innermost array
    holding 0 (*leaf* ``"scalar"``) or nothing (*leaf* ``"empty"``)."""
    if leaf == "scalar":
        return {"a": nested_lists(levels - 1, 0)}
    return {"a": nested_lists(levels - 2, [])}


# --- HELM's vectors -----------------------------------------------------------------------------


def test_vector_file_holds_both_kinds_with_unique_ids() -> None:
    """The vector file has interoperable and refused vectors, each with a distinct id."""
    ids = [v["id"] for v in VECTORS]
    assert len(ids) == len(set(ids))
    assert INTEROPERABLE
    assert REFUSED


@pytest.mark.parametrize("vector", INTEROPERABLE)
def test_interoperable_vector_gives_its_canonical_bytes(vector: dict[str, Any]) -> None:
    """An interoperable vector's input canonicalises to exactly its canonical bytes."""
    expected = vector["canonical"].encode("utf-8")
    actual = canonical_bytes(parse_strict(vector["input"].encode("utf-8")))
    assert expected == actual


@pytest.mark.parametrize("vector", INTEROPERABLE)
def test_interoperable_vector_gives_its_sha256(vector: dict[str, Any]) -> None:
    """The SHA-256 of an interoperable vector's canonical bytes is its recorded sha256."""
    actual = canonical_bytes(parse_strict(vector["input"].encode("utf-8")))
    assert vector["sha256"] == hashlib.sha256(actual).hexdigest()


@pytest.mark.parametrize("vector", INTEROPERABLE)
def test_interoperable_vector_full_encoder_agrees(vector: dict[str, Any]) -> None:
    """The full UTF-16-ordering encoder gives the vector's canonical bytes too."""
    expected = vector["canonical"].encode("utf-8")
    actual = canonical_bytes_full(parse_strict(vector["input"].encode("utf-8")))
    assert expected == actual


@pytest.mark.parametrize("vector", REFUSED)
def test_non_interoperable_vector_is_refused(vector: dict[str, Any]) -> None:
    """A vector not marked interoperable is refused by the strict reader."""
    with pytest.raises(CanonicalJSONError):
        parse_strict(vector["input"].encode("utf-8"))


# --- RFC 8785 examples --------------------------------------------------------------------------

# The "string" member of RFC 8785 section 3.2.2, as JSON text.
RFC8785_STRUCTURE_STRING = r'"\u20ac$\u000F\u000aA' + "'" + r'\u0042\u0022\u005c\\\"\/"'


def test_rfc8785_structure_example_with_floats_is_refused() -> None:
    """RFC 8785's section 3.2.2 example is refused as a whole: its numbers are floats."""
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        f' "string": {RFC8785_STRUCTURE_STRING}, "literals": [null, true, false]}}'
    )
    with pytest.raises(CanonicalJSONError, match="fraction or exponent"):
        parse_strict(text.encode("utf-8"))


@pytest.mark.parametrize(
    "token", ["333333333.33333329", "1E30", "4.50", "2e-3", "0.000000000000000000000000001"]
)
def test_rfc8785_structure_example_numbers_are_each_refused(token: str) -> None:
    """Each number of RFC 8785's structure example is a float and is refused."""
    with pytest.raises(CanonicalJSONError):
        parse_strict(f'{{"numbers": [{token}]}}'.encode())


def test_rfc8785_structure_example_without_numbers_canonicalises() -> None:
    """RFC 8785's structure example minus its floats gives the RFC's bytes minus "numbers"."""
    text = f'{{\n  "string": {RFC8785_STRUCTURE_STRING},\n  "literals": [null, true, false]\n}}'
    expected = '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'.encode()
    assert expected == canonical_bytes(parse_strict(text.encode("utf-8")))


def test_rfc8785_structure_example_with_integers_canonicalises() -> None:
    """The structure example's numbers member holding safe integers is sorted and kept."""
    value = {"numbers": [333333333, 1, -4, 0], "literals": [None, True, False]}
    expected = b'{"literals":[null,true,false],"numbers":[333333333,1,-4,0]}'
    assert expected == canonical_bytes(value)


# --- key order by UTF-16 code units ------------------------------------------------------------


@pytest.mark.parametrize("encode", ENCODERS)
def test_supplementary_key_sorts_before_fffd(encode: Any) -> None:
    """Key U+10000 (UTF-16 D800 DC00) sorts before key U+FFFD."""
    expected = '{"\U00010000":2,"\ufffd":1}'.encode()
    assert expected == encode({"\ufffd": 1, "\U00010000": 2})


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("bmp", ["\ue000", "\uf8ff", "\ufb33", "\ufeff", "\uffff"])
@pytest.mark.parametrize("astral", ["\U00010000", "\U0001f600", "\U0010ffff"])
def test_supplementary_key_sorts_before_e000_to_ffff(encode: Any, bmp: str, astral: str) -> None:
    """A supplementary-plane key sorts before any key in U+E000..U+FFFF."""
    expected = f'{{"{astral}":"astral","{bmp}":"bmp"}}'.encode()
    assert expected == encode({bmp: "bmp", astral: "astral"})


@pytest.mark.parametrize("encode", ENCODERS)
def test_supplementary_key_sorts_after_keys_below_d800(encode: Any) -> None:
    """Below U+D800 a BMP key sorts before a supplementary key, as in code-point order."""
    expected = '{"a":1,"€":2,"\U00010000":3,"\ue000":4}'.encode()
    assert expected == encode({"\ue000": 4, "\U00010000": 3, "€": 2, "a": 1})


@pytest.mark.parametrize("encode", ENCODERS)
def test_utf16_order_applies_in_nested_objects(encode: Any) -> None:
    """Objects nested in arrays and objects are sorted by UTF-16 code units too."""
    value = {"outer": [{"\uffff": 1, "\U0001f600": 2}], "a": {"\ue000": 3, "\U00010001": 4}}
    expected = '{"a":{"\U00010001":4,"\ue000":3},"outer":[{"\U0001f600":2,"\uffff":1}]}'.encode()
    assert expected == encode(value)


# --- escaping -----------------------------------------------------------------------------------

SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def control_escape(code: int) -> str:
    """The JCS escape of the control character *code* (short form or lowercase \\u00xx)."""
    return SHORT_ESCAPES.get(code, f"\\u{code:04x}")


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_are_escaped(encode: Any, code: int) -> None:
    """U+0000..U+001F are escaped in values, with short forms where JSON has them."""
    expected = f'"a{control_escape(code)}b"'.encode()
    assert expected == encode(f"a{chr(code)}b")


@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_are_escaped_in_keys_on_both_paths(code: int) -> None:
    """Control characters in keys are escaped alike on the fast and the full path."""
    escaped = control_escape(code)
    assert f'{{"k{escaped}":1}}'.encode() == canonical_bytes({f"k{chr(code)}": 1})
    # The astral key forces the full encoder inside canonical_bytes.
    value = {f"\U0001f600{chr(code)}": 1}
    assert f'{{"\U0001f600{escaped}":1}}'.encode() == canonical_bytes(value)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"', b'"\\""', id="quote"),
        pytest.param("\\", b'"\\\\"', id="backslash"),
        pytest.param("/", b'"/"', id="solidus"),
        pytest.param("\x7f", b'"\x7f"', id="U+007F"),
        pytest.param("\x80", '"\x80"'.encode(), id="U+0080"),
        pytest.param("\u2028\u2029", '"\u2028\u2029"'.encode(), id="U+2028-U+2029"),
        pytest.param("<a>&'", b'"<a>&\'"', id="html"),
        pytest.param("\U0001f600", '"\U0001f600"'.encode(), id="astral"),
        pytest.param("\ufeff", '"\ufeff"'.encode(), id="U+FEFF"),
    ],
)
def test_other_characters_are_literal(encode: Any, text: str, expected: bytes) -> None:
    """Only the quote and backslash are escaped beyond controls; the rest is literal UTF-8."""
    assert expected == encode(text)


def test_literals_and_integers_encode() -> None:
    """true, false, null and the safe-integer bounds encode as JSON literals."""
    value = [True, False, None, SAFE, -SAFE, 0, -1]
    expected = b"[true,false,null,9007199254740991,-9007199254740991,0,-1]"
    assert expected == canonical_bytes(value)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, b"true"), (False, b"false"), ({"flag": True}, b'{"flag":true}'), ([False], b"[false]")],
)
def test_bools_are_accepted(encode: Any, value: object, expected: bytes) -> None:
    """Booleans are in the subset and encode as true/false, never as integers."""
    assert expected == encode(value)


# --- refusals, with messages naming the path ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        pytest.param(1.5, "top-level", id="top-level-float"),
        pytest.param({"price": {"unit": [0, 1.0]}}, "price.unit[1]", id="nested-float"),
        pytest.param({"total": 2**53}, "total", id="2**53"),
        pytest.param({"total": -(2**53)}, "total", id="-(2**53)"),
        pytest.param({"deep": [[2**64]]}, "deep[0][0]", id="2**64"),
        pytest.param({"outer": {1: "x"}}, "outer", id="int-key"),
        pytest.param({"outer": {(1, 2): "x"}}, "outer", id="tuple-key"),
        pytest.param({"tags": {1, 2}}, "tags", id="set"),
        pytest.param({"blob": [b"raw"]}, "blob[0]", id="bytes"),
        pytest.param({"ratio": float("nan")}, "ratio", id="nan"),
    ],
)
def test_values_outside_the_subset_are_refused_naming_the_path(value: object, path: str) -> None:
    """A float, unsafe integer, non-string key, set or bytes is refused naming where it is."""
    with pytest.raises(CanonicalJSONError) as info:
        canonical_bytes(value)
    assert path in str(info.value)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("value", [SAFE, -SAFE, {"n": SAFE}])
def test_safe_integer_bounds_are_accepted(encode: Any, value: object) -> None:
    """±(2^53−1) are the largest integers in the subset."""
    assert json.dumps(value, separators=(",", ":")).encode() == encode(value)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize(
    ("value", "path"),
    [
        pytest.param({"title": "a\ud800b"}, "title", id="high-in-value"),
        pytest.param({"names": ["ok", "\udc00"]}, "names[1]", id="low-in-array"),
        pytest.param({"outer": {"\ud800": 1}}, "outer", id="high-in-key"),
        pytest.param({"outer": {"x\udfff": 1}}, "outer", id="low-in-key"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_path(encode: Any, value: object, path: str) -> None:
    """A lone surrogate in a string or a key is refused, naming where it is."""
    with pytest.raises(CanonicalJSONError) as info:
        encode(value)
    assert path in str(info.value)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("leaf", ["scalar", "empty"])
def test_nesting_of_64_levels_is_accepted(encode: Any, leaf: str) -> None:
    """Sixty-four nested containers are within the depth limit, whatever the innermost holds."""
    value = nested_containers(64, leaf)
    assert json.dumps(value, separators=(",", ":")).encode() == encode(value)


@pytest.mark.parametrize("encode", ENCODERS)
@pytest.mark.parametrize("leaf", ["scalar", "empty"])
@pytest.mark.parametrize("levels", [65, 66, 200])
def test_nesting_deeper_than_64_is_refused_naming_the_path(
    encode: Any, leaf: str, levels: int
) -> None:
    """More than 64 nested containers are refused, naming the path and the limit."""
    with pytest.raises(CanonicalJSONError) as info:
        encode(nested_containers(levels, leaf))
    message = str(info.value)
    assert "a[0][0]" in message
    assert "64" in message


# --- the fast path and the full encoder agree ----------------------------------------------------

KEY_CHARACTERS = st.one_of(
    st.sampled_from("abAZ09_-~"),
    st.characters(min_codepoint=0x00, max_codepoint=0x7F),
    st.characters(min_codepoint=0x80, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFF),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
)
KEYS = st.text(KEY_CHARACTERS, max_size=4)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-SAFE, max_value=SAFE),
    st.sampled_from([SAFE, -SAFE, 0, -1]),
    st.text(KEY_CHARACTERS, max_size=6),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=5),
    ),
    max_leaves=20,
)


def _utf16_units(key: str) -> bytes:
    return key.encode("utf-16-be")


def _assert_keys_in_utf16_order(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert sorted(keys, key=_utf16_units) == keys
    return dict(pairs)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_fast_path_and_full_encoder_agree(value: object) -> None:
    """canonical_bytes and canonical_bytes_full give identical, UTF-16-sorted, lossless bytes."""
    fast = canonical_bytes(value)
    assert canonical_bytes_full(value) == fast
    # An oracle apart from both encoders: every object's keys come out in UTF-16 order, and
    # decoding gives back the value.
    assert value == json.loads(fast, object_pairs_hook=_assert_keys_in_utf16_order)


# --- the strict reader --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"a":"\xff"}', id="invalid-utf8-byte"),
        pytest.param(b'{"a":"\xc3"}', id="truncated-utf8"),
        pytest.param(b'{"a":"\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
        pytest.param(b"\xef\xbb\xbf{}", id="bom"),
        pytest.param(b'"\\ud800"', id="lone-high-surrogate-escape"),
        pytest.param(b'"\\udc00x"', id="lone-low-surrogate-escape"),
        pytest.param(b'{"\\ud800":1}', id="lone-surrogate-escape-in-key"),
        pytest.param(b"NaN", id="nan"),
        pytest.param(b"Infinity", id="infinity"),
        pytest.param(b"-Infinity", id="minus-infinity"),
        pytest.param(b'{"a":NaN}', id="nested-nan"),
        pytest.param(b'{"a":1,"a":2}', id="duplicate-key"),
        pytest.param(b'{"o":{"k":1,"k":1}}', id="nested-duplicate-key"),
        pytest.param(b'[{"x":{"k":1,"k":2}}]', id="duplicate-key-in-array"),
        pytest.param(b"{} {}", id="trailing-object"),
        pytest.param(b"{}x", id="trailing-garbage"),
        pytest.param(b"1.0", id="fraction"),
        pytest.param(b"1e2", id="exponent"),
        pytest.param(b"1E2", id="uppercase-exponent"),
        pytest.param(b"-0", id="minus-zero"),
        pytest.param(b'{"a":[-0]}', id="nested-minus-zero"),
        pytest.param(b"9007199254740992", id="2**53"),
        pytest.param(b"-9007199254740992", id="-(2**53)"),
        pytest.param(b"01", id="leading-zero"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[" * 65 + b"0" + b"]" * 65, id="65-deep"),
        pytest.param(b"[" * 65 + b"]" * 65, id="65-deep-empty"),
        pytest.param(b"[" * 1000 + b"]" * 1000, id="1000-deep"),
    ],
)
def test_parse_strict_refuses(data: bytes) -> None:
    """The strict reader refuses malformed or out-of-subset JSON text."""
    with pytest.raises(CanonicalJSONError):
        parse_strict(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b'  {"a": [1, -2, true, null]}\n\t', {"a": [1, -2, True, None]}, id="ws"),
        pytest.param(b"\r\n0 ", 0, id="zero"),
        pytest.param(b"9007199254740991", SAFE, id="max-safe"),
        pytest.param(b"-9007199254740991", -SAFE, id="min-safe"),
        pytest.param(b'"\\ud83d\\ude00"', "\U0001f600", id="surrogate-pair-escape"),
        pytest.param(b'{"a":{"a":1},"b":{"a":2}}', {"a": {"a": 1}, "b": {"a": 2}}, id="same-key"),
        pytest.param(b"[" * 64 + b"0" + b"]" * 64, nested_lists(64, 0), id="64-deep"),
        pytest.param(b"[" * 64 + b"]" * 64, nested_lists(63, []), id="64-deep-empty"),
    ],
)
def test_parse_strict_accepts_valid_json(data: bytes, expected: object) -> None:
    """Valid JSON in the subset parses, with whitespace around it allowed."""
    assert expected == parse_strict(data)


def test_parse_strict_refusals_subclass_value_error() -> None:
    """A strict-reader refusal is a ValueError too, so generic callers can catch it."""
    with pytest.raises(ValueError):
        parse_strict(b"{} {}")


# --- the flat encoder of records and nodes --------------------------------------------------------

NAMES = st.lists(
    st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True), min_size=2, max_size=8, unique=True
)
# Flat values, and everything the flat encoder must hand to the full encoder: nested values,
# floats, unsafe integers, lone surrogates, characters that need escaping.
MEMBER_VALUES = st.one_of(
    SCALARS,
    JSON_VALUES,
    st.floats(allow_nan=False),
    st.sampled_from([SAFE + 1, -SAFE - 1, 2**64, "\ud800", "a\udfffb", '"\\\n\x00\u2028']),
)


def _outcome(encode: Any, value: Any) -> bytes | tuple[type[BaseException], str]:
    """The bytes *encode* gives for *value*, or the type and message of its refusal."""
    try:
        return encode(value)  # type: ignore[no-any-return]
    except CanonicalJSONError as exc:
        return type(exc), str(exc)


@settings(max_examples=300, deadline=None)
@given(NAMES.flatmap(lambda names: st.fixed_dictionaries({n: MEMBER_VALUES for n in names})))
def test_flat_encoder_agrees_with_canonical_bytes(fields: dict[str, Any]) -> None:
    """The flat encoder gives canonical_bytes's bytes, or its refusal naming the same member,
    from a mapping and from an object alike."""
    encoder = flat_encoder(tuple(fields))
    expected = _outcome(canonical_bytes, fields)
    assert expected == _outcome(encoder.from_mapping, fields)
    record = SimpleNamespace(**fields)
    assert expected == _outcome(encoder.from_object, record)


@pytest.mark.parametrize("names", [(), ("one",), ("a", "b c"), ("a", "é"), ("a", 'b"')])
def test_flat_encoder_takes_only_two_or_more_ascii_identifiers(names: tuple[str, ...]) -> None:
    """Names it could not write into its template unescaped are refused when it is made."""
    with pytest.raises(ValueError):
        FlatEncoder(names)
