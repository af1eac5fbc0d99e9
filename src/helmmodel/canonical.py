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

import hashlib
import json
from collections.abc import Callable
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


def check_subset(value: JSONValue) -> None:
    """Raise CanonicalJSONError unless *value* is inside the interoperable subset."""
    _check(value, "", 0)


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


def canonical_bytes_flat(fields: dict[str, JSONValue]) -> bytes:
    """JCS bytes of a flat record the kernel built: ASCII field names, scalar values.

    The kernel's records (decisions, intents, receipts) have field names fixed in code, so only
    their values need checking, and only for integers out of range: a shortcut of
    :func:`canonical_bytes` for the hottest path (every signature and chain link), with the
    same bytes and the same refusals.
    """
    for value in fields.values():
        kind = type(value)
        if kind is not str and not (kind is int and -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX):
            return canonical_bytes(fields)  # bool, None, a nested value, or a refusal
    try:
        return _dumps(fields).encode("utf-8")
    except UnicodeEncodeError:
        raise _lone_surrogate_error(fields) from None


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
