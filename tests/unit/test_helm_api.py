"""HELM's release API on the twin as a pure function (``helmmodel.kernel.helm_api``): each route of
the slice on its happy path and on each refusal the release makes, with the release's status codes
and error body (README, "HELM's release API on the twin"; the release's answers as probed live)."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from helmmodel import cli
from helmmodel.errors import InvalidInput
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.api import Response
from helmmodel.kernel.fence import FenceCommand, command_signing_payload, parse_rfc3339
from helmmodel.kernel.helm_api import (
    DEFAULT_PRINCIPAL,
    DEFAULT_TENANT,
    HelmSurface,
    ReleaseConfig,
    helm_problem,
)
from helmmodel.kernel.helm_receipt import ReceiptRejected
from helmmodel.kernel.release_receipt import chain_hash
from helmmodel.kernel.semantics import CHAOS_PAGE, HELM_AI_KERNEL
from tests.conftest import make_kernel
from tests.spec import SPEC_SIGNED_FIELDS

ADMIN = "release-admin-key"
SERVICE = "release-service-key"
TENANT = {"X-Helm-Tenant-ID": DEFAULT_TENANT, "X-Helm-Principal-ID": DEFAULT_PRINCIPAL}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
SCOPED = {**ADMIN_HEADERS, **TENANT}
SERVICE_HEADERS = {"Authorization": f"Bearer {SERVICE}"}
REFERENCE_RECEIPT = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "helm"
    / "receipt-v5"
    / "decision_deny_genesis.receipt.c14n.json"
)
# HTTP's reason phrases, the release's titles but on routes that name their own.
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
WELL_FORMED_APPROVAL = {
    "intent_hash": "a" * 64,
    "plan_hash": "b" * 64,
    "policy_hash": "c" * 64,
    "nonce": "n1",
    "approver_id": "alice",
    "public_key": "d" * 64,
    "signature": "e" * 128,
}


def release_kernel(config: ReleaseConfig | None = None) -> tuple[Kernel, HelmSurface]:
    """The conftest kernel under the release's semantics, with the release's API attached."""
    kernel = make_kernel(semantics=HELM_AI_KERNEL)
    surface = HelmSurface(kernel, config or ReleaseConfig(admin_key=ADMIN, service_key=SERVICE))
    kernel.surface.attach_release(surface)
    return kernel, surface


@pytest.fixture
def twin() -> Kernel:
    """A release kernel whose ``handle`` answers the release's API."""
    return release_kernel()[0]


def call(
    kernel: Kernel,
    method: str,
    path: str,
    headers: Mapping[str, str] = SCOPED,
    body: Any = None,
) -> Response:
    """One request through ``Kernel.handle``; *body* as JSON unless it is bytes."""
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return kernel.handle(method, path, dict(headers), data)


def evaluate(kernel: Kernel, headers: Mapping[str, str] = SCOPED, **members: Any) -> Response:
    """``POST /api/v1/evaluate`` of *members* (tool echo in session s1 unless given)."""
    body = {"tool": "echo", "effect_level": "echo", "session_id": "s1", **members}
    return call(kernel, "POST", "/api/v1/evaluate", headers, body)


def assert_problem(response: Response, status: int, detail: str, title: str | None = None) -> None:
    """*response* is the release's problem body with *status* and *detail*."""
    assert response.status == status
    assert dict(response.headers)["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": f"https://helm.mindburn.run/errors/{status}",
        "title": title or TITLES[status],
        "status": status,
        "detail": detail,
    }


def verifies(receipt: Mapping[str, Any]) -> bool:
    """receipt.v5's rule: Ed25519 over the JCS of the signed members (an omitted one is its
    empty value), under the key in ``public_key_set``."""
    payload = {name: receipt.get(name, "") for name in SPEC_SIGNED_FIELDS["receipt"]}
    message = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(receipt["public_key_set"]["ed25519"]))
    try:
        key.verify(bytes.fromhex(receipt["signature"]), message.encode())
    except Exception:
        return False
    return True


# --- the surface, its hook and its error body ----------------------------------------------------


def test_the_release_problem_body_is_typed_by_status() -> None:
    response = helm_problem(409, "x")
    assert response.json() == {
        "type": "https://helm.mindburn.run/errors/409",
        "title": "Conflict",
        "status": 409,
        "detail": "x",
    }
    assert helm_problem(404, "y", "Receipt not found").json()["title"] == "Receipt not found"


def test_the_release_api_needs_a_kernel_under_the_release_semantics() -> None:
    with pytest.raises(InvalidInput, match="helm-ai-kernel"):
        HelmSurface(Kernel(KernelConfig(semantics=CHAOS_PAGE)))


def test_a_blank_key_or_identity_is_refused() -> None:
    with pytest.raises(InvalidInput, match="admin_key"):
        ReleaseConfig(admin_key=" ")
    with pytest.raises(InvalidInput, match="tenant_id"):
        ReleaseConfig(tenant_id="")


def test_an_unrouted_path_gets_gos_plain_404_and_the_chaos_routes_stay(twin: Kernel) -> None:
    response = call(twin, "GET", "/api/v1/does-not-exist")
    assert (response.status, response.body) == (404, b"404 page not found\n")
    assert dict(response.headers)["Content-Type"] == "text/plain; charset=utf-8"
    executed = call(twin, "POST", "/v1/tools/execute", {}, {"tool": "echo", "args": {"x": 1}})
    assert executed.status == 200 and executed.json()["verdict"] == "ALLOW"


def test_a_kernel_without_the_release_api_answers_as_before() -> None:
    kernel = make_kernel(semantics=HELM_AI_KERNEL)
    response = call(kernel, "GET", "/healthz")
    assert response.status == 404
    assert dict(response.headers)["Content-Type"] == "application/problem+json"
    assert "helm.mindburn.run" not in response.body.decode()


def test_a_body_over_a_mebibyte_is_refused_in_the_release_format(twin: Kernel) -> None:
    response = call(twin, "POST", "/api/v1/evaluate", SCOPED, b"x" * (1_048_576 + 1))
    assert response.status == 413
    assert response.json()["type"] == "https://helm.mindburn.run/errors/413"


def test_a_preflight_gets_204(twin: Kernel) -> None:
    assert call(twin, "OPTIONS", "/api/v1/evaluate", {}).status == 204


# --- auth classes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 401, "Missing Authorization header"),
        (TENANT, 401, "Missing Authorization header"),
        (
            {"Authorization": f"bearer {ADMIN}", **TENANT},
            401,
            "Invalid Authorization header format (expected 'Bearer <key>')",
        ),
        ({"Authorization": "Bearer  ", **TENANT}, 401, "Missing bearer token"),
        ({"Authorization": "Bearer wrong", **TENANT}, 401, "Invalid API key"),
        ({**SERVICE_HEADERS, **TENANT}, 401, "Invalid API key"),
        (
            {**ADMIN_HEADERS, "X-Helm-Principal-ID": DEFAULT_PRINCIPAL},
            403,
            "Tenant-scoped route requires explicit tenant binding",
        ),
        (
            {**ADMIN_HEADERS, "X-Helm-Tenant-ID": DEFAULT_TENANT},
            403,
            "Tenant-scoped route requires explicit principal binding",
        ),
        (
            {**SCOPED, "X-Helm-Principal-ID": "mallory"},
            403,
            "Tenant-scoped route principal mismatch",
        ),
        ({**SCOPED, "X-Helm-Tenant-ID": "other"}, 403, "Tenant-scoped route tenant mismatch"),
    ],
)
def test_tenant_scoped_refusals(
    twin: Kernel, headers: dict[str, str], status: int, detail: str
) -> None:
    assert_problem(evaluate(twin, headers), status, detail)
    assert twin.sessions() == ()  # nothing was decided


def test_the_tenant_may_come_from_the_query(twin: Kernel) -> None:
    headers = {**ADMIN_HEADERS, "X-Helm-Principal-ID": DEFAULT_PRINCIPAL}
    body = {"tool": "echo", "effect_level": "echo", "session_id": "s1"}
    assert call(twin, "POST", "/api/v1/evaluate?tenant_id=default", headers, body).status == 200


def test_auth_comes_before_the_method(twin: Kernel) -> None:
    assert_problem(call(twin, "GET", "/api/v1/evaluate", {}), 401, "Missing Authorization header")
    response = call(twin, "GET", "/api/v1/evaluate")
    assert_problem(
        response, 405, "The HTTP method is not supported for this endpoint", "Method Not Allowed"
    )


def test_unset_keys_close_their_routes_as_the_release_does() -> None:
    kernel, _ = release_kernel(ReleaseConfig())
    assert_problem(evaluate(kernel), 401, "Admin API key not configured (set HELM_ADMIN_API_KEY)")
    assert_problem(
        call(kernel, "POST", "/api/v1/kernel/approve", SERVICE_HEADERS, WELL_FORMED_APPROVAL),
        401,
        "Service API key not configured (set HELM_SERVICE_API_KEY)",
    )
    assert call(kernel, "GET", "/healthz", {}).status == 200


def test_a_configured_pair_other_than_the_default_binds() -> None:
    kernel, _ = release_kernel(
        ReleaseConfig(admin_key=ADMIN, tenant_id="acme", principal_id="agent-7")
    )
    scoped = {**ADMIN_HEADERS, "X-Helm-Tenant-ID": "acme", "X-Helm-Principal-ID": "agent-7"}
    assert evaluate(kernel, scoped).status == 200
    assert_problem(evaluate(kernel), 403, "Tenant-scoped route tenant mismatch")


# --- public routes -------------------------------------------------------------------------------


def test_health_and_version_are_public_and_take_any_method(twin: Kernel) -> None:
    assert call(twin, "POST", "/healthz", {}).json() == {"status": "ok", "version": "v0.0.0-dev"}
    health = call(twin, "GET", "/api/health", {}).json()
    assert health["status"] == "ok" and health["deployment_id"] == "local"
    assert set(health) == {
        "build_time",
        "commit",
        "deployment_id",
        "git_sha",
        "helm_ai_kernel_version",
        "status",
        "version",
    }
    for path in ("/version", "/api/v1/version"):
        version = call(twin, "GET", path, {}).json()
        assert set(version) == {"build_time", "commit", "go_version", "version"}


# --- evaluate ------------------------------------------------------------------------------------


def test_evaluate_answers_the_release_members_and_receipts_the_decision(twin: Kernel) -> None:
    response = evaluate(twin, args={"x": 1})
    assert response.status == 200
    answer = response.json()
    receipt = twin.receipt(answer["receipt_id"])
    assert receipt is not None and receipt.session_id == "s1"
    assert answer == {
        "allow": True,
        "verdict": "ALLOW",
        "receipt_id": f"rcpt-{answer['decision_id']}-decision",
        "decision_id": answer["decision_id"],
        "decision_hash": receipt.output_hash,
        "reason_code": "",
        "policy_ref": receipt.policy_hash,
        "lamport_clock": 1,
        "id": answer["decision_id"],
        "action": "echo",
        "resource": "echo",
        "policy_version": receipt.policy_hash,
        "signature": answer["signature"],
    }  # no reason on an ALLOW, as the release omits it
    assert evaluate(twin).json()["lamport_clock"] == 2


def test_every_verdict_is_a_200_with_its_reason(twin: Kernel) -> None:
    denied = evaluate(twin, tool="nope", effect_level="nope").json()
    assert (denied["allow"], denied["verdict"]) == (False, "DENY")
    assert denied["reason_code"] and denied["reason"]
    escalated = evaluate(twin, tool="approve", effect_level="approve").json()
    assert (escalated["allow"], escalated["verdict"]) == (False, "ESCALATE")


def test_the_legacy_aliases_and_a_padded_session(twin: Kernel) -> None:
    body = {"action": "echo", "resource": "echo", "context": {"session_id": " s2 "}}
    response = call(twin, "POST", "/api/v1/evaluate", SCOPED, body)
    assert response.status == 200
    assert twin.session_receipts("s2")[0].receipt_id == response.json()["receipt_id"]


@pytest.mark.parametrize(
    ("members", "detail"),
    [
        ({"action": "sum"}, "tool and action must match when both are provided"),
        ({"resource": "sum"}, "effect_level and resource must match when both are provided"),
        (
            {"context": {"session_id": "other"}},
            "session_id must match context.session_id when both are provided",
        ),
        ({"tool": " "}, "tool and effect_level are required"),
        ({"effect_level": None}, "tool and effect_level are required"),
        ({"session_id": "   "}, "session_id is required"),
        ({"session_id": "a/b"}, "session_id may not contain path separators"),
        ({"session_id": "a\\b"}, "session_id may not contain path separators"),
    ],
)
def test_evaluate_refuses_what_the_release_refuses(
    twin: Kernel, members: dict[str, Any], detail: str
) -> None:
    assert_problem(evaluate(twin, **members), 400, f"Evaluate route {detail}")
    assert twin.sessions() == ()


@pytest.mark.parametrize(
    "body",
    [b"", b'{"tool": "echo",', b"[]", b'{"args": [1, 2]}', b'{"tool": 5}', b'{"context": "x"}'],
)
def test_a_body_go_cannot_decode_is_invalid_json(twin: Kernel, body: bytes) -> None:
    assert_problem(call(twin, "POST", "/api/v1/evaluate", SCOPED, body), 400, "Invalid JSON body")


def test_unknown_members_are_ignored_as_go_ignores_them(twin: Kernel) -> None:
    assert evaluate(twin, bogus=1, principal="evil", agent_id="evil").status == 200


def test_a_session_the_kernel_cannot_name_is_a_400_naming_it(twin: Kernel) -> None:
    response = evaluate(twin, session_id="free text")
    assert response.status == 400
    assert "context.session_id 'free text' is not an identifier" in response.json()["detail"]


def test_identity_comes_from_authentication_only() -> None:
    kernel, _ = release_kernel()
    kernel.put_rule(
        "echo",
        {
            "id": "who",
            "logic": "AND",
            "leaves": [
                {"id": "p", "predicate": ["eq", "context.principal_id", DEFAULT_PRINCIPAL]},
                {"id": "t", "predicate": ["eq", "context.tenant_id", DEFAULT_TENANT]},
                {"id": "w", "predicate": ["eq", "context.workspace_id", "ws1"]},
            ],
        },
    )
    context = {"principal_id": "evil", "tenant_id": "evil", "workspace_id": "evil"}
    headers = {**SCOPED, "X-Helm-Workspace-ID": "ws1"}
    assert evaluate(kernel, headers, context=context).json()["verdict"] == "ALLOW"
    assert evaluate(kernel, context=context).json()["verdict"] == "DENY"  # no workspace header


def test_a_kernel_that_cannot_sign_fails_as_a_failed_persist(twin: Kernel) -> None:
    twin.remove_signing()
    response = evaluate(twin)
    assert_problem(
        response,
        500,
        "An unexpected error occurred. Please try again later.",
        "Internal Server Error",
    )
    assert twin.sessions() == ()


# --- receipts ------------------------------------------------------------------------------------


def evaluated(kernel: Kernel, count: int, session: str = "s1") -> list[dict[str, Any]]:
    """*count* evaluates in *session* (the second of every pair denied); their answers."""
    tools = ("echo", "nope")
    return [
        evaluate(kernel, tool=tools[i % 2], effect_level=tools[i % 2], session_id=session).json()
        for i in range(count)
    ]


def test_a_receipt_is_served_as_the_kernels_envelope_and_verifies(twin: Kernel) -> None:
    answer = evaluated(twin, 1)[0]
    body = call(twin, "GET", f"/api/v1/receipts/{answer['receipt_id']}").json()
    assert body == twin.receipt_wire(answer["receipt_id"])
    assert body["executor_id"] == DEFAULT_PRINCIPAL
    assert body["decision_hash"] == body["output_hash"] == answer["decision_hash"]
    assert body["metadata"]["source"] == "api.evaluate"
    assert body["reason_code"] == ""  # an ALLOW's, served empty as the release serves it
    assert body["metadata"]["reason"] == ""  # the release's ALLOW has no reason
    assert verifies(body)
    assert not verifies({**body, "verdict": "DENY"})


def test_the_served_receipts_chain_as_the_release_links_them(twin: Kernel) -> None:
    call(
        twin,
        "POST",
        "/v1/tools/execute",
        {},
        {"tool": "echo", "args": {"x": 1}, "context": {"session_id": "s1"}},
    )
    evaluated(twin, 2)
    chain = call(twin, "GET", "/api/v1/receipts?session_id=s1").json()["receipts"]
    assert [r["lamport_clock"] for r in chain] == [1, 2, 3, 4]
    assert chain[0]["prev_hash"] == ""
    for previous, receipt in itertools.pairwise(chain):
        # The release hashes an empty reason_code (an ALLOW's) as absent, though it serves it.
        hashed = {k: v for k, v in previous.items() if (k, v) != ("reason_code", "")}
        wire = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert receipt["prev_hash"] == hashlib.sha256(wire.encode()).hexdigest()
    assert all(verifies(r) for r in chain)  # the dispatch receipt (lamport 2) too


def test_listing_a_session_pages_by_lamport(twin: Kernel) -> None:
    evaluated(twin, 5)
    first = call(twin, "GET", "/api/v1/receipts?session_id=s1&limit=2").json()
    assert [r["lamport_clock"] for r in first["receipts"]] == [1, 2]
    assert (first["count"], first["has_more"], first["next_cursor"]) == (2, True, "lamport:2")
    rest = call(twin, "GET", "/api/v1/receipts?session_id=s1&since=lamport%3A2").json()
    assert [r["lamport_clock"] for r in rest["receipts"]] == [3, 4, 5]
    assert (rest["has_more"], rest["next_cursor"]) == (False, "lamport:5")
    bare = call(twin, "GET", "/api/v1/receipts?session_id=s1&since=3&limit=0").json()
    assert bare["count"] == 2  # a bare number is a cursor too; limit 0 is the default
    denied = call(twin, "GET", "/api/v1/receipts?session_id=s1&verdict=DENY").json()
    assert [r["lamport_clock"] for r in denied["receipts"]] == [2, 4]


def test_an_unknown_session_lists_null(twin: Kernel) -> None:
    assert call(twin, "GET", "/api/v1/receipts?session_id=never").json() == {
        "receipts": None,
        "count": 0,
        "next_cursor": "",
        "has_more": False,
    }


def test_the_tenant_wide_list_is_in_the_order_receipts_were_made(twin: Kernel) -> None:
    evaluated(twin, 1, "zz")
    evaluated(twin, 1, "aa")
    listed = call(twin, "GET", "/api/v1/receipts?limit=1").json()
    assert [r["session_id"] for r in listed["receipts"]] == ["zz"]
    assert (listed["has_more"], listed["next_cursor"]) == (True, "")


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("session_id=a%2Fb", "Invalid session_id"),
        ("session_id=s1&since=lamport:abc", "Invalid since cursor"),
        ("since=lamport:1", "Invalid since cursor"),
        (
            "session_id=s1&from=2026-01-01T00:00:00Z",
            "the twin does not serve the 'from' receipt filter",
        ),
    ],
)
def test_listing_refuses_a_bad_query(twin: Kernel, query: str, detail: str) -> None:
    assert_problem(call(twin, "GET", f"/api/v1/receipts?{query}"), 400, detail)


def test_getting_a_receipt_refuses_as_the_release(twin: Kernel) -> None:
    decision_id = evaluated(twin, 1)[0]["decision_id"]
    assert_problem(
        call(twin, "GET", f"/api/v1/receipts/{decision_id}"),
        404,
        "receipt not found",
        "Receipt not found",
    )
    for path in ("/api/v1/receipts/", "/api/v1/receipts/a/b"):
        assert_problem(call(twin, "GET", path), 400, "Invalid receipt id")
    assert call(twin, "POST", "/api/v1/receipts").status == 405


# --- the SDK's ProofGraph routes -----------------------------------------------------------------


def test_sessions_are_listed_sorted_with_their_counts(twin: Kernel) -> None:
    evaluated(twin, 3, "zz")
    evaluated(twin, 1, "aa")
    assert call(twin, "GET", "/api/v1/proofgraph/sessions").json() == [
        {
            "session_id": "aa",
            "created_at": "1970-01-01T00:00:00Z",
            "receipt_count": 1,
            "last_lamport_clock": 1,
        },
        {
            "session_id": "zz",
            "created_at": "1970-01-01T00:00:00Z",
            "receipt_count": 3,
            "last_lamport_clock": 3,
        },
    ]
    paged = call(twin, "GET", "/api/v1/proofgraph/sessions?limit=1&offset=1").json()
    assert [s["session_id"] for s in paged] == ["zz"]


def test_a_sessions_receipts_and_their_refusals(twin: Kernel) -> None:
    evaluated(twin, 2)
    receipts = call(twin, "GET", "/api/v1/proofgraph/sessions/s1/receipts").json()
    assert [r["lamport_clock"] for r in receipts] == [1, 2]
    assert all(verifies(r) for r in receipts)
    assert_problem(
        call(twin, "GET", "/api/v1/proofgraph/sessions/never/receipts"),
        404,
        "session not found",
        "Not Found",
    )
    assert_problem(
        call(twin, "GET", "/api/v1/proofgraph/sessions/s1"),
        404,
        "proofgraph session route not found",
        "Not Found",
    )


def test_a_receipt_by_id_chain_hash_or_signature(twin: Kernel) -> None:
    answer = evaluated(twin, 1)[0]
    receipt = twin.receipt(answer["receipt_id"])
    assert receipt is not None
    link = chain_hash(call(twin, "GET", f"/api/v1/receipts/{receipt.receipt_id}").json())
    for reference in (receipt.receipt_id, link, receipt.signature):
        found = call(twin, "GET", f"/api/v1/proofgraph/receipts/{reference}").json()
        assert found["receipt_id"] == receipt.receipt_id
    assert_problem(
        call(twin, "GET", "/api/v1/proofgraph/receipts/nope"), 404, "receipt not found", "Not Found"
    )
    assert_problem(
        call(twin, "GET", "/api/v1/proofgraph/receipts/a%2Fb"), 400, "Invalid receipt reference"
    )


# --- intent approval -----------------------------------------------------------------------------


def test_a_well_formed_approval_finds_no_intent(twin: Kernel) -> None:
    path = "/api/v1/kernel/approve"
    assert_problem(
        call(twin, "POST", path, SERVICE_HEADERS, WELL_FORMED_APPROVAL),
        404,
        "intent not found or already processed",
        "Not Found",
    )
    assert_problem(
        call(twin, "POST", path, SERVICE_HEADERS, {"intent_hash": "a"}),
        400,
        "missing required fields: intent_hash, public_key, signature",
    )
    malformed = call(twin, "POST", path, SERVICE_HEADERS, b"{nope")
    assert malformed.status == 400
    assert malformed.json()["detail"].startswith("invalid request body: ")
    assert_problem(
        call(twin, "POST", path, ADMIN_HEADERS, WELL_FORMED_APPROVAL),
        401,
        "Invalid service API key",
    )
    assert call(twin, "GET", path, SERVICE_HEADERS).status == 405


# --- budget ceilings -----------------------------------------------------------------------------


def test_budgets_are_seeded_replaced_whole_and_never_enforced(twin: Kernel) -> None:
    ceilings = call(twin, "GET", "/api/v1/budgets", ADMIN_HEADERS).json()
    assert ceilings == [
        {
            "budget_id": "budget-default",
            "subject": "tenant:default",
            "tool_call_limit": 1000,
            "spend_limit_cents": 100000,
            "egress_limit_bytes": 10485760,
            "write_operation_limit": 100,
            "approval_required_above_cents": 50000,
            "window": "24h",
            "policy_epoch": "bootstrap",
            "updated_at": "1970-01-01T00:00:00Z",
        }
    ]
    replacement = {"tool_call_limit": 1, "spend_limit_cents": 0, "max_write_ops": 3, "zzz": 1}
    put = call(twin, "PUT", "/api/v1/budgets/budget-default", ADMIN_HEADERS, replacement)
    assert put.json() == {
        "budget_id": "budget-default",
        "subject": "tenant:default",
        "tool_call_limit": 1,
        "write_operation_limit": 3,
        "window": "24h",
        "updated_at": "1970-01-01T00:00:00Z",
    }
    assert call(twin, "GET", "/api/v1/budgets", ADMIN_HEADERS).json() == [put.json()]
    assert [evaluate(twin).json()["verdict"] for _ in range(3)] == ["ALLOW"] * 3


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        ("/api/v1/budgets/b1", b"{bad", 400, "Invalid budget request"),
        ("/api/v1/budgets/b1", {"tool_call_limit": "x"}, 400, "Invalid budget request"),
        (
            "/api/v1/budgets/b1",
            {"tool_call_limit": 2, "max_tool_calls": 3},
            400,
            "Invalid budget request",
        ),
        ("/api/v1/budgets/", {}, 400, "Invalid budget id"),
    ],
)
def test_a_bad_budget_is_refused(
    twin: Kernel, path: str, body: Any, status: int, detail: str
) -> None:
    assert_problem(call(twin, "PUT", path, ADMIN_HEADERS, body), status, detail)


def test_budget_routes_take_their_methods_and_the_admin_key(twin: Kernel) -> None:
    assert call(twin, "GET", "/api/v1/budgets/b1", ADMIN_HEADERS).status == 405
    assert call(twin, "PUT", "/api/v1/budgets", ADMIN_HEADERS, {}).status == 405
    assert_problem(call(twin, "GET", "/api/v1/budgets", {}), 401, "Missing Authorization header")


# --- trust keys ----------------------------------------------------------------------------------


def test_a_trust_key_added_over_the_api_verifies_helms_receipts_until_revoked(
    twin: Kernel,
) -> None:
    reference = json.loads(REFERENCE_RECEIPT.read_text(encoding="utf-8"))
    key = {
        "tenant_id": "default",
        "key_id": reference["key_id"],
        "public_key": reference["public_key_set"]["ed25519"],
    }
    add, revoke = "/api/v1/trust/keys/add", "/api/v1/trust/keys/revoke"
    with pytest.raises(ReceiptRejected):
        twin.verify_release_receipt(reference)
    for _ in range(2):  # adding the same key again is no error, as in the release
        assert call(twin, "POST", add, ADMIN_HEADERS, key).json() == {
            "key_id": key["key_id"],
            "status": "key_added",
            "tenant_id": "default",
        }
    twin.verify_release_receipt(reference)
    for key_id in (key["key_id"], key["key_id"], "never-added", "key-0001"):
        revoked = call(
            twin, "POST", revoke, ADMIN_HEADERS, {"tenant_id": "default", "key_id": key_id}
        )
        assert revoked.json() == {"key_id": key_id, "status": "key_revoked", "tenant_id": "default"}
    with pytest.raises(ReceiptRejected):
        twin.verify_release_receipt(reference)
    assert evaluate(twin).json()["verdict"] == "ALLOW"  # the kernel's own key-0001 still signs
    again = call(twin, "POST", add, ADMIN_HEADERS, key)
    assert again.status == 400 and "was revoked" in again.json()["detail"]


@pytest.mark.parametrize(
    ("key_id", "words"),
    [("key-0007", "the form of the ring's own key ids"), ("not an id", "not an identifier")],
)
def test_a_trust_key_id_the_kernel_cannot_hold_is_named(
    twin: Kernel, key_id: str, words: str
) -> None:
    body = {"tenant_id": "default", "key_id": key_id, "public_key": "11" * 32}
    response = call(twin, "POST", "/api/v1/trust/keys/add", ADMIN_HEADERS, body)
    assert response.status == 400 and words in response.json()["detail"]


def test_another_key_under_a_held_id_is_refused(twin: Kernel) -> None:
    body = {"tenant_id": "default", "key_id": "k1", "public_key": "11" * 32}
    assert call(twin, "POST", "/api/v1/trust/keys/add", ADMIN_HEADERS, body).status == 200
    other = call(
        twin, "POST", "/api/v1/trust/keys/add", ADMIN_HEADERS, {**body, "public_key": "22" * 32}
    )
    assert other.status == 400 and "already held" in other.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        (
            "/api/v1/trust/keys/add",
            {"tenant_id": "default", "key_id": "k2"},
            "tenant_id, key_id, and public_key are required",
        ),
        (
            "/api/v1/trust/keys/add",
            {"tenant_id": "default", "key_id": "k3", "public_key": "zz"},
            "public_key must be 64-char hex-encoded Ed25519 public key",
        ),
        ("/api/v1/trust/keys/add", b"{", "invalid request body"),
        (
            "/api/v1/trust/keys/revoke",
            {"tenant_id": "default"},
            "tenant_id and key_id are required",
        ),
        ("/api/v1/trust/keys/revoke", b"[", "invalid request body"),
    ],
)
def test_a_bad_trust_key_request_is_refused(
    twin: Kernel, path: str, body: Any, detail: str
) -> None:
    assert_problem(call(twin, "POST", path, ADMIN_HEADERS, body), 400, detail)


def test_trust_keys_take_the_admin_key_and_post(twin: Kernel) -> None:
    path = "/api/v1/trust/keys/add"
    assert_problem(call(twin, "POST", path, SERVICE_HEADERS, {}), 401, "Invalid API key")
    assert call(twin, "GET", path, ADMIN_HEADERS).status == 405


# --- the emergency-stop fence --------------------------------------------------------------------


def test_the_fence_answers_as_an_unconfigured_release(twin: Kernel) -> None:
    path = "/internal/emergency-stop/fence"
    body = {"command": {}, "signature": ""}
    assert_problem(
        call(twin, "POST", path, SERVICE_HEADERS, body),
        503,
        "scoped emergency-stop fence store is not initialized",
        "Emergency stop unavailable",
    )
    assert_problem(call(twin, "POST", path, {}, body), 401, "Missing Authorization header")
    assert call(twin, "GET", path, SERVICE_HEADERS).status == 405


FENCE = "/internal/emergency-stop/fence"
COMMAND_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NOW_MS = parse_rfc3339("2026-12-08T05:00:00Z") // 1_000_000
WORKSPACE = {"X-Helm-Workspace-ID": "ws1"}


def fencing_kernel() -> Kernel:
    """A release kernel whose API fences: audience ``twin``, command key ``cp-1``, workspace
    ``ws1``, its clock at 2026-12-08T05:00:00Z."""
    public = COMMAND_KEY.public_key().public_bytes_raw()
    return release_kernel(
        ReleaseConfig(
            admin_key=ADMIN,
            service_key=SERVICE,
            workspace_id="ws1",
            fence_audience="twin",
            fence_keys={"cp-1": public},
            clock=lambda: NOW_MS,
        )
    )[0]


def fence_body(signature: str | None = None, **members: Any) -> dict[str, Any]:
    """A fence envelope for ``default``/``ws1`` at epoch 5, signed by the command key."""
    command = {
        "contract_version": "emergency-stop-fence.v1",
        "audience": "twin",
        "key_id": "cp-1",
        "command_id": "cmd-1",
        "tenant_id": DEFAULT_TENANT,
        "workspace_id": "ws1",
        "epoch": 5,
        "actor_id": "ops-1",
        "reason": "drill",
        "issued_at": "2026-12-08T04:59:00Z",
        "expires_at": "2026-12-08T05:04:00Z",
        **members,
    }
    payload = command_signing_payload(FenceCommand.from_json(command))
    return {"command": command, "signature": signature or COMMAND_KEY.sign(payload).hex()}


def test_with_fencing_on_evaluate_is_bound_to_the_served_workspace() -> None:
    kernel = fencing_kernel()
    assert_problem(
        evaluate(kernel), 403, "Evaluate route requires an explicit authenticated workspace binding"
    )
    assert_problem(
        evaluate(kernel, {**SCOPED, "X-Helm-Workspace-ID": "other"}),
        403,
        "Evaluate route workspace binding could not be verified",
    )
    assert evaluate(kernel, {**SCOPED, **WORKSPACE}).json()["verdict"] == "ALLOW"


def test_a_fence_is_acknowledged_replayed_and_stops_new_decisions() -> None:
    kernel = fencing_kernel()
    first = call(kernel, "POST", FENCE, SERVICE_HEADERS, fence_body())
    assert first.status == 201
    assert dict(first.headers)["Cache-Control"] == "no-store"
    answer = first.json()
    assert (answer["contract_version"], answer["coverage"], answer["replayed"]) == (
        "emergency-stop-fence.v1",
        "new_governed_dispatches_only",
        False,
    )
    state = answer["state"]
    assert (state["epoch"], state["kernel_key_id"]) == (5, "key-0001")
    assert state["kernel_public_key"] == kernel.public_key("key-0001").hex()
    acknowledged = {k: v for k, v in state.items() if k != "receipt_hash"} | {"action": "FENCE_ACK"}
    message = json.dumps(acknowledged, sort_keys=True, separators=(",", ":")).encode()
    assert state["receipt_hash"] == "sha256:" + hashlib.sha256(message).hexdigest()
    kernel_key = Ed25519PublicKey.from_public_bytes(kernel.public_key("key-0001"))
    kernel_key.verify(bytes.fromhex(answer["kernel_signature"]), message)  # raises if not
    # The served scope is fenced: new decisions are denied (the kernel's freeze, spec 12.2).
    denied = evaluate(kernel, {**SCOPED, **WORKSPACE}).json()
    assert (denied["verdict"], denied["reason_code"]) == ("DENY", "SYSTEM_FROZEN")
    replay = call(kernel, "POST", FENCE, SERVICE_HEADERS, fence_body())
    assert replay.status == 200
    assert replay.json() == {**answer, "replayed": True}
    higher = call(kernel, "POST", FENCE, SERVICE_HEADERS, fence_body(command_id="cmd-2", epoch=6))
    assert higher.status == 201  # the kernel is frozen already; the fence moves on


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{", 400, "Invalid emergency-stop command"),
        ({**fence_body(), "extra": 1}, 400, "Invalid emergency-stop command"),
        (fence_body(signature="00" * 64), 403, "Emergency-stop command verification failed"),
        (fence_body(audience="elsewhere"), 403, "Emergency-stop command verification failed"),
        (
            fence_body(expires_at="2026-12-08T05:00:00Z"),
            403,
            "Emergency-stop command verification failed",
        ),
    ],
)
def test_a_bad_fence_command_is_refused(body: Any, status: int, detail: str) -> None:
    kernel = fencing_kernel()
    assert_problem(call(kernel, "POST", FENCE, SERVICE_HEADERS, body), status, detail)
    assert evaluate(kernel, {**SCOPED, **WORKSPACE}).json()["verdict"] == "ALLOW"


def test_a_stale_epoch_conflicts_and_another_scope_leaves_evaluation_alone() -> None:
    kernel = fencing_kernel()
    other = fence_body(workspace_id="ws-other", command_id="cmd-o")
    assert call(kernel, "POST", FENCE, SERVICE_HEADERS, other).status == 201
    assert evaluate(kernel, {**SCOPED, **WORKSPACE}).json()["verdict"] == "ALLOW"
    stale = fence_body(workspace_id="ws-other", command_id="cmd-p", epoch=5)
    assert_problem(
        call(kernel, "POST", FENCE, SERVICE_HEADERS, stale),
        409,
        "Emergency-stop command conflicts with the active fence",
        "Conflict",
    )


def test_a_bad_fence_configuration_is_refused() -> None:
    with pytest.raises(InvalidInput, match="audience"):
        release_kernel(ReleaseConfig(fence_audience=" x", fence_keys={"cp-1": b"1" * 32}))


# --- the command line's copies of the kernel's names ---------------------------------------------


def test_the_command_lines_names_are_the_kernels() -> None:
    assert (cli.CHAOS_PAGE, cli.HELM_AI_KERNEL) == (CHAOS_PAGE, HELM_AI_KERNEL)
    assert (cli.DEFAULT_TENANT, cli.DEFAULT_PRINCIPAL) == (DEFAULT_TENANT, DEFAULT_PRINCIPAL)


def test_serve_takes_the_release_options_only_with_its_semantics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert 2 == cli.main(["serve", "--helm-tenant", "t", "--helm-admin-key", "k"])
    assert capsys.readouterr().err == (
        "helmmodel serve: --helm-admin-key, --helm-tenant: only with --semantics helm-ai-kernel\n"
    )


def test_serve_reads_the_release_environment_under_its_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HELM_ADMIN_API_KEY", "from-env")
    monkeypatch.setenv("HELM_SERVICE_API_KEY", "")  # empty is unset, as the release reads it
    monkeypatch.setenv("HELM_RUNTIME_TENANT_ID", "acme")
    argv = ["serve", "--semantics", HELM_AI_KERNEL, "--helm-tenant", "from-option"]
    config = cli._release_config(cli.build_parser().parse_args(argv))
    assert config is not None
    assert (config.admin_key, config.service_key) == ("from-env", None)
    assert (config.tenant_id, config.principal_id) == ("from-option", DEFAULT_PRINCIPAL)
    assert cli._release_config(cli.build_parser().parse_args(["serve"])) is None


def test_serve_reads_the_release_fence_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    public = COMMAND_KEY.public_key().public_bytes_raw()
    argv = cli.build_parser().parse_args(["serve", "--semantics", HELM_AI_KERNEL])
    monkeypatch.setenv("HELM_RUNTIME_WORKSPACE_ID", "ws1")
    monkeypatch.setenv("HELM_EMERGENCY_STOP_FENCE_ENABLED", "0")
    monkeypatch.setenv("HELM_EMERGENCY_STOP_COMMAND_AUDIENCE", "twin")
    config = cli._release_config(argv)
    assert config is not None and config.fence_audience is None  # off unless enabled
    monkeypatch.setenv("HELM_EMERGENCY_STOP_FENCE_ENABLED", "1")
    with pytest.raises(InvalidInput, match="HELM_EMERGENCY_STOP_COMMAND_PUBLIC_KEYS"):
        cli._release_config(argv)
    for bad in ("cp-1", f"cp-1={public.hex()[:-2]}", f"cp-1={public.hex()},cp-1={public.hex()}"):
        monkeypatch.setenv("HELM_EMERGENCY_STOP_COMMAND_PUBLIC_KEYS", bad)
        with pytest.raises(InvalidInput, match="is not a new KEY_ID="):
            cli._release_config(argv)
    monkeypatch.setenv("HELM_EMERGENCY_STOP_COMMAND_PUBLIC_KEYS", f" cp-1 = {public.hex()} ")
    config = cli._release_config(argv)
    assert config is not None
    assert (config.fence_audience, dict(config.fence_keys), config.workspace_id) == (
        "twin",
        {"cp-1": public},
        "ws1",
    )
    assert config.clock is not None  # serve runs the release's API on wall time


def test_a_fence_needs_a_kernel_that_can_sign() -> None:
    kernel = fencing_kernel()
    kernel.remove_signing()
    assert_problem(
        call(kernel, "POST", FENCE, SERVICE_HEADERS, fence_body()),
        503,
        "kernel receipt signer is not initialized",
        "Emergency stop unavailable",
    )


def test_a_budget_keeps_the_subject_window_and_epoch_it_is_given(twin: Kernel) -> None:
    body = {"subject": "agent:7", "window": "1h", "policy_epoch": "e2", "budget_id": "ignored"}
    stored = call(twin, "PUT", "/api/v1/budgets/b9", ADMIN_HEADERS, body).json()
    assert stored == {
        "budget_id": "b9",
        "subject": "agent:7",
        "window": "1h",
        "policy_epoch": "e2",
        "updated_at": "1970-01-01T00:00:00Z",
    }


def test_an_approval_of_the_wrong_types_is_a_bad_body(twin: Kernel) -> None:
    body = {**WELL_FORMED_APPROVAL, "intent_hash": 5}
    response = call(twin, "POST", "/api/v1/kernel/approve", SERVICE_HEADERS, body)
    assert response.status == 400
    assert response.json()["detail"].startswith("invalid request body: ")


def test_a_sessions_receipts_take_a_limit(twin: Kernel) -> None:
    evaluated(twin, 3)
    receipts = call(twin, "GET", "/api/v1/proofgraph/sessions/s1/receipts?limit=2").json()
    assert [r["lamport_clock"] for r in receipts] == [1, 2]


@pytest.mark.parametrize(
    "body",
    [b'{"tool": "echo", "args": {"x": 1.5}}', b'{"tool": "echo", "tool": "sum"}', b"{} {}"],
)
def test_what_go_reads_but_the_kernel_cannot_is_named(twin: Kernel, body: bytes) -> None:
    response = call(twin, "POST", "/api/v1/evaluate", SCOPED, body)
    assert response.status == 400
    assert response.json()["detail"].startswith(
        "the twin reads JSON bodies within the canonical subset: "
    )


def test_a_null_body_is_go_s_empty_request(twin: Kernel) -> None:
    assert_problem(
        call(twin, "POST", "/api/v1/evaluate", SCOPED, b"null"),
        400,
        "Evaluate route tool and effect_level are required",
    )
    assert_problem(
        call(twin, "POST", "/api/v1/evaluate", SCOPED, b'{"tool": NaN}'), 400, "Invalid JSON body"
    )
