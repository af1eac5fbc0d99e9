"""The request surface through ``Kernel.handle``, without sockets (docs/kernel-spec.md
sections 8, 9 and invariants 18 and 19): every status code, the order of the checks, RFC 7807
problem bodies, what a refused request leaves unchanged, and the error budget."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import pytest

from helmmodel.kernel import Kernel

ADMIN = "admin-token-0123456789"
USER = "user-token-0123456789ab"
UNKNOWN = "unknown-token-0123456789"

EXECUTE = "/v1/tools/execute"
INJECT = "/api/ops/chaos/inject"
STATUS = "/api/ops/status"
SPECS = "/api/v1/workspaces/ws-1/generated-specs"
PROMOTIONS = "/api/v1/workspaces/ws-1/promotions"

BODY_BYTES_MAX = 1_048_576
JSON_HEADERS = {"Content-Type": "application/json"}
GATE_HEADERS = {"X-Gate-Enforced": "BudgetExhausted", "Retry-After": "60"}
GATES = ["BLOCK_BUILDER", "BLOCK_PROMOTION"]
CLOSED_RULE = {
    "id": "closed",
    "logic": "AND",
    "leaves": [{"id": "never", "predicate": ["const", False]}],
}
TWO_HOURS_MS = 2 * 3_600_000


class Req(NamedTuple):
    """One HTTP request, as ``Kernel.handle`` takes it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


def bearer(token: str, **more: str) -> dict[str, str]:
    """Headers carrying *token* as a bearer token, plus *more*."""
    return {"Authorization": f"Bearer {token}", **more}


def encode(value: Any) -> bytes:
    """*value* as JSON text."""
    return json.dumps(value).encode()


def post(path: str, body: bytes | Any = b"", headers: Mapping[str, str] | None = None) -> Req:
    """A POST of *body* (bytes as given, anything else as JSON) to *path*."""
    data = body if isinstance(body, bytes) else encode(body)
    return Req("POST", path, dict(JSON_HEADERS if headers is None else headers), data)


def send(kernel: Kernel, request: Req) -> Any:
    """Answer *request* through the kernel's request surface."""
    return kernel.handle(request.method, request.path, request.headers, request.body)


def call(kernel: Kernel, body: Any, headers: Mapping[str, str] | None = None) -> Any:
    """POST a governed call; return its 200 body (the status is checked)."""
    response = send(kernel, post(EXECUTE, body, headers))
    assert 200 == response.status, response.body
    return response.json()


def gate(kernel: Kernel) -> None:
    """Burn the error budget from 100 to 10, below the gate."""
    for _ in range(3):
        kernel.inject_chaos(30)
    assert 10 == kernel.error_budget.percent


def header(response: Any, name: str) -> str | None:
    """The value of header *name* in *response*, read case-insensitively as a client reads it."""
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """*response* is an RFC 7807 problem with *status*; return its body."""
    assert status == response.status, response.body
    assert "application/problem+json" == header(response, "Content-Type")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert status == body["status"]
    assert isinstance(body["type"], str)
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return dict(body)


@pytest.fixture
def api(kernel: Kernel) -> Kernel:
    """The conftest kernel with an admin token and a non-admin token."""
    kernel.add_token(ADMIN, "root", frozenset({"admin"}))
    kernel.add_token(USER, "bob")
    return kernel


# --- 200: governed calls ----------------------------------------------------------------------


def test_allowed_call_executes_and_answers_its_output(api: Kernel) -> None:
    """An ALLOW answers 200 with every member, executed, with the tool's output."""
    response = send(api, post(EXECUTE, {"tool": "echo", "args": {"x": 5}}))
    assert 200 == response.status
    assert "application/json" == header(response, "Content-Type")
    body = response.json()
    assert {
        "call_id",
        "verdict",
        "reason_code",
        "decision_id",
        "intent_id",
        "execution",
    } == set(body)
    assert "ALLOW" == body["verdict"]
    assert "" == body["reason_code"]
    assert isinstance(body["call_id"], str)
    assert isinstance(body["decision_id"], str)
    assert isinstance(body["intent_id"], str)
    execution = body["execution"]
    assert {"status", "code", "receipt_id", "output"} == set(execution)
    assert "executed" == execution["status"]
    assert "" == execution["code"]
    assert isinstance(execution["receipt_id"], str)
    assert {"x": 5} == execution["output"]


def test_sum_tool_answers_its_sum(api: Kernel) -> None:
    """The sum tool's output comes back in the execution member."""
    body = call(api, {"tool": "sum", "args": {"a": 2, "b": 40}})
    assert "executed" == body["execution"]["status"]
    assert {"sum": 42} == body["execution"]["output"]


def test_denied_call_is_not_attempted(api: Kernel) -> None:
    """A DENY is a 200 value: signed decision, no intent, execution not attempted."""
    api.put_rule("echo", CLOSED_RULE)
    body = call(api, {"tool": "echo", "args": {"x": 1}})
    assert "DENY" == body["verdict"]
    assert "MISSING_REQUIREMENT" == body["reason_code"]
    assert isinstance(body["decision_id"], str)
    assert body["intent_id"] is None
    expected = {"status": "not_attempted", "code": "", "receipt_id": None, "output": None}
    assert expected == body["execution"]


def test_escalated_call_is_not_attempted(api: Kernel) -> None:
    """A tool that needs approval answers 200 ESCALATE, not attempted."""
    body = call(api, {"tool": "approve", "args": {}})
    assert "ESCALATE" == body["verdict"]
    assert "APPROVAL_REQUIRED" == body["reason_code"]
    assert body["intent_id"] is None
    assert "not_attempted" == body["execution"]["status"]


def test_execution_refused_when_executor_clock_is_two_hours_behind(api: Kernel) -> None:
    """With the executor clock 2 hours behind, the ALLOW's execution is refused, nothing run."""
    api.set_guardian_time(TWO_HOURS_MS)
    api.set_executor_time(0)
    body = call(api, {"tool": "echo", "args": {"x": 1}})
    assert "ALLOW" == body["verdict"]
    assert isinstance(body["intent_id"], str)
    expected = {
        "status": "refused",
        "code": "INTENT_NOT_YET_VALID",
        "receipt_id": None,
        "output": None,
    }
    assert expected == body["execution"]
    assert {} == api.chains.chains


def test_tool_error_is_executed_with_its_code(api: Kernel) -> None:
    """A tool error is a value: executed, with code TOOL_ERROR and a receipt."""
    body = call(api, {"tool": "fail", "args": {}})
    assert "ALLOW" == body["verdict"]
    assert "executed" == body["execution"]["status"]
    assert "TOOL_ERROR" == body["execution"]["code"]
    assert isinstance(body["execution"]["receipt_id"], str)


def test_principal_comes_from_the_token_and_defaults_to_anonymous(api: Kernel) -> None:
    """A known token's principal reaches the policy; without a token it is anonymous."""
    api.put_rule(
        "echo",
        {"id": "bob-only", "leaves": [{"id": "is-bob", "predicate": ["eq", "principal", "bob"]}]},
    )
    assert "ALLOW" == call(api, {"tool": "echo", "args": {}}, bearer(USER))["verdict"]
    assert "DENY" == call(api, {"tool": "echo", "args": {}})["verdict"]
    api.put_rule(
        "echo",
        {
            "id": "anonymous-only",
            "leaves": [{"id": "is-anon", "predicate": ["eq", "principal", "anonymous"]}],
        },
    )
    assert "ALLOW" == call(api, {"tool": "echo", "args": {}})["verdict"]


def test_context_session_names_the_receipt_chain(api: Kernel) -> None:
    """context.session_id puts the receipt on that session's chain."""
    body = call(api, {"tool": "echo", "args": {"x": 1}, "context": {"session_id": "s-1"}})
    assert [body["execution"]["receipt_id"]] == [r.receipt_id for r in api.chains.chains["s-1"]]


def test_body_of_exactly_one_mebibyte_is_accepted(api: Kernel) -> None:
    """A valid body of exactly 1,048,576 bytes is not too large: it is governed (200)."""
    head, tail = b'{"tool":"echo","args":{},"context":{"pad":"', b'"}}'
    body = head + b"A" * (BODY_BYTES_MAX - len(head) - len(tail)) + tail
    assert BODY_BYTES_MAX == len(body)
    response = send(api, post(EXECUTE, body))
    assert 200 == response.status
    assert "ALLOW" == response.json()["verdict"]


def test_largest_safe_integer_is_accepted(api: Kernel) -> None:
    """2^53−1 and −(2^53−1) are inside the canonical subset: the call is governed."""
    body = call(api, {"tool": "sum", "args": {"a": 2**53 - 1, "b": -(2**53 - 1)}})
    assert {"sum": 0} == body["execution"]["output"]


# --- 201: generated specs and promotions --------------------------------------------------------


def test_generated_spec_is_created(api: Kernel) -> None:
    """generated-specs answers 201 {id, workspace_id, goal} and records the spec."""
    response = send(api, post(SPECS, {"goal": "test"}))
    assert 201 == response.status
    assert "application/json" == header(response, "Content-Type")
    body = response.json()
    assert {"id", "workspace_id", "goal"} == set(body)
    assert "ws-1" == body["workspace_id"]
    assert "test" == body["goal"]
    assert isinstance(body["id"], str)
    assert {body["id"]: ("ws-1", "test")} == api.error_budget.specs


def test_generated_specs_get_distinct_ids(api: Kernel) -> None:
    """Two generated specs get two ids."""
    first = send(api, post(SPECS, {"goal": "a"})).json()["id"]
    second = send(api, post(SPECS, {"goal": "a"})).json()["id"]
    assert first != second


def test_promotion_of_a_known_spec_is_created(api: Kernel) -> None:
    """Promoting a spec that exists answers 201 and records the promotion."""
    spec_id = send(api, post(SPECS, {"goal": "test"})).json()["id"]
    response = send(api, post(PROMOTIONS, {"spec_id": spec_id}))
    assert 201 == response.status
    assert [("ws-1", spec_id)] == api.error_budget.promotions


# --- 400 ------------------------------------------------------------------------------------

MALFORMED_EXECUTE_BODIES = [
    pytest.param(b'{"tool":"echo","args":{},"context":{"s":"\xff"}}', id="invalid-utf8"),
    pytest.param(b'{"tool":"echo","args":{},"context":{"s":"\xed\xa0\x80"}}', id="utf8-surrogate"),
    pytest.param(b'{"tool":"echo","args":{},"context":{"s":"\\ud800"}}', id="lone-surrogate"),
    pytest.param(b'{"tool":"echo","args":{},"context":{"s":"\\udc00x"}}', id="lone-low-surrogate"),
    pytest.param(b'{"tool":"sum","args":{"a":NaN}}', id="nan"),
    pytest.param(b'{"tool":"sum","args":{"a":Infinity}}', id="infinity"),
    pytest.param(b'{"tool":"sum","args":{"a":-Infinity}}', id="minus-infinity"),
    pytest.param(b'{"tool":"echo","tool":"echo","args":{}}', id="duplicate-keys"),
    pytest.param(b'{"tool":"sum","args":{"a":1,"a":2}}', id="duplicate-nested-keys"),
    pytest.param(b'{"tool":"echo","args":{}} x', id="trailing-data"),
    pytest.param(b'{"tool":"echo","args":{}}{}', id="trailing-object"),
    pytest.param(b'{"tool":"sum","args":{"a":1.5}}', id="fraction"),
    pytest.param(b'{"tool":"sum","args":{"a":1e3}}', id="exponent"),
    pytest.param(b'{"tool":"sum","args":{"a":1.0}}', id="integral-fraction"),
    pytest.param(b'{"tool":"sum","args":{"a":-0}}', id="minus-zero"),
    pytest.param(b'{"tool":"sum","args":{"a":9007199254740992}}', id="two-to-the-53"),
    pytest.param(b'{"tool":"sum","args":{"a":-9007199254740992}}', id="minus-two-to-the-53"),
    # More digits than Python's int() converts by default (4300): still just an unsafe integer.
    pytest.param(b'{"tool":"sum","args":{"a":' + b"1" * 5000 + b"}}", id="five-thousand-digits"),
    pytest.param(b'{"tool":"echo","args":{},"context":{"n":1.5}}', id="float-in-context"),
    pytest.param(b"", id="empty-body"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b"{invalid json", id="invalid-json"),
    pytest.param(b'[{"tool":"echo","args":{}}]', id="array-body"),
    pytest.param(b'"echo"', id="string-body"),
    pytest.param(b"null", id="null-body"),
    pytest.param(b'{"args":{}}', id="missing-tool"),
    pytest.param(b'{"tool":"echo"}', id="missing-args"),
    pytest.param(b'{"tool":"echo","args":[1]}', id="args-array"),
    pytest.param(b'{"tool":"echo","args":"x=1"}', id="args-string"),
    pytest.param(b'{"tool":"echo","args":null}', id="args-null"),
    pytest.param(b'{"tool":7,"args":{}}', id="tool-not-string"),
    pytest.param(b'{"tool":"echo","args":{},"context":[]}', id="context-not-object"),
    pytest.param(b'{"tool":"echo","args":{},"extra":1}', id="unknown-member"),
    pytest.param(b'{"tool":"no such tool!","args":{}}', id="tool-not-identifier"),
    pytest.param(b'{"tool":"","args":{}}', id="tool-empty"),
    pytest.param(b'{"tool":"' + b"t" * 65 + b'","args":{}}', id="tool-too-long"),
    pytest.param(
        b'{"tool":"echo","args":{},"context":{"session_id":"a b"}}', id="session-not-identifier"
    ),
    pytest.param(
        b'{"tool":"echo","args":{},"context":{"budget_id":7}}', id="budget-id-not-identifier"
    ),
]


@pytest.mark.parametrize("body", MALFORMED_EXECUTE_BODIES)
def test_malformed_or_misshapen_call_is_400(api: Kernel, body: bytes) -> None:
    """A call body that is not strict JSON of the right shape answers a 400 problem."""
    assert_problem(send(api, post(EXECUTE, body)), 400)


BAD_INJECT_BODIES = [
    pytest.param(b'{"burn":0}', id="burn-0"),
    pytest.param(b'{"burn":101}', id="burn-101"),
    pytest.param(b'{"burn":-5}', id="burn-negative"),
    pytest.param(b'{"burn":"5"}', id="burn-string"),
    pytest.param(b'{"burn":true}', id="burn-true"),
    pytest.param(b'{"burn":5.0}', id="burn-float"),
    pytest.param(b'{"burn":' + b"1" * 5000 + b"}", id="burn-five-thousand-digits"),
    pytest.param(b'{"burn":null}', id="burn-null"),
    pytest.param(b"{}", id="empty-object"),
    pytest.param(b'{"burn":5,"more":1}', id="extra-member"),
    pytest.param(b'{"Burn":5}', id="wrong-name"),
    pytest.param(b"[5]", id="array"),
    pytest.param(b"5", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"burn":5', id="malformed"),
    pytest.param(b'{"burn":5,"burn":6}', id="duplicate-keys"),
]


@pytest.mark.parametrize("body", BAD_INJECT_BODIES)
def test_inject_with_any_other_body_is_400(api: Kernel, body: bytes) -> None:
    """An admin's inject whose body is not {"burn": N} with N in 1..100 is a 400; nothing burns."""
    assert_problem(send(api, post(INJECT, body, bearer(ADMIN))), 400)
    assert 100 == api.error_budget.percent


BAD_SPEC_BODIES = [
    pytest.param(b"{}", id="missing-goal"),
    pytest.param(b'{"goal":7}', id="goal-not-string"),
    pytest.param(b'{"goal":"a","more":1}', id="extra-member"),
    pytest.param(b'["test"]', id="array"),
    pytest.param(b'{"goal":"test"', id="malformed"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", BAD_SPEC_BODIES)
def test_generated_spec_with_a_bad_body_is_400(api: Kernel, body: bytes) -> None:
    """generated-specs without a string goal answers 400 and creates nothing."""
    assert_problem(send(api, post(SPECS, body)), 400)
    assert {} == api.error_budget.specs


@pytest.mark.parametrize("body", [b"{}", b'{"spec_id":7}', b"[]", b"{"])
def test_promotion_with_a_bad_body_is_400(api: Kernel, body: bytes) -> None:
    """promotions without a string spec_id answers 400 and promotes nothing."""
    assert_problem(send(api, post(PROMOTIONS, body)), 400)
    assert [] == api.error_budget.promotions


# --- 401 and 403 --------------------------------------------------------------------------------


def test_execute_with_unknown_token_is_401(api: Kernel) -> None:
    """A bearer token that is present but unknown is a 401, even for a valid call."""
    request = post(EXECUTE, {"tool": "echo", "args": {}}, bearer(UNKNOWN, **JSON_HEADERS))
    assert_problem(send(api, request), 401)


@pytest.mark.parametrize(
    "headers",
    [pytest.param({}, id="no-token"), pytest.param(bearer(UNKNOWN), id="unknown-token")],
)
def test_inject_without_a_known_token_is_401(api: Kernel, headers: dict[str, str]) -> None:
    """Inject without a token, or with an unknown one, is a 401; nothing burns."""
    assert_problem(send(api, post(INJECT, b"", headers)), 401)
    assert 100 == api.error_budget.percent


def test_inject_with_a_non_admin_token_is_403(api: Kernel) -> None:
    """A known token without the admin role gets 403 from inject; nothing burns."""
    assert_problem(send(api, post(INJECT, b"", bearer(USER))), 403)
    assert 100 == api.error_budget.percent


# --- 404 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1/tools",
        "/v1/tools/execute/",
        "/v1/tools/execute/now",
        "/V1/TOOLS/EXECUTE",
        "/api/ops/chaos",
        "/api/v1/workspaces/ws-1",
        "/api/v1/workspaces/ws-1/generated-specs/x",
    ],
)
def test_unknown_path_is_404(api: Kernel, path: str) -> None:
    """A path that names no endpoint answers 404."""
    assert_problem(send(api, post(path, {"tool": "echo", "args": {}})), 404)


@pytest.mark.parametrize(
    "workspace",
    ["bad ws", "ws%2F1", "a/b", "", "w" * 65, "ws!"],
)
@pytest.mark.parametrize("endpoint", ["generated-specs", "promotions"])
def test_bad_workspace_id_is_404(api: Kernel, workspace: str, endpoint: str) -> None:
    """A workspace id that is not an identifier names no endpoint: 404, nothing created."""
    body = {"goal": "test"} if endpoint == "generated-specs" else {"spec_id": "spec-000001"}
    assert_problem(send(api, post(f"/api/v1/workspaces/{workspace}/{endpoint}", body)), 404)
    assert {} == api.error_budget.specs


def test_promotion_of_an_unknown_spec_is_404(api: Kernel) -> None:
    """Promoting a spec id nobody created answers 404 and records nothing."""
    send(api, post(SPECS, {"goal": "test"}))
    assert_problem(send(api, post(PROMOTIONS, {"spec_id": "spec-999999"})), 404)
    assert [] == api.error_budget.promotions


# --- 405 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", EXECUTE, "POST"),
        ("PUT", EXECUTE, "POST"),
        ("DELETE", INJECT, "POST"),
        ("GET", INJECT, "POST"),
        ("POST", STATUS, "GET"),
        ("GET", SPECS, "POST"),
        ("GET", PROMOTIONS, "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(api: Kernel, method: str, path: str, allowed: str) -> None:
    """A known path with the wrong method answers 405 with an Allow header naming the one."""
    response = send(api, Req(method, path, bearer(ADMIN), b""))
    assert_problem(response, 405)
    assert allowed == header(response, "Allow")


# --- 413 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [EXECUTE, INJECT, SPECS, PROMOTIONS])
def test_body_over_one_mebibyte_is_413(api: Kernel, path: str) -> None:
    """A body of 1 MiB + 1 bytes answers 413 on every endpoint."""
    body = b'{"tool":"echo","args":{},"context":{"pad":"' + b"A" * BODY_BYTES_MAX + b'"}}'
    response = send(api, post(path, body[: BODY_BYTES_MAX + 1], bearer(ADMIN)))
    assert_problem(response, 413)


def test_announced_length_over_one_mebibyte_is_413(api: Kernel) -> None:
    """A small body whose announced Content-Length is over 1 MiB answers 413."""
    headers = {**JSON_HEADERS, "Content-Length": str(BODY_BYTES_MAX + 1)}
    response = send(api, post(EXECUTE, {"tool": "echo", "args": {}}, headers))
    assert_problem(response, 413)


# --- 429 ------------------------------------------------------------------------------------

ANY_BODIES = [
    pytest.param(b'{"goal":"test"}', id="valid-goal"),
    pytest.param(b'{"spec_id":"spec-000001"}', id="known-spec"),
    pytest.param(b"{invalid json", id="malformed"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1,2]", id="array"),
    pytest.param(b'{"goal":1.5}', id="float"),
]


@pytest.mark.parametrize("path", [SPECS, PROMOTIONS])
@pytest.mark.parametrize("body", ANY_BODIES)
def test_gated_post_is_429_whatever_its_body(api: Kernel, path: str, body: bytes) -> None:
    """Below 20, every POST to the gated endpoints answers 429 with both headers, creating
    nothing."""
    send(api, post(SPECS, {"goal": "made before the gate"}))
    specs = dict(api.error_budget.specs)
    gate(api)
    before = api.state_digest()
    response = send(api, post(path, body))
    assert_problem(response, 429)
    assert "BudgetExhausted" == header(response, "X-Gate-Enforced")
    assert "60" == header(response, "Retry-After")
    assert specs == api.error_budget.specs
    assert [] == api.error_budget.promotions
    assert before == api.state_digest()


def test_gate_closes_below_20_not_at_20(api: Kernel) -> None:
    """At exactly 20 the gate is open (201); at 19 it is closed (429)."""
    api.inject_chaos(80)
    assert 201 == send(api, post(SPECS, {"goal": "at 20"})).status
    api.inject_chaos(1)
    assert 429 == send(api, post(SPECS, {"goal": "at 19"})).status
    assert 1 == len(api.error_budget.specs)


def test_execute_is_not_gated(api: Kernel) -> None:
    """Governed calls do not pass the error-budget gate: they still answer 200 at 0."""
    api.inject_chaos(100)
    assert "ALLOW" == call(api, {"tool": "echo", "args": {"x": 1}})["verdict"]


# --- 503 ------------------------------------------------------------------------------------


def test_call_without_signer_is_503_and_nothing_is_decided(api: Kernel) -> None:
    """With no key able to sign, a call answers a 503 problem; no decision, no charge."""
    api.remove_signing()
    decisions = api.ids.counts["dec"]
    body = {"tool": "echo", "args": {"x": 1}, "context": {"budget_id": "b1"}}
    response = send(api, post(EXECUTE, body))
    assert_problem(response, 503)
    assert decisions == api.ids.counts["dec"]
    budget = api.budgets.get("b1")
    assert budget is not None
    assert 0 == budget.consumed
    assert {} == api.chains.chains
    last = api.graph.nodes[api.graph.order[-1]]
    assert "ATTESTATION" == last.kind
    assert "SIGNER_UNAVAILABLE" == last.payload["reason_code"]
    assert "" == last.sig


# --- the order of the checks -----------------------------------------------------------------


def test_too_large_comes_before_unknown_path(api: Kernel) -> None:
    """A 2 MB body to an unknown path is a 413, not a 404."""
    response = send(api, post("/no/such/path", b"A" * 2_000_000))
    assert_problem(response, 413)


def test_too_large_comes_before_wrong_method(api: Kernel) -> None:
    """A 2 MB body with the wrong method is a 413, not a 405."""
    assert_problem(send(api, Req("GET", EXECUTE, {}, b"A" * 2_000_000)), 413)


def test_too_large_comes_before_the_gate(api: Kernel) -> None:
    """A 2 MB body to a gated endpoint while gated is a 413, not a 429."""
    gate(api)
    assert_problem(send(api, post(SPECS, b"A" * 2_000_000)), 413)


def test_unknown_path_comes_before_wrong_method(api: Kernel) -> None:
    """GET on an unknown path is a 404, not a 405."""
    assert_problem(send(api, Req("GET", "/v1/tools/run", {}, b"")), 404)


def test_wrong_method_comes_before_the_gate(api: Kernel) -> None:
    """GET on generated-specs while gated is a 405, not a 429."""
    gate(api)
    response = send(api, Req("GET", SPECS, {}, b""))
    assert_problem(response, 405)
    assert header(response, "X-Gate-Enforced") is None


def test_gate_comes_before_body_parsing(api: Kernel) -> None:
    """A malformed body to generated-specs while gated is a 429, not a 400."""
    gate(api)
    assert_problem(send(api, post(SPECS, b"{invalid json")), 429)


def test_credentials_come_before_body_parsing_for_execute(api: Kernel) -> None:
    """An unknown token with a malformed body is a 401, not a 400."""
    assert_problem(send(api, post(EXECUTE, b"{invalid json", bearer(UNKNOWN))), 401)


def test_missing_token_comes_before_body_parsing_for_inject(api: Kernel) -> None:
    """Inject without a token and with a malformed body is a 401, not a 400."""
    assert_problem(send(api, post(INJECT, b'{"burn":', {})), 401)


def test_forbidden_comes_before_body_parsing_for_inject(api: Kernel) -> None:
    """A non-admin inject with a malformed body is a 403, not a 400."""
    assert_problem(send(api, post(INJECT, b'{"burn":', bearer(USER))), 403)


# --- problem bodies -------------------------------------------------------------------------

PROBLEM_REQUESTS = [
    pytest.param(post(EXECUTE, b"{invalid json"), 400, id="400"),
    pytest.param(post(EXECUTE, {"tool": "echo", "args": {}}, bearer(UNKNOWN)), 401, id="401"),
    pytest.param(post(INJECT, b"", bearer(USER)), 403, id="403"),
    pytest.param(post("/nowhere", b""), 404, id="404"),
    pytest.param(Req("GET", EXECUTE, {}, b""), 405, id="405"),
    pytest.param(post(EXECUTE, b"A" * (BODY_BYTES_MAX + 1)), 413, id="413"),
]


@pytest.mark.parametrize(("request_", "status"), PROBLEM_REQUESTS)
def test_errors_are_rfc7807_problems(api: Kernel, request_: Req, status: int) -> None:
    """Every error answers application/problem+json with type, title, status and detail, whose
    status is the HTTP status."""
    assert_problem(send(api, request_), status)


# --- refused requests change nothing (invariant 19) -------------------------------------------

REFUSED_REQUESTS = [
    *(
        pytest.param(post(EXECUTE, p.values[0]), 400, id=f"400-{p.id}")
        for p in MALFORMED_EXECUTE_BODIES
    ),
    *(
        pytest.param(post(INJECT, p.values[0], bearer(ADMIN)), 400, id=f"400-inject-{p.id}")
        for p in BAD_INJECT_BODIES
    ),
    *(pytest.param(post(SPECS, p.values[0]), 400, id=f"400-spec-{p.id}") for p in BAD_SPEC_BODIES),
    pytest.param(
        post(EXECUTE, {"tool": "echo", "args": {}}, bearer(UNKNOWN)), 401, id="401-execute"
    ),
    pytest.param(post(INJECT, b"", {}), 401, id="401-inject-no-token"),
    pytest.param(post(INJECT, b"", bearer(UNKNOWN)), 401, id="401-inject-unknown-token"),
    pytest.param(post(INJECT, b"", bearer(USER)), 403, id="403-inject"),
    pytest.param(post("/nowhere", {"tool": "echo", "args": {}}), 404, id="404-path"),
    pytest.param(post("/api/v1/workspaces/a b/generated-specs", {"goal": "x"}), 404, id="404-ws"),
    pytest.param(post(PROMOTIONS, {"spec_id": "spec-000001"}), 404, id="404-unknown-spec"),
    pytest.param(Req("GET", EXECUTE, {}, b""), 405, id="405-execute"),
    pytest.param(Req("POST", STATUS, {}, b""), 405, id="405-status"),
    pytest.param(Req("GET", SPECS, {}, b""), 405, id="405-specs"),
    pytest.param(post(EXECUTE, b"A" * (BODY_BYTES_MAX + 1)), 413, id="413-body"),
    pytest.param(
        post(EXECUTE, {"tool": "echo", "args": {}}, {"Content-Length": str(2_000_000)}),
        413,
        id="413-announced",
    ),
    pytest.param(post(SPECS, b'{"goal":"' + b"A" * BODY_BYTES_MAX + b'"}'), 413, id="413-spec"),
]


@pytest.mark.parametrize(("request_", "status"), REFUSED_REQUESTS)
def test_refused_request_leaves_the_state_unchanged(
    api: Kernel, request_: Req, status: int
) -> None:
    """A 400, 401, 403, 404, 405 or 413 leaves the kernel's state digest unchanged."""
    call(api, {"tool": "echo", "args": {"x": 1}})
    before = api.state_digest()
    assert status == send(api, request_).status
    assert before == api.state_digest()


def test_state_digest_sees_a_governed_call(api: Kernel) -> None:
    """A governed call changes the state digest (so the unchanged checks can fail)."""
    before = api.state_digest()
    call(api, {"tool": "echo", "args": {"x": 1}})
    assert before != api.state_digest()


def test_gated_request_leaves_the_state_unchanged(api: Kernel) -> None:
    """A 429 leaves the state digest unchanged and creates no spec."""
    gate(api)
    before = api.state_digest()
    assert 429 == send(api, post(SPECS, {"goal": "test"})).status
    assert before == api.state_digest()
    assert {} == api.error_budget.specs


def ledger(kernel: Kernel) -> dict[str, Any]:
    """What a firewall denial must not change: budgets, policy, receipts, error budget."""
    budget = kernel.budgets.get("b1")
    assert budget is not None
    return {
        "consumed": budget.consumed,
        "limit": budget.limit,
        "epoch": kernel.policy.epoch,
        "version": kernel.policy.version,
        "chains": {session: list(chain) for session, chain in kernel.chains.chains.items()},
        "chains_digest": kernel.chains.digest_material(),
        "executed": kernel.executor.digest_material(),
        "error_budget": kernel.error_budget.digest_material(),
    }


@pytest.mark.parametrize(
    ("body", "reason_code"),
    [
        pytest.param(
            {"tool": "echo", "args": {"x": "not an int"}}, "SCHEMA_VIOLATION", id="schema"
        ),
        pytest.param({"tool": "echo", "args": {"y": 1}}, "SCHEMA_VIOLATION", id="extra-arg"),
        pytest.param({"tool": "nosuchtool", "args": {}}, "ERR_TOOL_NOT_FOUND", id="not-found"),
    ],
)
def test_firewall_denial_changes_no_budget_policy_receipt_or_error_budget(
    api: Kernel, body: dict[str, Any], reason_code: str
) -> None:
    """A firewall DENY over HTTP is a 200 value that touches no budget, policy, receipt or error
    budget."""
    call(api, {"tool": "echo", "args": {"x": 1}, "context": {"session_id": "s-1"}})
    api.inject_chaos(5)
    before = ledger(api)
    context = {"budget_id": "b1", "session_id": "s-1"}
    answer = call(api, {**body, "context": context})
    assert "DENY" == answer["verdict"]
    assert reason_code == answer["reason_code"]
    assert "not_attempted" == answer["execution"]["status"]
    assert before == ledger(api)


def test_allowed_call_charges_its_budget(api: Kernel) -> None:
    """An ALLOW charged to b1 consumes one request (so the ledger checks can fail)."""
    before = ledger(api)
    call(api, {"tool": "echo", "args": {"x": 1}, "context": {"budget_id": "b1"}})
    after = ledger(api)
    assert before["consumed"] + 1 == after["consumed"]
    assert before["chains_digest"] != after["chains_digest"]


# --- the error budget over HTTP (invariant 18) -------------------------------------------------


def inject(kernel: Kernel, body: bytes = b"", token: str = ADMIN) -> Any:
    """POST a chaos inject with *token*; return the response."""
    return send(kernel, post(INJECT, body, bearer(token)))


def status(kernel: Kernel) -> Any:
    """The body of GET /api/ops/status."""
    response = send(kernel, Req("GET", STATUS, {}, b""))
    assert 200 == response.status
    assert "application/json" == header(response, "Content-Type")
    return response.json()


def test_injects_burn_30_from_100_down_to_0(api: Kernel) -> None:
    """From 100, injects answer 70, 40 (DEGRADED), 10, then 0 (floored), and so on."""
    assert {"error_budget": 100, "system_state": "HEALTHY", "active_gates": []} == status(api)
    expected = [(70, "HEALTHY"), (40, "DEGRADED"), (10, "DEGRADED"), (0, "DEGRADED")]
    expected += [(0, "DEGRADED")]
    for budget, state in expected:
        response = inject(api)
        assert 200 == response.status
        assert "application/json" == header(response, "Content-Type")
        assert {
            "status": "chaos_injected",
            "new_budget": budget,
            "system_state": state,
        } == response.json()
        gates = GATES if budget < 20 else []
        assert {"error_budget": budget, "system_state": state, "active_gates": gates} == status(api)


def test_burn_body_burns_that_many_points(api: Kernel) -> None:
    """{"burn": 5} burns 5 points."""
    response = inject(api, b'{"burn": 5}')
    assert 200 == response.status
    assert 95 == response.json()["new_budget"]
    assert 95 == status(api)["error_budget"]


@pytest.mark.parametrize(("burn", "left"), [(1, 99), (100, 0), (50, 50), (51, 49)])
def test_burn_bounds(api: Kernel, burn: int, left: int) -> None:
    """burn takes 1 to 100; below 50 (not at 50) the state is DEGRADED."""
    response = inject(api, encode({"burn": burn}))
    assert 200 == response.status
    state = "DEGRADED" if left < 50 else "HEALTHY"
    assert {"status": "chaos_injected", "new_budget": left, "system_state": state} == (
        response.json()
    )


def test_degraded_stays_degraded(api: Kernel) -> None:
    """Once DEGRADED, the system state stays DEGRADED."""
    inject(api, b'{"burn": 51}')
    assert "DEGRADED" == status(api)["system_state"]
    assert "DEGRADED" == inject(api, b'{"burn": 1}').json()["system_state"]
    assert "DEGRADED" == status(api)["system_state"]


def test_gates_show_below_20_only(api: Kernel) -> None:
    """active_gates lists both gates at 19, and none at 20."""
    inject(api, b'{"burn": 80}')
    assert [] == status(api)["active_gates"]
    inject(api, b'{"burn": 1}')
    assert GATES == status(api)["active_gates"]


def test_only_admin_tokens_change_the_error_budget(api: Kernel) -> None:
    """A non-admin inject is a 403 and anonymous is a 401; neither burns; an admin burns."""
    assert 403 == inject(api, token=USER).status
    assert 401 == send(api, post(INJECT, b"", {})).status
    assert 100 == status(api)["error_budget"]
    call(api, {"tool": "echo", "args": {}}, bearer(ADMIN))
    assert 100 == status(api)["error_budget"]
    assert 200 == inject(api).status
    assert 70 == status(api)["error_budget"]
