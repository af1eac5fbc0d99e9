"""Is a history linearizable with respect to the sequential kernel model?

A Wing and Gong search with memoization (the refinement of Lowe, as Knossos and Porcupine do it):
place, one at a time, an operation none of whose unplaced peers returned before it was invoked;
run it on the sequential model (the correct kernel, fed its own earlier results); keep it if the
model answers exactly what the thread saw, else try the next candidate; back up when none fits.
A configuration (the set placed, the model's state digest) reached twice is explored once.

Ids and lamports come from global counters, so answers are compared *with* them: they act as
ordering witnesses. Two begins that overlap can only be placed in the order their call ids say,
and the search checks that before running anything (:func:`_witness_allows`), which keeps it
near-linear on storms where a few dozen operations overlap at every moment.

The model cannot undo an operation, so the search backs up by restoring a deep copy and replaying
the rest (see :class:`_Model`). A search that explores far more configurations than the history
has operations gives up and says so (*undecided*): that happens only to histories that are not
linearizable, whose search must rule out every order.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from helmmodel.concurrency.history import (
    OPERATIONS,
    Answer,
    Operation,
    answer,
    describe,
    resolve,
)
from helmmodel.errors import HelmModelError, Refusal, SignerUnavailable
from helmmodel.kernel import Decision, Intent, Kernel, PendingCall, Receipt
from helmmodel.kernel.key_ring import SIGNATURE_TYPE_PREFIX

CHECKPOINT_EVERY = 16
# The search gives up (undecided) after exploring this many configurations more than the
# history has operations: a correct kernel's history needs about one per operation (the
# witnesses leave little to try), so only a failing history's search comes near the limit.
EXPLORE_SLACK = 2000
SECONDS_MAX = 60.0
SHOWN = 8  # misfits printed in a verdict


@attrs.frozen
class Misfit:
    """An operation that could not come next: what the thread saw, and what the model says."""

    operation: Operation
    model_answer: Answer | None  # None: ruled out before running it, for the reason in *note*
    note: str = ""

    def line(self) -> str:
        seen = describe(self.operation.answer)
        if self.model_answer is None:
            return f"{self.operation.label()}: saw {seen}, which cannot come next: {self.note}"
        return (
            f"{self.operation.label()}: saw {seen}; the model, placing it next, says "
            f"{describe(self.model_answer)}"
        )


@attrs.frozen
class Verdict:
    """The search's result."""

    linearizable: bool
    operations: int
    order: tuple[int, ...]  # a linearization (operation ids), when there is one
    placed: int  # the longest prefix the search could linearize
    stuck: tuple[Misfit, ...]  # at that point, the operations none of which can come next
    explored: int  # configurations visited
    restores: int  # times the model was restored from a checkpoint
    seconds: float
    model_digest: str  # the model's state digest after the linearization ("" without one)
    # When every answer fits some order but no order leaves the model in the final state of the
    # kernel under test: the components that differ after the deepest such order.
    final_state: str = ""
    undecided: bool = False  # the search gave up: neither proven nor refuted

    def lines(self) -> list[str]:
        """The verdict for a person."""
        if self.linearizable:
            return [
                f"linearizable: {self.operations} operations ordered "
                f"({self.explored} configurations, {self.seconds:.2f} s)"
            ]
        if self.undecided:
            return [
                f"UNDECIDED: the search gave up after {self.explored} configurations "
                f"({self.restores} restores, {self.seconds:.1f} s); it had ordered at most "
                f"{self.placed} of {self.operations} operations"
            ]
        if self.final_state:
            return [
                f"NOT linearizable: every answer fits an order of the {self.operations} "
                "operations, but no such order leaves the model in the final state of the kernel "
                f"under test (they differ in: {self.final_state})"
            ]
        head = (
            f"NOT linearizable: {self.placed} of {self.operations} operations ordered, then "
            f"none of these {len(self.stuck)} can come next"
        )
        # The telling misfits first: those the model answered differently, then the rest.
        ordered = sorted(self.stuck, key=lambda misfit: misfit.model_answer is None)
        lines = [head, *(f"  {misfit.line()}" for misfit in ordered[:SHOWN])]
        if len(ordered) > SHOWN:
            lines.append(f"  ... and {len(ordered) - SHOWN} more")
        return lines


def snapshot(kernel: Kernel, results: dict[int, Any]) -> tuple[Kernel, dict[int, Any]]:
    """A deep copy of *kernel* with the results that point into it (one copy, shared memo)."""
    memo: dict[int, Any] = {id(kernel.lock): threading.RLock()}
    return copy.deepcopy((kernel, results), memo)


class _Model:
    """The sequential model along the search's current path, able to back up.

    It cannot undo an operation, so it backs up by restoring a deep copy and replaying. Copies
    are made lazily: one of the start, then one wherever a restore had to replay more than
    ``checkpoint_every`` operations (backing up is local, so the next restore nearby is cheap).
    A search that never backs up, the usual case with the witnesses, copies nothing more.
    """

    def __init__(self, factory: Callable[[], Kernel], checkpoint_every: int) -> None:
        self.kernel = factory()
        self.results: dict[int, Any] = {}
        self.path: list[Operation] = []
        self.every = checkpoint_every
        self.checkpoints: list[tuple[int, tuple[Kernel, dict[int, Any]]]] = [
            (0, snapshot(self.kernel, self.results))
        ]
        self.restores = 0

    def place(self, operation: Operation) -> Answer:
        """Run *operation* next and return the model's answer."""
        arguments = resolve(operation.args, self.results)
        try:
            outcome: Any = OPERATIONS[operation.name](self.kernel, *arguments)
        except HelmModelError as error:
            outcome = error  # never kept: no later operation takes a failed one's result
        else:
            self.results[operation.id] = outcome
        self.path.append(operation)
        return answer(outcome)

    def back_to(self, depth: int) -> None:
        """Make the model what it was after the first *depth* operations of the path."""
        if depth == len(self.path):
            return
        while self.checkpoints[-1][0] > depth:
            self.checkpoints.pop()
        start, saved = self.checkpoints[-1]
        self.kernel, self.results = snapshot(*saved)
        replay = self.path[start:depth]
        del self.path[start:]
        self.restores += 1
        # A long replay leaves a copy a little before *depth*, where the next restore will be.
        # A copy costs more the bigger the state, so "long" grows with depth.
        mark = depth - 4 if len(replay) > self.every + depth // 16 else -1
        for operation in replay:
            self.place(operation)
            if len(self.path) == mark:
                self.checkpoints.append((mark, snapshot(self.kernel, self.results)))


def _signer(kernel: Kernel) -> str | None:
    try:
        return kernel.keys.signature_type()
    except SignerUnavailable:
        return None


def _witness_conflict(operation: Operation, kernel: Kernel) -> str:
    """Why *operation*'s answer cannot be what the model would say next, or ``""``.

    Each test reads an ordering witness the answer carries (an id from a counter, the policy
    epoch, the signing key, a receipt's lamport) against the model's state, so a candidate that
    cannot fit is skipped without running it (running it would cost a restore).
    """
    value: Any = operation.value
    name = operation.name
    if name == "begin" and isinstance(value, PendingCall):
        if _number(value.call_id) != kernel.ids.counts["call"] + 1:
            return "its call id is not the next one"
        if value.snapshot.epoch != kernel.policy.epoch:
            return (
                f"it saw policy epoch {value.snapshot.epoch}, the model is at {kernel.policy.epoch}"
            )
    elif isinstance(value, Decision | Intent | Receipt):
        if isinstance(value, Decision) and _number(value.id) != kernel.ids.counts["dec"] + 1:
            return "its decision id is not the next one"
        executed = kernel.executor.executed.get(getattr(value, "decision_id", ""))
        if isinstance(value, Receipt) and executed is not None:
            return "" if executed == value else "its decision has another receipt already"
        if value.signature_type != _signer(kernel):
            return f"it is signed {value.signature_type}, the model signs {_signer(kernel)}"
        if isinstance(value, Receipt):
            lamport = kernel.chains.next_link(value.session_id)[0]
            if value.lamport_clock != lamport:
                return f"its lamport is {value.lamport_clock}, the model's next is {lamport}"
    return ""


def _epoch_bound(operation: Operation, by_id: Mapping[int, Operation]) -> int | None:
    """The policy epoch *operation* must run at, judged from its answer (None: any)."""
    value: Any = operation.value
    if operation.name == "begin" and isinstance(value, PendingCall):
        return value.snapshot.epoch
    if operation.name == "issue_intent" and isinstance(value, Intent):
        decision: Decision = by_id[operation.args[1].op].value
        return decision.policy_epoch
    return None


def _signed_by(operation: Operation) -> str | None:
    """The signing key of what a decide or issue_intent returned (None: nothing signed)."""
    value: Any = operation.value
    if operation.name in ("decide", "issue_intent") and isinstance(value, Decision | Intent):
        return str(value.signature_type)
    return None


def _revokes(operation: Operation) -> str | None:
    """The signature type of the key a successful revocation revoked."""
    if operation.name == "revoke_key" and operation.answer[0] == "returned":
        return SIGNATURE_TYPE_PREFIX + str(operation.args[0])
    return None


def _mutates_policy(operation: Operation) -> bool:
    """A policy mutation that succeeded (and so bumped the epoch)."""
    return operation.name in ("put_rule", "remove_rule") and operation.answer[0] == "returned"


def _number(identifier: str) -> int:
    return int(identifier.rsplit("-", 1)[1])


def _node_key(kind: str, payload: Mapping[str, Any]) -> tuple[Any, ...]:
    """Which operation a ProofGraph node records, as :func:`_appends` names it."""
    if kind == "INTENT":
        return ("begin", payload["call_id"])
    if kind == "EFFECT":
        return ("effect", payload["decision_id"])
    if "stage" in payload:
        return (payload["stage"], payload["decision_id"], payload["code"])
    if payload.get("outcome") == "fail_closed":
        return ("fail_closed", payload["call_id"])
    return ("decision", payload.get("decision_id"))


def _appends(
    operation: Operation, by_id: Mapping[int, Operation], kernel: Kernel
) -> tuple[Any, ...] | None:
    """The ProofGraph node *operation* appends, judged from its answer; None if it appends none."""
    kind, value = operation.answer[0], operation.value
    if operation.name == "begin" and kind == "begun":
        return ("begin", value.call_id)
    if operation.name == "decide":
        if kind == "decision":
            return ("decision", value.id)
        if isinstance(value, SignerUnavailable):
            return ("fail_closed", by_id[operation.args[0].op].answer[1])
        return None
    if operation.name in ("issue_intent", "execute") and isinstance(value, Refusal):
        stage = "intent" if operation.name == "issue_intent" else "execution"
        decision = by_id[operation.args[1].op].value
        return (stage, decision.id, value.code)
    if operation.name == "execute" and kind == "receipt":
        if value.decision_id in kernel.executor.executed:
            return None  # a retry: the earlier receipt, no new node
        return ("effect", value.decision_id)
    return None


COMPONENTS = (
    "policy",
    "keys",
    "budgets",
    "error_budget",
    "ids",
    "chains",
    "graph",
    "executor",
    "tools",
)


def differing_components(one: Kernel, other: Kernel) -> list[str]:
    """The components whose digest material differs between two kernels."""
    return [
        name
        for name in COMPONENTS
        if getattr(one, name).digest_material() != getattr(other, name).digest_material()
    ]


def check(
    history: Sequence[Operation],
    model: Callable[[], Kernel],
    *,
    final: Kernel | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    explore_slack: int = EXPLORE_SLACK,
    seconds_max: float = SECONDS_MAX,
) -> Verdict:
    """Decide whether *history* is linearizable against fresh kernels from *model*.

    With *final* (the kernel under test after the run), an order must also leave the model in
    *final*'s state: answers alone do not order, say, a DENY decision and another call's
    execution, but the ProofGraph records which came first. Its node order is used as a witness
    while searching (each placement must append the nodes *final* holds next), and the state
    digest is compared once every operation is placed.
    """
    start = time.perf_counter()
    operations = sorted(history, key=lambda operation: operation.invoked)
    count = len(operations)
    state = _Model(model, checkpoint_every)
    target_graph = list(final.graph.order) if final is not None else None
    target_keys = (
        [_node_key(final.graph.nodes[h].kind, final.graph.nodes[h].payload) for h in target_graph]
        if final is not None and target_graph is not None
        else None
    )
    by_id = {operation.id: operation for operation in operations}
    # Per policy epoch, the unplaced operations that must run at that epoch: a policy mutation
    # cannot come while any is waiting (epochs only rise), which prunes without running it.
    # Likewise per signing key, for a rotation (which moves signing to a newer key for good,
    # unless a newer key is revoked later: so only while no such revocation is waiting).
    # What each operation counts for depends on it alone, so it is worked out once here.
    marks = [
        (_epoch_bound(operation, by_id), _signed_by(operation), _revokes(operation))
        for operation in operations
    ]
    waiting: Counter[int] = Counter()
    signed: Counter[str] = Counter()
    revoking: Counter[str] = Counter()

    def tally(position: int, change: int) -> None:
        # Only real epochs and keys are counted: None (no bound, not signed, no revocation)
        # would otherwise stand in the counters for every other operation.
        bound, signer, revoked = marks[position]
        if bound is not None:
            waiting[bound] += change
        if signer is not None:
            signed[signer] += change
        if revoked is not None:
            revoking[revoked] += change

    for position in range(count):
        tally(position, 1)
    target_digest = final.state_digest() if final is not None else ""
    placed = bytearray(count)
    placed_mask = 0
    seen: set[tuple[int, str]] = set()
    explored = 0
    deepest = -1
    stuck: tuple[Misfit, ...] = ()
    final_state = ""
    chosen: list[int] = []  # positions placed, in order
    frames: list[list[Any]] = []  # per depth: [candidate positions, next to try, misfits]

    def candidates() -> list[int]:
        # Unplaced operations invoked before the earliest return among the unplaced.
        first_return = None
        found = []
        for position in range(placed.find(0), count):
            if placed[position]:
                continue
            operation = operations[position]
            if first_return is not None and operation.invoked > first_return:
                break
            found.append(position)
            if first_return is None or operation.returned < first_return:
                first_return = operation.returned
        assert first_return is not None
        return [p for p in found if operations[p].invoked < first_return]

    def graph_follows(before: int) -> bool:
        # The nodes this placement appended are the ones the kernel under test holds next.
        if target_graph is None:
            return True
        order = state.kernel.graph.order
        return (
            len(order) <= len(target_graph) and order[before:] == target_graph[before : len(order)]
        )

    def unplace() -> None:
        nonlocal placed_mask
        position = chosen.pop()
        placed[position] = 0
        placed_mask &= ~(1 << position)
        tally(position, 1)
        state.back_to(len(chosen))

    def conflict(operation: Operation) -> str:
        note = _witness_conflict(operation, state.kernel)
        if note:
            return note
        if _mutates_policy(operation) and waiting[state.kernel.policy.epoch]:
            return "operations that need the current policy epoch are still waiting"
        if operation.name == "rotate_key" and operation.answer[0] == "returned":
            signer = _signer(state.kernel)
            if (
                signer is not None  # nothing can sign now
                and signed[signer]
                and not any(key > signer for key, n in revoking.items() if n)
            ):
                return f"operations signed by the current key {signer} are still waiting"
        if target_keys is not None:
            node = _appends(operation, by_id, state.kernel)
            position = len(state.kernel.graph.order)
            if node is not None and (position >= len(target_keys) or target_keys[position] != node):
                return "the ProofGraph node it appends is not the next one the kernel recorded"
        return ""

    limit = count + explore_slack
    if count:
        frames.append([candidates(), 0, []])
    while True:
        if explored > limit or time.perf_counter() - start > seconds_max:
            return Verdict(
                False,
                count,
                (),
                max(deepest, len(chosen)),
                (),
                explored,
                state.restores,
                time.perf_counter() - start,
                "",
                undecided=True,
            )
        if len(chosen) == count:
            digest = state.kernel.state_digest()
            if final is None or digest == target_digest:
                return Verdict(
                    True,
                    count,
                    tuple(operations[p].id for p in chosen),
                    count,
                    (),
                    explored,
                    state.restores,
                    time.perf_counter() - start,
                    digest,
                )
            final_state = final_state or ", ".join(differing_components(state.kernel, final))
            if not chosen:
                break
            unplace()
            continue
        frame = frames[-1]
        options, misfits = frame[0], frame[2]
        advanced = False
        while frame[1] < len(options):
            position = options[frame[1]]
            frame[1] += 1
            operation = operations[position]
            note = conflict(operation)
            if note:
                misfits.append(Misfit(operation, None, note))
                continue
            before = len(state.kernel.graph.order)
            model_answer = state.place(operation)
            if model_answer != operation.answer:
                misfits.append(Misfit(operation, model_answer))
                state.back_to(len(chosen))
                continue
            if not graph_follows(before):
                note = "the ProofGraph node it appends is not the next one the kernel recorded"
                misfits.append(Misfit(operation, model_answer, note))
                state.back_to(len(chosen))
                continue
            configuration = (placed_mask | 1 << position, state.kernel.state_digest())
            if configuration in seen:
                state.back_to(len(chosen))
                continue
            seen.add(configuration)
            explored += 1
            placed[position] = 1
            placed_mask |= 1 << position
            tally(position, -1)
            chosen.append(position)
            advanced = True
            break
        if advanced:
            if len(chosen) < count:
                frames.append([candidates(), 0, []])
            continue
        # A dead end: remember the deepest (and, at equal depth, the smallest) set of misfits.
        if len(chosen) > deepest or (len(chosen) == deepest and len(misfits) < len(stuck)):
            deepest, stuck = len(chosen), tuple(misfits)
        frames.pop()
        if not chosen:
            break
        unplace()
    return Verdict(
        False,
        count,
        (),
        count if final_state else max(deepest, 0),
        () if final_state else stuck,
        explored,
        state.restores,
        time.perf_counter() - start,
        "",
        final_state,
    )
