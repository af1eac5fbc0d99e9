"""Concurrent programs: a sequential prefix, then branches that run on real threads at once.

A program is data (commands), so Hypothesis can generate and shrink it: fewer branches, fewer
commands, smaller values. :func:`run_program` runs one on a fresh kernel and records the history;
:func:`check_run` decides whether that history is linearizable with respect to the sequential
model and checks the spec's invariants on the final state.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from helmmodel.checker.encoding import node_hash, receipt_link
from helmmodel.concurrency.history import Operation, Recorder, Ref, failed
from helmmodel.concurrency.linearizability import Verdict, check
from helmmodel.kernel import ALLOW, Decision, Kernel, KernelConfig, KernelFactory, Receipt, Request

# The switch interval during a run: tiny, so that threads change often, inside phases too.
SWITCH_INTERVAL = 1e-6

ECHO_SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}}
RULES: dict[str, dict[str, Any]] = {
    "always": {"id": "root", "logic": "AND", "leaves": []},
    "x-le-1": {
        "id": "root",
        "logic": "AND",
        "leaves": [{"id": "x", "predicate": ["le", "args.x", 1]}],
    },
    "x-le-1000": {
        "id": "root",
        "logic": "AND",
        "leaves": [{"id": "x", "predicate": ["le", "args.x", 1000]}],
    },
}
FIRST_KEY = "key-0001"


@attrs.frozen
class Call:
    """A whole governed call, phase by phase; *retries* more executions after the first."""

    principal: str = "alice"
    x: int = 1
    budget: str | None = "b1"
    session: str | None = "s1"
    retries: int = 0


@attrs.frozen
class SetLimit:
    budget: str
    limit: int


@attrs.frozen
class PutRule:
    tool: str
    rule: str  # a name in RULES


@attrs.frozen
class RemoveRule:
    tool: str


@attrs.frozen
class RotateKey:
    pass


@attrs.frozen
class RevokeKey:
    key_id: str


@attrs.frozen
class SetSigning:
    available: bool


@attrs.frozen
class SetFrozen:
    frozen: bool


Command = Call | SetLimit | PutRule | RemoveRule | RotateKey | RevokeKey | SetSigning | SetFrozen


@attrs.frozen
class Program:
    """Budget ``b1`` of *limit* requests; *prefix* runs first, then every branch at once."""

    limit: int
    prefix: tuple[Command, ...]
    branches: tuple[tuple[Command, ...], ...]

    def size(self) -> int:
        return len(self.prefix) + sum(len(branch) for branch in self.branches)


def setup(kernel: Kernel, budgets: dict[str, int]) -> Kernel:
    """The state every program starts from: tool ``echo`` with an always-true rule, *budgets*."""
    kernel.register_tool("echo", ECHO_SCHEMA)
    kernel.put_rule("echo", RULES["always"])
    for budget_id, limit in budgets.items():
        kernel.create_budget(budget_id, limit)
    return kernel


def model_factory(budgets: dict[str, int]) -> Callable[[], Kernel]:
    """Fresh correct kernels in the state a run starts from: the sequential model."""
    return lambda: setup(Kernel(KernelConfig()), budgets)


@contextmanager
def fast_switching() -> Iterator[None]:
    """Make threads switch as often as the interpreter allows; restore the interval after."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def perform(recorder: Recorder, thread: str, command: Command, results: dict[int, Any]) -> None:
    """Run *command* from the calling thread, one recorded operation per kernel operation."""

    def run(name: str, *args: Any) -> Operation:
        operation = recorder.run(thread, name, args, results)
        results[operation.id] = operation.value
        return operation

    if isinstance(command, Call):
        context: dict[str, Any] = {}
        if command.budget is not None:
            context["budget_id"] = command.budget
        if command.session is not None:
            context["session_id"] = command.session
        request = Request(command.principal, "echo", {"x": command.x}, context)
        begun = run("begin", request)
        decided = run("decide", Ref(begun.id))
        if failed(decided) or decided.value.verdict != ALLOW:
            return
        intended = run("issue_intent", Ref(begun.id), Ref(decided.id))
        if failed(intended):
            return
        for _ in range(1 + command.retries):
            run("execute", Ref(begun.id), Ref(decided.id), Ref(intended.id))
    elif isinstance(command, SetLimit):
        run("set_budget_limit", command.budget, command.limit)
    elif isinstance(command, PutRule):
        run("put_rule", command.tool, RULES[command.rule])
    elif isinstance(command, RemoveRule):
        run("remove_rule", command.tool)
    elif isinstance(command, RotateKey):
        run("rotate_key")
    elif isinstance(command, RevokeKey):
        run("revoke_key", command.key_id)
    elif isinstance(command, SetSigning):
        run("set_signing", command.available)
    else:
        run("set_frozen", command.frozen)


@attrs.define
class Run:
    """One run of a program: the kernel after it and the history it made."""

    kernel: Kernel
    history: list[Operation]
    model: Callable[[], Kernel]


def run_program(factory: KernelFactory, program: Program) -> Run:
    """Run *program* on a fresh kernel from *factory*: the prefix, then each branch on a thread."""
    budgets = {"b1": program.limit}
    kernel = setup(factory(KernelConfig()), budgets)
    recorder = Recorder(kernel)
    prefix_results: dict[int, Any] = {}
    for command in program.prefix:
        perform(recorder, "prefix", command, prefix_results)
    start = threading.Barrier(len(program.branches))
    errors: list[BaseException] = []

    def branch(index: int, commands: Sequence[Command]) -> None:
        results = dict(prefix_results)
        try:
            start.wait(timeout=60)
            for command in commands:
                perform(recorder, f"t{index}", command, results)
        except BaseException as error:  # re-raised below, in the caller's thread
            errors.append(error)

    threads = [
        threading.Thread(target=branch, args=(index, commands), name=f"helmmodel-t{index}")
        for index, commands in enumerate(program.branches, start=1)
    ]
    with fast_switching():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return Run(kernel, recorder.history(), model_factory(budgets))


@attrs.frozen
class Checked:
    """What checking one run found."""

    verdict: Verdict
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [*self.verdict.lines(), *(f"  - {problem}" for problem in self.problems)]


def check_run(run: Run) -> Checked:
    """Linearizability, then the spec's invariants on the final state."""
    verdict = check(run.history, run.model, final=run.kernel)
    problems = []
    if verdict.undecided:
        problems.append("linearizability undecided: the search gave up")
    elif not verdict.linearizable:
        problems.append("the history is not linearizable")
    problems.extend(final_state_problems(run.kernel, run.history))
    return Checked(verdict, tuple(problems))


def final_state_problems(kernel: Kernel, history: Sequence[Operation]) -> list[str]:
    """The spec's invariants that the final state and the history can show, in the checker's
    own terms: chains and ProofGraph intact, at most one dispatch and one receipt per decision,
    each budget charged exactly its ALLOW decisions."""
    problems = chain_problems(kernel)
    problems.extend(f"ProofGraph: {problem}" for problem in graph_problems(kernel))
    dispatched = Counter(effect_id for effect_id, _ in kernel.tools.dispatches)
    problems.extend(
        f"effect {effect_id} dispatched {times} times"
        for effect_id, times in sorted(dispatched.items())
        if times > 1
    )
    receipts: dict[str, set[str]] = {}
    for operation in history:
        if isinstance(operation.value, Receipt):
            receipt = operation.value
            receipts.setdefault(receipt.decision_id, set()).add(receipt.signature)
    problems.extend(
        f"decision {decision_id} has {len(signatures)} different receipts"
        for decision_id, signatures in sorted(receipts.items())
        if len(signatures) > 1
    )
    allowed = Counter(
        operation.value.budget_id
        for operation in history
        if isinstance(operation.value, Decision)
        and operation.value.verdict == ALLOW
        and operation.value.budget_id
    )
    for budget_id in kernel.budgets.ids():
        budget = kernel.budgets.get(budget_id)
        assert budget is not None
        if budget.consumed != allowed[budget_id]:
            problems.append(
                f"budget {budget_id} consumed {budget.consumed}, but {allowed[budget_id]} "
                "ALLOW decisions were charged to it"
            )
    return problems


@attrs.frozen
class Failure:
    """A program whose run failed the check, and what the check said."""

    program: Program
    run: Run
    checked: Checked
    attempt: int

    def text(self) -> str:
        lines = [f"run {self.attempt} of the program failed the check:", *self.checked.lines()]
        lines.append("history:")
        lines.extend(
            f"  {op.label()} -> {op.answer[0]} {op.answer[1]!r}" for op in self.run.history
        )
        return "\n".join(lines)


def chain_problems(kernel: Kernel) -> list[str]:
    """Section 7's receipt chains, walked with the checker's own link: lamports 1..n, each
    ``prev_hash`` the link of its predecessor."""
    problems = []
    for session, chain in kernel.chains.chains.items():
        link = ""
        for position, receipt in enumerate(chain, start=1):
            if receipt.lamport_clock != position or receipt.prev_hash != link:
                problems.append(
                    f"receipt chain {session}: {receipt.receipt_id} at position {position} has "
                    f"lamport {receipt.lamport_clock} and does not link to its predecessor"
                )
                break
            link = receipt_link(receipt)
    return problems


def graph_problems(kernel: Kernel) -> list[str]:
    """Section 7's ProofGraph, walked with the checker's own node hash (the kernel is never
    asked to judge itself): nodes hash to their address, parents exist, lamports rise along
    every edge, and the heads are exactly the childless nodes."""
    graph, problems, with_children = kernel.graph, [], set()
    for key, node in graph.nodes.items():
        if node.hash != key or node_hash(node) != key:
            problems.append(f"node {key[:12]} does not hash to its address")
        for parent in node.parents:
            if parent not in graph.nodes:
                problems.append(f"node {key[:12]} names a missing parent {parent[:12]}")
            elif graph.nodes[parent].lamport >= node.lamport:
                problems.append(f"lamport does not increase from {parent[:12]} to {key[:12]}")
            with_children.add(parent)
    if set(graph.heads) != set(graph.nodes) - with_children:
        problems.append("the heads are not exactly the nodes without children")
    return problems


def check_program(factory: KernelFactory, program: Program, runs: int) -> Failure | None:
    """Run *program* up to *runs* times (schedules vary); the first failing run, or None."""
    for attempt in range(1, runs + 1):
        run = run_program(factory, program)
        checked = check_run(run)
        if not checked.ok:
            return Failure(program, run, checked, attempt)
    return None


class ProgramFailed(AssertionError):
    """A generated program failed the check (raised inside the Hypothesis property)."""


def search(
    factory: KernelFactory,
    *,
    runs: int = 5,
    max_examples: int = 100,
    seed: int | None = None,
    derandomize: bool | None = None,
) -> Failure | None:
    """Generate programs, run each *runs* times on kernels from *factory*, and check them.

    The programs are the same every run when *seed* is given, or when *derandomize* is true
    (None: as the loaded Hypothesis profile says, so the ``ci`` profile derandomizes).

    Returns the smallest failing program's failure after Hypothesis has shrunk it (fewer
    branches, fewer commands, smaller values), or None when every program passed. A thread
    schedule is not an input Hypothesis controls, so a shrunk candidate that passes its runs
    is simply not smaller: each candidate is run *runs* times to make that rare, and the
    smallest failure seen is kept whatever Hypothesis concludes (it may call the test flaky).
    """
    best: list[Failure] = []  # the smallest failure so far, if any

    def size(failure: Failure) -> tuple[int, int]:
        return failure.program.size(), len(failure.run.history)

    if derandomize is None:
        derandomize = settings().derandomize  # the loaded profile's
    derandomize = derandomize and seed is None  # a seed says which programs already

    @settings(
        max_examples=max_examples,
        derandomize=derandomize,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(programs())
    def concurrent_programs_are_linearizable(program: Program) -> None:
        failure = check_program(factory, program, runs)
        if failure is not None:
            if not best or size(failure) < size(best[0]):
                best[:] = [failure]
            raise ProgramFailed(failure.text())

    if seed is not None:
        concurrent_programs_are_linearizable = hypothesis_seed(seed)(
            concurrent_programs_are_linearizable
        )
    try:
        concurrent_programs_are_linearizable()
    except (ProgramFailed, Flaky):
        if not best:
            raise
    except BaseExceptionGroup as group:
        _, other = group.split((ProgramFailed, Flaky))
        if other is not None or not best:
            raise  # something else broke too: never hidden behind a failure found
    return best[0] if best else None


def _calls() -> st.SearchStrategy[Call]:
    return st.builds(
        Call,
        principal=st.sampled_from(["alice", "bob"]),
        x=st.integers(0, 2),
        budget=st.sampled_from(["b1", None]),
        session=st.sampled_from(["s1", "s2", None]),
        retries=st.integers(0, 1),
    )


def commands() -> st.SearchStrategy[Command]:
    """One command; calls come first, so failing programs shrink towards plain calls."""
    return st.one_of(
        _calls(),
        st.builds(SetLimit, st.just("b1"), st.integers(0, 3)),
        st.builds(PutRule, st.just("echo"), st.sampled_from(sorted(RULES))),
        st.builds(RemoveRule, st.just("echo")),
        st.just(RotateKey()),
        st.builds(RevokeKey, st.sampled_from([FIRST_KEY, "key-0002"])),
        st.builds(SetSigning, st.booleans()),
        st.builds(SetFrozen, st.booleans()),
    )


def programs(max_branches: int = 4, max_commands: int = 4) -> st.SearchStrategy[Program]:
    """Programs of 2 to *max_branches* branches of 1 to *max_commands* commands each."""
    return st.builds(
        Program,
        limit=st.integers(0, 3),
        prefix=st.lists(commands(), max_size=2).map(tuple),
        branches=st.lists(
            st.lists(commands(), min_size=1, max_size=max_commands).map(tuple),
            min_size=2,
            max_size=max_branches,
        ).map(tuple),
    )
