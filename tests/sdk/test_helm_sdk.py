"""HELM's own Python client (``helm-sdk``, pinned) against the twin over a real socket: each SDK
method of the release's kernel slice succeeds on its happy path and surfaces HELM's error on each
refusal, and the receipts it fetches verify under receipt.v5's rule (README, "HELM's release API
on the twin"). The routes the SDK has no method for are driven with httpx, the SDK's transport.

Against the release's server the SDK reads every error as ``reason_code == "ERROR_INTERNAL"``
with the problem body in ``.body``: the server answers RFC 7807, while the SDK looks for the
``{"error": ...}`` envelope its OpenAPI describes. The twin answers as the server does, so the
SDK behaves against it exactly as against the release.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from helm_sdk import (
    ApprovalRequest,
    DecisionRequest,
    EvaluateRequest,
    EvaluateResponse,
    HelmApiError,
    HelmClient,
    Receipt,
    Session,
    VersionInfo,
)

from helmmodel import __version__, server
from helmmodel.kernel.fence import (
    FenceCommand,
    command_signing_payload,
    format_rfc3339,
    parse_rfc3339,
)
from helmmodel.kernel.semantics import HELM_AI_KERNEL
from tests.sdk.conftest import ADMIN, CHAOS_ADMIN, SERVICE, Twin
from tests.spec import SPEC_SIGNED_FIELDS

HELM_DATA = Path(__file__).resolve().parents[1] / "data" / "helm"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


def receipt_v5_verifies(receipt: Mapping[str, Any]) -> bool:
    """receipt.v5's verification rule: Ed25519, under the key in ``public_key_set``, over the
    RFC 8785 bytes of the signed members (all ASCII keys here, so sorted compact JSON), a member
    the JSON omits (the release omits empty ones) being its empty value."""
    payload = {name: receipt.get(name, "") for name in SPEC_SIGNED_FIELDS["receipt"]}
    message = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(receipt["public_key_set"]["ed25519"]))
    try:
        key.verify(bytes.fromhex(receipt["signature"]), message.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


def sdk_receipt(receipt: Receipt) -> dict[str, Any]:
    """An SDK Receipt back as the JSON members it was read from."""
    return receipt.to_dict()


def refused(call: Callable[[], object], status: int, detail: str, title: str = "") -> None:
    """*call* raises HELM's error with *status*, carrying the release's problem body."""
    with pytest.raises(HelmApiError) as caught:
        call()
    error = caught.value
    assert error.status == status
    assert error.reason_code == "ERROR_INTERNAL"  # as against the release's server
    assert error.body == {
        "type": f"https://helm.mindburn.run/errors/{status}",
        "title": title or TITLES[status],
        "status": status,
        "detail": detail,
    }


def v5(session_id: str = "s1", tool: str = "echo", **more: Any) -> EvaluateRequest:
    """A typed V5 evaluate request."""
    return EvaluateRequest(tool=tool, effect_level=tool, session_id=session_id, **more)


# --- the receipt.v5 rule itself, on HELM's own reference receipt -----------------------------


def test_the_verification_rule_accepts_helms_reference_receipt_and_no_tampered_one() -> None:
    path = HELM_DATA / "receipt-v5" / "decision_deny_genesis.receipt.c14n.json"
    reference = json.loads(path.read_text(encoding="utf-8"))
    assert receipt_v5_verifies(reference)
    assert not receipt_v5_verifies({**reference, "verdict": "ALLOW"})


# --- system --------------------------------------------------------------------------------------


def test_health_and_version(twin: Twin) -> None:
    with twin.client(None, scoped=False) as client:
        assert client.health() == {"status": "ok", "version": f"helmmodel-{__version__}"}
        version = client.version()
    assert isinstance(version, VersionInfo)
    assert version.commit == "24a64557611fc25efde60254d9fe40e84dc261ca"


# --- decision evaluation -------------------------------------------------------------------------


def test_evaluate_v5_answers_every_verdict(twin: Twin) -> None:
    with twin.client() as client:
        allowed = client.evaluate_decision_v5(v5(args={"x": 1}))
        denied = client.evaluate_decision_v5(v5(tool="nope"))
        escalated = client.evaluate_decision_v5(v5(tool="approve"))
    assert isinstance(allowed, EvaluateResponse)
    assert (allowed.allow, allowed.verdict, allowed.reason_code) == (True, "ALLOW", "")
    assert (allowed.lamport_clock, allowed.reason) == (1, None)
    assert allowed.receipt_id == f"rcpt-{allowed.decision_id}-decision"
    assert (denied.allow, denied.verdict, denied.lamport_clock) == (False, "DENY", 2)
    assert denied.reason_code and denied.reason
    assert (escalated.verdict, escalated.lamport_clock) == ("ESCALATE", 3)


def test_evaluate_v5_surfaces_each_refusal(twin: Twin) -> None:
    with twin.client(scoped=False) as admin_only:
        refused(
            lambda: admin_only.evaluate_decision_v5(v5()),
            403,
            "Tenant-scoped route requires explicit tenant binding",
        )
    with twin.client("not-the-key") as wrong_key:
        refused(lambda: wrong_key.evaluate_decision_v5(v5()), 401, "Invalid API key")
    with twin.client(None) as anonymous:
        refused(lambda: anonymous.evaluate_decision_v5(v5()), 401, "Missing Authorization header")
    with twin.client() as client:
        refused(
            lambda: client.evaluate_decision_v5(v5(action="sum")),
            400,
            "Evaluate route tool and action must match when both are provided",
        )
        with pytest.raises(HelmApiError) as caught:
            client.evaluate_decision_v5(v5(session_id="free text"))
    assert caught.value.status == 400
    assert "context.session_id 'free text'" in caught.value.body["detail"]
    assert twin.kernel.session_receipts("s1") == ()  # no refusal decided anything


def test_evaluate_legacy_takes_the_direct_daemon_envelope(twin: Twin) -> None:
    with twin.client() as client:
        answer = client.evaluate_decision(
            DecisionRequest(action="echo", resource="echo", context={"session_id": "legacy"})
        )
        assert (answer["verdict"], answer["lamport_clock"]) == ("ALLOW", 1)
        refused(
            lambda: client.evaluate_decision(DecisionRequest(action="echo", resource="echo")),
            400,
            "Evaluate route session_id is required",
        )


# --- sessions and receipts -----------------------------------------------------------------------


def test_sessions_and_their_receipts_verify(twin: Twin) -> None:
    with twin.client() as client:
        for session_id, tool in (("s1", "echo"), ("s1", "nope"), ("s2", "approve")):
            client.evaluate_decision_v5(v5(session_id, tool))
        sessions = client.list_sessions()
        receipts = client.get_receipts("s1")
    assert all(isinstance(s, Session) for s in sessions)
    assert [(s.session_id, s.receipt_count, s.last_lamport_clock) for s in sessions] == [
        ("s1", 2, 2),
        ("s2", 1, 1),
    ]
    assert [r.lamport_clock for r in receipts] == [1, 2]
    assert [r.verdict for r in receipts] == ["ALLOW", "DENY"]
    assert all(receipt_v5_verifies(sdk_receipt(r)) for r in receipts)
    assert receipts[1].prev_hash and not receipts[0].prev_hash
    assert receipts[0].executor_id == "system-admin"
    assert receipts[0].decision_hash == receipts[0].output_hash


def test_a_receipt_by_id_verifies_and_a_tampered_one_does_not(twin: Twin) -> None:
    with twin.client() as client:
        answer = client.evaluate_decision_v5(v5())
        receipt = sdk_receipt(client.get_receipt(answer.receipt_id))
    assert receipt["receipt_id"] == answer.receipt_id
    assert receipt["decision_hash"] == answer.decision_hash
    assert receipt_v5_verifies(receipt)
    assert not receipt_v5_verifies({**receipt, "verdict": "DENY"})


def test_session_and_receipt_reads_surface_each_refusal(twin: Twin) -> None:
    with twin.client() as client:
        refused(lambda: client.get_receipts("never"), 404, "session not found")
        refused(lambda: client.get_receipt("rcpt-unknown"), 404, "receipt not found")
    with twin.client(scoped=False) as admin_only:
        binding = "Tenant-scoped route requires explicit tenant binding"
        refused(admin_only.list_sessions, 403, binding)
        refused(lambda: admin_only.get_receipts("s1"), 403, binding)
        refused(lambda: admin_only.get_receipt("rcpt-x"), 403, binding)


# --- intent approval -----------------------------------------------------------------------------


def test_approval_finds_no_intent_as_in_the_release(twin: Twin) -> None:
    request = ApprovalRequest(
        intent_hash="a" * 64, approver_id="alice", public_key="d" * 64, signature="e" * 128
    )
    with twin.client(SERVICE, scoped=False) as service:
        refused(
            lambda: service.approve_intent(request), 404, "intent not found or already processed"
        )
        refused(
            lambda: service.approve_intent(ApprovalRequest(intent_hash="a" * 64)),
            400,
            "missing required fields: intent_hash, public_key, signature",
        )
    with twin.client() as admin:
        refused(lambda: admin.approve_intent(request), 401, "Invalid service API key")


# --- budget ceilings -----------------------------------------------------------------------------


def test_budget_ceilings_are_listed_and_replaced(twin: Twin) -> None:
    with twin.client(scoped=False) as client:
        assert [c["budget_id"] for c in client.list_budget_ceilings()] == ["budget-default"]
        stored = client.put_budget_ceiling("b1", {"tool_call_limit": 1, "max_write_ops": 2})
        assert stored == {
            "budget_id": "b1",
            "subject": "tenant:default",
            "tool_call_limit": 1,
            "write_operation_limit": 2,
            "window": "24h",
            "updated_at": stored["updated_at"],
        }
        stamped = parse_rfc3339(stored["updated_at"]) // 1_000_000
        assert abs(stamped - server.wall_clock_ms()) < 60_000  # serve stamps wall time
        assert [c["budget_id"] for c in client.list_budget_ceilings()] == ["b1", "budget-default"]
        refused(
            lambda: client.put_budget_ceiling("b2", {"tool_call_limit": "x"}),
            400,
            "Invalid budget request",
        )
    with twin.client(None) as anonymous:
        refused(anonymous.list_budget_ceilings, 401, "Missing Authorization header")


# --- the routes the SDK has no method for, over the same socket ----------------------------------


def scoped_headers(key: str = ADMIN) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        "X-Helm-Tenant-ID": "default",
        "X-Helm-Principal-ID": "system-admin",
    }


def test_the_receipt_list_and_get_routes(twin: Twin) -> None:
    with twin.client() as client:
        answers = [client.evaluate_decision_v5(v5()) for _ in range(3)]
    with httpx.Client(base_url=twin.url, headers=scoped_headers(), timeout=10.0) as http:
        listed = http.get("/api/v1/receipts", params={"session_id": "s1", "limit": 2}).json()
        assert (listed["count"], listed["has_more"], listed["next_cursor"]) == (
            2,
            True,
            "lamport:2",
        )
        rest = http.get("/api/v1/receipts", params={"session_id": "s1", "since": "lamport:2"})
        assert [r["receipt_id"] for r in rest.json()["receipts"]] == [answers[2].receipt_id]
        got = http.get(f"/api/v1/receipts/{answers[0].receipt_id}")
        assert got.status_code == 200 and receipt_v5_verifies(got.json())
        missing = http.get("/api/v1/receipts/rcpt-unknown")
        assert (missing.status_code, missing.json()["title"]) == (404, "Receipt not found")


def test_trust_keys_health_fence_and_an_unrouted_path(twin: Twin) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    key = {"tenant_id": "default", "key_id": "k1", "public_key": "11" * 32}
    with httpx.Client(base_url=twin.url, timeout=10.0) as http:
        added = http.post("/api/v1/trust/keys/add", json=key, headers=admin)
        assert added.json() == {"key_id": "k1", "status": "key_added", "tenant_id": "default"}
        revoked = http.post("/api/v1/trust/keys/revoke", json=key, headers=admin)
        assert revoked.json()["status"] == "key_revoked"
        bad = http.post("/api/v1/trust/keys/add", json={**key, "public_key": "zz"}, headers=admin)
        assert bad.status_code == 400
        assert http.get("/api/health").json()["status"] == "ok"
        fence = http.post(
            "/internal/emergency-stop/fence",
            json={"command": {}, "signature": ""},
            headers={"Authorization": f"Bearer {SERVICE}"},
        )
        assert (fence.status_code, fence.json()["title"]) == (503, "Emergency stop unavailable")
        unrouted = http.get("/api/v1/nothing-here")
        assert (unrouted.status_code, unrouted.text) == (404, "404 page not found\n")


def test_the_served_chain_links_as_the_release_links_it(twin: Twin) -> None:
    with twin.client() as client:
        for tool in ("echo", "nope", "approve"):
            client.evaluate_decision_v5(v5(tool=tool))
    with httpx.Client(base_url=twin.url, headers=scoped_headers(), timeout=10.0) as http:
        chain = http.get("/api/v1/proofgraph/sessions/s1/receipts").json()
    assert [r["lamport_clock"] for r in chain] == [1, 2, 3]
    for previous, receipt in itertools.pairwise(chain):
        # The release hashes an empty reason_code (an ALLOW's) as absent, though it serves it.
        hashed = {k: v for k, v in previous.items() if (k, v) != ("reason_code", "")}
        jcs = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert receipt["prev_hash"] == hashlib.sha256(jcs.encode("utf-8")).hexdigest()


def test_a_fence_over_the_socket_stops_the_sdks_decisions() -> None:
    command_key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    kernel = server.demo_kernel(
        CHAOS_ADMIN,
        semantics=HELM_AI_KERNEL,
        release=server.release_config(
            admin_key=ADMIN,
            service_key=SERVICE,
            workspace_id="ws1",
            fence_audience="twin",
            fence_keys={"cp-1": command_key.public_key().public_bytes_raw()},
        ),
    )
    running = server.start(kernel, "127.0.0.1", [0])
    url = f"http://127.0.0.1:{running.ports[0]}"
    now = server.wall_clock_ms() // 1000
    command = {
        "contract_version": "emergency-stop-fence.v1",
        "audience": "twin",
        "key_id": "cp-1",
        "command_id": "cmd-1",
        "tenant_id": "default",
        "workspace_id": "ws1",
        "epoch": 1,
        "actor_id": "ops-1",
        "reason": "drill",
        "issued_at": format_rfc3339(now * 1_000_000_000),
        "expires_at": format_rfc3339((now + 300) * 1_000_000_000),
    }
    signature = command_key.sign(command_signing_payload(FenceCommand.from_json(command))).hex()
    evaluate = {"tool": "echo", "effect_level": "echo", "session_id": "s1"}
    bound = {**scoped_headers(), "X-Helm-Workspace-ID": "ws1"}
    try:
        # The SDK sends no workspace header, so against a fencing release it cannot evaluate.
        with HelmClient(url, api_key=ADMIN, tenant_id="default", principal_id="system-admin") as c:
            refused(
                lambda: c.evaluate_decision_v5(v5()),
                403,
                "Evaluate route requires an explicit authenticated workspace binding",
            )
        with httpx.Client(base_url=url, timeout=10.0) as http:
            before = http.post("/api/v1/evaluate", json=evaluate, headers=bound).json()
            assert before["verdict"] == "ALLOW"
            fenced = http.post(
                "/internal/emergency-stop/fence",
                json={"command": command, "signature": signature},
                headers={"Authorization": f"Bearer {SERVICE}"},
            )
            assert fenced.status_code == 201 and fenced.json()["replayed"] is False
            after = http.post("/api/v1/evaluate", json=evaluate, headers=bound).json()
            assert (after["verdict"], after["reason_code"]) == ("DENY", "SYSTEM_FROZEN")
    finally:
        running.stop()


# --- the twin's shapes against the release's OpenAPI --------------------------------------------


def test_the_twins_members_are_the_openapi_schemas(twin: Twin) -> None:
    openapi = yaml.safe_load((HELM_DATA / "helm.openapi.yaml").read_text(encoding="utf-8"))
    schemas = openapi["components"]["schemas"]
    with twin.client() as client:
        answer = client.evaluate_decision_v5(v5()).to_dict()
        receipt = sdk_receipt(client.get_receipt(answer["receipt_id"]))
        session = client.list_sessions()[0].to_dict()
        ceiling = client.list_budget_ceilings()[0]
    evaluate = schemas["EvaluateResponse"]
    assert set(evaluate["required"]) <= set(answer) <= set(evaluate["properties"])
    assert set(receipt) <= set(schemas["Receipt"]["properties"])
    assert set(session) == set(schemas["Session"]["properties"])
    assert set(ceiling) <= set(schemas["BudgetCeiling"]["properties"])
