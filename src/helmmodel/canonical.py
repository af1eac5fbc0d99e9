"""RFC 8785 (JCS) canonical JSON, restricted to HELM's interoperable subset (spec section 1).

Everything the kernel hashes or signs goes through :func:`canonical_bytes`. The subset is objects
with string keys, arrays, strings, ``true``/``false``/``null`` and integers within ±(2^53−1); floats
and larger integers are refused because they cannot be bound into a signature safely.

Two encoders give identical bytes: ``json.dumps(sort_keys=True)`` is correct whenever no key holds
a character at or above U+D800 (there code-point order and UTF-16 order agree), so the fast path
checks that while it validates, and otherwise the full encoder sorts keys by UTF-16 code units.

:func:`parse_strict` is the matching reader for JSON *text* (HTTP bodies, the vector files).
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, TypeAlias

from helmmodel.errors import CanonicalJSONError

JSONValue: TypeAlias = Any  # None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]

SAFE_INTEGER_MAX = 2**53 - 1
DEPTH_MAX = 64


def _refuse_default(value: object) -> None:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _make_dumps() -> Callable[[JSONValue], str]:
    """``json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))``, faster.

    ``JSONEncoder.encode`` rebuilds its C encoder on every call; this builds it once. Its
    circular-reference check is off because :func:`_check` already refuses anything nested
    deeper than DEPTH_MAX, which a cycle would be.
    """
    if c_make_encoder is None:  # a Python without the C accelerator
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return encoder.encode
    iterencode = c_make_encoder(
        None, _refuse_default, encode_basestring, None, ":", ",", True, False, False
    )

    def dumps(value: JSONValue) -> str:
        return "".join(iterencode(value, 0))

    return dumps


_dumps = _make_dumps()
_dumps_scalar = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _where(path: str) -> str:
    return path or "the top-level value"


def _refuse_int(value: int, path: str) -> None:
    raise CanonicalJSONError(
        f"{_where(path)} is the integer {value}, outside ±(2^53−1): it cannot be signed "
        "safely; send it as a string"
    )


def _check(value: JSONValue, path: str, depth: int) -> bool:
    """Validate *value* against the subset; return True when a key needs UTF-16 ordering.

    This runs for every hash and signature, so scalars inside containers are checked inline
    rather than through a call each.
    """
    kind = type(value)
    if depth >= DEPTH_MAX and (kind is dict or kind is list or kind is tuple):
        raise CanonicalJSONError(f"{_where(path)} is nested deeper than {DEPTH_MAX} levels")
    if kind is dict:
        needs_utf16 = False
        for key, item in value.items():
            if type(key) is not str:
                raise CanonicalJSONError(f"{_where(path)} has a non-string key {key!r}")
            if not needs_utf16 and not key.isascii() and max(key) >= "\ud800":
                needs_utf16 = True
            item_kind = type(item)
            if item_kind is str or item_kind is bool or item is None:
                continue
            if item_kind is int and -SAFE_INTEGER_MAX <= item <= SAFE_INTEGER_MAX:
                continue
            if _check(item, f"{path}.{key}" if path else key, depth + 1):
                needs_utf16 = True
        return needs_utf16
    if kind is list or kind is tuple:
        needs_utf16 = False
        for index, item in enumerate(value):
            item_kind = type(item)
            if item_kind is str or item_kind is bool or item is None:
                continue
            if item_kind is int and -SAFE_INTEGER_MAX <= item <= SAFE_INTEGER_MAX:
                continue
            if _check(item, f"{path}[{index}]", depth + 1):
                needs_utf16 = True
        return needs_utf16
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        if -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX:
            return False
        _refuse_int(value, path)
    if kind is float:
        raise CanonicalJSONError(
            f"{_where(path)} is the float {value!r}: floats are outside the interoperable subset; "
            "use an integer (say, in minor units) or a string"
        )
    raise CanonicalJSONError(
        f"{_where(path)} is a {kind.__name__}, which JSON cannot carry: use an object, array, "
        "string, integer, true, false or null"
    )


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode_full(value: JSONValue) -> str:
    if type(value) is dict:
        members = sorted(value.items(), key=lambda kv: _utf16_key(kv[0]))
        inner = ",".join(f"{_dumps_scalar(k)}:{_encode_full(v)}" for k, v in members)
        return "{" + inner + "}"
    if type(value) is list or type(value) is tuple:
        return "[" + ",".join(_encode_full(v) for v in value) + "]"
    return str(_dumps_scalar(value))


def check_subset(value: JSONValue, path: str = "", depth: int = 0) -> None:
    """Raise CanonicalJSONError unless *value* is inside the interoperable subset.

    *path* and *depth* place it inside an enclosing value, so that a refusal names the member as
    checking the enclosing value whole would.
    """
    _check(value, path, depth)


def _surrogate_path(value: JSONValue, path: str) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, or None."""
    if type(value) is str:
        return None if value.isascii() or not _has_lone_surrogate(value) else _where(path)
    if type(value) is dict:
        for key, item in value.items():
            where = f"{path}.{key!r}" if path else repr(key)
            if _has_lone_surrogate(key):
                return f"the key {where}"
            found = _surrogate_path(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    if type(value) is list or type(value) is tuple:
        for index, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _lone_surrogate_error(value: JSONValue) -> CanonicalJSONError:
    where = _surrogate_path(value, "") or "a string"
    return CanonicalJSONError(
        f"{where} holds a lone surrogate (U+D800..U+DFFF unpaired), which UTF-8 cannot carry"
    )


def canonical_bytes(value: JSONValue) -> bytes:
    """Return the JCS bytes of *value*, refusing anything outside the interoperable subset."""
    needs_utf16 = _check(value, "", 0)
    text = _encode_full(value) if needs_utf16 else _dumps(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _lone_surrogate_error(value) from None


class FlatEncoder:
    """JCS of flat objects whose member names are fixed in code: the kernel's signed records.

    Every signature and chain link encodes one, so the work is done once per set of names: they
    are sorted here (ASCII identifiers, so code-point order is JCS's UTF-16 order and they need no
    escaping) into a template, and each value that is a string, a safe integer, true, false or
    null is written into it as :func:`canonical_bytes` writes it (strings with the same encoder).
    Any other value (something nested, or something to refuse) makes the encoder fall back to
    :func:`canonical_bytes` over the members in the order given: the same bytes, or the same
    refusal naming the same member.
    """

    __slots__ = ("_attr_values", "_item_values", "_template", "names")

    def __init__(self, names: tuple[str, ...]) -> None:
        if len(names) < 2 or not all(name.isascii() and name.isidentifier() for name in names):
            raise ValueError(f"a flat encoder takes two or more ASCII identifiers, not {names}")
        self.names = names
        ordered = sorted(names)
        self._template = "{" + ",".join(f'"{name}":%s' for name in ordered) + "}"
        # Both getters return the values in sorted order as one tuple (two or more names).
        self._item_values = operator.itemgetter(*ordered)
        self._attr_values = operator.attrgetter(*ordered)

    def _text(self, values: tuple[JSONValue, ...]) -> str | None:
        encoded = []
        for value in values:
            kind = type(value)
            if kind is str:
                encoded.append(encode_basestring(value))
            elif kind is int and -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX:
                encoded.append(int.__repr__(value))
            elif value is None:
                encoded.append("null")
            elif kind is bool:
                encoded.append("true" if value else "false")
            else:
                return None
        return self._template % tuple(encoded)

    def from_mapping(self, fields: Mapping[str, JSONValue]) -> bytes:
        """The JCS bytes of the object of *fields*' members named here (others are ignored)."""
        return self._bytes(
            self._text(self._item_values(fields)), lambda: {n: fields[n] for n in self.names}
        )

    def from_object(self, record: object) -> bytes:
        """The JCS bytes of the object of *record*'s attributes named here."""
        return self._bytes(
            self._text(self._attr_values(record)),
            lambda: {n: getattr(record, n) for n in self.names},
        )

    @staticmethod
    def _bytes(text: str | None, members: Callable[[], dict[str, JSONValue]]) -> bytes:
        # The template's text when every value was flat and it encodes; else the checking
        # encoder over the members in the order given, for the same bytes or the same refusal.
        if text is not None:
            try:
                return text.encode("utf-8")
            except UnicodeEncodeError:
                pass
        return canonical_bytes(members())


@functools.lru_cache(maxsize=64)
def flat_encoder(names: tuple[str, ...]) -> FlatEncoder:
    """The encoder of *names* (a record class's signed fields, say), made once."""
    return FlatEncoder(names)


def canonical_bytes_full(value: JSONValue) -> bytes:
    """The JCS bytes through the full UTF-16-ordering encoder only (for tests and benches)."""
    _check(value, "", 0)
    try:
        return _encode_full(value).encode("utf-8")
    except UnicodeEncodeError:
        raise _lone_surrogate_error(value) from None


def sha256_hex(data: bytes) -> str:
    """Bare lowercase hex SHA-256 (chain links and ProofGraph node hashes)."""
    return hashlib.sha256(data).hexdigest()


def prefixed_hash(data: bytes) -> str:
    """``sha256:`` + hex, the form of every ``*_hash``/``*_digest`` field and ``policy_version``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hash_value(value: JSONValue) -> str:
    """``sha256:`` + hex SHA-256 of the canonical bytes of *value*."""
    return prefixed_hash(canonical_bytes(value))


# --- the strict reader ------------------------------------------------------------------------


def _refuse_constant(token: str) -> None:
    raise CanonicalJSONError(f"{token} is not JSON (RFC 8259 has no NaN or Infinity)")


def _refuse_float(token: str) -> None:
    raise CanonicalJSONError(
        f"the number {token} has a fraction or exponent: only integers are in the canonical subset"
    )


def _parse_int(token: str) -> int:
    if token == "-0":
        raise CanonicalJSONError("the number -0 is not canonical: write 0")
    if len(token.lstrip("-")) > 16:  # 2^53 has 16 digits; never hand int() a huge token
        raise CanonicalJSONError(f"the integer {token[:20]}... is outside ±(2^53−1)")
    number = int(token)
    if not -SAFE_INTEGER_MAX <= number <= SAFE_INTEGER_MAX:
        raise CanonicalJSONError(f"the integer {token} is outside ±(2^53−1)")
    return number


def _object_without_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    result: dict[str, JSONValue] = {}
    for key, item in pairs:
        if key in result:
            raise CanonicalJSONError(f"the key {key!r} appears twice in one object")
        result[key] = item
    return result


_decoder = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_float=_refuse_float,
    parse_int=_parse_int,
    parse_constant=_refuse_constant,
)


def parse_strict(data: bytes) -> JSONValue:
    """Parse JSON text strictly (RFC 8259, canonical subset); raise CanonicalJSONError otherwise.

    Refused: invalid UTF-8, a byte-order mark, lone surrogates, NaN/Infinity, duplicate keys,
    trailing data, fractions, exponents, ``-0`` and integers outside ±(2^53−1).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalJSONError(f"the body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = _decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise CanonicalJSONError("malformed JSON: nested too deeply") from None
    _check(value, "", 0)
    if _surrogate_path(value, "") is not None:
        raise _lone_surrogate_error(value)
    return value
