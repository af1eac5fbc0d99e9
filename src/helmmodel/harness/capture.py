"""Capture: a failing trace made 1-minimal and saved into a corpus, the one path every run takes.

:func:`capture` is used by ``helmmodel run`` (:func:`save_failures`, which prints what it did),
by the mutant catalogue and by a campaign's chunks: it replays the failing steps, makes them
1-minimal while they still violate the invariant, and saves the result as a
:class:`~helmmodel.harness.trace.Trace` where :class:`SaveTo` says; it prints nothing.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from helmmodel.harness.replay import Test, minimal_failure
from helmmodel.harness.runner import MachineResult
from helmmodel.harness.show import step_lines
from helmmodel.harness.stateful import Failure, TracedMachine
from helmmodel.harness.trace import STATUS_FIXED, STATUS_OPEN, Trace, git_commit, save
from helmmodel.kernel.semantics import CHAOS_PAGE


@attrs.frozen(kw_only=True)
class Guard:
    """When minimizing must stop, and where the trace goes then, as found."""

    give_up: Callable[[], bool]
    pending: Path  # a corpus folder for traces saved as found


@attrs.frozen(kw_only=True)
class Known:
    """A case a corpus already holds under a trace's identity."""

    status: str
    path: Path


@attrs.frozen(kw_only=True)
class SaveTo:
    """Where a 1-minimal trace is saved, and the header its file gets."""

    corpus: Path
    machine: str
    kernel: str
    profile: str
    semantics: str = CHAOS_PAGE
    seed: int | None = None
    git_commit: str | None = None
    copies: tuple[Path, ...] = ()  # further corpus folders that get each saved trace too
    # The case of the trace's identity the corpus holds, if any: an open one is left as it is,
    # a fixed one is written over (the bug came back). Without it every trace is saved.
    known: Callable[[Trace], Known | None] | None = None
    guard: Guard | None = None


class Kind(enum.Enum):
    """What capturing one failure came to."""

    SAVED = enum.auto()  # 1-minimal, saved into the corpus
    KNOWN = enum.auto()  # 1-minimal, and an open case of its identity is in the corpus already
    PENDING = enum.auto()  # minimizing gave up: saved as found into the guard's folder
    UNREPRODUCIBLE = enum.auto()  # it does not fail again on replay: nothing saved
    SHOWN = enum.auto()  # 1-minimal, but no folder could be written: printed to stderr as JSON


@attrs.frozen(kw_only=True)
class Captured:
    """What capturing one failure did: its trace, where that is, and the lengths."""

    kind: Kind
    invariant: str
    found_length: int  # steps of the failing trace given
    trace: Trace | None = None  # 1-minimal (as found when PENDING); None when UNREPRODUCIBLE
    path: Path | None = None  # the saved file, or the known open case's
    regressed: bool = False  # saved over a case the corpus held as fixed

    @property
    def minimal_length(self) -> int | None:
        """Steps of the 1-minimal trace (None when there is none)."""
        minimal = self.kind in (Kind.SAVED, Kind.KNOWN)
        return len(self.trace.steps) if minimal and self.trace is not None else None


class _GaveUp(Exception):
    """The guard says minimizing must stop now."""


def capture(machine: type[TracedMachine], failure: Failure, to: SaveTo) -> Captured:
    """Make *failure* 1-minimal on *machine* (a variant against the failing kernel) and save it
    as *to* says."""
    found = Captured(
        kind=Kind.UNREPRODUCIBLE, invariant=failure.invariant, found_length=len(failure.steps)
    )
    try:
        minimal = minimal_failure(
            machine, failure.invariant, failure.steps, failure.message, _guarded(to.guard)
        )
    except _GaveUp:
        assert to.guard is not None
        raw = _trace(to, failure.invariant, failure.message, failure.steps)
        return attrs.evolve(found, kind=Kind.PENDING, trace=raw, path=save(raw, to.guard.pending))
    if minimal is None:
        return found
    trace = _trace(to, failure.invariant, minimal.message, minimal.steps)
    known = to.known(trace) if to.known is not None else None
    if known is not None and known.status == STATUS_OPEN:
        return attrs.evolve(found, kind=Kind.KNOWN, trace=trace, path=known.path)
    path = save_or_show(trace, to.corpus, to.guard.pending if to.guard is not None else None)
    if path is None:
        return attrs.evolve(found, kind=Kind.SHOWN, trace=trace)
    for folder in to.copies:
        save_or_show(trace, folder, None, show=False)
    regressed = known is not None and known.status == STATUS_FIXED
    return attrs.evolve(found, kind=Kind.SAVED, trace=trace, path=path, regressed=regressed)


def save_or_show(
    trace: Trace, folder: Path, fallback: Path | None, *, show: bool = True
) -> Path | None:
    """Save *trace* into *folder*; if that fails (a full disk, a folder gone), into *fallback*;
    if that fails too, print it to stderr as JSON (when *show*): a failure found is never lost
    to a write that failed. Returns where it was saved, or None."""
    try:
        return save(trace, folder)
    except OSError as exc:
        problem = f"cannot save the {trace.invariant} trace into {folder} ({exc.strerror or exc})"
    if fallback is not None:
        try:
            path = save(trace, fallback)
        except OSError:
            pass
        else:
            print(f"helmmodel: {problem}; saved it to {path} instead", file=sys.stderr)
            return path
    if show:
        print(f"helmmodel: {problem}; it follows as JSON: save it as a .json file", file=sys.stderr)
        print(json.dumps(trace.to_json()), file=sys.stderr, flush=True)
    else:
        print(f"helmmodel: {problem}", file=sys.stderr)
    return None


def _guarded(guard: Guard | None) -> Callable[[Test], Test] | None:
    """The minimizer's test wrapped so that it stops once *guard* gives up."""
    if guard is None:
        return None
    give_up = guard.give_up

    def wrap(fails: Test) -> Test:
        def test(steps: Sequence[Mapping[str, Any]]) -> bool:
            if give_up():
                raise _GaveUp
            return fails(steps)

        return test

    return wrap


def _trace(to: SaveTo, invariant: str, message: str, steps: Sequence[Any]) -> Trace:
    return Trace(
        machine=to.machine,
        kernel=to.kernel,
        semantics=to.semantics,
        invariant=invariant,
        message=message,
        steps=list(steps),
        profile=to.profile,
        seed=to.seed,
        git_commit=to.git_commit,
    )


def save_failures(
    result: MachineResult, corpus: Path, out: TextIO, seed: int | None = None
) -> dict[str, Path]:
    """Make each violated invariant's shortest trace 1-minimal and save it into *corpus*.

    Prints the lengths before and after and the path; attaches the paths to the run's error.
    """
    assert result.variant is not None
    to = SaveTo(
        corpus=corpus,
        machine=result.machine,
        kernel=result.kernel,
        semantics=result.semantics,
        profile=result.profile,
        seed=seed,
        git_commit=git_commit(),
    )
    saved: dict[str, Path] = {}
    for _, failure in sorted(result.failures.items()):
        captured = capture(result.variant, failure, to)
        if captured.kind is Kind.SHOWN:
            print(
                f"  {captured.invariant}: 1-minimal in {captured.minimal_length} steps, but it "
                f"could not be saved into {corpus}: it was printed to stderr as JSON",
                file=out,
            )
            continue
        if captured.trace is None or captured.path is None:
            print(
                f"  {captured.invariant}: the shortest trace ({captured.found_length} steps) does "
                "not fail again on replay, so it is not saved (a failure that depends on more "
                "than the trace records: report it as a checker bug)",
                file=out,
            )
            continue
        saved[captured.invariant] = captured.path
        _print_saved(captured, captured.trace, captured.path, out)
        if result.error is not None:
            result.error.add_note(
                f"helmmodel: {captured.invariant} counterexample saved to {captured.path}"
            )
    return saved


def _print_saved(captured: Captured, trace: Trace, path: Path, out: TextIO) -> None:
    print(
        f"  {captured.invariant}: failing trace {captured.found_length} steps, 1-minimal "
        f"{len(trace.steps)} steps, saved to {path}",
        file=out,
    )
    print(f"    state = {trace.machine_class_name()}()", file=out)
    for line in step_lines(trace):
        print(f"    {line}", file=out)
    print(f"    # -> {trace.message}", file=out)
