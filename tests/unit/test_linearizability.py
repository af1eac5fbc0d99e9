"""The linearizability search on histories whose answer is known."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from helmmodel.concurrency.history import Operation, Recorder, Ref
from helmmodel.concurrency.linearizability import check
from helmmodel.concurrency.programs import RULES, model_factory, setup
from helmmodel.harness.kernels import kernel_factory
from helmmodel.kernel import Kernel, KernelConfig, Request

BUDGETS = {"b1": 1}


def request(x: int = 1) -> Request:
    return Request("alice", "echo", {"x": x}, {"budget_id": "b1", "session_id": "s1"})


def sequential(
    steps: list[tuple[str, tuple[Any, ...]]], factory: Callable[..., Kernel] = Kernel
) -> tuple[Kernel, list[Operation]]:
    """Run *steps* one after another from one thread; Refs name earlier steps by position."""
    kernel = setup(factory(KernelConfig()), BUDGETS)
    recorder = Recorder(kernel)
    results: dict[int, Any] = {}
    ids: list[int] = []
    for name, args in steps:
        resolved = tuple(Ref(ids[a.op]) if isinstance(a, Ref) else a for a in args)
        operation = recorder.run("t1", name, resolved, results)
        results[operation.id] = operation.value
        ids.append(operation.id)
    return kernel, recorder.history()


TWO_CALLS = [
    ("begin", (request(1),)),
    ("begin", (request(2),)),
    ("decide", (Ref(0),)),
    ("decide", (Ref(1),)),
]


def test_a_sequential_history_is_linearizable_in_its_own_order() -> None:
    kernel, history = sequential(TWO_CALLS)
    verdict = check(history, model_factory(BUDGETS), final=kernel)
    assert verdict.linearizable
    assert tuple(op.id for op in history) == verdict.order
    assert verdict.model_digest == kernel.state_digest()
    assert verdict.explored == len(history)


def test_a_second_allow_on_a_spent_budget_cannot_be_ordered() -> None:
    """A kernel that lets one request too many through: the model says DENY for the second."""
    kernel, history = sequential(TWO_CALLS, kernel_factory("budgets-limit-off-by-one"))
    verdict = check(history, model_factory(BUDGETS), final=kernel)
    assert not verdict.linearizable and not verdict.undecided
    assert 3 == verdict.placed
    [misfit] = verdict.stuck
    assert "decide" == misfit.operation.name
    assert misfit.model_answer is not None
    assert "BUDGET_EXCEEDED" in misfit.model_answer[2].decode()
    assert "NOT linearizable: 3 of 4 operations ordered" in verdict.lines()[0]
    # Backing up is lazy: unwinding the three dead frames tries nothing new, so restores nothing.
    assert 0 == verdict.restores


def retimed(operation: Operation, invoked: int, returned: int) -> Operation:
    return attrs.evolve(operation, invoked=invoked, returned=returned)


def test_overlapping_operations_may_be_ordered_either_way() -> None:
    """Two begins that overlap, listed with the second invoked first: the ids order them."""
    kernel, history = sequential(TWO_CALLS[:2])
    first, second = history
    overlapping = [retimed(second, 1, 4), retimed(first, 2, 3)]
    verdict = check(overlapping, model_factory(BUDGETS), final=kernel)
    assert verdict.linearizable
    assert (first.id, second.id) == verdict.order


def test_real_time_order_is_respected() -> None:
    """The begin that got call-000002 returned before the other was invoked: impossible."""
    kernel, history = sequential(TWO_CALLS[:2])
    first, second = history
    swapped = [retimed(second, 1, 2), retimed(first, 3, 4)]
    verdict = check(swapped, model_factory(BUDGETS), final=kernel)
    assert not verdict.linearizable
    assert 0 == verdict.placed
    assert {"its call id is not the next one"} == {m.note for m in verdict.stuck}


def test_a_final_state_no_order_explains_is_refuted() -> None:
    """Every answer fits, but the kernel changed something the history does not show."""
    kernel, history = sequential(TWO_CALLS)
    kernel.set_budget_limit("b1", 5)  # not in the history
    verdict = check(history, model_factory(BUDGETS), final=kernel)
    assert not verdict.linearizable
    assert "budgets" == verdict.final_state
    assert "no such order leaves the model in the final state" in verdict.lines()[0]
    # Without the final state, the answers alone are linearizable.
    assert check(history, model_factory(BUDGETS)).linearizable


def test_the_search_gives_up_and_says_so() -> None:
    kernel, history = sequential(TWO_CALLS)
    verdict = check(history, model_factory(BUDGETS), final=kernel, seconds_max=0.0)
    assert verdict.undecided and not verdict.linearizable
    assert verdict.lines()[0].startswith("UNDECIDED")


def test_backing_up_restores_the_model() -> None:
    """A limit change that landed first, overlapping the call it starves: mutations are tried
    last, so the begin runs first and answers ALLOW where the thread saw DENY; the search must
    restore the model (a copy, replayed) and try the limit change before it."""
    steps = [
        ("set_budget_limit", ("b1", 0)),
        ("begin", (request(1),)),
        ("decide", (Ref(1),)),
    ]
    kernel, history = sequential(steps)
    limit, begin, decide = history
    mixed = [retimed(limit, 1, 8), retimed(begin, 2, 3), retimed(decide, 4, 5)]
    verdict = check(mixed, model_factory(BUDGETS), final=kernel, checkpoint_every=1)
    assert verdict.linearizable
    assert (limit.id, begin.id, decide.id) == verdict.order
    assert 1 == verdict.restores


def test_the_search_gives_up_past_its_exploration_limit() -> None:
    """A limit of one configuration (four operations, slack -3): undecided at the second."""
    kernel, history = sequential(TWO_CALLS, kernel_factory("budgets-limit-off-by-one"))
    verdict = check(history, model_factory(BUDGETS), final=kernel, explore_slack=-3)
    assert verdict.undecided and not verdict.linearizable
    assert (2, 2) == (verdict.explored, verdict.placed)
    assert verdict.lines()[0].startswith("UNDECIDED: the search gave up after 2 configurations")
    assert verdict.lines()[0].endswith("it had ordered at most 2 of 4 operations")


def test_a_configuration_reached_twice_is_explored_once() -> None:
    """Two overlapping limit changes to the same value reach one state in either order: the
    second order's last placement is the configuration the first reached, so it is skipped."""
    kernel, history = sequential([("set_budget_limit", ("b1", 2))] * 2)
    first, second = history
    overlapping = [retimed(first, 1, 4), attrs.evolve(retimed(second, 2, 3), thread="t2")]
    kernel.set_budget_limit("b1", 5)  # not in the history: no order can end in this state
    verdict = check(overlapping, model_factory(BUDGETS), final=kernel)
    assert not verdict.linearizable and not verdict.undecided
    assert "budgets" == verdict.final_state
    # first, (first, second), second; then (second, first) is the configuration seen already.
    assert 3 == verdict.explored


def deep_then_shallow() -> tuple[Kernel, list[Operation]]:
    """Two calls through a budget of one on a kernel that allows both, and a policy mutation
    that overlaps them all (it changes the state, so the search must try it at every point;
    a limit change to the limit the budget has already would change nothing, and such a read
    never makes the search branch): every order stops at the second decide, four operations
    deep, and the search then backs up and tries the mutation earlier."""
    steps = [*TWO_CALLS, ("put_rule", ("echo", RULES["x-le-1"]))]
    kernel, history = sequential(steps, kernel_factory("budgets-limit-off-by-one"))
    *calls, mutation = history
    return kernel, [retimed(mutation, 0, 100), *calls]


def test_the_deepest_dead_end_is_the_one_reported() -> None:
    kernel, history = deep_then_shallow()
    verdict = check(history, model_factory(BUDGETS), final=kernel)
    assert not verdict.linearizable and not verdict.undecided
    assert 4 == verdict.placed
    [misfit] = verdict.stuck
    assert misfit.operation == history[-1]  # the second decide
    assert "NOT linearizable: 4 of 5 operations ordered" in verdict.lines()[0]
    assert 4 == verdict.restores  # where the mutation is tried: not once per frame too (8)


def test_giving_up_reports_the_deepest_prefix_not_the_current_one() -> None:
    """The limit is passed on the fifth placement, on a path shorter than the deepest."""
    kernel, history = deep_then_shallow()
    verdict = check(history, model_factory(BUDGETS), final=kernel, explore_slack=-1)
    assert verdict.undecided
    assert (5, 4) == (verdict.explored, verdict.placed)
    assert verdict.lines()[0].endswith("it had ordered at most 4 of 5 operations")


def test_a_read_that_fits_is_placed_without_branching() -> None:
    """Six intents issued for one decision overlap a second decide that a correct kernel would
    deny: issuing an intent changes no state, so the search places each where it first fits and
    never tries it elsewhere; otherwise refuting the history means trying the intents in every
    subset before the second decide (some 2**6 configurations)."""
    intents = [("issue_intent", (Ref(0), Ref(2)))] * 6
    kernel, history = sequential(
        [*TWO_CALLS[:3], *intents, TWO_CALLS[3]], kernel_factory("budgets-limit-off-by-one")
    )
    *calls, second_decide = [op for op in history if op.name != "issue_intent"]
    issued = [op for op in history if op.name == "issue_intent"]
    overlapping = [
        *calls,
        *(
            attrs.evolve(retimed(op, 7 + n, 100 + n), thread=f"t{n + 2}")
            for n, op in enumerate(issued)
        ),
        retimed(second_decide, 20, 21),
    ]
    verdict = check(overlapping, model_factory(BUDGETS), final=kernel)
    assert not verdict.linearizable and not verdict.undecided
    [misfit] = verdict.stuck
    assert second_decide.id == misfit.operation.id
    assert verdict.explored <= len(history)


def test_a_mutation_that_changes_nothing_here_still_branches() -> None:
    """A freeze that landed last, overlapping a freeze and a thaw: placed after the first
    freeze it changes nothing there, but the order that fits puts it after the thaw, where it
    does; so it is not a read that closes its frame (taken for one, it refuted this correct
    kernel's history, from a generated program)."""
    steps = [
        ("begin", (request(1),)),
        ("decide", (Ref(0),)),
        ("set_frozen", (True,)),
        ("set_frozen", (False,)),
        ("set_budget_limit", ("b1", 0)),
        ("set_frozen", (True,)),
    ]
    kernel, history = sequential(steps)
    *earlier, late_freeze = history
    thaw = earlier[3]
    overlapping = [*earlier, attrs.evolve(retimed(late_freeze, 0, 100), thread="t2")]
    verdict = check(overlapping, model_factory(BUDGETS), final=kernel)
    assert verdict.linearizable, verdict.lines()
    assert verdict.order.index(thaw.id) < verdict.order.index(late_freeze.id)
