"""The request surface (spec sections 8 and 9): ``handle(method, path, headers, body)``.

Every endpoint checks in one order: body over 1 MiB (413), unknown path (404), wrong method
(405), the error-budget gate where it applies (429), credentials (401, 403), body parsing (400),
then the handler. Everything before the handler changes nothing in the kernel. Errors are RFC 7807
problem bodies. A kernel under the release's semantics may attach the release's own API
(``helm_api.HelmSurface``), which then answers its routes and every path the chaos page does not
route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from helmmodel.canonical import JSONValue, canonical_bytes, parse_strict
from helmmodel.errors import CanonicalJSONError, InvalidInput
from helmmodel.kernel.ports import SurfaceKernel
from helmmodel.kernel.records import IDENTIFIER, CallOutcome, Principal, Request

BODY_BYTES_MAX = 1_048_576
ANONYMOUS = "anonymous"
ADMIN_ROLE = "admin"
RETRY_AFTER_S = 60

JSON_TYPE = "application/json"
PROBLEM_TYPE = "application/problem+json"

_STATUS_TITLES = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


@attrs.frozen
class Response:
    """An HTTP response: status, headers (in order), body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(
    status: int, payload: JSONValue, extra: tuple[tuple[str, str], ...] = ()
) -> Response:
    body = canonical_bytes(payload)
    return Response(status, (("Content-Type", JSON_TYPE), *extra), body)


def problem(status: int, detail: str, extra: tuple[tuple[str, str], ...] = ()) -> Response:
    """An RFC 7807 problem response."""
    payload = {
        "type": "about:blank",
        "title": _STATUS_TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return Response(status, (("Content-Type", PROBLEM_TYPE), *extra), canonical_bytes(payload))


@attrs.frozen
class Route:
    """A path pattern, the one method it takes, whether the budget gate applies, its handler."""

    pattern: re.Pattern[str]
    method: str
    gated: bool
    handler: str


_ID = IDENTIFIER.pattern
ROUTES = (
    Route(re.compile(r"/v1/tools/execute"), "POST", False, "execute_tool"),
    Route(re.compile(r"/api/ops/chaos/inject"), "POST", False, "inject_chaos"),
    Route(re.compile(r"/api/ops/status"), "GET", False, "ops_status"),
    Route(
        re.compile(rf"/api/v1/workspaces/(?P<workspace>{_ID})/generated-specs"),
        "POST",
        True,
        "generate_spec",
    ),
    Route(
        re.compile(rf"/api/v1/workspaces/(?P<workspace>{_ID})/promotions"),
        "POST",
        True,
        "promote_spec",
    ),
)


def announced_length(headers: Mapping[str, str]) -> int | None:
    """The ``Content-Length`` a request announces, or None when absent or not a number."""
    value = headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The bearer token, ``""`` for an Authorization header that is not a bearer, or None."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


class ReleaseSurface(Protocol):
    """Another API over the same kernel: the release's (``helm_api.HelmSurface``)."""

    def serves(self, path: str) -> bool:
        """Whether it routes *path* (no query)."""
        ...

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request its way."""
        ...


class RequestSurface:
    """The kernel's HTTP surface, as a pure function of a request and the kernel's state."""

    def __init__(self, kernel: SurfaceKernel) -> None:
        self.kernel = kernel
        self.release: ReleaseSurface | None = None

    def attach_release(self, release: ReleaseSurface) -> None:
        """Answer the release's routes (and every path the chaos page does not route) through
        *release*, so that one server is the release's twin; the chaos page's routes stay."""
        self.release = release

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request; checks run in the spec's order."""
        if self.release is not None:
            bare = path.split("?", 1)[0]
            if self.release.serves(bare) or self.route(bare)[0] is None:
                return self.release.handle(method, path, headers, body)
        lowered = {k.lower(): v for k, v in headers.items()}
        length = announced_length(lowered)
        if len(body) > BODY_BYTES_MAX or (length is not None and length > BODY_BYTES_MAX):
            size = max(len(body), length or 0)
            return problem(413, f"the body is {size} bytes; at most {BODY_BYTES_MAX} are accepted")
        path = path.split("?", 1)[0]
        route, match = self.route(path)
        if route is None or match is None:
            return problem(404, f"no endpoint at {path}")
        if method.upper() != route.method:
            return problem(
                405, f"{path} takes {route.method}, not {method}", (("Allow", route.method),)
            )
        handler: Callable[[re.Match[str], Mapping[str, str], bytes], Response] = getattr(
            self, route.handler
        )
        if not route.gated:
            return handler(match, lowered, body)
        # The gate and what it guards are one atomic step: a POST creates something only if
        # the budget was at or above 20 at that moment.
        with self.kernel.lock:
            if self.kernel.error_budget.gated():
                return problem(
                    429,
                    f"the error budget is {self.kernel.error_budget.percent}%, below 20%: "
                    "the builder and promotion gates are closed",
                    (("X-Gate-Enforced", "BudgetExhausted"), ("Retry-After", str(RETRY_AFTER_S))),
                )
            return handler(match, lowered, body)

    def route(self, path: str) -> tuple[Route | None, re.Match[str] | None]:
        for route in ROUTES:
            match = route.pattern.fullmatch(path)
            if match is not None:
                return route, match
        return None, None

    def principal(self, headers: Mapping[str, str]) -> Principal | Response | None:
        """The token's principal, None without a token, or a 401 for an unknown or bad one."""
        token = bearer_token(headers)
        if token is None:
            return None
        known = self.kernel.tokens.get(token)
        if known is None:
            return problem(401, "the bearer token is not known", (("WWW-Authenticate", "Bearer"),))
        return known

    def parse_object(self, body: bytes, members: Mapping[str, type]) -> dict[str, Any] | Response:
        """Parse a JSON object body strictly; a 400 names what is wrong."""
        try:
            value = parse_strict(body)
        except CanonicalJSONError as exc:
            return problem(400, f"malformed JSON body: {exc}")
        if type(value) is not dict:
            return problem(400, f"the body must be a JSON object, not {type(value).__name__}")
        unknown = sorted(set(value) - set(members))
        if unknown:
            return problem(400, f"unknown members {unknown}; expected {sorted(members)}")
        for name, kind in members.items():
            if name in value and type(value[name]) is not kind:
                return problem(400, f"member {name!r} must be a JSON {_json_kind(kind)}")
        return value

    # --- handlers -------------------------------------------------------------------------------

    def execute_tool(
        self, match: re.Match[str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        who = self.principal(headers)
        if isinstance(who, Response):
            return who
        parsed = self.parse_object(body, {"tool": str, "args": dict, "context": dict})
        if isinstance(parsed, Response):
            return parsed
        if "tool" not in parsed or "args" not in parsed:
            return problem(400, "the body needs 'tool' (a string) and 'args' (an object)")
        try:
            request = Request(
                who.name if who is not None else ANONYMOUS,
                parsed["tool"],
                parsed["args"],
                parsed.get("context", {}),
            )
        except InvalidInput as exc:
            return problem(400, str(exc))
        outcome = self.kernel.call(request)
        if outcome.fail_closed:
            return problem(
                503,
                f"call {outcome.call_id}: no key can sign, so the evaluation failed closed; "
                "nothing was decided",
            )
        return json_response(200, call_body(outcome))

    def inject_chaos(
        self, match: re.Match[str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        who = self.principal(headers)
        if isinstance(who, Response):
            return who
        if who is None:
            return problem(
                401, "an admin bearer token is required", (("WWW-Authenticate", "Bearer"),)
            )
        if ADMIN_ROLE not in who.roles:
            return problem(403, f"principal {who.name!r} is not an admin")
        burn = 30
        if body:
            parsed = self.parse_object(body, {"burn": int})
            if isinstance(parsed, Response):
                return parsed
            if set(parsed) != {"burn"} or not 1 <= parsed["burn"] <= 100:
                return problem(400, 'the body must be {"burn": N} with N from 1 to 100')
            burn = parsed["burn"]
        budget, state = self.kernel.inject_chaos(burn)
        return json_response(
            200, {"status": "chaos_injected", "new_budget": budget, "system_state": state}
        )

    def ops_status(self, match: re.Match[str], headers: Mapping[str, str], body: bytes) -> Response:
        budget = self.kernel.error_budget
        return json_response(
            200,
            {
                "error_budget": budget.percent,
                "system_state": budget.state,
                "active_gates": budget.active_gates(),
            },
        )

    def generate_spec(
        self, match: re.Match[str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        parsed = self.parse_object(body, {"goal": str})
        if isinstance(parsed, Response):
            return parsed
        if "goal" not in parsed:
            return problem(400, "the body needs 'goal' (a string)")
        workspace = match["workspace"]
        try:
            spec_id = self.kernel.create_spec(workspace, parsed["goal"])
        except InvalidInput as exc:
            return problem(400, str(exc))
        if spec_id is None:  # pragma: no cover - handle() found the gate open, lock still held
            raise AssertionError("the gate closed while its lock was held")
        return json_response(
            201, {"id": spec_id, "workspace_id": workspace, "goal": parsed["goal"]}
        )

    def promote_spec(
        self, match: re.Match[str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        parsed = self.parse_object(body, {"spec_id": str})
        if isinstance(parsed, Response):
            return parsed
        if "spec_id" not in parsed:
            return problem(400, "the body needs 'spec_id' (a string)")
        workspace = match["workspace"]
        promoted = self.kernel.promote_spec(workspace, parsed["spec_id"])
        if not promoted:
            return problem(404, f"no spec {parsed['spec_id']!r}")
        return json_response(
            201, {"spec_id": parsed["spec_id"], "workspace_id": workspace, "status": "promoted"}
        )


def _json_kind(kind: type) -> str:
    return {str: "string", dict: "object", int: "integer", list: "array"}.get(kind, kind.__name__)


def call_body(outcome: CallOutcome) -> dict[str, JSONValue]:
    """The 200 body of a governed call (spec section 9)."""
    decision = outcome.decision
    assert decision is not None
    if outcome.receipt is not None:
        execution: dict[str, JSONValue] = {
            "status": "executed",
            "code": "" if outcome.receipt.status == "SUCCESS" else outcome.receipt.status,
            "receipt_id": outcome.receipt.receipt_id,
            "output": outcome.output,
        }
    elif outcome.refusal_code:
        execution = {
            "status": "refused",
            "code": outcome.refusal_code,
            "receipt_id": None,
            "output": None,
        }
    else:
        execution = {"status": "not_attempted", "code": "", "receipt_id": None, "output": None}
    return {
        "call_id": outcome.call_id,
        "verdict": decision.verdict,
        "reason_code": decision.reason_code,
        "decision_id": decision.id,
        "intent_id": outcome.intent.id if outcome.intent is not None else None,
        "execution": execution,
    }
