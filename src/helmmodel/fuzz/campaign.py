"""Long fuzz campaigns: worker processes, a time budget, a shared example database, a report.

``helmmodel fuzz`` (``nox -s fuzz``) runs the machines of its shard in worker processes, one per
core by default, each running chunk after chunk (:mod:`helmmodel.fuzz.chunks`) under the ``nightly``
profile with fresh seeds until the time budget ends. The parent process starts the workers,
restarts any that dies, shows progress, stops them all on Ctrl-C or SIGTERM, and writes the run
directory (:mod:`helmmodel.fuzz.report`). ``docs/fuzzing.md`` says how to read it.

Each worker reports to the parent over a pipe of its own (a ``multiprocessing`` connection): a
worker killed in the middle of a message can then only break its own pipe, where a queue shared
by every worker would be left with its lock held and block the others.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import signal
import time
import urllib.parse
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import attrs
import coverage
from hypothesis import settings as Settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

from helmmodel.errors import CampaignError, RunnerError, SwarmError, TraceError
from helmmodel.fuzz import chunks, messages, swarm
from helmmodel.fuzz import report as fuzz_report
from helmmodel.harness import kernels, profiles, reach, runner
from helmmodel.harness.stateful import Stats, TracedMachine, machine_for
from helmmodel.harness.trace import check_writable_directory, git_commit
from helmmodel.kernel import KernelFactory

PROFILE = "nightly"
# Hypothesis keeps every example of a run in memory (its cache of results, its tree of choices):
# about 200 kB per example of the kernel machine. A chunk of 500 (half a minute of the kernel
# machine) takes a worker to under 200 MB, and the next chunks reuse that memory: a worker's
# resident size stays flat from chunk to chunk.
DEFAULT_CHUNK_EXAMPLES = 500
# coverage.py's tracer halves a chunk's steps: the kernel's reach is measured in every machine's
# chunks of one round in so many, the first included (the reach is a union: it settles fast,
# while the steps are what finds bugs).
DEFAULT_REACH_EVERY = 4
# Steering (target()) makes Hypothesis keep a Pareto front of examples and hill-climb on it, which
# costs about a third of a chunk's steps: the machines steer in one round of chunks in so many.
STEER_EVERY = 2
# A chunk also ends after this long, so that a slow machine still moves on to the next.
CHUNK_SECONDS_MAX = 600.0
# After a stop request, a worker may still spend this long minimizing what it found; then it
# saves its failures unminimized into the run directory. The parent kills a worker still alive
# after KILL_AFTER_S: everything stops within 10 seconds.
STOP_GRACE_S = 4.0
KILL_AFTER_S = 8.0
# At the end of the time budget, workers may still settle their last chunk for this long.
END_GRACE_S = 60.0
# A worker slot that crashes this many times in a row without finishing a chunk is given up.
CRASHES_IN_A_ROW_MAX = 3
WORKER_PROGRESS_EVERY_S = 1.0
CRASHED = "worker crashes"  # why a campaign ended early when no worker was left
ERRORS = "checker errors"  # why it ended early when chunks kept ending in checker errors
# That many chunks in a row ending in checker errors (a dead database, a broken machine) stop
# the campaign: the rest of its time would explore nothing.
ERRORED_CHUNKS_IN_A_ROW_MAX = 3
# The exit status of a campaign that found no new failure but is not green (report.health).
UNHEALTHY = 3
TTY_REFRESH_EVERY_S = 0.5
# In the run directory: each worker's coverage.py data, and the HTML report of them combined.
COVERAGE_DATA = "coverage-data"
COVERAGE_HTML = "coverage"


# --- arguments --------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}
# Longer than any campaign a scheduler would leave running, and far below the float seconds at
# which the deadline arithmetic overflows.
DURATION_MAX_S = 31 * 86_400


def parse_duration(text: str, option: str = "--duration") -> float:
    """Seconds in a duration such as ``90s``, ``20m``, ``8h`` or ``1h30m``, given as *option*."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise CampaignError(
            f"{option} {text!r} is not a duration: write it as 90s, 20m, 8h or 1h30m"
        )
    seconds = sum(float(number) * _UNIT_S[unit] for number, unit in parts)
    if seconds <= 0:
        raise CampaignError(f"{option} {text!r} is no time at all: give a positive duration")
    if seconds > DURATION_MAX_S:
        raise CampaignError(
            f"{option} {text!r} is longer than {DURATION_MAX_S // 86_400} days; "
            "split a longer campaign into runs"
        )
    return seconds


@attrs.frozen
class Shard:
    """The *index*-th of *count* runners (from 1): which machines and seeds are its own."""

    index: int = 1
    count: int = 1

    def machines(self, names: Sequence[str]) -> list[str]:
        """This shard's machines: every *count*-th one, so that shards share none while there
        are at least as many machines as shards; with more shards than machines, each runs
        one machine, and shards that share it differ by their seeds."""
        if self.count <= len(names):
            return list(names[self.index - 1 :: self.count])
        return [names[(self.index - 1) % len(names)]]

    def seed(self, value: int) -> int:
        """A seed from *value* that is this shard's own: congruent to index - 1 modulo count,
        so no two shards ever run the same seed."""
        return value - value % self.count + self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """A shard written ``i/n``: the i-th (from 1) of n runners."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if match is None:
        raise CampaignError(
            f"--shard {text!r} is not a shard: write it as i/n, the i-th of n runners (2/4)"
        )
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise CampaignError(
            f"--shard {text}: i must be within 1..n (shards count from 1), as in 1/{max(count, 1)}"
        )
    return Shard(index, count)


def parse_workers(text: str) -> int:
    """``auto`` (one per core this process may use) or a positive number."""
    if text == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if not text.isdigit() or int(text) < 1:
        raise CampaignError(f"--workers {text!r} is not auto or a positive number")
    return int(text)


def parse_positive(option: str, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise CampaignError(f"{option} {text!r} is not a positive number")
    return int(text)


def _redis_address(spec: str) -> tuple[str, int, int]:
    """Host, port and database number of a ``redis://HOST:PORT[/DB]`` URL."""
    url = urllib.parse.urlsplit(spec)
    try:
        port = url.port
    except ValueError:  # urllib's own check: not a number, or outside 0-65535
        raise CampaignError(f"--db {spec}: the port is not a number from 1 to 65535") from None
    if url.scheme != "redis" or not url.hostname or port is None:
        raise CampaignError(
            f"--db {spec}: not a directory or a redis://HOST:PORT URL (the only URLs it takes)"
        )
    number = url.path.strip("/") or "0"
    if not number.isdigit():
        raise CampaignError(f"--db {spec}: the database number {number!r} is not a number")
    if port == 0:
        raise CampaignError(f"--db {spec}: the port is not a number from 1 to 65535")
    return url.hostname, port, int(number)


def open_database(spec: str) -> ExampleDatabase:
    """The example database *spec* names: ``redis://HOST:PORT[/DB]`` or a directory."""
    if "://" not in spec:
        return DirectoryBasedExampleDatabase(spec)
    import redis
    from hypothesis.extra.redis import RedisExampleDatabase

    host, port, number = _redis_address(spec)
    return RedisExampleDatabase(
        redis.Redis(host=host, port=port, db=number, socket_connect_timeout=5)
    )


def check_database(spec: str) -> None:
    """Raise CampaignError unless the database *spec* names can be used now."""
    if "://" not in spec:
        try:
            Path(spec).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CampaignError(
                f"--db {spec}: cannot create the directory ({exc.strerror or exc}); "
                "give a writable directory"
            ) from None
        return
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    host, port, number = _redis_address(spec)
    # No retries here (the workers' clients keep redis-py's): a wrong address fails at once.
    client = redis.Redis(
        host=host, port=port, db=number, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise CampaignError(
            f"--db {spec}: cannot reach Redis there ({exc}); start redis-server there, or give "
            "a directory instead"
        ) from None
    finally:
        client.close()


@attrs.frozen(kw_only=True)
class Options:
    """A campaign, fully resolved and checked."""

    machines: tuple[str, ...]  # this shard's machines
    duration_s: float
    workers: int
    kernel: str
    corpus: Path
    database: str  # a directory or a redis:// URL
    shard: Shard
    run_dir: Path
    chunk_examples: int = DEFAULT_CHUNK_EXAMPLES
    shrink: bool = True
    progress_every_s: float = 60.0  # the plain progress line, when not on a terminal
    machine_dir: Path = Path("machines")
    imports: tuple[str, ...] = ()
    swarm: str | None = None  # one configuration for every chunk, instead of one drawn per chunk
    # A worker sends a progress message every second while a chunk runs; one silent this long
    # is stopped or hung (SIGSTOP, a deadlock): it is killed and restarted. Generous by default,
    # since settling a failure (minimizing it) sends nothing until it is done.
    stalled_after_s: float = 300.0
    command_line: tuple[str, ...] = ()  # what made the run, as the report shows it
    reach_every: int = DEFAULT_REACH_EVERY  # the rounds of chunks that measure the reach
    steer_every: int = STEER_EVERY  # the rounds of chunks whose machines steer


def check_run_dir(run_dir: Path) -> None:
    """Refuse a *run_dir* that holds a finished campaign or could not be written; create
    nothing (the other options are checked before anything is written)."""
    if (run_dir / fuzz_report.SUMMARY).exists():
        raise CampaignError(
            f"--run-dir {run_dir} already holds a campaign's summary; give a new directory"
        )
    try:
        check_writable_directory(run_dir, "--run-dir")
    except TraceError as exc:
        raise CampaignError(str(exc)) from None


def prepare_run_dir(run_dir: Path) -> None:
    """Create *run_dir* (checked by :func:`check_run_dir`) and its ``campaign.pid``."""
    try:
        (run_dir / "workers").mkdir(parents=True, exist_ok=True)
        (run_dir / "campaign.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
    except OSError as exc:
        raise CampaignError(
            f"--run-dir {run_dir}: cannot write there ({exc.strerror or exc}); give a writable "
            "directory"
        ) from None


# --- the worker process ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkerPlan:
    """Everything a worker process needs; sent to it when it starts."""

    worker: int
    first_chunk: int
    options: Options
    deadline_wall: float  # time.time() at which the campaign's budget ends


_stop_requested = False  # in a worker: a signal asked it to stop


def _request_stop(signum: int = 0, frame: FrameType | None = None) -> None:
    global _stop_requested
    _stop_requested = True


def _stopping() -> bool:
    return _stop_requested


def worker_main(plan: WorkerPlan, conn: Connection) -> None:
    """A worker: chunk after chunk until the deadline or a stop, each reported to the parent.

    Ctrl-C reaches every process of the terminal's group, SIGTERM only the one it is sent to:
    both ask the worker to stop at its next step, settle what it found, and say goodbye.
    """
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    _worker(plan, conn).run()
    conn.close()


@attrs.define
class GiveUp:
    """Whether a worker's minimizing must stop now: a stop's grace time, or the end of the
    campaign's budget and its grace time, is over."""

    deadline: float  # time.monotonic() at which the campaign's budget ends
    stopped_at: float | None = None  # when the worker first saw a stop request

    def __call__(self) -> bool:
        now = time.monotonic()
        if _stop_requested and self.stopped_at is None:
            self.stopped_at = now
        stop_over = self.stopped_at is not None and now > self.stopped_at + STOP_GRACE_S
        return stop_over or now > self.deadline + END_GRACE_S


@attrs.define(eq=False, kw_only=True)
class Worker:
    """A worker process's campaign: what it runs, where it settles failures, what it reported."""

    plan: WorkerPlan
    conn: Connection
    machines: dict[str, type[TracedMachine]]
    factory: KernelFactory  # the campaign's kernel
    profile_settings: Settings
    database: ExampleDatabase
    deadline: float  # time.monotonic() at which the campaign's budget ends
    settler: chunks.Settler
    parent: int  # the parent's pid, to notice its death
    reach: coverage.Coverage  # the kernel's reach, saved into the run directory's COVERAGE_DATA
    plains: dict[str, type[TracedMachine]] = attrs.field(factory=dict)  # to replay failures on
    reported: set[tuple[str, str]] = attrs.field(factory=set)  # outcomes sent to the parent
    rng: random.SystemRandom = attrs.field(factory=random.SystemRandom)

    def run(self) -> None:
        """Chunk after chunk until the deadline or a stop; then say goodbye."""
        number = self.plan.first_chunk
        while not _stop_requested and time.monotonic() < self.deadline:
            self.run_chunk(number)
            number += 1
        self.send(messages.Bye())

    def run_chunk(self, number: int) -> None:
        """Run the *number*-th chunk, settle its failures, and report it; when the chunk is one
        that measures the kernel's reach, it is measured meanwhile and saved after the chunk (a
        killed worker loses only its last)."""
        if not self.measures_reach(number):
            self._run_chunk(number)
            return
        self.reach.start()
        try:
            self._run_chunk(number)
        finally:
            self.reach.stop()
            self.reach.save()

    def round_of(self, number: int) -> int:
        """The round the *number*-th chunk belongs to: round r runs each machine's r-th chunk
        (machines are dealt to the workers in turn, in the campaign's chunk order)."""
        options = self.plan.options
        place = self.plan.worker + number * options.workers
        return place // len(options.machines)

    def measures_reach(self, number: int) -> bool:
        """Whether the *number*-th chunk measures the kernel's reach: those of the first round
        do, and of one round in ``reach_every`` after it."""
        return self.round_of(number) % self.plan.options.reach_every == 0

    def _run_chunk(self, number: int) -> None:
        options = self.plan.options
        job = self.job(number)
        started = messages.ChunkStarted(
            chunk=number, machine=job.machine, seed=job.seed, swarm=job.swarm.name
        )
        self.send(started)
        ran = chunks.run_chunk(
            job,
            self.machines[job.machine],
            profile_settings=self.profile_settings,
            database=self.database,
            shrink=options.shrink,
            stopping=_stopping,
            known=self.settler.known(job.machine),
            progress=self.progress,
            progress_every_s=WORKER_PROGRESS_EVERY_S,
        )
        findings = self.settler.settle(ran, self.plain(job.machine))
        self.reported.update(ran.stats.outcomes)
        self.send(messages.chunk_done(ran, findings, worker=self.plan.worker, chunk=number))

    def job(self, number: int) -> chunks.Job:
        """The *number*-th chunk's job: the worker's next machine, a fresh seed of the shard's,
        and the swarm configuration asked for, or ``all`` in each machine's first round and
        drawn from the seed after it, so every family runs however short the campaign."""
        options, names = self.plan.options, self.plan.options.machines
        place = self.plan.worker + number * options.workers  # the campaign's chunk order
        name = names[place % len(names)]
        machine = self.machines[name]
        chunk_seed = options.shard.seed(self.rng.getrandbits(64))
        if options.swarm is not None:
            config = swarm.named(machine, options.swarm)
        elif place < len(names):
            config = swarm.named(machine, swarm.ALL)
        else:
            config = swarm.draw(machine, chunk_seed)
        return chunks.Job(
            machine=name,
            kernel=options.kernel,
            seed=chunk_seed,
            swarm=config,
            max_examples=options.chunk_examples,
            stop_at=min(self.deadline, time.monotonic() + chunk_seconds(options)),
            steer=self.round_of(number) % options.steer_every == 0,
        )

    def plain(self, name: str) -> type[TracedMachine]:
        """The machine *name* against the campaign's kernel, to replay its failures on."""
        if name not in self.plains:
            kernel = self.plan.options.kernel
            self.plains[name] = machine_for(self.machines[name], kernel, self.factory)
        return self.plains[name]

    def progress(self, stats: Stats) -> None:
        """Report the running chunk's figures, and the outcomes it reached first."""
        if os.getppid() != self.parent:  # orphaned: the parent died without stopping us
            _request_stop()
        new = set(stats.outcomes) - self.reported
        self.reported.update(new)
        outcomes = tuple(sorted(new))
        self.send(messages.Progress(examples=stats.examples, steps=stats.steps, outcomes=outcomes))

    def send(self, message: messages.Message) -> None:
        try:
            self.conn.send(message)
        except OSError:  # the parent is gone: nobody to report to
            _request_stop()


def _worker(plan: WorkerPlan, conn: Connection) -> Worker:
    """A worker's campaign, from its plan: its kernels, machines, profile, database, corpus."""
    parent = os.getppid()
    options = plan.options
    kernels.import_modules(options.imports)
    machines = runner.load_machines(options.machine_dir)
    profile_settings = profiles.load(PROFILE)
    factory = kernels.kernel_factory(options.kernel)
    database = open_database(options.database)
    deadline = time.monotonic() + (plan.deadline_wall - time.time())
    settler = chunks.Settler(
        corpus=chunks.Corpus(options.corpus),
        kernel=options.kernel,
        profile=PROFILE,
        run_dir=options.run_dir,
        git_commit=git_commit(),
        give_up=GiveUp(deadline),
    )
    return Worker(
        plan=plan,
        conn=conn,
        machines=machines,
        factory=factory,
        profile_settings=profile_settings,
        database=database,
        deadline=deadline,
        settler=settler,
        parent=parent,
        reach=reach.measuring(
            options.run_dir / COVERAGE_DATA / f"worker-{plan.worker}.{os.getpid()}"
        ),
    )


# --- the parent -------------------------------------------------------------------------------


@attrs.define(eq=False, kw_only=True)
class Slot:
    """One worker's place: its process (restarted when it dies) and what it is doing."""

    index: int
    process: BaseProcess | None = None
    conn: Connection | None = None
    pid: int | None = None
    chunks_done: int = 0
    said_bye: bool = False
    crashes_in_a_row: int = 0
    idle: str = "starting"  # what it is doing when it runs no chunk
    current: dict[str, Any] | None = None  # the chunk it is running, as a death reports it
    progress: messages.Progress = attrs.field(factory=messages.Progress)  # its figures so far
    started: float = 0.0  # when that chunk started (time.monotonic())
    heard: float = 0.0  # when it last sent anything (time.monotonic())
    stalled: bool = False  # killed for its silence
    new: int = 0
    repeats: int = 0


class Campaign:
    """The parent process of a campaign: workers, signals, progress, and the run directory."""

    def __init__(self, options: Options, out: TextIO, *, tty: bool | None = None) -> None:
        self.options = options
        self.out = out
        self.display = Display(out, out.isatty() if tty is None else tty, options.progress_every_s)
        # Spawned, not forked: a worker starts clean, without the parent's threads and state.
        self.context = multiprocessing.get_context("spawn")
        self.record = fuzz_report.Record(
            options_json(options),
            families=families_of(options),
            skipped_cases=chunks.Corpus(options.corpus).unreadable(),
        )
        self.errored_in_a_row = 0
        self.slots = [Slot(index=i) for i in range(options.workers)]
        self.stop_reason: str | None = None
        self.stop_sent: float | None = None
        self.seen_new: set[str] = set()
        self.outcomes: set[tuple[str, str]] = set()
        self.steps_done = 0
        self.examples_done = 0

    # --- running --------------------------------------------------------------------------

    def run(self) -> int:
        """Run the campaign to its end; write the run directory; return the exit status."""
        options = self.options
        self.started = time.monotonic()
        self.deadline = self.started + options.duration_s
        deadline_wall = time.time() + options.duration_s
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        self.display.event(
            f"fuzzing {', '.join(options.machines)} (shard {options.shard}) against the "
            f"{options.kernel} kernel for {_clock(options.duration_s)} with {options.workers} "
            f"workers\n  run directory {options.run_dir}\n  example database {options.database}"
            f"\n  corpus {options.corpus}"
        )
        for reason in self.record.skipped_cases:
            self.display.event(f"corpus file skipped, not a trace: {reason}")
        try:
            for slot in self.slots:
                self._start(slot, deadline_wall)
            self._supervise(deadline_wall)
            self.display.close()
            return self._finish()  # a second Ctrl-C while writing must not lose the summary
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_reason is None:
            self.stop_reason = signal.Signals(signum).name

    def _start(self, slot: Slot, deadline_wall: float) -> None:
        reader, writer = self.context.Pipe(duplex=False)
        plan = WorkerPlan(
            worker=slot.index,
            first_chunk=slot.chunks_done,
            options=self.options,
            deadline_wall=deadline_wall,
        )
        process = self.context.Process(
            target=worker_main, args=(plan, writer), name=f"helmmodel-fuzz-{slot.index}"
        )
        process.start()
        writer.close()  # the worker holds the only writing end: its death closes the pipe
        slot.process, slot.conn, slot.pid = process, reader, process.pid
        slot.said_bye, slot.current, slot.progress = False, None, messages.Progress()
        slot.idle, slot.heard, slot.stalled = "starting", time.monotonic(), False
        pid_file = self.options.run_dir / "workers" / f"{slot.index}.pid"
        pid_file.write_text(f"{process.pid}\n", encoding="utf-8")

    def _supervise(self, deadline_wall: float) -> None:
        while True:
            now = time.monotonic()
            live = [s for s in self.slots if s.process is not None]
            if not live:
                if self.stop_reason is None and now < self.deadline:
                    self.stop_reason = CRASHED  # every worker crashed too often
                return
            if self.stop_reason is not None and self.stop_sent is None:
                self.display.event(f"{self.stop_reason}: stopping every worker")
                self._signal_all(signal.SIGTERM)
                self.stop_sent = now
            elif self.stop_sent is None and now > self.deadline + END_GRACE_S:
                self.stop_reason = "deadline"  # a worker still settling: stop it now
                continue
            if self.stop_sent is not None and now > self.stop_sent + KILL_AFTER_S:
                for slot in live:
                    self._kill(slot)
                continue
            if self.stop_sent is None:
                self._kill_stalled(live, now)
            handles: list[Any] = [s.conn for s in live if s.conn is not None]
            handles += [s.process.sentinel for s in live if s.process is not None]
            for ready in wait(handles, timeout=0.2):
                for slot in live:
                    if ready is slot.conn:
                        self._read(slot)
            for slot in live:
                if slot.process is not None and not slot.process.is_alive():
                    self._ended(slot, deadline_wall)
            self.display.refresh(self, time.monotonic())

    def _kill_stalled(self, live: Sequence[Slot], now: float) -> None:
        """Kill each worker silent for too long inside a chunk (where it reports every second;
        starting up, it may take a while to import); _ended restarts it like a crash."""
        silence = self.options.stalled_after_s
        for slot in live:
            quiet = slot.current is not None and now - slot.heard > silence
            if slot.stalled or not quiet or slot.process is None:
                continue
            slot.stalled = True
            slot.process.kill()  # SIGKILL ends a stopped process too
            self.display.event(
                f"worker {slot.index} (pid {slot.pid}) sent nothing for {silence:g} s: killed"
            )

    def _signal_all(self, sig: signal.Signals) -> None:
        for slot in self.slots:
            if slot.process is not None and slot.process.is_alive() and slot.pid is not None:
                os.kill(slot.pid, sig)

    def _kill(self, slot: Slot) -> None:
        assert slot.process is not None
        if slot.process.is_alive():
            slot.process.kill()
            self.display.event(f"worker {slot.index} (pid {slot.pid}) did not stop in time: killed")
            self.record.deaths.append(
                {
                    "worker": slot.index,
                    "pid": slot.pid,
                    "cause": f"did not stop within {KILL_AFTER_S:.0f} s: killed",
                    "at_s": round(time.monotonic() - self.started, 3),
                    "lost_chunk": slot.current,
                    "restarted": False,
                    "at_stop": True,
                }
            )
        slot.process.join()
        self._read(slot)
        self._close(slot)

    def _read(self, slot: Slot) -> None:
        conn = slot.conn
        try:
            while conn is not None and conn.poll():
                self._message(slot, conn.recv())
        except (EOFError, OSError):  # the worker is gone; _ended tells why
            return
        except Exception as exc:  # a torn last message of a killed worker
            self.display.event(f"worker {slot.index}: unreadable message ({exc})")

    def _ended(self, slot: Slot, deadline_wall: float) -> None:
        assert slot.process is not None
        slot.process.join()
        self._read(slot)
        code = slot.process.exitcode
        lost = slot.current
        self._close(slot)
        if slot.said_bye:
            return
        if slot.stalled:
            cause = f"stalled: silent for {self.options.stalled_after_s:g} s, killed"
        elif code is not None and code < 0:
            cause = f"signal {signal.Signals(-code).name}"
        else:
            cause = f"exit status {code}"
        slot.crashes_in_a_row += 1
        time_left = self.deadline - time.monotonic()
        restart = (
            self.stop_reason is None
            and time_left > 1
            and slot.crashes_in_a_row < CRASHES_IN_A_ROW_MAX
        )
        entry = {
            "worker": slot.index,
            "pid": slot.pid,
            "cause": cause,
            "at_s": round(time.monotonic() - self.started, 3),
            "lost_chunk": lost,
            "restarted": restart,
            "at_stop": self.stop_reason is not None,
        }
        self.record.deaths.append(entry)
        if restart:
            self._start(slot, deadline_wall)
            entry["new_pid"] = slot.pid
            self.display.event(
                f"worker {slot.index} (pid {entry['pid']}) died ({cause}); restarted as pid "
                f"{slot.pid}"
            )
        else:
            retired = self.stop_reason is None and time_left > 1  # it crashed too often
            slot.idle = "retired: it crashed too often" if retired else "stopped"
            self.display.event(f"worker {slot.index} (pid {entry['pid']}) died ({cause})")

    def _close(self, slot: Slot) -> None:
        if slot.conn is not None:
            slot.conn.close()
        slot.process, slot.conn, slot.current = None, None, None

    def _message(self, slot: Slot, message: messages.Message) -> None:
        now = time.monotonic()
        slot.heard = now
        match message:
            case messages.ChunkStarted():
                slot.current = {**message.to_json(), "at_s": round(now - self.started, 3)}
                slot.progress, slot.started = messages.Progress(), now
            case messages.Progress():
                slot.progress = message
                self.outcomes.update(message.outcomes)
                self._sample(now)
            case messages.ChunkDone():
                self._done(slot, message, now)
            case messages.Bye():
                slot.said_bye, slot.idle = True, "finished"

    def _done(self, slot: Slot, done: messages.ChunkDone, now: float) -> None:
        assert slot.current is not None
        done = attrs.evolve(done, findings=tuple(map(self._first_saved, done.findings)))
        report = done.to_json(started_s=slot.current["at_s"], pid=slot.pid)
        slot.chunks_done = done.chunk + 1
        slot.crashes_in_a_row = 0
        slot.current, slot.progress, slot.idle = None, messages.Progress(), "between chunks"
        self.steps_done += done.steps
        self.examples_done += done.examples
        for facet, values in done.outcomes.items():
            self.outcomes.update((facet, value) for value in values)
        slot.repeats += sum(map(fuzz_report.repeat_hits, report["findings"]))
        for finding in done.findings:
            if finding.kind == chunks.NEW:
                slot.new += 1
            self._announce(finding, done.machine)
        for error in done.errors:
            self.display.event(f"error in {done.machine}: {error}")
        self.errored_in_a_row = self.errored_in_a_row + 1 if done.errors else 0
        if self.errored_in_a_row >= ERRORED_CHUNKS_IN_A_ROW_MAX and self.stop_reason is None:
            self.stop_reason = ERRORS
        self.record.chunks.append(report)
        self._sample(now)

    def _first_saved(self, finding: chunks.Finding) -> chunks.Finding:
        """*finding*, a repeat when it is new but another worker saved one of its group first."""
        if finding.kind != chunks.NEW or finding.identity is None:
            return finding
        key = finding.group or finding.identity
        if key in self.seen_new:
            return attrs.evolve(finding, kind=chunks.REPEAT)
        self.seen_new.add(key)
        return finding

    def _announce(self, finding: chunks.Finding, machine: str) -> None:
        """Show a new failure, or one that is neither new nor a repeat, as an event."""
        if finding.kind == chunks.NEW:
            fixed = " (the corpus had it as fixed: it came back)" if finding.regressed else ""
            self.display.event(
                f"NEW {finding.invariant} in {machine}{fixed}: {finding.found_steps} steps, "
                f"1-minimal {finding.minimal_steps}, saved to {finding.path} "
                f"(helmmodel show {finding.path})"
            )
        elif finding.kind != chunks.REPEAT:
            self.display.event(
                f"{finding.kind} {finding.invariant} in {machine}: "
                f"{finding.path or finding.message}"
            )

    def _sample(self, now: float) -> None:
        steps = self.steps_done + sum(s.progress.steps for s in self.slots)
        examples = self.examples_done + sum(s.progress.examples for s in self.slots)
        self.record.sample(round(now - self.started, 3), steps, examples, len(self.outcomes))

    def _finish(self) -> int:
        elapsed = time.monotonic() - self.started
        self._sample(time.monotonic())
        try:
            summary = fuzz_report.write(
                self.record,
                self.options.run_dir,
                stopped_by=self.stop_reason or "deadline",
                elapsed_s=elapsed,
                reach=self._reach(),
            )
        except OSError as exc:  # a full disk: what was found must still reach someone
            return self._unwritten(exc, elapsed)
        totals = summary["totals"]
        if "reach" in summary:
            self.out.write(
                f"kernel reach: {summary['reach']['percent']:.1f}% of its statements and "
                f"branches ({self.options.run_dir / summary['reach']['html']})\n"
            )
        self.out.write(
            f"{totals['examples']:,} examples, {totals['steps']:,} steps in {_clock(elapsed)} "
            f"({totals['steps_per_s']:,.0f} steps/s): {totals['new_failures']} new failures, "
            f"{totals['repeated_failures']} repeats, {totals['worker_restarts']} worker "
            f"restarts\n"
            f"run directory: {self.options.run_dir} (summary.json, junit.xml, report.html)\n"
        )
        for warning in summary["warnings"]:
            self.out.write(f"NOT GREEN: {warning}\n")
        self.out.flush()
        if self.stop_reason in ("SIGINT", "SIGTERM"):
            return 130
        if totals["new_failures"]:
            return 1
        return UNHEALTHY if summary["warnings"] else 0

    def _unwritten(self, error: OSError, elapsed: float) -> int:
        """The run directory could not be written: the summary goes to the output as JSON,
        with every failure and where it was saved (the corpus holds the traces)."""
        summary = fuzz_report.summarize(
            self.record, stopped_by=self.stop_reason or "deadline", elapsed_s=elapsed
        )
        kept = {key: summary[key] for key in ("totals", "failures", "warnings", "worker_deaths")}
        self.out.write(
            f"NOT GREEN: cannot write the run directory {self.options.run_dir} "
            f"({error.strerror or error}); the summary follows as JSON\n"
            f"{json.dumps(kept, indent=2)}\n"
        )
        self.out.flush()
        return 1 if summary["totals"]["new_failures"] else UNHEALTHY

    def _reach(self) -> dict[str, Any] | None:
        """The workers' coverage data combined, as the summary holds it, with its HTML report
        in the run directory; None when no worker saved any."""
        run_dir = self.options.run_dir
        data_files = sorted((run_dir / COVERAGE_DATA).glob("worker-*"))
        if not data_files:
            return None
        try:
            combined = reach.combine(data_files, run_dir / COVERAGE_HTML)
        except (coverage.CoverageException, RunnerError) as exc:  # a worker killed mid-save
            self.display.event(f"the workers' coverage data cannot be combined: {exc}")
            return None
        return {
            "percent": round(combined.percent, 2),
            "html": f"{COVERAGE_HTML}/index.html",
            "measured_every": self.options.reach_every,
            "components": {c.name: round(c.percent, 2) for c in combined.components},
        }


def chunk_seconds(options: Options) -> float:
    """How long a chunk may run: short enough that every machine gets a chunk within the
    campaign's time (machines are dealt to the workers in turn), at most CHUNK_SECONDS_MAX."""
    share = options.duration_s * options.workers / len(options.machines)
    return min(CHUNK_SECONDS_MAX, share)


def families_of(options: Options) -> dict[str, dict[str, list[str]]]:
    """Each machine's rule families and the rules the run may draw of each (all of them, or
    those a ``--swarm`` configuration keeps), as the health check reads them."""
    machines = runner.load_machines(options.machine_dir)
    found: dict[str, dict[str, list[str]]] = {}
    for name in options.machines:
        machine = machines[name]
        disabled = swarm.named(machine, options.swarm).disabled if options.swarm else frozenset()
        kept = {
            family: sorted(rules - disabled) for family, rules in swarm.families(machine).items()
        }
        found[name] = {family: rules for family, rules in kept.items() if rules}
    return found


def options_json(options: Options) -> dict[str, Any]:
    return {
        "machines": list(options.machines),
        "duration_s": options.duration_s,
        "workers": options.workers,
        "kernel": options.kernel,
        "profile": PROFILE,
        "corpus": str(options.corpus),
        "database": options.database,
        "shard": {"index": options.shard.index, "count": options.shard.count},
        "run_dir": str(options.run_dir),
        "chunk_examples": options.chunk_examples,
        "shrink": options.shrink,
        "swarm": options.swarm or "drawn per chunk",
        "stalled_after_s": options.stalled_after_s,
        "command_line": list(options.command_line),
    }


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return (
        f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"
    )


class Display:
    """Progress for a person: live lines per worker on a terminal, else a plain line now and
    then (every *every_s*), and events (a new failure, a restart) as they happen."""

    def __init__(self, out: TextIO, tty: bool, every_s: float) -> None:
        self.out, self.tty, self.every_s = out, tty, every_s
        self.lines = 0  # live lines on screen, redrawn in place
        self.next_at = time.monotonic() + (TTY_REFRESH_EVERY_S if tty else every_s)

    def event(self, text: str) -> None:
        self._clear()
        self.out.write(text + "\n")
        self.out.flush()

    def refresh(self, campaign: Campaign, now: float) -> None:
        if now < self.next_at:
            return
        self.next_at = now + (TTY_REFRESH_EVERY_S if self.tty else self.every_s)
        if not self.tty:
            self.out.write(status_line(campaign, now) + "\n")
            self.out.flush()
            return
        lines = [status_line(campaign, now), *worker_lines(campaign, now)]
        self._clear()
        self.out.write("".join(f"{line}\n" for line in lines))
        self.out.flush()
        self.lines = len(lines)

    def _clear(self) -> None:
        if self.tty and self.lines:
            self.out.write(f"\x1b[{self.lines}F\x1b[J")  # up to the first live line; erase below
            self.lines = 0

    def close(self) -> None:
        self.lines = 0


def status_line(campaign: Campaign, now: float) -> str:
    """One line: time, steps, rate, outcomes, failures, restarts, and each worker's machine."""
    elapsed = now - campaign.started
    samples = campaign.record.timeline
    steps = samples[-1][1] if samples else 0
    new = sum(slot.new for slot in campaign.slots)
    repeats = sum(slot.repeats for slot in campaign.slots)
    restarts = campaign.record.restarts()
    busy = ", ".join(
        f"w{slot.index} {slot.current['machine'] if slot.current else '-'}"
        for slot in campaign.slots
    )
    return (
        f"[{_clock(elapsed)} of {_clock(campaign.options.duration_s)}] {steps:,} steps "
        f"({steps / elapsed if elapsed else 0:,.0f}/s), {len(campaign.outcomes)} distinct "
        f"outcomes, {new} new failures, {repeats} repeats, {restarts} restarts; "
        f"{busy}"
    )


def worker_lines(campaign: Campaign, now: float) -> list[str]:
    """A line per worker: machine and swarm configuration, examples, steps/s, failures."""
    lines = []
    for slot in campaign.slots:
        current = slot.current
        if current is None:
            lines.append(f"  worker {slot.index}: {slot.idle}")
            continue
        steps = slot.progress.steps
        rate = steps / (now - slot.started) if now > slot.started else 0.0
        lines.append(
            f"  worker {slot.index} (pid {slot.pid}): {current['machine']:<18} "
            f"{current['swarm']:<28} {slot.progress.examples:>7,} examples "
            f"{rate:>6,.0f} steps/s  failures: {slot.new} new, {slot.repeats} repeats"
        )
    return lines


def run(options: Options, out: TextIO, *, tty: bool | None = None) -> int:
    """Run a campaign (``helmmodel fuzz``); return its exit status: 0, 1 with a new failure or
    when every worker crashed too often, 130 when stopped by Ctrl-C or SIGTERM."""
    return Campaign(options, out, tty=tty).run()


def plan_machines(
    machines: dict[str, type[TracedMachine]],
    names: Sequence[str],
    shard: Shard,
    swarm_name: str | None = None,
) -> tuple[str, ...]:
    """The machines named (all when none), in a stable order, and of those this shard's; each
    must have the swarm configuration *swarm_name*, when one is given."""
    selected = [machine.name for machine in runner.select(machines, names)]  # type: ignore[attr-defined]
    planned = tuple(shard.machines(sorted(selected)))
    if swarm_name is not None:
        for name in planned:
            try:
                swarm.named(machines[name], swarm_name)
            except SwarmError as exc:
                raise CampaignError(f"--swarm {swarm_name}: {exc}") from None
    return planned
