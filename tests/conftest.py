"""Shared fixtures: a kernel set up with one tool of each behaviour and permissive rules."""

from __future__ import annotations

import pytest

from helmmodel.kernel import Kernel, KernelConfig, Request

ECHO_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}},
    "additionalProperties": False,
}
INTEGERS_SCHEMA = {"type": "object", "additionalProperties": {"type": "integer"}}
ALWAYS = {"id": "root", "logic": "AND", "leaves": []}


def make_kernel(**config: object) -> Kernel:
    """A kernel with tools echo, sum, fail (no approval) and approve (needs approval), each with
    an always-true rule, and a budget ``b1`` of 10 requests."""
    kernel = Kernel(KernelConfig(**config))  # type: ignore[arg-type]
    kernel.register_tool("echo", ECHO_SCHEMA)
    kernel.register_tool("sum", INTEGERS_SCHEMA, behaviour="sum")
    kernel.register_tool("fail", {"type": "object"}, behaviour="fail")
    kernel.register_tool("approve", {"type": "object"}, approval=True)
    for tool in ("echo", "sum", "fail", "approve"):
        kernel.put_rule(tool, ALWAYS)
    kernel.create_budget("b1", 10)
    return kernel


@pytest.fixture
def kernel() -> Kernel:
    """A fresh kernel from :func:`make_kernel`."""
    return make_kernel()


def echo(x: int = 1, principal: str = "alice", **context: object) -> Request:
    """A request to the echo tool."""
    return Request(principal, "echo", {"x": x}, dict(context))
