"""The release's API (spec 12): evaluations through the facade and over HTTP, the facade's reads,
trust keys imported and revoked, receipt.v5 envelopes presented to the verifier (the kernel's,
tampered, and the world's own), and every route of the release's HTTP API, the emergency-stop
fence included. Every rule runs under the release only (``transition(release=True)``)."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from helmmodel.canonical import canonical_bytes
from helmmodel.checker.driver import (
    FENCE_AUDIENCE,
    FENCE_KEY_ID,
    FENCE_KEY_SEED,
    RELEASE_ADMIN_KEY,
    RELEASE_PRINCIPAL,
    RELEASE_SERVICE_KEY,
    RELEASE_TENANT,
    RELEASE_WORKSPACE,
    release_config,
)
from helmmodel.harness.stateful import transition
from helmmodel.kernel import Kernel, Receipt
from helmmodel.kernel.helm_api import HelmSurface
from machines.families.http import BODY_LIMIT
from machines.world import (
    SESSIONS,
    TOOL_NAMES,
    TRUST_KEYS,
    WorldMachine,
    arguments,
    contexts,
    fitted,
    picks,
    principals,
    tools,
    trust_public,
)

# One member of an envelope changed, each a fault of its own kind: a signed member, the
# signature, the key named, the key set, the version, a number no JavaScript reader keeps.
TAMPERS = (
    "status",
    "lamport_clock",
    "session_id",
    "signature",
    "key_id",
    "public_key_set",
    "signature_version",
    "unsafe_number",
    "missing_member",
    "key_id_not_string",
    "lone_surrogate",
    "not_an_object",
)
BEARERS = {
    "admin": f"Bearer {RELEASE_ADMIN_KEY}",
    "service": f"Bearer {RELEASE_SERVICE_KEY}",
    "bogus": "Bearer not-a-key-0000",
    "scheme": f"Basic {RELEASE_ADMIN_KEY}",
    "blank": "Bearer  ",
    "none": None,
}
# The bindings of a tenant-scoped request: the configured tenant, principal and workspace, or
# one of them missing or wrong.
BINDINGS = (
    "full",
    "no-tenant",
    "query-tenant",
    "wrong-tenant",
    "no-principal",
    "wrong-principal",
    "no-workspace",
    "other-workspace",
)
FENCE_KEY = Ed25519PrivateKey.from_private_bytes(FENCE_KEY_SEED)
OTHER_SCOPE = ("tenant-2", "ws-2")
MINUTE_MS = 60_000


# Bodies the rules send, by name; built once (the oversized one is a mebibyte), not per step.
BUDGET_BODIES = {
    "ceiling": b'{"tool_call_limit":5,"window":"1h","policy_epoch":"e1"}',
    "legacy": b'{"max_tool_calls":7,"subject":"tenant:one"}',
    "conflict": b'{"tool_call_limit":5,"max_tool_calls":6}',
    "malformed": b"{budget",
    "wrong-type": b'{"tool_call_limit":"5"}',
}
APPROVE_BODIES = {
    "approval": b'{"intent_hash":"h","public_key":"k","signature":"s"}',
    "missing": b'{"intent_hash":"h"}',
    "malformed": b"[1,",
    "wrong-type": b'{"intent_hash":1,"public_key":"k","signature":"s"}',
    "oversized": b" " * (BODY_LIMIT + 1),
}


def release_headers(bearer: str, binding: str = "full") -> dict[str, str]:
    """Headers of a request with the bearer *bearer* names and the tenant *binding* says."""
    headers = {"Content-Type": "application/json"}
    if BEARERS[bearer] is not None:
        headers["Authorization"] = str(BEARERS[bearer])
    tenant = {"no-tenant": "", "query-tenant": "", "wrong-tenant": "tenant-2"}.get(
        binding, RELEASE_TENANT
    )
    principal = {"no-principal": "", "wrong-principal": "bob"}.get(binding, RELEASE_PRINCIPAL)
    workspace = {"no-workspace": "", "other-workspace": "ws-2"}.get(binding, RELEASE_WORKSPACE)
    for name, value in (
        ("X-Helm-Tenant-ID", tenant),
        ("X-Helm-Principal-ID", principal),
        ("X-Helm-Workspace-ID", workspace),
    ):
        if value:
            headers[name] = value
    return headers


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


def evaluate_body(kind: str, tool: str, session: str, x: int) -> bytes:
    """A body of *kind* for ``POST /api/v1/evaluate``."""
    good = {"tool": tool, "effect_level": "E1", "session_id": session, "args": {"x": x}}
    bodies: dict[str, Any] = {
        "good": good,
        # The legacy names, the session in the context.
        "legacy": {"action": tool, "resource": "E1", "context": {"session_id": session}},
        "alias-conflict": {**good, "action": f"{tool}-other"},
        "blank-session": {**good, "session_id": "  "},
        "slash-session": {**good, "session_id": f"{session}/x"},
        "no-effect": {"tool": tool, "session_id": session},
        "args-not-object": {**good, "args": [x]},
        "bad-tool-name": {**good, "tool": "no such tool"},
    }
    if kind == "malformed":
        return b'{"tool":'
    if kind == "float":
        return b'{"tool":"echo","effect_level":"E1","session_id":"s0","args":{"x":1.5}}'
    return json_body(bodies[kind])


def world_signed(envelope: dict[str, Any], key_id: str) -> dict[str, Any]:
    """*envelope* as the world's trust key *key_id* signs it: the signed members it omits are
    written empty, as the release signs them, and the key and signature are the world's."""
    signed = {name: envelope.get(name, "") for name in Receipt.SIGNED_FIELDS}
    signature = TRUST_KEYS[key_id].sign(canonical_bytes(signed)).hex()
    return {
        **envelope,
        **signed,
        "key_id": key_id,
        "public_key_set": {"ed25519": trust_public(key_id).hex()},
        "signature": signature,
    }


def tampered(envelope: dict[str, Any], member: str) -> Any:
    """*envelope* with one member changed as *member* says."""
    changed = copy.deepcopy(envelope)
    if member == "status":
        changed["status"] = "ALLOW" if changed.get("status") != "ALLOW" else "DENY"
    elif member == "lamport_clock":
        changed["lamport_clock"] = int(changed.get("lamport_clock", 0)) + 1
    elif member == "session_id":
        changed["session_id"] = "s-forged"
    elif member == "signature":
        signature = str(changed.get("signature", ""))
        changed["signature"] = signature[:-1] + ("0" if signature[-1:] != "0" else "1")
    elif member == "key_id":
        changed["key_id"] = "key-0001" if changed.get("key_id") != "key-0001" else "auditor-1"
    elif member == "public_key_set":
        changed["public_key_set"] = {"ed25519": trust_public("auditor-2").hex()}
    elif member == "signature_version":
        changed["signature_version"] = "receipt.v4"
    elif member == "unsafe_number":
        changed["lamport_clock"] = 2**53
    elif member == "key_id_not_string":
        changed["key_id"] = 7
    elif member == "lone_surrogate":  # text no UTF-8 can carry, so no signer can sign it
        changed["reason_code"] = "\ud800"
    elif member == "not_an_object":
        return [changed]
    else:
        changed.pop("receipt_id", None)
    return changed


# A receipt.v5 no kernel made, for the world to sign when the kernel has none to present yet.
OUTSIDE_RECEIPT: dict[str, Any] = {
    "receipt_id": "rcpt-outside",
    "decision_id": "dec-outside",
    "effect_id": "echo",
    "status": "DENY",
    "output_hash": "sha256:" + "0" * 64,
    "prev_hash": "",
    "lamport_clock": 1,
    "args_hash": "sha256:" + "1" * 64,
    "verdict": "DENY",
    "reason_code": "PDP_DENY",
    "policy_hash": "sha256:" + "2" * 64,
    "session_id": "s0",
    "signature_version": "receipt.v5",
}


def rfc3339(now_ms: int) -> str:
    """*now_ms* (whole seconds) in RFC 3339 UTC, as a control plane writes a command's times;
    a time outside the years 1 to 9999 is written as its bare number, which no decoder reads."""
    try:
        moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=now_ms)
    except OverflowError:
        return str(now_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ").rjust(20, "0")


def fence_body(
    command_id: str, epoch: int, scope: str, timing: str, signature: str, now_ms: int
) -> bytes:
    """A control plane's fence command as the world signs it (spec 12.9)."""
    issued = now_ms - now_ms % MINUTE_MS  # a replay within the minute is the same command
    issued, expires = {
        "now": (issued, issued + 10 * MINUTE_MS),
        "expired": (issued - 20 * MINUTE_MS, issued - 15 * MINUTE_MS),
        "ahead": (issued + 2 * MINUTE_MS, issued + 3 * MINUTE_MS),
    }[timing]
    tenant, workspace = (RELEASE_TENANT, RELEASE_WORKSPACE) if scope == "served" else OTHER_SCOPE
    command: dict[str, Any] = {
        "contract_version": "emergency-stop-fence.v1",
        "audience": FENCE_AUDIENCE if scope != "other-audience" else "elsewhere",
        "key_id": FENCE_KEY_ID,
        "command_id": command_id,
        "tenant_id": tenant,
        "workspace_id": workspace,
        "epoch": epoch,
        "actor_id": "operator",
        "reason": "incident",
        "issued_at": rfc3339(issued),
        "expires_at": rfc3339(expires),
    }
    signed = FENCE_KEY.sign(canonical_bytes({"action": "FENCE", **command})).hex()
    if signature == "bad":
        signed = signed[:-1] + ("0" if signed[-1] != "0" else "1")
    elif signature == "uppercase":
        signed = signed.upper()
    elif signature == "none":
        signed = ""
    if signature == "malformed":
        return b'{"command":{"epoch":-1},"signature":""}'
    if signature == "unknown-member":
        return json_body({"command": command, "signature": signed, "extra": 1})
    return json_body({"command": command, "signature": signed})


# Fence requests HELM refuses, each for one reason (spec 12.9): the command changed as the entry
# says and then signed, so that the change is the only fault; or a body no decoder reads.
FENCE_CHANGES: dict[str, dict[str, Any]] = {
    "no-such-day": {"issued_at": "2026-02-30T00:00:00Z"},
    "no-such-hour": {"issued_at": "2026-01-01T24:00:00Z"},
    "offset-out-of-range": {"issued_at": "2026-01-01T00:00:00+24:00"},
    "offset": {"issued_at": "2026-01-01T01:00:00+01:00"},
    "not-a-time": {"expires_at": "soon"},
    "epoch-string": {"epoch": "1"},
    "epoch-zero": {"epoch": 0},
    "epoch-unsafe": {"epoch": 2**53},
    "epoch-over-64-bits": {"epoch": 2**64},
    "unknown-member": {"priority": "high"},
    "reason-not-string": {"reason": 7},
    "reason-null": {"reason": None},
    "padded-audience": {"audience": f" {FENCE_AUDIENCE}"},
    "other-version": {"contract_version": "emergency-stop-fence.v0"},
    "no-actor": {"actor_id": ""},
    "long-reason": {"reason": "r" * 2049},
    "long-command-id": {"command_id": "c" * 129},
    "bad-key-id": {"key_id": "no such key"},
    "unknown-key": {"key_id": "control-plane-9"},
    "no-tenant": {"tenant_id": ""},
    "long-workspace": {"workspace_id": "w" * 256},
    "long-window": {"expires_at": "2026-01-01T00:11:00Z"},
    "surrogate": {"reason": "\ud800"},
}
FENCE_BODIES: dict[str, bytes] = {
    "null": b"null",
    "not-object": b"[]",
    "command-null": b'{"command":null,"signature":""}',
    "command-not-object": b'{"command":[],"signature":""}',
    "signature-not-string": b'{"command":{},"signature":7}',
    "unknown-envelope-member": b'{"command":{},"signature":"","extra":1}',
    "float-epoch": b'{"command":{"epoch":1.5}}',
    "negative-epoch": b'{"command":{"epoch":-0}}',
    "constant": b'{"command":{"epoch":NaN}}',
    "duplicate": b'{"signature":"","signature":""}',
    "not-utf8": b'{"signature":"\xff"}',
    # Nested deeper than the decoder follows, within the 64 KiB a body may hold.
    "deep": b"[" * 30_000 + b"]" * 30_000,
    "over-64-kib": b'{"signature":"' + b"0" * (64 << 10) + b'"}',
}


def changed_fence_body(change: str, now_ms: int) -> bytes:
    """A fence request refused for the one reason *change* names."""
    if change in FENCE_BODIES:
        return FENCE_BODIES[change]
    envelope = json.loads(fence_body("cmd-9", 9, "served", "now", "good", now_ms))
    command = {**envelope["command"], **FENCE_CHANGES[change]}
    if change == "long-window":
        command["issued_at"] = "2026-01-01T00:00:00Z"
    text = json.dumps(command)
    try:
        payload = canonical_bytes({"action": "FENCE", **command})
        signature = FENCE_KEY.sign(payload).hex()
    except ValueError:  # what no signer can sign (an unsafe number, a lone surrogate)
        signature = "0" * 128
    return b'{"command":%s,"signature":"%s"}' % (text.encode(), signature.encode())


# Configurations the release's API refuses to start with (the release refuses to start), each
# the driver's with one change; a kernel under the chaos page has no release API at all.
RELEASE_CONFIG_FAULTS: dict[str, dict[str, Any]] = {
    "blank-admin-key": {"admin_key": " "},
    "service-key-not-string": {"service_key": 7},
    "blank-tenant": {"tenant_id": ""},
    "principal-not-string": {"principal_id": None},
    "blank-audience": {"fence_audience": ""},
    "padded-audience": {"fence_audience": f" {FENCE_AUDIENCE}"},
    "long-audience": {"fence_audience": "a" * 256},
    "no-command-keys": {"fence_keys": {}},
    "misnamed-command-key": {"fence_keys": {"no such key": bytes(32)}},
    "short-command-key": {"fence_keys": {FENCE_KEY_ID: bytes(31)}},
    "chaos-page-kernel": {"semantics": "chaos-page"},
}


# Requests each route of the release's API refuses, one reason each (method, path, bearer,
# body): a method it does not take, a path segment it does not read, a query it refuses, a body
# Go reads but the twin does not (the canonical subset), a body of the wrong shape.
_EVALUATE = b'{"tool":"echo","effect_level":"E1","session_id":"s0"'
RELEASE_PROBES: dict[str, tuple[str, str, str, bytes]] = {
    "evaluate-get": ("GET", "/api/v1/evaluate", "admin", b""),
    "evaluate-float": ("POST", "/api/v1/evaluate", "admin", _EVALUATE + b',"args":{"x":1.0}}'),
    "evaluate-resource-conflict": (
        "POST", "/api/v1/evaluate", "admin", _EVALUATE + b',"resource":"E2"}'
    ),
    "evaluate-session-conflict": (
        "POST", "/api/v1/evaluate", "admin", _EVALUATE + b',"context":{"session_id":"s1"}}'
    ),
    "evaluate-no-session": (
        "POST", "/api/v1/evaluate", "admin", b'{"tool":"echo","effect_level":"E1"}'
    ),
    "evaluate-null": ("POST", "/api/v1/evaluate", "admin", b"null"),
    "receipts-post": ("POST", "/api/v1/receipts/rcpt-none", "admin", b""),
    "receipts-slash-session": ("GET", "/api/v1/receipts?session_id=a%2Fb", "admin", b""),
    "receipts-bad-since": ("GET", "/api/v1/receipts?session_id=s0&since=yesterday", "admin", b""),
    "receipts-since-without-session": ("GET", "/api/v1/receipts?since=lamport:1", "admin", b""),
    "receipts-principal-filter": ("GET", "/api/v1/receipts?principal=alice", "admin", b""),
    "receipts-limit": ("GET", "/api/v1/receipts?limit=1", "admin", b""),
    "receipt-slash": ("GET", "/api/v1/receipts/a/b", "admin", b""),
    "sessions-post": ("POST", "/api/v1/proofgraph/sessions", "admin", b""),
    "sessions-offset": ("GET", "/api/v1/proofgraph/sessions?offset=1&limit=1", "admin", b""),
    "session-post": ("POST", "/api/v1/proofgraph/sessions/s0/receipts", "admin", b""),
    "session-no-receipts": ("GET", "/api/v1/proofgraph/sessions/s0", "admin", b""),
    "proofgraph-receipt-post": ("POST", "/api/v1/proofgraph/receipts/x", "admin", b""),
    "proofgraph-receipt-slash": ("GET", "/api/v1/proofgraph/receipts/a/b", "admin", b""),
    "proofgraph-receipt-unknown": ("GET", "/api/v1/proofgraph/receipts/nothing", "admin", b""),
    "approve-null": ("POST", "/api/v1/kernel/approve", "service", b"null"),
    "approve-array": ("POST", "/api/v1/kernel/approve", "service", b"[1]"),
    "approve-duplicate": ("POST", "/api/v1/kernel/approve", "service", b'{"a":1,"a":2}'),
    "approve-constant": ("POST", "/api/v1/kernel/approve", "service", b'{"a":NaN}'),
    "budgets-post": ("POST", "/api/v1/budgets", "admin", b""),
    "budget-slash": ("PUT", "/api/v1/budgets/a/b", "admin", b"{}"),
    "budget-float": ("PUT", "/api/v1/budgets/b-1", "admin", b'{"tool_call_limit":1.5}'),
    "trust-add-get": ("GET", "/api/v1/trust/keys/add", "admin", b""),
    "trust-add-float": ("POST", "/api/v1/trust/keys/add", "admin", b'{"key_id":1.5}'),
    "trust-add-wrong-type": ("POST", "/api/v1/trust/keys/add", "admin", b'{"key_id":7}'),
    "trust-revoke-get": ("GET", "/api/v1/trust/keys/revoke", "admin", b""),
    "trust-revoke-float": ("POST", "/api/v1/trust/keys/revoke", "admin", b'{"key_id":1.5}'),
    "trust-revoke-wrong-type": ("POST", "/api/v1/trust/keys/revoke", "admin", b'{"key_id":7}'),
    "trust-revoke-no-key": ("POST", "/api/v1/trust/keys/revoke", "admin", b'{"tenant_id":"t"}'),
    "trust-revoke-unknown": (
        "POST", "/api/v1/trust/keys/revoke", "admin", b'{"tenant_id":"t","key_id":"nobody"}'
    ),
    "fence-get": ("GET", "/internal/emergency-stop/fence", "service", b""),
}  # fmt: skip


class ReleaseRules(WorldMachine):
    """The release's facade operations and HTTP API."""

    # --- the facade ---------------------------------------------------------------------------

    @transition(release=True, principal=principals, tool=tools, args=arguments, context=contexts)
    def release_evaluate(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        return self.driver.evaluate(principal, tool, args, context), None

    @transition(
        release=True,
        read=st.sampled_from(
            ["sessions", "session_receipts", "receipt", "receipt_wire", "public_key"]
        ),
        pick=picks,
    )
    def release_read(self, read: str, pick: int) -> tuple[dict[str, Any], Any]:
        """A facade read of something the checker knows (a pick) or of nothing (a negative)."""
        ghost, driver = self.ghost, self.driver
        if read == "sessions":
            return driver.sessions(), None
        if read == "session_receipts":
            return driver.session_receipts(fitted(pick, sorted(ghost.chains), "s-none")), None
        if read == "public_key":
            keys = [*sorted(ghost.keys.public), *sorted(TRUST_KEYS)]
            return driver.public_key(fitted(pick, keys, "key-0099")), None
        receipt_id = fitted(pick, sorted(ghost.chained), "rcpt-none")
        if read == "receipt":
            return driver.receipt(receipt_id), None
        return driver.receipt_wire(receipt_id), None

    @transition(
        release=True,
        key=st.sampled_from(["auditor-1", "auditor-2", "own-form", "other-key", "short"]),
    )
    def release_import_trust_key(self, key: str) -> tuple[dict[str, Any], Any]:
        """Import a world key, or one the ring must refuse: an id of its own form, another key
        under a world key's id, a key of 31 bytes."""
        key_id, public = {
            "auditor-1": ("auditor-1", trust_public("auditor-1")),
            "auditor-2": ("auditor-2", trust_public("auditor-2")),
            "own-form": ("key-0042", trust_public("auditor-1")),
            "other-key": ("auditor-1", trust_public("auditor-2")),
            "short": ("auditor-2", trust_public("auditor-2")[:31]),
        }[key]
        return self.driver.import_trust_key(key_id, public), None

    @transition(release=True, key=st.sampled_from(sorted(TRUST_KEYS)))
    def release_revoke_trust_key(self, key: str) -> tuple[dict[str, Any], Any]:
        return self.driver.revoke_key(key), None

    @transition(
        release=True,
        pick=picks,
        signer=st.sampled_from(["kernel", "kernel", *sorted(TRUST_KEYS)]),
        tamper=st.sampled_from(["none", "none", *TAMPERS]),
    )
    def release_verify_receipt(
        self, pick: int, signer: str, tamper: str
    ) -> tuple[dict[str, Any], Any]:
        """Present an envelope the kernel made (of a receipt the checker knows), one the world
        signed with its trust key, or either with one member tampered."""
        receipt_id = fitted(pick, sorted(self.ghost.chained), "")
        envelope = self.kernel.receipt_wire(receipt_id) if receipt_id else None
        if envelope is None or signer != "kernel":
            world = signer if signer != "kernel" else "auditor-1"
            envelope = world_signed(envelope or OUTSIDE_RECEIPT, world)
        if tamper != "none":
            envelope = tampered(envelope, tamper)
        return self.driver.verify_release_receipt(envelope), None

    # --- the HTTP API -------------------------------------------------------------------------

    @transition(
        release=True,
        bearer=st.sampled_from(["admin", "admin", "admin", "none", "bogus", "service", "scheme"]),
        binding=st.sampled_from(["full"] * 6 + list(BINDINGS)),
        body=st.sampled_from(
            ["good"] * 6
            + [
                "legacy",
                "alias-conflict",
                "malformed",
                "blank-session",
                "slash-session",
                "no-effect",
                "float",
                "args-not-object",
                "bad-tool-name",
            ]
        ),
        tool=st.sampled_from(TOOL_NAMES),
        session=st.sampled_from(SESSIONS),
        x=st.integers(-1, 12),
    )
    def release_http_evaluate(
        self, bearer: str, binding: str, body: str, tool: str, session: str, x: int
    ) -> tuple[dict[str, Any], Any]:
        path = "/api/v1/evaluate"
        if binding == "query-tenant":
            path += f"?tenant_id={RELEASE_TENANT}"
        data = evaluate_body(body, tool, session, x)
        return self.driver.release_http("POST", path, release_headers(bearer, binding), data), None

    # Reads come often, and the lists most (the first entries weigh a sampled choice): a list
    # read twice with a decision between is what shows a stale page.
    @transition(
        release=True,
        weight=3,
        route=st.sampled_from(
            [
                "receipts",
                "sessions",
                "receipts-session",
                "session-receipts",
                "receipts",
                "receipts-session",
                "receipt",
                "sessions",
                "session-receipts",
                "proofgraph-receipt",
                "receipts-filtered",
                "receipts-since",
                "receipt-unknown",
                "session-unknown",
                "health",
                "api-health",
                "version",
                "api-version",
                "post-receipts",
                "unrouted",
            ]
        ),
        pick=picks,
        bearer=st.sampled_from(["admin", "admin", "admin", "none"]),
    )
    def release_http_read(self, route: str, pick: int, bearer: str) -> tuple[dict[str, Any], Any]:
        """A read of the release's API: receipts, sessions, health and version."""
        ghost = self.ghost
        session = fitted(pick, sorted(ghost.chains), "s0")
        receipt_id = fitted(pick, sorted(ghost.chained), "rcpt-none")
        method, path = {
            "receipts": ("GET", "/api/v1/receipts"),
            "receipts-session": ("GET", f"/api/v1/receipts?session_id={session}"),
            "receipt": ("GET", f"/api/v1/receipts/{receipt_id}"),
            "sessions": ("GET", "/api/v1/proofgraph/sessions"),
            "session-receipts": ("GET", f"/api/v1/proofgraph/sessions/{session}/receipts"),
            "proofgraph-receipt": ("GET", f"/api/v1/proofgraph/receipts/{receipt_id}"),
            "receipts-filtered": ("GET", f"/api/v1/receipts?session_id={session}&verdict=DENY"),
            "receipts-since": ("GET", f"/api/v1/receipts?session_id={session}&since=lamport:1"),
            "receipt-unknown": ("GET", "/api/v1/receipts/rcpt-none"),
            "session-unknown": ("GET", "/api/v1/proofgraph/sessions/s-none/receipts"),
            "health": ("GET", "/healthz"),
            "api-health": ("GET", "/api/health"),
            "version": ("GET", "/version"),
            "api-version": ("GET", "/api/v1/version"),
            "post-receipts": ("POST", "/api/v1/receipts"),
            "unrouted": ("GET", "/api/v1/nowhere"),
        }[route]
        headers = release_headers(bearer)
        return self.driver.release_http(method, path, headers, b""), None

    @transition(
        release=True,
        method=st.sampled_from(["GET", "PUT", "PUT", "POST"]),
        body=st.sampled_from(["ceiling", "legacy", "conflict", "malformed", "wrong-type"]),
        bearer=st.sampled_from(["admin", "admin", "admin", "service"]),
    )
    def release_http_budgets(
        self, method: str, body: str, bearer: str
    ) -> tuple[dict[str, Any], Any]:
        """Budget ceilings: listed, replaced (stored, never enforced)."""
        data = BUDGET_BODIES[body]
        path = "/api/v1/budgets" if method == "GET" else "/api/v1/budgets/b-1"
        headers = release_headers(bearer)
        return self.driver.release_http(method, path, headers, data), None

    @transition(
        release=True,
        body=st.sampled_from(["approval", "missing", "malformed", "wrong-type", "oversized"]),
        bearer=st.sampled_from(["service", "service", "admin", "none", "scheme", "blank"]),
        method=st.sampled_from(["POST", "POST", "GET", "OPTIONS"]),
    )
    def release_http_approve(
        self, body: str, bearer: str, method: str
    ) -> tuple[dict[str, Any], Any]:
        data = APPROVE_BODIES[body]
        headers = release_headers(bearer)
        return self.driver.release_http(method, "/api/v1/kernel/approve", headers, data), None

    @transition(
        release=True,
        action=st.sampled_from(["add", "add", "revoke"]),
        key=st.sampled_from(["auditor-1", "auditor-2", "key-0001", "unknown"]),
        body=st.sampled_from(["good", "good", "good", "no-tenant", "bad-hex", "malformed"]),
        bearer=st.sampled_from(["admin", "admin", "admin", "service"]),
    )
    def release_http_trust(
        self, action: str, key: str, body: str, bearer: str
    ) -> tuple[dict[str, Any], Any]:
        """Trust keys added and revoked over HTTP: the world's, the kernel's own id, unknown."""
        public = trust_public(key) if key in TRUST_KEYS else trust_public("auditor-2")
        request: dict[str, Any] = {"tenant_id": RELEASE_TENANT, "key_id": key}
        if action == "add":
            request["public_key"] = public.hex() if body != "bad-hex" else "zz" * 32
        if body == "no-tenant":
            del request["tenant_id"]
        data = json_body(request) if body != "malformed" else b'{"key_id":'
        path = f"/api/v1/trust/keys/{action}"
        headers = release_headers(bearer)
        return self.driver.release_http("POST", path, headers, data, trust=action), None

    @transition(
        release=True,
        command_id=st.sampled_from(["cmd-1", "cmd-2", "cmd-3"]),
        epoch=st.integers(1, 4),
        scope=st.sampled_from(["served", "served", "other", "other-audience"]),
        timing=st.sampled_from(["now", "now", "now", "expired", "ahead"]),
        signature=st.sampled_from(
            ["good"] * 4 + ["bad", "uppercase", "none", "malformed", "unknown-member"]
        ),
        bearer=st.sampled_from(["service", "service", "service", "admin"]),
    )
    def release_http_fence(
        self, command_id: str, epoch: int, scope: str, timing: str, signature: str, bearer: str
    ) -> tuple[dict[str, Any], Any]:
        """An emergency-stop command: a new one, a replay (same id and epoch within the minute),
        a stale epoch, a reused id, a bad signature, expired or issued ahead."""
        data = fence_body(command_id, epoch, scope, timing, signature, self.ghost.guardian_ms)
        path = "/internal/emergency-stop/fence"
        headers = release_headers(bearer)
        return self.driver.release_http("POST", path, headers, data), None

    @transition(release=True, probe=st.sampled_from(sorted(RELEASE_PROBES)))
    def fault_release_request(self, probe: str) -> tuple[dict[str, Any], Any]:
        """A request a route of the release's API refuses (or answers without change)."""
        method, path, bearer, body = RELEASE_PROBES[probe]
        return self.driver.release_http(method, path, release_headers(bearer), body), None

    @transition(release=True, form=st.sampled_from(sorted(RELEASE_CONFIG_FAULTS)))
    def fault_release_config(self, form: str) -> tuple[dict[str, Any], Any]:
        """The release's API started with a configuration it must refuse (or over a kernel of
        the chaos page): refused with InvalidInput, it changes nothing."""
        values = RELEASE_CONFIG_FAULTS[form]

        def start() -> None:
            changes = {k: v for k, v in values.items() if k != "semantics"}
            kernel = Kernel() if "semantics" in values else self.kernel
            HelmSurface(kernel, attrs.evolve(release_config(), **changes))

        return self.driver.present_arguments("release_config", values, start), None

    @transition(release=True, change=st.sampled_from([*FENCE_CHANGES, *FENCE_BODIES]))
    def fault_release_fence(self, change: str) -> tuple[dict[str, Any], Any]:
        """A fence request HELM refuses (400 or 403) for one reason: the checker holds it to
        changing nothing."""
        data = changed_fence_body(change, self.ghost.guardian_ms)
        path = "/internal/emergency-stop/fence"
        return self.driver.release_http("POST", path, release_headers("service"), data), None
