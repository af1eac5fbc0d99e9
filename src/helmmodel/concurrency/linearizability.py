"""Is a history linearizable with respect to the sequential kernel model?

A Wing and Gong search with memoization (the refinement of Lowe, as Knossos and Porcupine do it):
place, one at a time, an operation none of whose unplaced peers returned before it was invoked;
run it on the sequential model (the correct kernel, fed its own earlier results); keep it if the
model answers exactly what the thread saw, else try the next candidate; back up when none fits.
A configuration (the set placed, the model's state digest) reached twice is explored once.

Ids and lamports come from global counters, so answers are compared *with* them: they act as
ordering witnesses. Two begins that overlap can only be placed in the order their call ids say,
and the search checks that before running anything (:func:`_witness_conflict`), which keeps it
near-linear on storms where a few dozen operations overlap at every moment.

An intent issued or an execution retried that fits and leaves the model's state unchanged (a
read) closes its frame: no other candidate is tried there. That loses nothing: if any order from
this configuration fits, moving the read to its front still fits, since the read changes nothing
the others see there or wherever it came in that order (:data:`STABLE_READS`), its answer (which
fixes its result) depends on the state alone, and as a candidate it was invoked before every
unplaced operation returned. So when the order with the read first fails, every order from here
fails. "Unchanged" means an equal state digest, which covers the whole state (spec section 11),
as the memo assumes. Without this, refuting a history meant trying every position of every
intent in the window before the failure; with it, reads never make the search branch.

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


@attrs.frozen(kw_only=True)
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

    Backing up is itself lazy: it only notes the depth, and the restore happens when the model
    is next looked at (:attr:`kernel`) or run. A search unwinding dead frames one after another,
    as it does when it refutes a history, then restores once, where it tries something new.
    """

    def __init__(self, factory: Callable[[], Kernel], checkpoint_every: int) -> None:
        self._kernel = factory()
        self.results: dict[int, Any] = {}
        self.path: list[Operation] = []  # what the model has run (beyond *wanted*: undone)
        self.wanted: int | None = None  # the depth to restore to before the model is used
        self.every = checkpoint_every
        self.checkpoints: list[tuple[int, tuple[Kernel, dict[int, Any]]]] = [
            (0, snapshot(self._kernel, self.results))
        ]
        self.restores = 0

    @property
    def kernel(self) -> Kernel:
        """The model, restored to the depth the search backed up to."""
        if self.wanted is not None:
            depth, self.wanted = self.wanted, None
            self._restore(depth)
        return self._kernel

    def place(self, operation: Operation) -> Answer:
        """Run *operation* next and return the model's answer."""
        kernel = self.kernel
        arguments = resolve(operation.args, self.results)
        try:
            outcome: Any = OPERATIONS[operation.name](kernel, *arguments)
        except HelmModelError as error:
            outcome = error  # never kept: no later operation takes a failed one's result
        else:
            self.results[operation.id] = outcome
        self.path.append(operation)
        return answer(outcome)

    def back_to(self, depth: int) -> None:
        """Make the model what it was after the first *depth* operations of the path (when it
        is next used)."""
        if depth < (len(self.path) if self.wanted is None else self.wanted):
            self.wanted = depth

    def _restore(self, depth: int) -> None:
        while self.checkpoints[-1][0] > depth:
            self.checkpoints.pop()
        start, saved = self.checkpoints[-1]
        self._kernel, self.results = snapshot(*saved)
        replay = self.path[start:depth]
        del self.path[start:]
        self.restores += 1
        # A long replay leaves a copy a little before *depth*, where the next restore will be.
        # A copy costs more the bigger the state, so "long" grows with depth.
        mark = depth - 4 if len(replay) > self.every + depth // 16 else -1
        for operation in replay:
            self.place(operation)
            if len(self.path) == mark:
                self.checkpoints.append((mark, snapshot(self._kernel, self.results)))


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


def _reads(operation: Operation, executed: Mapping[str, Receipt]) -> bool:
    """Whether *operation*, judged from its answer, likely leaves the model's state as it was:
    an intent issued, or an execution retried (its decision has a receipt already)."""
    value: Any = operation.value
    if operation.name == "issue_intent":
        return isinstance(value, Intent)
    return (
        operation.name == "execute"
        and isinstance(value, Receipt)
        and (value.decision_id in executed)
    )


# The operations that, once they leave the state unchanged, do so wherever they come later too:
# an intent issued changes nothing ever (a refusal appends a node), and an execution that
# changes nothing returned its decision's receipt, which stays executed. A mutation that
# changes nothing now may change the state later (freezing a frozen kernel, then thawed), so
# it is no read in the sense the search relies on.
STABLE_READS = frozenset({"issue_intent", "execute"})

# The mutations: they change the state but append no ProofGraph node, so no witness says when
# they came; the phases of calls are placed by their ids and nodes.
MUTATIONS = frozenset(OPERATIONS) - {"begin", "decide", "issue_intent", "execute"}


def _precedence(operation: Operation, executed: Mapping[str, Receipt]) -> int:
    """When to try *operation* among the candidates: reads first (placing one never branches),
    mutations last (a call's phase that cannot come yet is mostly ruled out by a witness
    without running it, while a mutation placed too early is found out only later)."""
    if _reads(operation, executed):
        return 0
    return 2 if operation.name in MUTATIONS else 1


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


GRAPH_NOTE = "the ProofGraph node it appends is not the next one the kernel recorded"


@attrs.frozen(kw_only=True)
class _Target:
    """The kernel under test after the run, in the forms the search compares against."""

    kernel: Kernel
    graph: list[str]  # its ProofGraph's node hashes, in append order
    keys: list[tuple[Any, ...]]  # which operation each of those nodes records
    digest: str

    @classmethod
    def of(cls, final: Kernel) -> _Target:
        """The target that *final* sets."""
        graph = list(final.graph.order)
        nodes = final.graph.nodes
        keys = [_node_key(nodes[node].kind, nodes[node].payload) for node in graph]
        return cls(graph=graph, keys=keys, digest=final.state_digest(), kernel=final)

    def skips_a_node(
        self, operation: Operation, by_id: Mapping[int, Operation], model: Kernel
    ) -> bool:
        """Whether *operation*, placed next on *model*, would append a node the kernel did not."""
        node = _appends(operation, by_id, model)
        position = len(model.graph.order)
        return node is not None and (position >= len(self.keys) or self.keys[position] != node)

    def follows(self, order: list[str], before: int) -> bool:
        """Whether the nodes appended since *before* are the ones the kernel holds next."""
        return len(order) <= len(self.graph) and order[before:] == self.graph[before : len(order)]


class _Waiting:
    """What the unplaced operations still demand of the order: policy epochs and signing keys.

    A policy mutation cannot come while an operation that must run at the current epoch waits
    (epochs only rise), which prunes without running it. Likewise per signing key, for a
    rotation (which moves signing to a newer key for good, unless a newer key is revoked later:
    so only while no such revocation is waiting).
    """

    def __init__(self, operations: Sequence[Operation], by_id: Mapping[int, Operation]) -> None:
        # What each operation counts for depends on it alone, so it is worked out once here.
        self.marks = [
            (_epoch_bound(operation, by_id), _signed_by(operation), _revokes(operation))
            for operation in operations
        ]
        self.epochs: Counter[int] = Counter()
        self.signers: Counter[str] = Counter()
        self.revoking: Counter[str] = Counter()
        for position in range(len(operations)):
            self.tally(position, 1)

    def tally(self, position: int, change: int) -> None:
        """Count the operation at *position* as waiting (*change* 1) or placed (-1)."""
        # Only real epochs and keys are counted: None (no bound, not signed, no revocation)
        # would otherwise stand in the counters for every other operation.
        bound, signer, revoked = self.marks[position]
        if bound is not None:
            self.epochs[bound] += change
        if signer is not None:
            self.signers[signer] += change
        if revoked is not None:
            self.revoking[revoked] += change

    def conflict(self, operation: Operation, model: Kernel) -> str:
        """Why *operation* cannot come next while these wait, or ``""``."""
        if _mutates_policy(operation) and self.epochs[model.policy.epoch]:
            return "operations that need the current policy epoch are still waiting"
        if operation.name == "rotate_key" and operation.answer[0] == "returned":
            signer = _signer(model)
            if (
                signer is not None  # nothing can sign now
                and self.signers[signer]
                and not any(key > signer for key, n in self.revoking.items() if n)
            ):
                return f"operations signed by the current key {signer} are still waiting"
        return ""


@attrs.define
class _Frame:
    """One depth of the search: its candidates (positions), the next to try, the misfits."""

    options: list[int]
    next: int = 0
    misfits: list[Misfit] = attrs.Factory(list)


class _Search:
    """One search over one history: the path placed so far, the memo, the deepest dead end."""

    def __init__(
        self,
        history: Sequence[Operation],
        model: Callable[[], Kernel],
        *,
        final: Kernel | None,
        checkpoint_every: int,
        explore_slack: int,
        seconds_max: float,
    ) -> None:
        self.start = time.perf_counter()
        self.operations = sorted(history, key=lambda operation: operation.invoked)
        self.count = len(self.operations)
        self.model = _Model(model, checkpoint_every)
        self.by_id = {operation.id: operation for operation in self.operations}
        self.target = _Target.of(final) if final is not None else None
        self.waiting = _Waiting(self.operations, self.by_id)
        self.explore_max = self.count + explore_slack
        self.seconds_max = seconds_max
        self.placed = bytearray(self.count)  # per position: placed on the current path
        self.placed_mask = 0  # the same as the memo's key
        self.chosen: list[int] = []  # positions placed, in order
        # The model's state digest before the first placement and after each one.
        self.digests: list[str] = [self.model.kernel.state_digest()]
        self.frames: list[_Frame] = []  # per depth: its candidates, how far tried
        self.seen: set[tuple[int, str]] = set()  # configurations explored (memo)
        self.explored = 0
        self.deepest = -1  # the deepest dead end so far, and its misfits
        self.stuck: tuple[Misfit, ...] = ()
        self.final_state = ""  # what differs after the first full order the target refuted

    def run(self) -> Verdict:
        """Search until an order fits, every order is ruled out, or a limit is reached."""
        if self.count:
            self.frames.append(_Frame(self._candidates()))
        while not self._gave_up():
            if len(self.chosen) == self.count:
                digest = self.digests[-1]
                if self.target is None or digest == self.target.digest:
                    return self._linearizable(digest)
                self.final_state = self.final_state or ", ".join(
                    differing_components(self.model.kernel, self.target.kernel)
                )
            elif self._advance(self.frames[-1]):
                if len(self.chosen) < self.count:
                    self.frames.append(_Frame(self._candidates()))
                continue
            else:
                self._dead_end(self.frames.pop().misfits)
            if not self.chosen:
                return self._refuted()
            self._unplace()
        return self._undecided()

    def _gave_up(self) -> bool:
        return (
            self.explored > self.explore_max or time.perf_counter() - self.start > self.seconds_max
        )

    def _candidates(self) -> list[int]:
        """Unplaced operations invoked before the earliest return among the unplaced."""
        first_return = None
        found = []
        for position in range(self.placed.find(0), self.count):
            if self.placed[position]:
                continue
            operation = self.operations[position]
            if first_return is not None and operation.invoked > first_return:
                break
            found.append(position)
            if first_return is None or operation.returned < first_return:
                first_return = operation.returned
        assert first_return is not None
        executed = self.model.kernel.executor.executed
        return sorted(
            (p for p in found if self.operations[p].invoked < first_return),
            key=lambda p: _precedence(self.operations[p], executed),
        )

    def _advance(self, frame: _Frame) -> bool:
        """Place the frame's next candidate that fits; False when none is left to try."""
        while frame.next < len(frame.options):
            position = frame.options[frame.next]
            frame.next += 1
            if self._try(position, frame):
                return True
        return False

    def _try(self, position: int, frame: _Frame) -> bool:
        """Place the operation at *position* if the model answers as the thread saw, its nodes
        follow the target's and the configuration is new; else note why not and back up.

        An operation that fits and leaves the model's state as it was (a read: an intent issued,
        a retried execution) closes its frame, as the module's docstring explains."""
        operation = self.operations[position]
        note = self._conflict(operation)
        if note:
            frame.misfits.append(Misfit(operation, None, note))
            return False
        before = len(self.model.kernel.graph.order)
        model_answer = self.model.place(operation)
        if model_answer != operation.answer:
            frame.misfits.append(Misfit(operation, model_answer))
        elif self.target is not None and not self.target.follows(
            self.model.kernel.graph.order, before
        ):
            frame.misfits.append(Misfit(operation, model_answer, GRAPH_NOTE))
        else:
            digest = self.model.kernel.state_digest()
            if digest == self.digests[-1] and operation.name in STABLE_READS:
                frame.next = len(frame.options)  # a read: no other candidate need be tried
            if self._first_visit(position, digest):
                self._place(position, digest)
                return True
        self.model.back_to(len(self.chosen))
        return False

    def _conflict(self, operation: Operation) -> str:
        """Why *operation* cannot come next, judged without running it, or ``""``."""
        kernel = self.model.kernel
        note = _witness_conflict(operation, kernel) or self.waiting.conflict(operation, kernel)
        if note or self.target is None:
            return note
        return GRAPH_NOTE if self.target.skips_a_node(operation, self.by_id, kernel) else ""

    def _first_visit(self, position: int, digest: str) -> bool:
        """Record the configuration placing *position* reached (the model's state *digest*);
        False if it was seen before."""
        configuration = (self.placed_mask | 1 << position, digest)
        if configuration in self.seen:
            return False
        self.seen.add(configuration)
        self.explored += 1
        return True

    def _place(self, position: int, digest: str) -> None:
        self.digests.append(digest)
        self.placed[position] = 1
        self.placed_mask |= 1 << position
        self.waiting.tally(position, -1)
        self.chosen.append(position)

    def _unplace(self) -> None:
        self.digests.pop()
        position = self.chosen.pop()
        self.placed[position] = 0
        self.placed_mask &= ~(1 << position)
        self.waiting.tally(position, 1)
        self.model.back_to(len(self.chosen))

    def _dead_end(self, misfits: list[Misfit]) -> None:
        """Remember the deepest dead end (and, at equal depth, the one with fewest misfits)."""
        depth = len(self.chosen)
        if depth > self.deepest or (depth == self.deepest and len(misfits) < len(self.stuck)):
            self.deepest, self.stuck = depth, tuple(misfits)

    def _linearizable(self, digest: str) -> Verdict:
        return Verdict(
            linearizable=True,
            operations=self.count,
            order=tuple(self.operations[position].id for position in self.chosen),
            placed=self.count,
            stuck=(),
            explored=self.explored,
            restores=self.model.restores,
            seconds=time.perf_counter() - self.start,
            model_digest=digest,
        )

    def _refuted(self) -> Verdict:
        return Verdict(
            linearizable=False,
            operations=self.count,
            order=(),
            placed=self.count if self.final_state else max(self.deepest, 0),
            stuck=() if self.final_state else self.stuck,
            explored=self.explored,
            restores=self.model.restores,
            seconds=time.perf_counter() - self.start,
            model_digest="",
            final_state=self.final_state,
        )

    def _undecided(self) -> Verdict:
        return Verdict(
            linearizable=False,
            operations=self.count,
            order=(),
            placed=max(self.deepest, len(self.chosen)),
            stuck=(),
            explored=self.explored,
            restores=self.model.restores,
            seconds=time.perf_counter() - self.start,
            model_digest="",
            undecided=True,
        )


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
    search = _Search(
        history,
        model,
        final=final,
        checkpoint_every=checkpoint_every,
        explore_slack=explore_slack,
        seconds_max=seconds_max,
    )
    return search.run()
