"""Histories of real threads: each kernel operation with its invocation, response and answer.

An :class:`Operation` is one of the facade's atomic operations (a phase of a call, or a mutation),
as one thread issued it. Its arguments are literals or :class:`Ref`s to what an earlier operation
of the same thread returned, so the sequential model can be fed *its own* earlier results when the
linearizability search replays the history (a call's phases hand each other mutable kernel
records, which must never cross from the kernel under test into the model).

Times are ticks of one process-wide counter taken just before the call and just after it returns:
operation A precedes operation B in real time exactly when ``A.returned < B.invoked``.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from helmmodel.errors import HelmModelError
from helmmodel.kernel import Decision, Intent, Kernel, PendingCall, Receipt

# An answer as the checker compares it: hashable, and equal exactly when two kernels said the
# same thing. Ids, lamports and signatures are kept in: they are the ordering witnesses.
Answer = tuple[Any, ...]


@attrs.frozen
class Ref:
    """What operation *op* returned (the payload is resolved per kernel)."""

    op: int

    def __repr__(self) -> str:
        return f"op{self.op}"


def _begin(kernel: Kernel, request: Any) -> Any:
    return kernel.begin(request)


def _decide(kernel: Kernel, call: PendingCall) -> Any:
    return kernel.decide(call)


def _issue_intent(kernel: Kernel, call: PendingCall, decision: Decision) -> Any:
    return kernel.issue_intent(decision, call.effect)


def _execute(kernel: Kernel, call: PendingCall, decision: Decision, intent: Intent) -> Any:
    return kernel.execute(decision, intent, call.effect)


# Every operation a history may hold, by name: the phases of a call and the mutations.
OPERATIONS: Mapping[str, Callable[..., Any]] = {
    "begin": _begin,
    "decide": _decide,
    "issue_intent": _issue_intent,
    "execute": _execute,
    "set_budget_limit": lambda kernel, budget, limit: kernel.set_budget_limit(budget, limit),
    "put_rule": lambda kernel, tool, rule: kernel.put_rule(tool, rule),
    "remove_rule": lambda kernel, tool: kernel.remove_rule(tool),
    "rotate_key": lambda kernel: kernel.rotate_key(),
    "revoke_key": lambda kernel, key_id: kernel.revoke_key(key_id),
    "set_signing": lambda kernel, available: (
        kernel.restore_signing() if available else kernel.remove_signing()
    ),
    "set_frozen": lambda kernel, frozen: kernel.set_frozen(frozen),
}


def answer(outcome: Any) -> Answer:
    """What *outcome* (a returned value or a raised kernel error) says, comparably."""
    if isinstance(outcome, HelmModelError):
        return ("raised", type(outcome).__name__, getattr(outcome, "code", str(outcome)))
    if isinstance(outcome, PendingCall):
        snapshot = outcome.snapshot
        return (
            "begun",
            outcome.call_id,
            outcome.effect.effect_id,
            outcome.verdict,
            outcome.reason_code,
            snapshot.epoch,
            snapshot.version,
        )
    if isinstance(outcome, Decision):
        return ("decision", outcome.id, outcome.preimage(), outcome.signature)
    if isinstance(outcome, Intent):
        return ("intent", outcome.id, outcome.preimage(), outcome.signature)
    if isinstance(outcome, Receipt):
        return ("receipt", outcome.receipt_id, outcome.preimage(), outcome.signature)
    return ("returned", outcome)


# The members of a signed record that say how it was ordered and what it decided (only signed
# members: the answer keeps the preimage, so a receipt's signing key is not among them).
SHOWN_MEMBERS = {
    "decision": ("verdict", "reason_code", "policy_epoch", "signature_type"),
    "intent": ("decision_id", "issued_at", "expires_at", "signature_type"),
    "receipt": ("session_id", "lamport_clock", "prev_hash", "status"),
}


def describe(value: Answer) -> str:
    """An answer in a few words, for reports."""
    kind = value[0]
    if kind == "raised":
        return f"raised {value[1]} {value[2]}"
    if kind == "begun":
        return f"{value[1]} {value[3]} {value[4] or ''} at epoch {value[5]}".rstrip()
    if kind in ("decision", "intent", "receipt"):
        members = json.loads(value[2])
        shown = " ".join(f"{key}={members[key]}" for key in SHOWN_MEMBERS[kind] if key in members)
        return f"{kind} {value[1]} {shown}"
    return f"returned {value[1]!r}"


@attrs.frozen
class Operation:
    """One operation of a history: who issued it, when, with what, and what it answered."""

    id: int  # its invocation tick, unique in the history
    thread: str
    name: str
    args: tuple[Any, ...]  # literals and Refs
    invoked: int
    returned: int
    answer: Answer
    value: Any = attrs.field(eq=False, repr=False)  # what the kernel under test returned

    def precedes(self, other: Operation) -> bool:
        return self.returned < other.invoked

    def label(self) -> str:
        args = ", ".join(repr(arg) if isinstance(arg, Ref) else _short(arg) for arg in self.args)
        return f"op{self.id} [{self.thread}] {self.name}({args})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve(args: Sequence[Any], results: Mapping[int, Any]) -> list[Any]:
    """*args* with each Ref replaced by the result it names in *results*."""
    return [results[arg.op] if isinstance(arg, Ref) else arg for arg in args]


class Recorder:
    """Records the operations that threads run against one kernel, in real-time order."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._ticks = itertools.count(1)  # next() on a count is atomic under the GIL
        self._operations: list[Operation] = []
        self._lock = threading.Lock()  # guards the list only, never the kernel

    def run(
        self, thread: str, name: str, args: Sequence[Any], results: Mapping[int, Any]
    ) -> Operation:
        """Run operation *name* on the kernel from the calling thread and record it.

        *results* are this thread's earlier results (by operation id) for its Refs.
        """
        function = OPERATIONS[name]
        resolved = resolve(args, results)
        invoked = next(self._ticks)
        try:
            outcome: Any = function(self.kernel, *resolved)
        except HelmModelError as error:
            outcome = error
        returned = next(self._ticks)
        operation = Operation(
            invoked, thread, name, tuple(args), invoked, returned, answer(outcome), outcome
        )
        with self._lock:
            self._operations.append(operation)
        return operation

    def history(self) -> list[Operation]:
        """Every operation recorded so far, by invocation."""
        with self._lock:
            return sorted(self._operations, key=lambda operation: operation.invoked)


def failed(operation: Operation) -> bool:
    """Whether *operation* raised (its result cannot feed a later phase)."""
    return bool(operation.answer[0] == "raised")
