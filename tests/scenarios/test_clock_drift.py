"""Chaos scenario 3 (spec section 10): the executor's clock drifts two hours from the Guardian's.

Method: issue a valid intent on the Guardian's clock, move the executor's clock two hours back or
ahead, and check the refusal code, that its message says "expired" as the chaos page expects, and
that nothing was dispatched.
"""

from __future__ import annotations

import pytest

from helmmodel.errors import ExecutionRefused
from helmmodel.kernel import Decision, Effect, Intent, Kernel
from tests.conftest import echo, make_kernel

TWO_HOURS_MS = 2 * 60 * 60 * 1000
GUARDIAN_MS = 1_700_000_000_000


def authorized(kernel: Kernel) -> tuple[Decision, Intent, Effect]:
    """A decision and a valid intent for an echo, issued on the Guardian's clock."""
    pending = kernel.begin(echo())
    decision = kernel.decide(pending)
    return decision, kernel.issue_intent(decision, pending.effect), pending.effect


@pytest.fixture
def drifting() -> Kernel:
    """A kernel whose Guardian and executor clocks both start at GUARDIAN_MS."""
    return make_kernel(guardian_start_ms=GUARDIAN_MS, executor_start_ms=GUARDIAN_MS)


@pytest.mark.parametrize(
    ("shift_ms", "code"),
    [(-TWO_HOURS_MS, "INTENT_NOT_YET_VALID"), (TWO_HOURS_MS, "INTENT_EXPIRED")],
    ids=["behind", "ahead"],
)
def test_drifted_executor_refuses_with_expired(drifting: Kernel, shift_ms: int, code: str) -> None:
    """An executor two hours off refuses the valid intent, says 'expired', dispatches nothing."""
    decision, intent, effect = authorized(drifting)
    drifting.set_executor_time(GUARDIAN_MS + shift_ms)
    before = len(drifting.graph.order)
    with pytest.raises(ExecutionRefused) as refused:
        drifting.execute(decision, intent, effect)
    assert code == refused.value.code
    assert "expired" in str(refused.value)
    assert [] == drifting.tools.dispatches
    assert {} == drifting.chains.chains
    node = drifting.graph.nodes[drifting.graph.order[-1]]
    assert (before + 1, "ATTESTATION", code) == (
        len(drifting.graph.order),
        node.kind,
        node.payload["code"],
    )


def test_executor_behind_through_a_whole_call() -> None:
    """Kernel.call with the executor two hours behind ends refused at execution."""
    kernel = make_kernel(
        guardian_start_ms=GUARDIAN_MS, executor_start_ms=GUARDIAN_MS - TWO_HOURS_MS
    )
    outcome = kernel.call(echo())
    assert ("execution", "INTENT_NOT_YET_VALID") == (outcome.refusal_stage, outcome.refusal_code)
    assert outcome.receipt is None
    assert [] == kernel.tools.dispatches


def test_executor_ahead_through_a_whole_call() -> None:
    """Kernel.call with the executor two hours ahead ends refused INTENT_EXPIRED."""
    kernel = make_kernel(
        guardian_start_ms=GUARDIAN_MS, executor_start_ms=GUARDIAN_MS + TWO_HOURS_MS
    )
    outcome = kernel.call(echo())
    assert ("execution", "INTENT_EXPIRED") == (outcome.refusal_stage, outcome.refusal_code)
    assert [] == kernel.tools.dispatches


def test_the_same_intent_executes_once_the_clock_is_back(drifting: Kernel) -> None:
    """The refused intent executes after the executor's clock returns inside its window."""
    decision, intent, effect = authorized(drifting)
    drifting.set_executor_time(GUARDIAN_MS - TWO_HOURS_MS)
    with pytest.raises(ExecutionRefused):
        drifting.execute(decision, intent, effect)
    drifting.set_executor_time(GUARDIAN_MS)
    receipt = drifting.execute(decision, intent, effect)
    assert "SUCCESS" == receipt.status
    assert 1 == len(drifting.tools.dispatches)


def test_guardian_drift_moves_the_window(drifting: Kernel) -> None:
    """A Guardian clock two hours behind issues a window the executor sees as expired."""
    drifting.set_guardian_time(GUARDIAN_MS - TWO_HOURS_MS)
    decision, intent, effect = authorized(drifting)
    assert GUARDIAN_MS - TWO_HOURS_MS == intent.issued_at
    with pytest.raises(ExecutionRefused) as refused:
        drifting.execute(decision, intent, effect)
    assert "INTENT_EXPIRED" == refused.value.code
