"""The request surface: tool calls over HTTP, malformed and oversized ones included, and the
error budget's endpoints (chaos injects, generated specs, promotions, status), bodies of the wrong
shape included; and the console's inject called directly with burns the spec refuses."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.checker.driver import ADMIN_TOKEN, USER_TOKEN
from helmmodel.harness.stateful import transition
from machines.world import TOOL_NAMES, WorldMachine, fitted, picks

TOKENS = {"none": None, "admin": ADMIN_TOKEN, "user": USER_TOKEN, "bogus": "bogus-token-00000000"}
EXECUTE_BODIES = (
    "valid",
    "schema_invalid",
    "truncated",
    "invalid_utf8",
    "nan",
    "duplicate_keys",
    "trailing_data",
    "float",
    "minus_zero",
    "unsafe_integer",
    "lone_surrogate",
    "array",
    "missing_args",
    "bad_tool_name",
    "tool_not_string",
    "oversized",
    "announced_oversized",
)
BODY_LIMIT = 1_048_576
OVERSIZED_GOAL = b'{"goal":"' + b"A" * BODY_LIMIT + b'"}'
GOAL_CHARS_MAX = 4096
# Well under the body limit, one character over the goal's own limit: a 400, not a 413.
LONG_GOAL = b'{"goal":"' + b"A" * (GOAL_CHARS_MAX + 1) + b'"}'
PADDING = b" " * BODY_LIMIT


def execute_body(kind: str, tool: str, x: int) -> tuple[bytes, dict[str, str]]:
    """A request body of *kind* for ``POST /v1/tools/execute``, and any extra headers."""
    valid = b'{"tool":"%s","args":{"x":%d},"context":{"session_id":"s0"}}' % (tool.encode(), x)
    headers = {"Content-Type": "application/json"}
    if kind == "valid":
        return valid, headers
    if kind == "schema_invalid":
        return b'{"tool":"%s","args":{"x":"%d"}}' % (tool.encode(), x), headers
    if kind == "truncated":
        return valid[:-3], headers
    if kind == "trailing_data":
        return valid + b" {}", headers
    if kind == "oversized":
        return valid + PADDING[: BODY_LIMIT + 1 - len(valid)], headers
    if kind == "announced_oversized":
        return valid, {**headers, "Content-Length": str(2 * BODY_LIMIT)}
    return FIXED_BODIES[kind], headers


FIXED_BODIES = {
    "invalid_utf8": b'{"tool":"echo","args":{"x":"\xff"}}',
    "nan": b'{"tool":"echo","args":{"x":NaN}}',
    "duplicate_keys": b'{"tool":"echo","tool":"sum","args":{}}',
    "float": b'{"tool":"echo","args":{"x":1.5}}',
    "minus_zero": b'{"tool":"echo","args":{"x":-0}}',
    "unsafe_integer": b'{"tool":"echo","args":{"x":9007199254740993}}',
    "lone_surrogate": b'{"tool":"echo","args":{"x":"\\ud800"}}',
    "array": b"[]",
    "missing_args": b'{"tool":"echo"}',
    "bad_tool_name": b'{"tool":"no such tool","args":{}}',
    "tool_not_string": b'{"tool":7,"args":{}}',
}


def with_token(headers: dict[str, str], token: str) -> dict[str, str]:
    if TOKENS[token] is not None:
        headers = {**headers, "Authorization": f"Bearer {TOKENS[token]}"}
    return headers


class HttpCallRules(WorldMachine):
    """Tool calls over the request surface, malformed and oversized ones included."""

    # Well-formed calls come first and most often (repeated entries weigh a sampled choice):
    # the governed path, and its 503 while no key can sign, must be reached as often as the
    # malformed ones; the user's token (alice's) twice, so the approval tool's ESCALATE is too.
    @transition(
        method=st.sampled_from(["POST", "POST", "POST", "GET"]),
        path=st.sampled_from(["/v1/tools/execute", "/v1/tools/execute", "/v1/tools/other"]),
        token=st.sampled_from(["none", "user", "admin", "bogus", "user"]),
        body=st.sampled_from(["valid"] * 6 + list(EXECUTE_BODIES)),
        tool=st.sampled_from(TOOL_NAMES),
        x=st.integers(-1, 12),
    )
    def http_execute(
        self, method: str, path: str, token: str, body: str, tool: str, x: int
    ) -> tuple[dict[str, Any], Any]:
        data, headers = execute_body(body, tool, x)
        return self.driver.http(method, path, with_token(headers, token), data), None


class HttpOpsRules(WorldMachine):
    """The error budget: chaos injects, generated specs, promotions, status (bodies of the wrong
    shape included), and direct injects of burns the spec refuses."""

    # An admin's bodiless inject (the chaos page's) comes first and most often: three of them
    # close the gates, which the gated endpoints' rules must see, among the kernel machine's
    # fifty rules too (hence its weight).
    @transition(
        weight=2,
        token=st.sampled_from(["admin", "admin", "admin", "user", "none", "bogus"]),
        body=st.sampled_from(
            ["none", "burn-50", "none", "burn-5", "burn-0", "not-json", "other", "burn-100"]
        ),
    )
    def http_chaos_inject(self, token: str, body: str) -> tuple[dict[str, Any], Any]:
        data = {
            "none": b"",
            "burn-5": b'{"burn":5}',
            "burn-50": b'{"burn":50}',
            # The whole budget at once: the gates close within one example of many rules.
            "burn-100": b'{"burn":100}',
            "burn-0": b'{"burn":0}',
            "not-json": b"{burn",
            "other": b'{"goal":"x"}',
        }[body]
        headers = with_token({}, token)
        return self.driver.http("POST", "/api/ops/chaos/inject", headers, data), None

    @transition(
        method=st.sampled_from(["POST", "GET"]),
        workspace=st.sampled_from(["ws1", "ws 2"]),
        body=st.sampled_from(
            [
                "goal",
                "goal",
                "no-goal",
                "malformed",
                "oversized",
                "empty",
                "goal-not-string",
                "long-goal",
            ]
        ),
    )
    def http_generate_spec(
        self, method: str, workspace: str, body: str
    ) -> tuple[dict[str, Any], Any]:
        data = {
            "goal": b'{"goal":"test"}',
            "no-goal": b'{"idea":"test"}',
            "malformed": b"{goal",
            "oversized": OVERSIZED_GOAL,
            "empty": b"{}",
            "goal-not-string": b'{"goal":7}',
            "long-goal": LONG_GOAL,
        }[body]
        path = f"/api/v1/workspaces/{workspace}/generated-specs"
        return self.driver.http(method, path, {"Content-Type": "application/json"}, data), None

    # The spec id is one the checker saw created most of the time (a pick indexes its specs),
    # an unknown one otherwise; a body of the wrong shape is presented some of the time.
    @transition(
        pick=picks,
        body=st.sampled_from(["spec", "spec", "spec", "malformed", "empty", "spec-not-string"]),
    )
    def http_promote(self, pick: int, body: str) -> tuple[dict[str, Any], Any]:
        spec = fitted(pick, sorted(self.ghost.specs), "spec-999999")
        data = {
            "spec": b'{"spec_id":"%s"}' % spec.encode(),
            "malformed": b"{spec_id",
            "empty": b"{}",
            "spec-not-string": b'{"spec_id":7}',
        }[body]
        path = "/api/v1/workspaces/ws1/promotions"
        return self.driver.http("POST", path, {"Content-Type": "application/json"}, data), None

    @transition(method=st.sampled_from(["GET", "POST"]))
    def http_status(self, method: str) -> tuple[dict[str, Any], Any]:
        return self.driver.http(method, "/api/ops/status", {}, b""), None

    # The console's inject called directly (not through its endpoint, which refuses these burns
    # before the call): the operation must refuse them itself and burn nothing.
    @transition(burn=st.sampled_from([0, 101, -30, True, 1.5, "30", None]))
    def fault_inject_chaos_burn(self, burn: Any) -> tuple[dict[str, Any], Any]:
        return self.driver.inject_chaos(burn), None
