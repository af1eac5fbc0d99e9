"""One chunk of a fuzz campaign: a bounded Hypothesis run of one machine, inside a worker.

A campaign restarts Hypothesis in chunks (docs/design.md: a run's memory of explored examples grows
with every example): each chunk runs one machine under one seed and one swarm configuration
(:mod:`helmmodel.fuzz.swarm`) for at most ``max_examples`` examples and until its deadline, and then
its failures are settled: made 1-minimal, told apart from the corpus's open cases by identity,
and saved when they are new.

The machine runs as a variant class made for the chunk, with :class:`CampaignHooks` mixed in
before it, which

1. ends the chunk at the next step once its deadline passes or a stop is requested
   (:class:`ChunkStop`);
2. notes a violation that looks like a known open case instead of raising it (see below);
3. counts rule-to-rule transitions with numpy at the end of each run;
4. switches ``target()`` on when the job says so (``steer``; plain runs never steer).

**Known failures keep exploring.** Hypothesis stops generating soon after a failure and then
shrinks it, and it replays its database's failures first: a known bug that is raised would end
every chunk within a few examples. So a violation whose *shape* (its invariant and its message
with the numbers blanked, :func:`shape`) is the shape of an open case in the corpus, or of a
failure already settled in this worker, is noted instead of raised: the run stops checking
invariants (its state is already wrong) and passes, and Hypothesis goes on exploring. Because it
passes, Hypothesis also drops that example from its database, where the corpus holds it anyway.
After the chunk the shortest noted trace of each shape is made 1-minimal and its identity
decides: an open case's identity is a repeat (every noted run of that shape counts), anything
else is new and saved. A violation of another shape is raised as usual, shrunk by Hypothesis
(unless ``shrink`` is off), and settled the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt
from hypothesis import Phase, seed
from hypothesis import settings as Settings
from hypothesis.database import ExampleDatabase
from hypothesis.stateful import Bundle, run_state_machine_as_test

from helmmodel.errors import InvariantViolation, TraceError
from helmmodel.fuzz import swarm
from helmmodel.harness.capture import Guard, Kind, Known, SaveTo, capture
from helmmodel.harness.kernels import kernel_factory
from helmmodel.harness.minimize import Steps
from helmmodel.harness.stateful import Failure, Stats, TracedMachine, transitions, variant
from helmmodel.harness.trace import STATUS_OPEN, Trace, load, message_shape

Shape = tuple[str, str]  # (invariant, message with its numbers blanked)

NEW = "new"
REPEAT = "repeat"
PENDING = "pending"  # stopped before it was 1-minimal: saved raw in the run directory
UNREPRODUCIBLE = "unreproducible"  # does not fail again on replay: a checker bug


class ChunkStop(KeyboardInterrupt):
    """Ends a chunk from inside its machine, at its deadline or on a stop request.

    An interruption, as Ctrl-C is to Hypothesis: it lets it through at once, and neither saves
    the example it cut short into the database nor records it as explored (any other exception
    would be a failure of the test, and any other BaseException would leave Hypothesis's record
    of explored examples inconsistent: FlakyStrategyDefinition).
    """


class _Noted(Exception):
    """A violation of a known shape was noted: raised past the checker to :meth:`check`."""


@attrs.frozen(kw_only=True)
class Case:
    """A saved regression case, as the campaign needs to know it."""

    identity: str
    invariant: str
    status: str
    path: Path
    shape: str


class Corpus:
    """The corpus a campaign saves into, re-read as files appear or change (other workers,
    other shards, a ``helmmodel promote``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._read: dict[Path, tuple[int, Case | None]] = {}  # path -> (mtime_ns, case)

    def cases(self, machine: str) -> dict[str, Case]:
        """The machine's cases by identity (unreadable files are no cases)."""
        folder = self.root / machine
        found: dict[str, Case] = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if path.name.startswith("."):  # a save's temporary file
                continue
            mtime = path.stat().st_mtime_ns
            known = self._read.get(path)
            if known is None or known[0] != mtime:
                known = (mtime, _case(path))
                self._read[path] = known
            if known[1] is not None:
                found[known[1].identity] = known[1]
        return found

    def unreadable(self) -> list[str]:
        """Each file of the corpus that is no trace, with why: the campaign names them, since
        every worker skips them."""
        found: list[str] = []
        for path in sorted(self.root.glob("*/*.json")) if self.root.is_dir() else []:
            if path.name.startswith("."):
                continue
            try:
                load(path)
            except TraceError as exc:
                found.append(str(exc))
        return found

    def open_shapes(self, machine: str) -> set[Shape]:
        """The shapes of the machine's open cases."""
        return {
            (case.invariant, case.shape)
            for case in self.cases(machine).values()
            if case.status == STATUS_OPEN
        }


def _case(path: Path) -> Case | None:
    try:
        trace = load(path)
    except TraceError:
        return None
    return Case(
        identity=trace.identity(),
        invariant=trace.invariant,
        status=trace.status,
        path=path,
        shape=message_shape(trace.message),
    )


@attrs.define(eq=False, kw_only=True)
class Noted:
    """The runs of one chunk that hit one known shape, and the shortest trace among them."""

    invariant: str
    message: str
    steps: Steps
    first_example: int  # the example of the chunk that hit it first (1: the database's first)
    hits: int = 1


@attrs.define(eq=False, kw_only=True)
class Chunk:
    """A running chunk, shared by its machine's runs through their class (made for it)."""

    machine: str
    seed: int
    swarm: str
    stop_at: float  # time.monotonic() deadline
    stopping: Callable[[], bool]  # whether a stop was requested
    known: frozenset[Shape]
    rules: tuple[str, ...]  # the machine's rules: the axes of the transition matrix
    progress: Callable[[Stats], None] | None = None  # given the chunk's figures so far
    progress_every_s: float = 1.0
    ended_by: str | None = None  # examples, time, stop, failure, error
    noted: dict[Shape, Noted] = attrs.field(factory=dict)
    matrix: npt.NDArray[np.int64] = attrs.field(init=False)
    _index: dict[str, int] = attrs.field(init=False)
    _next_progress: float = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.matrix = np.zeros((len(self.rules), len(self.rules)), dtype=np.int64)
        self._index = {name: i for i, name in enumerate(self.rules)}
        self._next_progress = time.monotonic() + self.progress_every_s

    def tick(self, stats: Stats) -> None:
        """Before each step: end the chunk past its deadline or on a stop; report progress."""
        now = time.monotonic()
        if now >= self.stop_at:
            self.ended_by = "time"
            raise ChunkStop
        if self.stopping():
            self.ended_by = "stop"
            raise ChunkStop
        if self.progress is not None and now >= self._next_progress:
            self._next_progress = now + self.progress_every_s
            self.progress(stats)

    def note(self, violation: InvariantViolation, steps: Steps, example: int) -> bool:
        """Note *violation*, hit in the chunk's *example*-th run, if its shape is known (and
        say so); keep the shortest trace."""
        key = (violation.invariant, message_shape(str(violation)))
        if key not in self.known:
            return False
        noted = self.noted.get(key)
        if noted is None:
            self.noted[key] = Noted(
                invariant=violation.invariant,
                message=str(violation),
                steps=list(steps),
                first_example=example,
            )
            return True
        noted.hits += 1
        if len(steps) < len(noted.steps):
            noted.message, noted.steps = str(violation), list(steps)
        return True

    def observe(self, steps: Steps) -> None:
        """Count each pair of consecutive rules of a finished run."""
        if len(steps) < 2:
            return
        index = self._index
        order = np.fromiter((index[s["rule"]] for s in steps), dtype=np.intp, count=len(steps))
        np.add.at(self.matrix, (order[:-1], order[1:]), 1)


class CampaignHooks(TracedMachine):
    """What a campaign adds to a machine, mixed in before it (see the module docstring)."""

    chunk: ClassVar[Chunk]  # the chunk the variant class was made for
    steer: ClassVar[bool] = True

    def run_transition(
        self,
        rule_name: str,
        function: Callable[..., tuple[dict[str, Any], Any]],
        target: Bundle[Any] | None,
        kwargs: dict[str, Any],
    ) -> Any:
        if self.recording is not None:  # a replay is never cut short
            type(self).chunk.tick(self.recording.stats)
        return super().run_transition(rule_name, function, target, kwargs)

    def check(self, name: str, *, full: bool = False) -> None:
        if self.failed:  # a known shape was noted: this run checks nothing more
            return
        try:
            super().check(name, full=full)
        except _Noted:
            self.failed = True

    def _remember(self, violation: InvariantViolation) -> None:
        recording = self.recording
        if recording is not None and type(self).chunk.note(
            violation, self.trace, recording.stats.examples
        ):
            raise _Noted from violation
        super()._remember(violation)

    def teardown(self) -> None:
        if self.recording is not None:
            chunk = type(self).chunk
            if chunk.ended_by is not None:  # cut short by the chunk's end: not a whole run
                return
            chunk.observe(self.trace)
        super().teardown()


@attrs.frozen(kw_only=True)
class Job:
    """What one chunk runs."""

    machine: str
    kernel: str
    seed: int
    swarm: swarm.SwarmConfig
    max_examples: int
    stop_at: float  # time.monotonic()
    steer: bool = True  # whether the machine reports its boundaries to target()


def campaign_variant(machine: type[TracedMachine], job: Job, chunk: Chunk) -> type[CampaignHooks]:
    """*machine* against the job's kernel, under its swarm configuration and seed, with the
    hooks, for *chunk* alone.

    It keeps the machine's name and module, so that Hypothesis's database key (a digest of the
    class's source) is the machine's own, whatever the configuration.
    """
    namespace = {
        **swarm.overrides(machine, job.swarm),
        "kernel_factory": staticmethod(kernel_factory(job.kernel)),
        "kernel_name": job.kernel,
        "chunk": chunk,
        "steer": job.steer,
    }
    made: type[CampaignHooks] = variant(machine, (CampaignHooks, machine), namespace)
    return seed(job.seed)(made)


@attrs.frozen(kw_only=True)
class Finding:
    """A failure a chunk found, once settled."""

    kind: str  # NEW, REPEAT, PENDING or UNREPRODUCIBLE
    invariant: str
    message: str
    found_steps: int
    hits: int = 1
    identity: str | None = None
    path: str | None = None
    minimal_steps: int | None = None
    regressed: bool = False  # new, and the corpus held it as fixed: the bug came back
    first_example: int | None = None  # for a noted shape: the chunk's run that hit it first
    group: str | None = None  # its 1-minimal trace's group (Trace.group): one bug, one group

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class Ran:
    """What a chunk's Hypothesis run left: its statistics, failures and noted shapes."""

    chunk: Chunk
    stats: Stats
    seconds: float
    failures: dict[str, Failure]  # the shortest trace of each invariant raised
    errors: list[str]  # exceptions that were not violations (a machine or checker bug)


def run_chunk(
    job: Job,
    machine: type[TracedMachine],
    *,
    profile_settings: Settings,
    database: ExampleDatabase | None,
    shrink: bool,
    stopping: Callable[[], bool],
    known: frozenset[Shape],
    progress: Callable[[Stats], None] | None = None,
    progress_every_s: float = 1.0,
) -> Ran:
    """Run one chunk of *machine*; never raises for a violation or for the chunk's end."""
    chunk = Chunk(
        machine=job.machine,
        seed=job.seed,
        swarm=job.swarm.name,
        stop_at=job.stop_at,
        stopping=stopping,
        known=known,
        rules=tuple(sorted(transitions(machine))),
        progress=progress,
        progress_every_s=progress_every_s,
    )
    runs = campaign_variant(machine, job, chunk)
    state = runs.run_state
    assert state is not None
    phases = [p for p in profile_settings.phases if shrink or p is not Phase.shrink]
    run_settings = Settings(
        profile_settings, max_examples=job.max_examples, database=database, phases=phases
    )
    errors: list[str] = []
    started = time.monotonic()
    try:
        run_state_machine_as_test(runs, settings=run_settings)
        chunk.ended_by = "examples"
    except ChunkStop:
        pass
    except Exception as caught:  # violations (maybe several, as a group), or a bug
        errors = [
            f"{type(each).__name__}: {each}"
            for each in _leaves(caught)
            if not isinstance(each, InvariantViolation)
        ]
        chunk.ended_by = "failure" if state.failures else "error"
    return Ran(
        chunk=chunk,
        stats=state.stats,
        seconds=time.monotonic() - started,
        failures=state.failures,
        errors=errors,
    )


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for each in error.exceptions:
            yield from _leaves(each)
    else:
        yield error


@attrs.define(kw_only=True)
class Settler:
    """Settles a chunk's failures: 1-minimal, new or repeat, saved. One per worker."""

    corpus: Corpus
    kernel: str
    profile: str
    run_dir: Path
    git_commit: str | None
    give_up: Callable[[], bool]  # minimizing must stop now (a stop's grace time is over)
    learnt: dict[str, set[Shape]] = attrs.field(factory=dict)  # machine -> shapes settled

    def known(self, machine: str) -> frozenset[Shape]:
        """The shapes a chunk of *machine* notes instead of raising."""
        return frozenset(self.corpus.open_shapes(machine) | self.learnt.get(machine, set()))

    def settle(self, ran: Ran, plain: type[TracedMachine]) -> list[Finding]:
        """Every raised failure and every noted shape of *ran*, settled against the corpus."""
        chunk = ran.chunk
        found = [self._one(chunk, plain, failure, hits=1) for failure in ran.failures.values()]
        found += [
            attrs.evolve(
                self._one(chunk, plain, Failure(n.invariant, n.message, n.steps), n.hits),
                first_example=n.first_example,
            )
            for n in chunk.noted.values()
        ]
        return found

    def _one(
        self,
        chunk: Chunk,
        plain: type[TracedMachine],
        failure: Failure,
        hits: int,
    ) -> Finding:
        # From now on this worker notes the shape instead of raising it, whatever it turns out
        # to be: a new case is open in the corpus once saved, and a failure that does not
        # reproduce would otherwise end every chunk early.
        self.learnt.setdefault(chunk.machine, set()).add(
            (failure.invariant, message_shape(failure.message))
        )
        captured = capture(plain, failure, self._save_to(chunk))
        finding = Finding(
            kind=UNREPRODUCIBLE,
            invariant=failure.invariant,
            message=failure.message,
            found_steps=captured.found_length,
            hits=hits,
        )
        if captured.trace is None:
            return finding
        return attrs.evolve(
            finding,
            kind=_FINDING_KINDS[captured.kind],
            identity=captured.trace.identity(),
            group=captured.trace.group(),
            path=str(captured.path) if captured.path is not None else SHOWN_PATH,
            minimal_steps=captured.minimal_length,
            regressed=captured.regressed,
        )

    def _save_to(self, chunk: Chunk) -> SaveTo:
        """Where a failure of *chunk* goes: the corpus, and the run directory's new-cases/ (or
        pending/, as found, when minimizing must give up)."""
        return SaveTo(
            corpus=self.corpus.root,
            machine=chunk.machine,
            kernel=self.kernel,
            profile=self.profile,
            seed=chunk.seed,
            git_commit=self.git_commit,
            copies=(self.run_dir / "new-cases",),
            known=self._known,
            guard=Guard(give_up=self.give_up, pending=self.run_dir / "pending"),
        )

    def _known(self, trace: Trace) -> Known | None:
        """The corpus's case of *trace*: the same trace, else an open case of its group (the
        same bug with other values is a repeat of that case, not a new failure)."""
        cases = self.corpus.cases(trace.machine)
        case = cases.get(trace.identity())
        if case is None:  # the machine's folder already: a group is the invariant and shape
            group = (trace.invariant, message_shape(trace.message))
            case = next(
                (
                    c
                    for c in cases.values()
                    if (c.invariant, c.shape) == group and c.status == STATUS_OPEN
                ),
                None,
            )
        return Known(status=case.status, path=case.path) if case is not None else None


_FINDING_KINDS = {Kind.SAVED: NEW, Kind.KNOWN: REPEAT, Kind.PENDING: PENDING, Kind.SHOWN: NEW}
# Where a new failure is when no folder could be written: the worker printed its trace there.
SHOWN_PATH = "(not saved: printed to the campaign's output as JSON)"
