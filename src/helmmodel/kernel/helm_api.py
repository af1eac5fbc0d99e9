"""HELM's release API on the twin: the kernel slice of helm-ai-kernel's routes (README, "HELM's
release API on the twin").

``HelmSurface.handle(method, path, headers, body)`` is a pure function of the request and the
kernel's state, like ``RequestSurface.handle``, answering what ``Mindburn-Labs/helm-ai-kernel`` at
24a64557 answers: its routes, its auth classes (admin bearer, tenant-scoped, service key), its
status codes, and its error body. The release's server answers RFC 7807 problems typed
``https://helm.mindburn.run/errors/<status>``, not the ``{"error": {...}}`` envelope its OpenAPI and
SDK describe; the twin follows the server (probed live), as ``helm_problem`` does. A path the
release does not route gets Go's plain-text ``404 page not found``.

It reaches the kernel through ``ReleaseKernel``, a Protocol, so that this module never names the
facade. Receipts are served as the kernel's envelope of them (spec 12.4), trust keys go into the
kernel's ring, and a fence of the served scope freezes the kernel (spec 12.2); what the release
keeps outside its kernel lives in the surface: the budget ceilings (stored, never enforced) and the
emergency-stop fence store (``kernel/fence.py``, spec 12.9). The kernel reads no wall clock: the
times the API needs come from ``ReleaseConfig.clock`` (``serve`` passes the machine's), else the
Guardian's clock.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from helmmodel.canonical import JSONValue, canonical_bytes, parse_strict
from helmmodel.errors import CanonicalJSONError, FreezeRefused, InvalidInput, SignerUnavailable
from helmmodel.kernel.api import BODY_BYTES_MAX, Response, announced_length, json_response
from helmmodel.kernel.clock import SimClock
from helmmodel.kernel.fence import (
    CONFLICT,
    CONTRACT_VERSION,
    COVERAGE,
    CREATED,
    FORBIDDEN,
    MALFORMED,
    FenceStore,
    kernel_identity,
)
from helmmodel.kernel.guardian import decision_receipt_id
from helmmodel.kernel.key_ring import OWN_KEY_ID, KeyRing
from helmmodel.kernel.records import ALLOW, Decision, Receipt, Request
from helmmodel.kernel.release_receipt import chain_hash
from helmmodel.kernel.semantics import HELM_AI_KERNEL, FreezeReceipt, Semantics, rfc3339_ms

PROBLEM_TYPE = "application/problem+json"
ERROR_TYPE_BASE = "https://helm.mindburn.run/errors/"
DEFAULT_TENANT = "default"
DEFAULT_PRINCIPAL = "system-admin"  # the release's admin principal id

# The release's per-route limits and defaults (receipt_routes.go, contract_routes.go).
RECEIPTS_LIMIT_DEFAULT = 100
PROOFGRAPH_SESSIONS_LIMIT_DEFAULT = 50
LIMIT_MAX = 1000

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# Go's ServeMux answer for a path no handler is registered at.
NOT_FOUND = Response(
    404,
    (("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")),
    b"404 page not found\n",
)
# The release never says what failed inside (httperr.WriteInternal).
INTERNAL_DETAIL = "An unexpected error occurred. Please try again later."

# Context members that carry identity or scope: the release drops the caller's and writes the
# authenticated ones (receipt_routes.go).
_AUTHORITY_KEYS = (
    "principal",
    "principal_id",
    "agent_id",
    "tenant",
    "tenantId",
    "tenant_id",
    "workspace",
    "workspaceId",
    "workspace_id",
)
# Budget members: (member, legacy alias) pairs, both integers; zero means unset (omitted).
_BUDGET_LIMITS = (
    ("tool_call_limit", "max_tool_calls"),
    ("spend_limit_cents", "max_spend_minor"),
    ("egress_limit_bytes", "max_egress_bytes"),
    ("write_operation_limit", "max_write_ops"),
    ("approval_required_above_cents", "approval_required_after"),
)
_BUDGET_STRINGS = ("budget_id", "subject", "window", "policy_epoch")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_LAMPORT_CURSOR = re.compile(r"(?:lamport:)?([0-9]+)")


def helm_problem(status: int, detail: str, title: str | None = None) -> Response:
    """The release's error body: RFC 7807 typed by its status (core/pkg/httperr)."""
    payload = {
        "type": f"{ERROR_TYPE_BASE}{status}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return Response(status, (("Content-Type", PROBLEM_TYPE),), canonical_bytes(payload))


def _method_not_allowed() -> Response:
    return helm_problem(405, "The HTTP method is not supported for this endpoint")


class ReleaseKernel(Protocol):
    """The kernel as the release's API sees it: its lock, semantics, clock, key ring (which
    acknowledges fences), readers and the operations the routes run."""

    lock: threading.RLock
    semantics: Semantics
    guardian_clock: SimClock
    keys: KeyRing

    def evaluate(self, request: Request) -> Decision:
        """Decide (and receipt the decision) without running anything."""
        ...

    def sessions(self) -> tuple[str, ...]:
        """Every session that has a receipt chain, sorted."""
        ...

    def session_receipts(self, session_id: str) -> tuple[Receipt, ...]:
        """A session's receipts in chain order."""
        ...

    def receipt(self, receipt_id: str) -> Receipt | None:
        """The receipt with that id, or None."""
        ...

    def receipt_wire(self, receipt_id: str) -> dict[str, JSONValue] | None:
        """The release's envelope of that receipt (what its API serves), or None."""
        ...

    def public_key(self, key_id: str) -> bytes:
        """The raw Ed25519 public key of *key_id*; InvalidInput for a key never held."""
        ...

    def import_trust_key(self, key_id: str, public: bytes) -> None:
        """Trust a public key the kernel did not make."""
        ...

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key, made or imported."""
        ...

    def set_frozen(self, frozen: bool, principal: str = "operator") -> FreezeReceipt | None:
        """Freeze or unfreeze (under the release a receipted transition)."""
        ...


@attrs.frozen(kw_only=True)
class ReleaseConfig:
    """The release's auth and identity: its environment variables, as the daemon reads them.

    An unset admin key (or service key) makes every route of that class answer 401, as the
    release does; the tenant and principal fall back to the release's defaults.
    """

    admin_key: str | None = None  # HELM_ADMIN_API_KEY
    service_key: str | None = None  # HELM_SERVICE_API_KEY
    tenant_id: str = DEFAULT_TENANT  # HELM_RUNTIME_TENANT_ID
    principal_id: str = DEFAULT_PRINCIPAL  # HELM_RUNTIME_PRINCIPAL_ID
    version: str = "v0.0.0-dev"  # what /version and the health routes report
    commit: str = "unknown"
    # The emergency-stop fence, configured as the release's HELM_EMERGENCY_STOP_* variables do
    # (an audience and at least one command key, id -> 32 raw bytes); unset, it is off (503).
    fence_audience: str | None = None
    fence_keys: Mapping[str, bytes] = attrs.field(factory=dict)
    workspace_id: str | None = None  # HELM_RUNTIME_WORKSPACE_ID, which fencing binds evaluate to
    # Milliseconds since 1970 for the fence's command windows and the budgets' updated_at; None is
    # the Guardian's clock (the kernel reads no wall clock; `serve` passes one in).
    clock: Callable[[], int] | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("admin_key", "service_key"):
            value = getattr(self, name)
            if value is not None and (type(value) is not str or not value.strip()):
                raise InvalidInput(f"{name} must be a non-blank string or unset, not {value!r}")
        for name in ("tenant_id", "principal_id"):
            value = getattr(self, name)
            if type(value) is not str or not value.strip():
                raise InvalidInput(f"{name} must be a non-blank string, not {value!r}")


@attrs.frozen
class _Caller:
    """Who a tenant-scoped request is: the authenticated principal and tenant."""

    principal_id: str
    tenant_id: str


Handler = Callable[[str, str, Mapping[str, str], bytes], Response]


class HelmSurface:
    """The release's routes over a kernel under the ``helm-ai-kernel`` semantics."""

    def __init__(self, kernel: ReleaseKernel, config: ReleaseConfig | None = None) -> None:
        if kernel.semantics.name != HELM_AI_KERNEL:
            raise InvalidInput(
                f"the release's API needs a kernel under the {HELM_AI_KERNEL!r} semantics, "
                f"not {kernel.semantics.name!r}"
            )
        self.kernel = kernel
        self.config = config or ReleaseConfig()
        self._lock = threading.Lock()  # guards the surface's own records below
        self._budgets: dict[str, dict[str, JSONValue]] = {
            "budget-default": {
                "budget_id": "budget-default",
                "subject": "tenant:default",
                "tool_call_limit": 1000,
                "spend_limit_cents": 100000,
                "egress_limit_bytes": 10 << 20,
                "write_operation_limit": 100,
                "approval_required_above_cents": 50000,
                "window": "24h",
                "policy_epoch": "bootstrap",
                "updated_at": self._now(),
            }
        }
        # Trust keys this API revoked: the ring never holds an id again, which a re-add must say.
        self._revoked_trust_keys: set[str] = set()
        self._fences = (
            FenceStore(self.config.fence_audience, self.config.fence_keys)
            if self.config.fence_audience is not None
            else None
        )
        # Exact paths, then subtree prefixes (Go's ServeMux patterns ending in "/").
        self._exact: dict[str, Handler] = {
            "/api/health": self.api_health,
            "/healthz": self.healthz,
            "/version": self.version,
            "/api/v1/version": self.version,
            "/api/v1/evaluate": self._tenant(self.evaluate),
            "/api/v1/receipts": self._tenant(self.list_receipts),
            "/api/v1/proofgraph/sessions": self._tenant(self.list_sessions),
            "/api/v1/kernel/approve": self._service(self.approve),
            "/api/v1/budgets": self._admin(self.list_budgets),
            "/api/v1/trust/keys/add": self._admin(self.add_trust_key),
            "/api/v1/trust/keys/revoke": self._admin(self.revoke_trust_key),
            "/internal/emergency-stop/fence": self._service(self.fence),
        }
        self._prefixes: tuple[tuple[str, Handler], ...] = (
            ("/api/v1/receipts/", self._tenant(self.get_receipt)),
            ("/api/v1/proofgraph/sessions/", self._tenant(self.session_receipts)),
            ("/api/v1/proofgraph/receipts/", self._tenant(self.proofgraph_receipt)),
            ("/api/v1/budgets/", self._admin(self.put_budget)),
        )

    # --- routing ----------------------------------------------------------------------------

    def serves(self, path: str) -> bool:
        """Whether the release routes *path* (query excluded) to a handler of this slice."""
        return self._handler(_unquote(path)) is not None

    def _handler(self, path: str) -> Handler | None:
        handler = self._exact.get(path)
        if handler is not None:
            return handler
        for prefix, subtree in self._prefixes:
            if path.startswith(prefix):
                return subtree
        return None

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one request as the release does."""
        lowered = {k.lower(): v for k, v in headers.items()}
        length = announced_length(lowered)
        # The twin keeps its 1 MiB bound on every body (the release bounds some routes only).
        if len(body) > BODY_BYTES_MAX or (length is not None and length > BODY_BYTES_MAX):
            size = max(len(body), length or 0)
            return helm_problem(
                413, f"the body is {size} bytes; at most {BODY_BYTES_MAX} are accepted"
            )
        raw_path, _, query = path.partition("?")
        route = _unquote(raw_path)
        handler = self._handler(route)
        if handler is None:
            return NOT_FOUND
        if method.upper() == "OPTIONS":  # the release's CORS layer answers a preflight itself
            return Response(204, (), b"")
        # Handlers see the decoded path, with its query still attached for the few that read it.
        return handler(method.upper(), f"{route}?{query}" if query else route, lowered, body)

    # --- auth classes (route_auth.go, core/pkg/auth/apikey.go) --------------------------------

    @staticmethod
    def _bearer(headers: Mapping[str, str]) -> tuple[str | None, str]:
        """The bearer token, or None and the release's reason (the scheme is case-sensitive)."""
        value = headers.get("authorization", "")
        if not value:
            return None, "Missing Authorization header"
        scheme, sep, token = value.partition(" ")
        if not sep or scheme != "Bearer":
            return None, "Invalid Authorization header format (expected 'Bearer <key>')"
        if not token.strip():
            return None, "Missing bearer token"
        return token, ""

    def _admin_refusal(self, headers: Mapping[str, str]) -> Response | None:
        # The machines' driver configures both keys; tests/unit/test_helm_api.py leaves them out.
        if self.config.admin_key is None:  # pragma: no cover
            return helm_problem(401, "Admin API key not configured (set HELM_ADMIN_API_KEY)")
        token, reason = self._bearer(headers)
        if token is None:
            return helm_problem(401, reason)
        if not hmac.compare_digest(token.encode(), self.config.admin_key.encode()):
            return helm_problem(401, "Invalid API key")
        return None

    def _admin(self, handler: Handler) -> Handler:
        def guarded(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
            return self._admin_refusal(headers) or handler(method, path, headers, body)

        return guarded

    def _service(self, handler: Handler) -> Handler:
        def guarded(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
            if self.config.service_key is None:  # pragma: no cover - as the admin key
                return helm_problem(
                    401, "Service API key not configured (set HELM_SERVICE_API_KEY)"
                )
            token, reason = self._bearer(headers)
            if token is None:
                return helm_problem(401, reason)
            if not hmac.compare_digest(token.encode(), self.config.service_key.encode()):
                return helm_problem(401, "Invalid service API key")
            return handler(method, path, headers, body)

        return guarded

    def _tenant(self, handler: Callable[..., Response]) -> Handler:
        def guarded(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
            refusal = self._admin_refusal(headers)
            if refusal is not None:
                return refusal
            tenant = headers.get("x-helm-tenant-id", "").strip() or _query(path, "tenant_id")
            if not tenant:
                return helm_problem(403, "Tenant-scoped route requires explicit tenant binding")
            principal = headers.get("x-helm-principal-id", "").strip()
            if not principal:
                return helm_problem(403, "Tenant-scoped route requires explicit principal binding")
            if tenant != self.config.tenant_id.strip():
                return helm_problem(403, "Tenant-scoped route tenant mismatch")
            if principal != self.config.principal_id.strip():
                return helm_problem(403, "Tenant-scoped route principal mismatch")
            return handler(method, path, headers, body, _Caller(principal, tenant))

        return guarded

    # --- public routes ------------------------------------------------------------------------

    def api_health(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        return json_response(
            200,
            {
                "build_time": "unknown",
                "commit": self.config.commit,
                "deployment_id": "local",
                "git_sha": self.config.commit,
                "helm_ai_kernel_version": self.config.version,
                "status": "ok",
                "version": self.config.version,
            },
        )

    def healthz(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        return json_response(200, {"status": "ok", "version": self.config.version})

    def version(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        return json_response(
            200,
            {
                "build_time": "unknown",
                "commit": self.config.commit,
                "go_version": "none (helmmodel twin)",
                "version": self.config.version,
            },
        )

    # --- decision evaluation (receipt_routes.go, core/pkg/api/server.go) ---------------------

    def evaluate(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, caller: _Caller
    ) -> Response:
        if method != "POST":
            return _method_not_allowed()
        parsed = _go_object(body)
        if isinstance(parsed, Response):
            return parsed
        if parsed is None or not _members_typed(
            parsed,
            strings=(
                "principal",
                "action",
                "resource",
                "tool",
                "agent_id",
                "effect_level",
                "session_id",
            ),
            objects=("args", "context"),
        ):
            return helm_problem(400, "Invalid JSON body")
        workspace = headers.get("x-helm-workspace-id", "").strip()
        if self._fences is not None:
            # With fencing on, the release binds evaluation to its one fenceable scope.
            if not workspace:
                return helm_problem(
                    403, "Evaluate route requires an explicit authenticated workspace binding"
                )
            if workspace != self.config.workspace_id:
                return helm_problem(403, "Evaluate route workspace binding could not be verified")
        normalized = _normalize_evaluate(parsed)
        if isinstance(normalized, str):
            return helm_problem(400, f"Evaluate route {normalized}")
        tool, effect_level, session_id = normalized
        args = parsed.get("args")
        context = {
            key: value
            for key, value in (parsed.get("context") or {}).items()
            if key not in _AUTHORITY_KEYS
        }
        context.update(
            principal_id=caller.principal_id, tenant_id=caller.tenant_id, session_id=session_id
        )
        if args is not None:
            context["args"] = args
        if workspace:
            context["workspace_id"] = workspace
        try:
            request = Request(caller.principal_id, tool, args or {}, context)
        except InvalidInput as exc:
            # The kernel's identifiers are narrower than the release's free text.
            return helm_problem(400, f"Evaluate route {exc}")
        with self.kernel.lock:  # the decision and its receipt, read as one
            try:
                decision = self.kernel.evaluate(request)
            except SignerUnavailable:
                return helm_problem(500, INTERNAL_DETAIL)
            receipt = self.kernel.receipt(decision_receipt_id(decision.id))
        if receipt is None:  # pragma: no cover - the release semantics receipts every decision
            raise AssertionError(f"decision {decision.id} has no receipt")
        answer: dict[str, JSONValue] = {
            "allow": decision.verdict == ALLOW,
            "verdict": decision.verdict,
            "receipt_id": receipt.receipt_id,
            "decision_id": decision.id,
            "decision_hash": receipt.output_hash,
            "reason_code": decision.reason_code,
            "policy_ref": decision.policy_version,
            "lamport_clock": receipt.lamport_clock,
            # The legacy members; Go omits the empty ones.
            "id": decision.id,
            "action": tool,
            "resource": effect_level,
            "policy_version": decision.policy_version,
            "signature": decision.signature,
        }
        if decision.verdict != ALLOW:  # the release leaves an ALLOW's reason empty, so omitted
            answer["reason"] = decision.reason
        return json_response(200, answer)

    # --- receipts -----------------------------------------------------------------------------

    def receipt_json(self, receipt: Receipt) -> dict[str, JSONValue]:
        """*receipt* as the release serves it: the kernel's envelope of it (spec 12.4), the
        signed members, the signing key, the executor, metadata and the decision hash."""
        members = self.kernel.receipt_wire(receipt.receipt_id)
        if members is None:  # pragma: no cover - the release semantics envelopes every receipt
            raise AssertionError(f"receipt {receipt.receipt_id} has no envelope")
        return members

    def _all_receipts(self) -> list[Receipt]:
        """Every receipt, in the order the kernel made them (the release lists a tenant's
        receipts in the order it stored them): by decision, whose ids count up, a decision's
        receipt before its dispatch's."""
        with self.kernel.lock:
            receipts = [r for s in self.kernel.sessions() for r in self.kernel.session_receipts(s)]
        return sorted(
            receipts,
            key=lambda r: (
                len(r.decision_id),
                r.decision_id,
                r.receipt_id != decision_receipt_id(r.decision_id),
            ),
        )

    def list_receipts(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, caller: _Caller
    ) -> Response:
        if method != "GET":
            return _method_not_allowed()
        limit = _limit(_query(path, "limit"), RECEIPTS_LIMIT_DEFAULT, LIMIT_MAX)
        session_id = _query(path, "session_id")
        if "/" in session_id or "\\" in session_id:
            return helm_problem(400, "Invalid session_id")
        since = _query(path, "since")
        if session_id:
            if since:
                cursor = _LAMPORT_CURSOR.fullmatch(since)
                if cursor is None:
                    return helm_problem(400, "Invalid since cursor")
                after = int(cursor[1])
            else:
                after = 0
            receipts = [
                r for r in self.kernel.session_receipts(session_id) if r.lamport_clock > after
            ]
        elif since:
            # The release's tenant-wide cursor is an opaque token of its store: not modelled.
            return helm_problem(400, "Invalid since cursor")
        else:
            receipts = self._all_receipts()
        for member, name in (("verdict", "verdict"), ("reason_code", "reason_code")):
            wanted = _query(path, name)
            if wanted:
                receipts = [r for r in receipts if getattr(r, member) == wanted]
        for name in ("principal", "effect", "from", "to"):
            if _query(path, name):
                return helm_problem(400, f"the twin does not serve the {name!r} receipt filter")
        has_more = len(receipts) > limit
        page = receipts[:limit]
        next_cursor = f"lamport:{page[-1].lamport_clock}" if session_id and page else ""
        return json_response(
            200,
            {
                # Go encodes an empty (nil) list as null.
                "receipts": [self.receipt_json(r) for r in page] or None,
                "count": len(page),
                "next_cursor": next_cursor,
                "has_more": has_more,
            },
        )

    def get_receipt(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, caller: _Caller
    ) -> Response:
        if method != "GET":
            return _method_not_allowed()
        receipt_id = _route(path).removeprefix("/api/v1/receipts/")
        if not receipt_id or "/" in receipt_id:
            return helm_problem(400, "Invalid receipt id")
        receipt = self.kernel.receipt(receipt_id)
        if receipt is None:
            return helm_problem(404, "receipt not found", "Receipt not found")
        return json_response(200, self.receipt_json(receipt))

    # --- ProofGraph (the SDK's sessions and receipts; contract_routes.go) ---------------------

    def list_sessions(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, caller: _Caller
    ) -> Response:
        if method != "GET":
            return _method_not_allowed()
        limit = _limit(_query(path, "limit"), PROOFGRAPH_SESSIONS_LIMIT_DEFAULT, LIMIT_MAX)
        sessions: list[JSONValue] = []
        with self.kernel.lock:
            for session_id in self.kernel.sessions():
                chain = self.kernel.session_receipts(session_id)
                sessions.append(
                    {
                        "session_id": session_id,
                        "created_at": rfc3339_ms(chain[0].timestamp),
                        "receipt_count": len(chain),
                        "last_lamport_clock": chain[-1].lamport_clock,
                    }
                )
        offset = min(_limit(_query(path, "offset"), 0, len(sessions)), len(sessions))
        return json_response(200, sessions[offset : offset + limit])

    def session_receipts(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, caller: _Caller
    ) -> Response:
        if method != "GET":
            return _method_not_allowed()
        suffix = _route(path).removeprefix("/api/v1/proofgraph/sessions/")
        session_id = suffix.removesuffix("/receipts").strip()
        if (
            not suffix.endswith("/receipts")
            or not session_id
            or "/" in session_id
            or "\\" in session_id
        ):
            return helm_problem(404, "proofgraph session route not found")
        limit = _limit(_query(path, "limit"), RECEIPTS_LIMIT_DEFAULT, LIMIT_MAX)
        chain = self.kernel.session_receipts(session_id)[:limit]
        if not chain:
            return helm_problem(404, "session not found")
        return json_response(200, [self.receipt_json(r) for r in chain])

    def proofgraph_receipt(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, caller: _Caller
    ) -> Response:
        if method != "GET":
            return _method_not_allowed()
        reference = _route(path).removeprefix("/api/v1/proofgraph/receipts/")
        if not reference or "/" in reference:
            return helm_problem(400, "Invalid receipt reference")
        # A receipt id, or a receipt's chain hash or signature (findReceiptByReference).
        found = self.kernel.receipt(reference) or next(
            (
                r
                for r in self._all_receipts()
                if reference in (chain_hash(self.receipt_json(r)), r.signature)
            ),
            None,
        )
        if found is None:
            return helm_problem(404, "receipt not found")
        return json_response(200, self.receipt_json(found))

    # --- intent approval (core/pkg/api/approve_handler.go) -------------------------------------

    def approve(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if method != "POST":
            return _method_not_allowed()
        parsed = _go_object(body)
        if isinstance(parsed, Response):
            return parsed
        if parsed is None:
            return helm_problem(400, "invalid request body: not a JSON object")
        if not all(
            parsed.get(name) is None or type(parsed[name]) is str
            for name in ("intent_hash", "public_key", "signature")
        ):
            return helm_problem(
                400, "invalid request body: intent_hash, public_key and signature are strings"
            )
        if not all(parsed.get(name) for name in ("intent_hash", "public_key", "signature")):
            return helm_problem(400, "missing required fields: intent_hash, public_key, signature")
        # The daemon registers no pending approval (nothing calls RegisterPendingApproval), so
        # every well-formed approval finds no intent.
        return helm_problem(404, "intent not found or already processed")

    # --- budget ceilings: stored, never enforced (contract_routes.go) --------------------------

    def list_budgets(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        if method != "GET":
            return _method_not_allowed()
        with self._lock:
            ceilings: list[JSONValue] = [dict(self._budgets[k]) for k in sorted(self._budgets)]
        return json_response(200, ceilings)

    def put_budget(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        budget_id = _route(path).removeprefix("/api/v1/budgets/")
        if not budget_id or "/" in budget_id:
            return helm_problem(400, "Invalid budget id")
        if method != "PUT":
            return _method_not_allowed()
        parsed = _go_object(body)
        if isinstance(parsed, Response):
            return parsed
        limits = tuple(name for pair in _BUDGET_LIMITS for name in pair)
        if parsed is None or not _members_typed(parsed, strings=_BUDGET_STRINGS, ints=limits):
            return helm_problem(400, "Invalid budget request")
        ceiling: dict[str, JSONValue] = {"budget_id": budget_id}
        for member, alias in _BUDGET_LIMITS:
            value = parsed.get(member) or 0
            legacy = parsed.get(alias)
            if legacy is not None and value and value != legacy:
                return helm_problem(400, "Invalid budget request")
            value = value or legacy or 0
            if value:  # Go omits a zero limit
                ceiling[member] = value
        ceiling["subject"] = parsed.get("subject") or "tenant:default"
        ceiling["window"] = parsed.get("window") or "24h"
        if parsed.get("policy_epoch"):
            ceiling["policy_epoch"] = parsed["policy_epoch"]
        ceiling["updated_at"] = self._now()
        with self._lock:
            self._budgets[budget_id] = ceiling
        return json_response(200, ceiling)

    def _now_ms(self) -> int:
        # The kernel reads no wall clock: the configured one, else the Guardian's.
        clock = self.config.clock
        return clock() if clock is not None else self.kernel.guardian_clock.now_ms

    def _now(self) -> str:
        return rfc3339_ms(self._now_ms())

    # --- trust keys (core/pkg/api/trust_keys_handler.go) ---------------------------------------

    def add_trust_key(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        if method != "POST":
            return _method_not_allowed()
        parsed = _go_object(body)
        if isinstance(parsed, Response):
            return parsed
        names = ("tenant_id", "key_id", "public_key")
        if parsed is None or not _members_typed(parsed, strings=names):
            return helm_problem(400, "invalid request body")
        tenant, key_id, public = (parsed.get(name) or "" for name in names)
        if not (tenant and key_id and public):
            return helm_problem(400, "tenant_id, key_id, and public_key are required")
        if not _HEX64.fullmatch(public):
            return helm_problem(400, "public_key must be 64-char hex-encoded Ed25519 public key")
        raw = bytes.fromhex(public)
        # The kernel's ring holds the key (one ring for every tenant): it then verifies receipts.
        with self.kernel.lock, self._lock:
            if key_id in self._revoked_trust_keys:
                return helm_problem(
                    400,
                    f"trust key id {key_id!r} was revoked, and the kernel's ring never holds an "
                    "id again (the release would add it anew)",
                )
            try:
                self.kernel.import_trust_key(key_id, raw)
            except InvalidInput as exc:
                # Adding the same key again is no error in the release; anything else the
                # kernel refuses (an id it cannot hold, another key under the id) is named.
                if not self._holds(key_id, raw):
                    return helm_problem(400, str(exc))
        return json_response(200, {"key_id": key_id, "status": "key_added", "tenant_id": tenant})

    def _holds(self, key_id: str, public: bytes) -> bool:
        try:
            return self.kernel.public_key(key_id) == public
        except InvalidInput:
            return False

    def revoke_trust_key(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        if method != "POST":
            return _method_not_allowed()
        parsed = _go_object(body)
        if isinstance(parsed, Response):
            return parsed
        names = ("tenant_id", "key_id")
        if parsed is None or not _members_typed(parsed, strings=names):
            return helm_problem(400, "invalid request body")
        tenant, key_id = (parsed.get(name) or "" for name in names)
        if not (tenant and key_id):
            return helm_problem(400, "tenant_id and key_id are required")
        # The release's trust registry never holds its own signer, and revoking a key it does not
        # hold is no error: the kernel's own keys (key-NNNN) and unknown ids are left alone.
        if OWN_KEY_ID.fullmatch(key_id) is None:
            with self.kernel.lock, self._lock:
                try:
                    self.kernel.revoke_key(key_id)
                except InvalidInput:
                    pass  # a key the ring never held
                else:
                    self._revoked_trust_keys.add(key_id)
        return json_response(200, {"key_id": key_id, "status": "key_revoked", "tenant_id": tenant})

    # --- the emergency-stop fence (emergency_stop_routes.go, kernel/fence.py) ------------------

    def fence(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if method != "POST":
            return _method_not_allowed()
        unavailable = "Emergency stop unavailable"
        if self._fences is None:
            return helm_problem(
                503, "scoped emergency-stop fence store is not initialized", unavailable
            )
        with self.kernel.lock:  # the store, the acknowledging key and the freeze change as one
            try:
                identity = kernel_identity(self.kernel.keys)
            except SignerUnavailable:
                return helm_problem(503, "kernel receipt signer is not initialized", unavailable)
            outcome = self._fences.fence(body, self._now_ms(), identity)
            if outcome.status == MALFORMED:
                return helm_problem(400, "Invalid emergency-stop command")
            if outcome.status == FORBIDDEN:
                return helm_problem(403, "Emergency-stop command verification failed")
            if outcome.status == CONFLICT:
                return helm_problem(409, "Emergency-stop command conflicts with the active fence")
            state = outcome.state
            if state is None:  # pragma: no cover - a 201 or 200 outcome carries its state
                raise AssertionError(f"fence outcome {outcome.status} has no state")
            command = state.command
            served = (command.tenant_id, command.workspace_id) == (
                self.config.tenant_id,
                self.config.workspace_id,
            )
            if outcome.status == CREATED and served:
                # The fence stops new governed dispatches in the one scope this twin serves:
                # the release's freeze (spec 12.2), which stops only new decisions.
                with contextlib.suppress(FreezeRefused):  # a later epoch: already frozen
                    self.kernel.set_frozen(True, command.actor_id)
            signature = state.sign_acknowledgement(self.kernel.keys)
        return json_response(
            outcome.status,
            {
                "contract_version": CONTRACT_VERSION,
                "coverage": COVERAGE,
                "state": state.to_json(),
                "replayed": outcome.replayed,
                "kernel_signature": signature,
            },
            (("Cache-Control", "no-store"), ("X-Helm-Contract-Status", "internal")),
        )


# --- request parsing as Go's encoding/json does it, within the canonical subset ----------------


def _unquote(path: str) -> str:
    # Go routes on the decoded path: a %2F in a segment is a "/" by then.
    return urllib.parse.unquote(path)


def _route(path: str) -> str:
    return path.partition("?")[0]


def _query(path: str, name: str) -> str:
    """The first value of query parameter *name*, trimmed; "" when absent."""
    values = urllib.parse.parse_qs(path.partition("?")[2]).get(name)
    return values[0].strip() if values else ""


def _limit(text: str, default: int, most: int) -> int:
    """The release's ``parseLimit``: a positive integer up to *most*, else *default*."""
    if not text.isdigit() or int(text) <= 0:
        return default
    return min(int(text), most)


def _go_object(body: bytes) -> dict[str, Any] | Response | None:
    """The body as a JSON object; None where Go's decoder fails (the route then answers its own
    400); a 400 naming what the twin refuses beyond Go: the kernel reads only the canonical
    subset (no floats, unsafe integers, duplicate keys or trailing data)."""
    try:
        value, _ = json.JSONDecoder(parse_constant=_refuse_constant).raw_decode(
            body.decode("utf-8").lstrip()
        )
    except ValueError:  # UnicodeDecodeError included
        return None
    if value is None:  # Go decodes null into a struct as its zero value
        return {}
    if type(value) is not dict:
        return None
    try:
        strict = parse_strict(body)
    except CanonicalJSONError as exc:
        return helm_problem(400, f"the twin reads JSON bodies within the canonical subset: {exc}")
    assert type(strict) is dict
    return strict


def _refuse_constant(token: str) -> None:
    raise ValueError(f"{token} is not JSON")


def _members_typed(
    parsed: Mapping[str, Any],
    *,
    strings: tuple[str, ...] = (),
    objects: tuple[str, ...] = (),
    ints: tuple[str, ...] = (),
) -> bool:
    """Whether each named member is absent, null, or of its Go type (as a struct decode checks);
    other members are ignored, as Go ignores unknown fields."""
    wanted: dict[str, type] = {name: str for name in strings}
    wanted |= {name: dict for name in objects} | {name: int for name in ints}
    return all(
        parsed.get(name) is None or type(parsed[name]) is kind for name, kind in wanted.items()
    )


def _normalize_evaluate(parsed: Mapping[str, Any]) -> tuple[str, str, str] | str:
    """(tool, effect_level, session_id) after the release's alias rules, or what is wrong
    (``NormalizeEvaluateRequest``)."""
    tool = (parsed.get("tool") or "").strip()
    legacy_tool = (parsed.get("action") or "").strip()
    if tool and legacy_tool and tool != legacy_tool:
        return "tool and action must match when both are provided"
    tool = tool or legacy_tool
    effect_level = (parsed.get("effect_level") or "").strip()
    legacy_effect = (parsed.get("resource") or "").strip()
    if effect_level and legacy_effect and effect_level != legacy_effect:
        return "effect_level and resource must match when both are provided"
    effect_level = effect_level or legacy_effect
    if not tool or not effect_level:
        return "tool and effect_level are required"
    session_id = (parsed.get("session_id") or "").strip()
    context_session = (parsed.get("context") or {}).get("session_id")
    context_session = context_session.strip() if type(context_session) is str else ""
    if session_id and context_session and session_id != context_session:
        return "session_id must match context.session_id when both are provided"
    session_id = session_id or context_session
    if not session_id:
        return "session_id is required"
    if "/" in session_id or "\\" in session_id:
        return "session_id may not contain path separators"
    return tool, effect_level, session_id
