"""Effects seen at the boundary: the tools log every real run into the ghost themselves, and
refusal_dispatched_nothing and every_dispatch_accounted hold every dispatch against that log."""

from __future__ import annotations

import pytest

from helmmodel.checker.driver import Driver
from helmmodel.checker.invariants import (
    View,
    every_dispatch_accounted,
    refusal_dispatched_nothing,
)
from helmmodel.errors import ExecutionRefused, InvariantViolation
from helmmodel.kernel import Decision, Effect, Intent, Kernel, KernelConfig
from helmmodel.kernel.tools import ToolTable
from helmmodel.mutants.boundary import SignsAfterDispatchExecutor, UnattestedToolErrorExecutor

OPEN = {"id": "r-open", "logic": "AND", "leaves": [], "children": []}


def world(**components: type) -> Driver:
    """A driver on a kernel (with *components* swapped in) with tools echo and fail, open rules."""
    factory = type("BoundaryKernel", (Kernel,), components) if components else Kernel
    driver = Driver.start(factory, KernelConfig())
    driver.register_tool("echo", {"type": "object"})
    driver.register_tool("fail", {"type": "object"}, behaviour="fail")
    driver.put_rule("echo", OPEN)
    driver.put_rule("fail", OPEN)
    return driver


def call_through(driver: Driver, tool: str, args: dict) -> None:
    """The four phases of one call, each a step, as a machine runs them."""
    driver.ghost.step += 1
    call, _ = driver.begin("alice", tool, args, {})
    driver.ghost.step += 1
    decision, _ = driver.decide(call)
    driver.ghost.step += 1
    intent, _ = driver.issue_intent(decision, call.effect)
    driver.ghost.step += 1
    driver.execute(decision, intent, call.effect)


def authorized_then_unsigned(driver: Driver, x: int) -> tuple[Decision, Intent, Effect]:
    """An echo call authorized (decision and intent), then the signer removed before *execute*."""
    call, _ = driver.begin("alice", "echo", {"x": x}, {})
    decision, _ = driver.decide(call)
    intent, _ = driver.issue_intent(decision, call.effect)
    driver.set_signing(False)
    return decision, intent, call.effect


def check(invariant, driver: Driver) -> str | None:
    """The violation message of *invariant* over *driver*'s history, or None."""
    try:
        invariant(View(driver.kernel, driver.ghost, {}))
    except InvariantViolation as violation:
        return str(violation)
    return None


def test_the_tool_table_calls_its_observer_on_every_real_run_only():
    """The observer sees each dispatch with its effect id, tool and args; a firewall check is no
    run."""
    seen = []
    table = ToolTable()
    table.register("echo", {"type": "object"})
    table.observe(lambda effect_id, tool, args: seen.append((effect_id, tool, args)))
    table.check("echo", {"x": 1})
    table.dispatch("eff-1", "echo", {"x": 1})
    table.dispatch("eff-2", "echo", {})
    assert [("eff-1", "echo", {"x": 1}), ("eff-2", "echo", {})] == seen


def test_the_ghost_logs_each_dispatch_at_its_step_with_a_copy_of_its_args():
    """A direct execution and a whole call each land in the dispatch log at their own step."""
    driver = world()
    call_through(driver, "echo", {"x": 1})
    driver.ghost.step += 1
    driver.whole_call("bob", "fail", {}, {})
    log = [(d.step, d.tool, d.args) for d in driver.ghost.dispatch_log]
    assert [(4, "echo", {"x": 1}), (5, "fail", {})] == log


def test_both_invariants_hold_for_honest_dispatches_and_refusals():
    """Successes, tool errors, a retry and a refusal: nothing to report."""
    driver = world()
    call_through(driver, "echo", {"x": 1})
    call_through(driver, "fail", {})
    driver.ghost.step += 1
    decision, intent, effect = authorized_then_unsigned(driver, 2)
    driver.ghost.step += 1
    _, refused = driver.execute(decision, intent, effect)
    assert {"execution_refused": "SIGNER_UNAVAILABLE"} == refused
    assert (None, None) == (
        check(refusal_dispatched_nothing, driver),
        check(every_dispatch_accounted, driver),
    )


def test_refusal_dispatched_nothing_fires_for_a_tool_run_before_a_refusal():
    """The executor that checks the signer after the dispatch is caught at the refused step."""
    driver = world(executor_class=SignsAfterDispatchExecutor)
    driver.ghost.step += 1
    decision, intent, effect = authorized_then_unsigned(driver, 1)
    driver.ghost.step += 1
    _, outcome = driver.execute(decision, intent, effect)
    assert {"execution_refused": "SIGNER_UNAVAILABLE"} == outcome
    expected = (
        "refusal_dispatched_nothing violated at step 2: "
        "an execution refused SIGNER_UNAVAILABLE ran 1 tool(s)"
    )
    assert expected == check(refusal_dispatched_nothing, driver)


def test_every_dispatch_accounted_fires_for_a_refusal_after_a_run_the_driver_never_saw():
    """A refusal after the tool ran leaves no receipt: the run is unaccounted for, even when no
    record of the execution reached the checker (the kernel called directly)."""
    driver = world(executor_class=SignsAfterDispatchExecutor)
    decision, intent, effect = authorized_then_unsigned(driver, 1)
    with pytest.raises(ExecutionRefused):
        driver.kernel.execute(decision, intent, effect)
    expected = (
        "every_dispatch_accounted violated at step 0: the tools ran eff-000001 1 time(s); "
        "it has 0 receipt(s)"
    )
    assert (None, expected) == (
        check(refusal_dispatched_nothing, driver),
        check(every_dispatch_accounted, driver),
    )


def test_every_dispatch_accounted_fires_for_a_receipt_without_its_effect_node():
    """A tool error receipted without an EFFECT node is caught."""
    driver = world(executor_class=UnattestedToolErrorExecutor)
    call_through(driver, "fail", {})
    message = check(every_dispatch_accounted, driver)
    assert message is not None and message.endswith("1 receipt(s), 0 EFFECT node(s)")


def test_every_dispatch_accounted_fires_for_a_run_logged_without_a_receipt():
    """A run logged by the tools with no receipt at all (the kernel's records untouched)."""
    driver = world()
    driver.ghost.step = 7
    driver.ghost.record_dispatch("eff-ghost", "echo", {})
    expected = (
        "every_dispatch_accounted violated at step 7: the tools ran eff-ghost 1 time(s); "
        "it has 0 receipt(s)"
    )
    assert expected == check(every_dispatch_accounted, driver)
