"""The checker's model of the request surface (spec section 9): endpoints, bearer tokens, the
body limit, a strict JSON reader, and the status of the first check a request fails.

Written again on purpose, apart from the kernel's request surface (``kernel/api.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from helmmodel.checker.encoding import jcs
from helmmodel.checker.ghost import Ghost

BODY_LIMIT = 1_048_576
SPECS_KEPT = 100_000  # generated specs a kernel keeps (spec section 8)
_WORKSPACE = r"[A-Za-z0-9_.-]{1,64}"
_IDENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENDPOINTS = (
    (re.compile(r"/v1/tools/execute"), "POST", "execute"),
    (re.compile(r"/api/ops/chaos/inject"), "POST", "inject"),
    (re.compile(r"/api/ops/status"), "GET", "status"),
    (re.compile(rf"/api/v1/workspaces/{_WORKSPACE}/generated-specs"), "POST", "specs"),
    (re.compile(rf"/api/v1/workspaces/{_WORKSPACE}/promotions"), "POST", "promotions"),
)


class Malformed(Exception):
    """A body the checker's strict reader refuses."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Malformed("duplicate key")
    return dict(pairs)


def _int_token(token: str) -> int:
    if token == "-0" or abs(int(token)) > 2**53 - 1:
        raise Malformed(token)
    return int(token)


def _no_float(token: str) -> None:
    raise Malformed(token)


def strict_json(body: bytes) -> Any:
    """The checker's own strict RFC 8259 reader for the canonical subset; raise Malformed."""
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
        raise Malformed(str(exc)) from None
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
    except Malformed:
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
        ok = ok and len(ghost.specs) < SPECS_KEPT
        return None if ok else 400
    if set(value) != {"spec_id"} or type(value["spec_id"]) is not str:
        return 400
    return None if value["spec_id"] in ghost.specs else 404
