"""Chaos scenario 2 (spec section 10): a Guardian with no signer must fail closed.

Method: remove signing from a kernel that has already consumed some budget, run calls through
the phases and through ``Kernel.call``, and check that none is ever allowed, no intent is issued,
every budget stays as it was and an unsigned ATTESTATION records each failure.
"""

from __future__ import annotations

import pytest

from helmmodel.concurrency.programs import graph_problems
from helmmodel.errors import IntentRefused, SignerUnavailable
from helmmodel.kernel import ALLOW, Kernel, Node, Request
from tests.conftest import echo


def budgets_of(kernel: Kernel) -> dict[str, tuple[int, int]]:
    """Every budget's ``(limit, consumed)``."""
    state = {}
    for budget_id in kernel.budgets.ids():
        budget = kernel.budgets.get(budget_id)
        assert budget is not None
        state[budget_id] = (budget.limit, budget.consumed)
    return state


def nodes_of(kernel: Kernel, call_id: str) -> list[Node]:
    """The nodes whose payload names *call_id*, in append order."""
    nodes = (kernel.graph.nodes[key] for key in kernel.graph.order)
    return [node for node in nodes if node.payload["call_id"] == call_id]


def test_decide_without_signer_raises_signer_unavailable(kernel: Kernel) -> None:
    """A call that would be allowed raises SignerUnavailable at decide, with no decision."""
    kernel.call(echo(1, budget_id="b1"))
    before = budgets_of(kernel)
    pending = kernel.begin(echo(2, budget_id="b1"))
    assert ALLOW == pending.verdict
    kernel.remove_signing()
    with pytest.raises(SignerUnavailable) as raised:
        kernel.decide(pending)
    assert "SIGNER_UNAVAILABLE" == raised.value.code
    assert pending.decision is None
    assert before == budgets_of(kernel)
    assert (10, 1) == budgets_of(kernel)["b1"]


def test_outage_records_an_unsigned_attestation(kernel: Kernel) -> None:
    """The fail-closed call ends in an unsigned ATTESTATION with reason SIGNER_UNAVAILABLE."""
    kernel.remove_signing()
    outcome = kernel.call(echo(budget_id="b1"))
    nodes = nodes_of(kernel, outcome.call_id)
    assert ["INTENT", "ATTESTATION"] == [node.kind for node in nodes]
    assert "" == nodes[1].sig
    assert "SIGNER_UNAVAILABLE" == nodes[1].payload["reason_code"]
    assert "verdict" not in nodes[1].payload


def test_call_without_signer_is_never_allowed(kernel: Kernel) -> None:
    """Through Kernel.call: fail closed, no decision, no intent, no receipt, no dispatch."""
    kernel.create_budget("b2", 2)
    kernel.call(echo(1, budget_id="b2"))
    before = budgets_of(kernel)
    kernel.remove_signing()
    requests = [
        echo(2, budget_id="b1"),
        echo(3, budget_id="b2"),
        Request("alice", "sum", {"a": 1}),
        Request("alice", "approve", {}),
        Request("alice", "nope", {}),
    ]
    for request in requests:
        outcome = kernel.call(request)
        assert (True, None, None, None) == (
            outcome.fail_closed,
            outcome.decision,
            outcome.intent,
            outcome.receipt,
        )
    assert before == budgets_of(kernel)
    assert 1 == len(kernel.tools.dispatches)
    verdicts = [kernel.graph.nodes[key].payload.get("verdict") for key in kernel.graph.order]
    assert 1 == verdicts.count(ALLOW)


def test_outage_issues_no_intent_for_an_earlier_allow(kernel: Kernel) -> None:
    """An ALLOW decided before the outage gets no intent during it: SIGNER_UNAVAILABLE."""
    pending = kernel.begin(echo())
    decision = kernel.decide(pending)
    kernel.remove_signing()
    with pytest.raises(IntentRefused) as refused:
        kernel.issue_intent(decision, pending.effect)
    assert "SIGNER_UNAVAILABLE" == refused.value.code
    assert [] == kernel.tools.dispatches


def test_revoking_the_only_key_is_an_outage(kernel: Kernel) -> None:
    """Revoking the last signing key makes the signer unavailable: the call fails closed."""
    kernel.revoke_key("key-0001")
    outcome = kernel.call(echo(budget_id="b1"))
    assert outcome.fail_closed
    assert (10, 0) == budgets_of(kernel)["b1"]


def test_restoring_signing_ends_the_outage(kernel: Kernel) -> None:
    """After restore_signing calls are decided, signed and executed again."""
    kernel.remove_signing()
    assert kernel.call(echo(1)).fail_closed
    kernel.restore_signing()
    outcome = kernel.call(echo(2, budget_id="b1"))
    assert outcome.receipt is not None
    assert "SUCCESS" == outcome.receipt.status
    assert (10, 1) == budgets_of(kernel)["b1"]
    assert [] == graph_problems(kernel)
