"""The kernel's state digests are pinned: a speed-up must not change a single one.

Saved traces record the state digest after every step, and a replay that finds other digests
reports drift. So a change to how the kernel encodes, hashes or keeps its digest material (the
hot paths that benchmarks push on) must leave every digest as it was, unless the change is meant
to: then update ``PINNED`` in the same commit and say in CHANGELOG.md that saved traces drift.

The workload mixes what a governed call can meet: allowed and denied calls, schema violations,
rules under AND, OR and NOT (and a leaf added and removed), clock shifts on both clocks, a budget
spent and its limit raised, key rotation and revocation, a signer outage, a freeze, HTTP requests
and error-budget injections, over several sessions.
"""

from __future__ import annotations

import hashlib
import json

from helmmodel.kernel import Kernel, Request

PINNED = "89835c2becd98dbff63cb8cf941c0342c92c79f08259e2792b0c4324c25a5dc6"
STEPS = 600
ADMIN = "admin-token-0123456789"


def workload() -> list[str]:
    """The state digest after each of STEPS deterministic steps."""
    kernel = Kernel()
    kernel.register_tool(
        "echo",
        {"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False},
    )
    kernel.register_tool("pick", {"type": "object"})
    kernel.create_budget("b1", 5)
    kernel.add_token(ADMIN, "ops", frozenset({"admin"}))
    digests = []
    for i in range(STEPS):
        if i % 97 == 0:
            logic = ("AND", "OR", "NOT")[i // 97 % 3]
            kernel.put_rule(
                "echo",
                {
                    "id": "root",
                    "logic": logic,
                    "leaves": [
                        {"id": "cap", "predicate": ["le", "args.x", i]},
                        {"id": "session", "predicate": ["has", "context.session_id"]},
                    ],
                },
            )
            kernel.put_rule(
                "pick",
                {"id": "r", "leaves": [{"id": "k", "predicate": ["in", "args.k", ["a", 1]]}]},
            )
        elif i % 97 == 50:
            kernel.add_leaf("echo", "root", "even", ["eq", "args.x", 2])
        elif i % 97 == 70:
            kernel.remove_leaf("echo", "root", "even")
        elif i % 131 == 0:
            kernel.set_guardian_time(i * 1000)
        elif i % 137 == 0:
            kernel.set_executor_time(i * 1100)
        elif i % 149 == 0:
            kernel.revoke_key(kernel.rotate_key())
        elif i % 151 == 0:
            kernel.rotate_key()
        elif i % 163 == 0:
            kernel.remove_signing()
        elif i % 163 == 3:
            kernel.restore_signing()
        elif i % 181 == 0:
            kernel.set_frozen(True)
        elif i % 181 == 2:
            kernel.set_frozen(False)
        elif i % 211 == 0:
            kernel.set_budget_limit("b1", 5 + i // 100)
        elif i % 29 == 0:
            body = json.dumps({"burn": i % 4}).encode()
            headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
            kernel.handle("POST", "/api/ops/chaos/inject", headers, body)
        elif i % 4 == 0:
            context = {"session_id": f"s{i % 5}"}
            if i % 8 == 0:
                context["budget_id"] = "b1"
            args = {"x": i} if i % 3 else {"x": "not a number"}
            kernel.call(Request(f"p{i % 3}", "echo", args, context))
        else:
            kernel.call(Request("q", "pick", {"k": ["a", "c", 1, None][i % 4]}, {}))
        digests.append(kernel.state_digest())
    return digests


def test_state_digests_are_the_pinned_ones() -> None:
    digests = workload()
    assert len(set(digests)) > STEPS // 2, "the workload must change the state most steps"
    assert PINNED == hashlib.sha256("".join(digests).encode()).hexdigest()
