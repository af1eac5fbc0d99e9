"""The fuzz campaign's parts, in this process: arguments, shards, swarm configurations, chunks
(against a mutant kernel, so that the failure path runs for real), repeats, steering, and the
summary, JUnit file and HTML report. Real campaigns in worker processes are in
test_campaign_process.py."""

from __future__ import annotations

import io
import json
import pickle
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import run_state_machine_as_test

from helmmodel import cli
from helmmodel.errors import CampaignError, SwarmError
from helmmodel.fuzz import campaign, chunks, messages, swarm
from helmmodel.fuzz import report as fuzz_report
from helmmodel.harness import kernels, profiles, runner
from helmmodel.harness.stateful import TracedMachine, machine_for, transitions
from helmmodel.harness.trace import load, message_shape
from helmmodel.harness.trace import save as trace_save

MACHINES = Path(__file__).resolve().parents[2] / "machines"
# Caught by its machine within about 4 to 12 examples, whatever the seed.
MUTANT = "executor-reads-guardian-clock"
MUTANT_MACHINE = "clock_drift"
MUTANT_INVARIANT = "window_respected"


@pytest.fixture(scope="module")
def machines() -> dict[str, type[TracedMachine]]:
    """The repository's machines."""
    return runner.load_machines(MACHINES)


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("20m", 1200), ("8h", 28800), ("1h30m", 5400), ("1.5s", 1.5)]
)
def test_durations_are_read_in_hours_minutes_and_seconds(text: str, seconds: float) -> None:
    """A duration is a sum of numbers with units h, m and s."""
    assert seconds == campaign.parse_duration(text)


@pytest.mark.parametrize("text", ["8x", "8", "", "h", "5m 3s", "0s"])
def test_a_bad_duration_is_refused_naming_it(text: str) -> None:
    """A duration without a unit, with another unit, or of no time at all is refused."""
    with pytest.raises(CampaignError, match=f"--duration {text!r}"):
        campaign.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("x", "'x' is not a shard"), ("0/2", "0/2: i must be within 1..n"), ("3/2", "3/2: i must")],
)
def test_a_bad_shard_is_refused_naming_it(text: str, message: str) -> None:
    """A shard that is not i/n, or whose i is outside 1..n, is refused."""
    with pytest.raises(CampaignError, match=message):
        campaign.parse_shard(text)


NINE = [f"m{i}" for i in range(9)]


@pytest.mark.parametrize("count", range(1, 13))
def test_shards_cover_every_machine_and_never_share_a_seed(count: int) -> None:
    """n shards together run every machine, share none while n <= machines, and draw disjoint
    seeds."""
    shards = [campaign.Shard(index, count) for index in range(1, count + 1)]
    runs = [shard.machines(NINE) for shard in shards]
    assert set(NINE) == {name for run in runs for name in run}
    if count <= len(NINE):
        assert len(NINE) == sum(len(run) for run in runs)
    seeds = [{shard.seed(value) for value in range(0, 5000, 7)} for shard in shards]
    for index, own in enumerate(seeds):
        assert all(seed % count == index for seed in own)
        for other in seeds[index + 1 :]:
            assert not own & other


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `helmmodel fuzz` in this process; return its status and its stderr."""
    status = cli.main(["fuzz", "--machines", str(MACHINES), *argv])
    return status, capsys.readouterr().err.strip()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "8x"], "--duration '8x' is not a duration"),
        (["--duration", "1m", "--shard", "x"], "--shard 'x' is not a shard"),
        (["--duration", "1m", "--shard", "0/2"], "--shard 0/2: i must be within 1..n"),
        (["--duration", "1m", "--shard", "3/2"], "--shard 3/2: i must be within 1..n"),
        (["--duration", "1m", "--workers", "0"], "--workers '0' is not auto or a positive"),
        (["--duration", "1m", "--chunk-examples", "-3"], "--chunk-examples '-3' is not a pos"),
        (["--duration", "1m", "--reach-every", "0"], "--reach-every '0' is not a positive"),
        (["nosuch", "--duration", "1m"], "unknown machine 'nosuch'"),
        (["--duration", "1m", "--kernel", "nosuch"], "unknown kernel 'nosuch'"),
        (["--duration", "1m", "--db", "ftp://host/x"], "--db ftp://host/x: not a directory or"),
        (["--duration", "1m", "--swarm", "no-such"], "--swarm no-such: budget_contention has no"),
        (["kernel", "--duration", "1m", "--swarm", "all+x"], "no swarm configuration 'all+x'"),
    ],
)
def test_bad_fuzz_arguments_exit_2_with_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad argument exits 2 with one line that names the value and what to write."""
    status, err = run_cli([*argv, "--run-dir", str(tmp_path / "run")], capsys)
    assert 2 == status
    assert 1 == len(err.splitlines())
    assert message in err


def test_an_unreachable_redis_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A redis:// database nobody answers at exits 2, naming the URL and what to do."""
    url = f"redis://127.0.0.1:{closed_port()}"
    status, err = run_cli(["--duration", "1m", "--db", url, "--run-dir", str(tmp_path)], capsys)
    assert 2 == status
    assert f"--db {url}: cannot reach Redis there" in err
    assert "start redis-server" in err


def test_an_unwritable_run_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run directory that cannot be created (its parent is a file) exits 2, naming it, before
    any other option is acted on."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    status, err = run_cli(["--duration", "1m", "--run-dir", str(blocker / "run")], capsys)
    assert 2 == status
    assert f"--run-dir {blocker / 'run'}: would be under {blocker}, which is not a" in err


def test_a_finished_run_directory_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run directory that already holds a summary is refused."""
    (tmp_path / fuzz_report.SUMMARY).write_text("{}")
    status, err = run_cli(["--duration", "1m", "--run-dir", str(tmp_path)], capsys)
    assert 2 == status
    assert "already holds a campaign's summary" in err


def test_a_mutant_campaign_never_writes_into_the_repository_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with `run`, another kernel's failures never go into tests/regressions."""
    monkeypatch.chdir(MACHINES.parent)
    argv = ["--duration", "1m", "--kernel", MUTANT, "--corpus", "tests/regressions"]
    status, err = run_cli([*argv, "--run-dir", str(tmp_path)], capsys)
    assert 2 == status
    assert "never go into the repository's corpus" in err


# --- swarm configurations ---------------------------------------------------------------------


def test_swarm_configurations_are_drawn_from_the_seed(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """The same seed gives the same configuration; seeds give many configurations."""
    kernel = machines["kernel"]
    assert swarm.draw(kernel, 12345) == swarm.draw(kernel, 12345)
    names = {swarm.draw(kernel, seed).name for seed in range(200)}
    assert {"all", "all+clock-edges", "no-fault", "only-policy"} <= names
    assert len(names) > 30


def test_a_configuration_is_found_by_its_name(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """--swarm names a configuration as the summary does: a subset, then a range after a +."""
    kernel = machines["kernel"]
    named = swarm.named(kernel, "no-fault+clock-edges")
    assert named.ranges == "clock-edges"
    assert swarm.families(kernel)["fault"] <= named.disabled
    assert swarm.SwarmConfig("all") == swarm.named(kernel, "all")


def test_every_rule_subset_can_start_and_keeps_or_drops_whole_families(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """A subset keeps a rule that needs no bundle; no-F drops all of F; only-F keeps all of F
    and, of the other families, only rules that feed the bundles it reads."""
    for machine in machines.values():
        specs = transitions(machine)
        families = swarm.families(machine)
        for config in swarm.subsets(machine):
            enabled = set(specs) - config.disabled
            assert any(all(p.bundle is None for p in specs[r].params.values()) for r in enabled)
            kind, _, family = config.name.partition("-")
            if kind == "no":
                assert not enabled & families[family]
            elif kind == "only":
                assert families[family] <= enabled
                # Any other rule kept feeds a bundle that some kept rule reads.
                read = {p.bundle for r in enabled for p in specs[r].params.values()}
                assert all(specs[r].target in read for r in enabled - families[family])


def test_a_configuration_hides_disabled_rules_from_hypothesis_and_narrows_ranges(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """Disabled rules are no rules to Hypothesis (but stay replayable); a range gives a rule
    the machine's narrower strategies."""
    machine = machines["budget_contention"]
    config = swarm.SwarmConfig("test", frozenset({"rotate_key"}), "tight-budgets")
    job = chunks.Job(
        machine="budget_contention", kernel="correct", seed=1, swarm=config, max_examples=10,
        stop_at=0.0,
    )  # fmt: skip
    chunk = chunks.Chunk(
        machine="budget_contention", seed=1, swarm="test", stop_at=0.0, stopping=lambda: False,
        known=frozenset(), rules=(),
    )  # fmt: skip
    variant = chunks.campaign_variant(machine, job, chunk)
    rules = {rule.function.__name__: rule for rule in variant.setup_state().rules}
    assert "rotate_key" not in rules
    assert "rotate_key" in transitions(variant)
    narrow = machine.swarm_ranges["tight-budgets"]["set_budget_limit"]  # type: ignore[attr-defined]
    assert narrow["limit"] is rules["set_budget_limit"].arguments["limit"]


def test_ranges_that_do_not_fit_a_rule_are_refused(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """A range that misses one of a rule's plain arguments is a SwarmError naming the rule."""
    machine = machines["budget_contention"]
    spec = transitions(machine)["set_budget_limit"]
    with pytest.raises(SwarmError, match="set_budget_limit the arguments \\['limit'\\]"):
        swarm.narrowed(machine, spec, {"limit": st.integers(0, 1)})


# --- chunks -----------------------------------------------------------------------------------


def run_one(
    machine: type[TracedMachine],
    kernel: str,
    *,
    seed: int,
    examples: int,
    known: frozenset[chunks.Shape] = frozenset(),
    database: DirectoryBasedExampleDatabase | None = None,
    config: swarm.SwarmConfig | None = None,
    stop_in_s: float = 120.0,
    stopping: Any = lambda: False,
    shrink: bool = False,
    steer: bool = True,
) -> chunks.Ran:
    """One chunk in this process (every rule on by default; no shrinking unless asked)."""
    config = config or swarm.SwarmConfig(swarm.ALL)
    name = machine.name  # type: ignore[attr-defined]
    job = chunks.Job(
        machine=name, kernel=kernel, seed=seed, swarm=config, max_examples=examples,
        stop_at=time.monotonic() + stop_in_s, steer=steer,
    )  # fmt: skip
    return chunks.run_chunk(
        job,
        machine,
        profile_settings=profiles.PROFILES["nightly"],
        database=database,
        shrink=shrink,
        stopping=stopping,
        known=known,
    )


def settler_in(path: Path, kernel: str) -> chunks.Settler:
    """A settler saving into *path*/corpus, with the run directory *path*/run."""
    return chunks.Settler(
        corpus=chunks.Corpus(path / "corpus"),
        kernel=kernel,
        profile="nightly",
        run_dir=path / "run",
        git_commit=None,
        give_up=lambda: False,
    )


def test_a_known_failure_is_noted_and_the_chunk_explores_on(
    machines: dict[str, type[TracedMachine]], tmp_path: Path
) -> None:
    """A new failure ends its chunk and is saved; the next chunk replays it from the database
    first (example 1), notes it instead of raising it, runs every one of its examples, and
    Hypothesis drops it from the database."""
    machine = machines[MUTANT_MACHINE]
    plain = machine_for(machine, MUTANT, kernels.kernel_factory(MUTANT))
    database = DirectoryBasedExampleDatabase(tmp_path / "db")
    settler = settler_in(tmp_path, MUTANT)

    first = run_one(machine, MUTANT, seed=2, examples=200, database=database)
    assert "failure" == first.chunk.ended_by
    assert first.stats.examples < 100  # Hypothesis stops soon after a failure
    [found] = settler.settle(first, plain)
    assert (chunks.NEW, MUTANT_INVARIANT) == (found.kind, found.invariant)
    assert found.path is not None
    assert found.identity == load(found.path).identity()
    assert (tmp_path / "run" / "new-cases" / MUTANT_MACHINE / Path(found.path).name).exists()
    stored = {path for path in (tmp_path / "db").rglob("*") if path.is_file()}

    known = settler.known(MUTANT_MACHINE)
    assert (MUTANT_INVARIANT, message_shape(found.message)) in known
    second = run_one(machine, MUTANT, seed=3, examples=60, known=known, database=database)
    assert "examples" == second.chunk.ended_by
    assert second.stats.examples >= 60
    assert {} == second.failures
    [noted] = second.chunk.noted.values()
    assert (MUTANT_INVARIANT, 1) == (noted.invariant, noted.first_example)
    left = {path for path in (tmp_path / "db").rglob("*") if path.is_file()}
    assert stored - left, "the failure's database entry was not dropped"


def test_noted_runs_of_an_open_case_count_as_repeats(
    machines: dict[str, type[TracedMachine]], tmp_path: Path
) -> None:
    """A noted trace whose 1-minimal form is an open case of the corpus is a repeat: every run
    that hit it counts, and the case's file is left as it is."""
    machine = machines[MUTANT_MACHINE]
    plain = machine_for(machine, MUTANT, kernels.kernel_factory(MUTANT))
    settler = settler_in(tmp_path, MUTANT)
    ran = run_one(machine, MUTANT, seed=2, examples=200)
    [saved] = settler.settle(ran, plain)
    assert saved.path is not None
    before = Path(saved.path).stat().st_mtime_ns
    [failure] = ran.failures.values()
    ran.chunk.noted[(failure.invariant, message_shape(failure.message))] = chunks.Noted(
        invariant=failure.invariant,
        message=failure.message,
        steps=failure.steps,
        first_example=1,
        hits=5,
    )
    [repeat] = settler.settle(attrs.evolve(ran, failures={}), plain)
    assert (chunks.REPEAT, 5, saved.identity, saved.path) == (
        repeat.kind, repeat.hits, repeat.identity, repeat.path
    )  # fmt: skip
    assert before == Path(saved.path).stat().st_mtime_ns


def test_a_new_failure_is_shrunk_by_hypothesis_unless_told_not_to(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """With shrinking on (the default), the failing trace a chunk keeps is Hypothesis's shrunk
    one, far shorter than the one it first found."""
    machine = machines[MUTANT_MACHINE]
    found = run_one(machine, MUTANT, seed=2, examples=200)
    shrunk = run_one(machine, MUTANT, seed=2, examples=200, shrink=True)
    [long] = found.failures.values()
    [short] = shrunk.failures.values()
    assert len(short.steps) < len(long.steps) / 2
    assert shrunk.stats.examples > found.stats.examples  # the shrinker's runs


def test_a_noted_failure_of_a_new_identity_is_saved_as_new(
    machines: dict[str, type[TracedMachine]], tmp_path: Path
) -> None:
    """A noted shape decides nothing by itself: a trace of a known shape whose 1-minimal form
    is not in the corpus is new, and saved."""
    machine = machines[MUTANT_MACHINE]
    plain = machine_for(machine, MUTANT, kernels.kernel_factory(MUTANT))
    ran = run_one(machine, MUTANT, seed=2, examples=200)
    [failure] = ran.failures.values()
    ran.chunk.noted[(failure.invariant, message_shape(failure.message))] = chunks.Noted(
        invariant=failure.invariant,
        message=failure.message,
        steps=failure.steps,
        first_example=4,
        hits=3,
    )
    [found] = settler_in(tmp_path, MUTANT).settle(attrs.evolve(ran, failures={}), plain)
    assert (chunks.NEW, 3, 4) == (found.kind, found.hits, found.first_example)
    assert found.path is not None and Path(found.path).exists()


def test_a_failure_found_when_time_is_up_is_saved_as_found(
    machines: dict[str, type[TracedMachine]], tmp_path: Path
) -> None:
    """When a stop's grace time is over, minimizing gives up and the trace is saved as found
    into the run directory's pending/, never lost (and never into the corpus unminimized)."""
    machine = machines[MUTANT_MACHINE]
    plain = machine_for(machine, MUTANT, kernels.kernel_factory(MUTANT))
    ran = run_one(machine, MUTANT, seed=2, examples=200)
    [failure] = ran.failures.values()
    settler = attrs.evolve(settler_in(tmp_path, MUTANT), give_up=lambda: True)
    [pending] = settler.settle(ran, plain)
    assert (chunks.PENDING, None) == (pending.kind, pending.minimal_steps)
    assert pending.path is not None
    assert tmp_path / "run" / "pending" / MUTANT_MACHINE == Path(pending.path).parent
    assert len(failure.steps) == len(load(pending.path).steps)
    assert not (tmp_path / "corpus").exists()


def test_a_chunk_stops_at_its_deadline_and_on_a_stop_request(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """A chunk ends at the next step after its deadline, or after a stop request."""
    machine = machines["clock_drift"]
    started = time.monotonic()
    timed = run_one(machine, "correct", seed=5, examples=100_000, stop_in_s=1.0)
    assert "time" == timed.chunk.ended_by
    assert time.monotonic() - started < 3
    calls = []

    def stop_after_some_steps() -> bool:
        calls.append(1)
        return len(calls) > 30

    stopped = run_one(machine, "correct", seed=5, examples=100_000, stopping=stop_after_some_steps)
    assert ("stop", 30) == (stopped.chunk.ended_by, stopped.stats.steps)


def test_transitions_count_consecutive_rules_of_finished_runs(
    machines: dict[str, type[TracedMachine]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The matrix counts each pair of consecutive rules of each run: steps - 1 per run (none
    for a run Hypothesis ended before its first step)."""
    lengths: list[int] = []
    observe = chunks.Chunk.observe

    def noting(chunk: chunks.Chunk, steps: Any) -> None:
        lengths.append(len(steps))
        observe(chunk, steps)

    monkeypatch.setattr(chunks.Chunk, "observe", noting)
    ran = run_one(machines["clock_drift"], "correct", seed=7, examples=20)
    matrix = ran.chunk.matrix
    assert ran.stats.steps == sum(lengths)
    assert sum(max(0, n - 1) for n in lengths) == int(matrix.sum())
    chunk = chunks.Chunk(
        machine="m", seed=1, swarm="all", stop_at=0.0, stopping=lambda: False, known=frozenset(),
        rules=("a", "b", "c"),
    )  # fmt: skip
    chunk.observe([{"rule": "a"}, {"rule": "b"}, {"rule": "b"}, {"rule": "a"}])
    assert [[0, 1, 0], [1, 1, 0], [0, 0, 0]] == chunk.matrix.tolist()


def test_the_campaign_steers_with_target_and_plain_runs_never_do(
    machines: dict[str, type[TracedMachine]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Campaign variants report budget pressure and closeness to expiry to target(), in the
    chunks whose job says to steer; plain machines (the ci runs) never call it."""
    import machines.world as world

    observed: list[str] = []
    monkeypatch.setattr(world, "target", lambda value, label: observed.append(label))
    machine = machines["clock_drift"]
    plain = machine_for(machine, "correct", kernels.kernel_factory("correct"))
    run_state_machine_as_test(plain, settings=Settings(profiles.PROFILES["ci"], max_examples=5))
    assert [] == observed
    ran = run_one(machine, "correct", seed=11, examples=30)
    assert [] == ran.errors
    assert {"budget pressure (charged - limit)", "closeness to intent expiry (-ms)"} == set(
        observed
    )
    observed.clear()
    assert [] == run_one(machine, "correct", seed=11, examples=30, steer=False).errors
    assert [] == observed  # a chunk of a round that does not steer


def test_real_target_calls_run_in_a_campaign_chunk(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """With the real target(), a chunk of the kernel machine runs without an error."""
    ran = run_one(machines["kernel"], "correct", seed=13, examples=15)
    assert ([], "examples") == (ran.errors, ran.chunk.ended_by)


# --- messages from the workers ----------------------------------------------------------------

CHUNK_KEYS = [
    "worker", "chunk", "machine", "seed", "swarm", "ended_by", "seconds", "examples", "steps",
    "rules", "outcomes", "transitions", "findings", "errors", "started_s", "pid",
]  # fmt: skip


def test_a_chunk_report_goes_through_a_pipe_and_keeps_the_shape_the_summary_reads(
    machines: dict[str, type[TracedMachine]],
) -> None:
    """A chunk's report is a record that survives pickling, and the parent keeps it as the
    dictionary the summary reads, with the chunk's figures."""
    ran = run_one(machines["clock_drift"], "correct", seed=7, examples=5)
    done = messages.chunk_done(ran, [], worker=1, chunk=4)
    assert done == pickle.loads(pickle.dumps(done))
    kept = done.to_json(started_s=0.5, pid=99)
    assert CHUNK_KEYS == list(kept)
    figures = (kept["worker"], kept["chunk"], kept["steps"], kept["pid"])
    assert (1, 4, ran.stats.steps, 99) == figures
    transitions = {"rules": list(ran.chunk.rules), "matrix": ran.chunk.matrix.tolist()}
    assert transitions == kept["transitions"]
    json.dumps(kept)  # plain data all the way down


def test_the_parent_takes_each_message_by_its_type(tmp_path: Path) -> None:
    """The parent notes a started chunk, its progress and its end; a new failure another worker
    saved first is a repeat; a goodbye retires the worker."""
    options = campaign.Options(
        machines=("kernel",),
        duration_s=60.0,
        workers=2,
        kernel="correct",
        corpus=tmp_path,
        database=str(tmp_path),
        shard=campaign.Shard(),
        run_dir=tmp_path,
    )
    parent = campaign.Campaign(options, io.StringIO(), tty=False)
    parent.started = time.monotonic()
    new = chunks.Finding(
        kind=chunks.NEW, invariant="budget_within_limit", message="over", found_steps=9,
        identity="n1", path="/corpus/n1.json", minimal_steps=3,
    )  # fmt: skip
    for slot in parent.slots:
        started = messages.ChunkStarted(chunk=0, machine="kernel", seed=slot.index, swarm="all")
        parent._message(slot, started)
        parent._message(slot, messages.Progress(examples=2, steps=9, outcomes=(("verdict", "X"),)))
        assert 9 == slot.progress.steps
        done = messages.ChunkDone(
            worker=slot.index, chunk=0, machine="kernel", seed=slot.index, swarm="all",
            ended_by="examples", seconds=1.0, examples=2, steps=9, rules={},
            outcomes={"verdict": {"Y": 1}}, transitions={"rules": [], "matrix": []},
            findings=(new,), errors=(),
        )  # fmt: skip
        parent._message(slot, done)
        parent._message(slot, messages.Bye())
    assert [chunks.NEW, chunks.REPEAT] == [c["findings"][0]["kind"] for c in parent.record.chunks]
    assert [(1, 0), (0, 1)] == [(slot.new, slot.repeats) for slot in parent.slots]
    assert all(slot.said_bye and slot.current is None for slot in parent.slots)
    assert {("verdict", "X"), ("verdict", "Y")} == parent.outcomes
    assert (4, 18) == (parent.examples_done, parent.steps_done)


# --- the summary, JUnit and the report --------------------------------------------------------


def chunk_report(
    machine: str,
    swarm_name: str,
    rules: list[str],
    matrix: list[list[int]],
    findings: list[dict[str, Any]],
) -> dict[str, Any]:
    """A worker's report of one chunk of 100 steps."""
    return {
        "worker": 0, "pid": 1, "chunk": 0, "machine": machine, "seed": 7, "swarm": swarm_name,
        "started_s": 0.5, "seconds": 2.0, "examples": 10, "steps": 100, "ended_by": "examples",
        "rules": dict.fromkeys(rules, 50), "outcomes": {"verdict": {"ALLOW": 3}},
        "transitions": {"rules": rules, "matrix": matrix}, "findings": findings, "errors": [],
    }  # fmt: skip


def finding(kind: str, identity: str, hits: int = 1) -> dict[str, Any]:
    """A settled finding as a worker reports it."""
    return chunks.Finding(
        kind=kind, invariant="budget_within_limit", message="b0 over its limit", found_steps=20,
        hits=hits, identity=identity, path=f"/corpus/{identity}.json", minimal_steps=4,
    ).to_json()  # fmt: skip


def a_record() -> fuzz_report.Record:
    """A campaign of two chunks of alpha (beta never ran) and one worker restart."""
    record = fuzz_report.Record(
        {
            "machines": ["alpha", "beta"],
            "duration_s": 60.0,
            "workers": 2,
            "kernel": "k",
            "profile": "nightly",
            "corpus": "/corpus",
            "database": "/db",
            "shard": {"index": 1, "count": 2},
            "run_dir": "/run",
            "chunk_examples": 10,
            "shrink": False,
        }
    )
    record.chunks = [
        chunk_report("alpha", "all", ["a", "b"], [[1, 2], [3, 4]], [finding("new", "n1", 3)]),
        chunk_report("alpha", "no-x", ["b", "c"], [[10, 0], [5, 0]], [finding("repeat", "r1", 2)]),
    ]
    record.deaths = [{"worker": 1, "pid": 9, "cause": "signal SIGKILL", "at_s": 3.0,
                      "lost_chunk": None, "restarted": True, "new_pid": 10}]  # fmt: skip
    for second in range(100):
        record.sample(second / 10, second * 10, second, second // 10)
    return record


def test_the_summary_adds_matrices_on_the_union_of_rules_and_counts_failures() -> None:
    """Per machine, matrices of chunks with different rules add up on their union; a new
    failure's other hits and a repeat's hits are repeats; every chunk and seed is listed."""
    summary = fuzz_report.summarize(a_record(), stopped_by="deadline", elapsed_s=4.0)
    alpha = summary["machines"]["alpha"]
    assert {"rules": ["a", "b", "c"], "matrix": [[1, 2, 0], [3, 14, 0], [0, 5, 0]]} == alpha[
        "transitions"
    ]
    assert (1, 2 + 2, ["budget_within_limit"]) == (
        alpha["new_failures"], alpha["repeated_failures"], alpha["invariants_violated"]
    )  # fmt: skip
    assert 0 == summary["machines"]["beta"]["chunks"]
    assert {"all", "no-x"} == set(summary["swarm"])
    assert (1, 4, 1) == (
        summary["totals"]["new_failures"],
        summary["totals"]["repeated_failures"],
        summary["worker_restarts"],
    )
    assert {"n1": 2, "r1": 2} == {
        path.rsplit("/", 1)[1].removesuffix(".json"): repeat["hits"]
        for repeat in summary["repeats"]
        if (path := repeat["path"])
    }
    assert [7, 7] == summary["seeds"]
    json.dumps(summary)  # plain data all the way down


def test_the_timeline_keeps_a_bounded_number_of_points() -> None:
    """However often it is sampled, the timeline keeps at most TIMELINE_POINTS_MAX points,
    the latest last."""
    record = fuzz_report.Record({"duration_s": 10.0})
    for tenth in range(10_000):
        record.sample(tenth / 1000, tenth, tenth, 1)
    assert len(record.timeline) <= fuzz_report.TIMELINE_POINTS_MAX
    assert 9999 == record.timeline[-1][1]


def test_junit_has_one_case_per_machine_failing_with_the_trace_path(tmp_path: Path) -> None:
    """A machine with a new failure fails, naming the saved trace; one without chunks is
    skipped; the run itself is a case, failing here since a machine took no step."""
    fuzz_report.write(a_record(), tmp_path, stopped_by="deadline", elapsed_s=4.0)
    suite = ET.parse(tmp_path / fuzz_report.JUNIT).getroot().find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert {"alpha", "beta", "campaign"} == set(cases)
    failure = cases["alpha"].find("failure")
    assert failure is not None and "/corpus/n1.json" in (failure.get("message") or "")
    assert cases["beta"].find("skipped") is not None
    unhealthy = cases["campaign"].find("failure")
    assert unhealthy is not None and "machine beta was asked for" in (unhealthy.text or "")
    assert ("2", "3") == (suite.get("failures"), suite.get("tests"))


def test_the_report_draws_a_heatmap_and_a_timeline_as_svg(tmp_path: Path) -> None:
    """report.html holds well-formed inline SVG: a heatmap cell per rule pair, two lines over
    time; and names the failure's trace."""
    fuzz_report.write(a_record(), tmp_path, stopped_by="deadline", elapsed_s=4.0)
    text = (tmp_path / fuzz_report.REPORT).read_text()
    svgs = [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", text, re.DOTALL)]
    assert 2 == len(svgs)  # the timeline, and alpha's heatmap (beta never ran)
    ns = "{http://www.w3.org/2000/svg}"
    timeline, heatmap = svgs
    assert 2 == len(timeline.findall(f"{ns}polyline"))
    assert 9 == len(heatmap.findall(f"{ns}rect"))
    assert "/corpus/n1.json" in text


def test_workers_that_keep_crashing_are_given_up(tmp_path: Path) -> None:
    """A worker that crashes three times in a row without finishing a chunk is restarted twice,
    then given up; with no worker left the campaign ends at once, not green (exit 3), saying
    why."""
    options = campaign.Options(
        machines=("clock_drift",),
        duration_s=120.0,
        workers=1,
        kernel="correct",
        corpus=tmp_path / "corpus",
        database=str(tmp_path / "db"),
        shard=campaign.Shard(),
        run_dir=tmp_path / "run",
        machine_dir=MACHINES,
        imports=("no_such_module_of_the_test",),
    )
    campaign.prepare_run_dir(options.run_dir)
    out = io.StringIO()
    started = time.monotonic()
    assert campaign.UNHEALTHY == campaign.run(options, out, tty=False)
    assert time.monotonic() - started < 60
    summary = json.loads((options.run_dir / fuzz_report.SUMMARY).read_text())
    assert campaign.CRASHED == summary["stopped_by"]
    assert "NOT GREEN: stopped early: every worker crashed too often" in out.getvalue()
    assert [True, True, False] == [death["restarted"] for death in summary["worker_deaths"]]
    assert {"exit status 1"} == {death["cause"] for death in summary["worker_deaths"]}
    assert "worker 0 (pid" in out.getvalue()


def test_the_display_shows_each_worker_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal, each worker gets a line with its machine, examples, steps/s and
    failures, redrawn in place."""
    out = io.StringIO()
    options = campaign.Options(
        machines=("kernel",),
        duration_s=60.0,
        workers=2,
        kernel="correct",
        corpus=tmp_path,
        database=str(tmp_path),
        shard=campaign.Shard(),
        run_dir=tmp_path,
    )
    running = campaign.Campaign(options, out, tty=True)
    running.started = time.monotonic() - 10
    slot = running.slots[0]
    slot.current = {"machine": "kernel", "swarm": "no-fault", "seed": 1, "chunk": 0}
    slot.progress = messages.Progress(examples=40, steps=2000)
    slot.started = time.monotonic() - 4
    slot.new, slot.repeats = 1, 2
    running.display.next_at = 0
    running.display.refresh(running, time.monotonic())
    running.display.next_at = 0
    running.display.refresh(running, time.monotonic())
    text = out.getvalue()
    assert "\x1b[3F" in text  # the second drawing went back over the first's three lines
    line = next(line for line in text.splitlines() if "worker 0" in line)
    assert "kernel" in line and "no-fault" in line and "40 examples" in line
    assert "failures: 1 new, 2 repeats" in line
    assert "steps/s" in line
    assert "worker 1: starting" in text


def _campaign_options(tmp_path: Path, **changes: Any) -> campaign.Options:
    fields: dict[str, Any] = {
        "machines": ("kernel", "clock_drift", "policy_mutation"),
        "duration_s": 180.0,
        "workers": 2,
        "kernel": "correct",
        "corpus": tmp_path / "corpus",
        "database": str(tmp_path / "db"),
        "shard": campaign.Shard(),
        "run_dir": tmp_path / "run",
        "machine_dir": MACHINES,
    }
    return campaign.Options(**{**fields, **changes})


def _worker(
    number: int, options: campaign.Options, machines: dict[str, type[TracedMachine]]
) -> campaign.Worker:
    """Worker *number* of a campaign, enough of it to plan its chunks (it runs none)."""
    return campaign.Worker(
        plan=campaign.WorkerPlan(worker=number, first_chunk=0, options=options, deadline_wall=0.0),
        conn=None, machines=machines, factory=None, profile_settings=None, database=None,
        deadline=time.monotonic() + 1000, settler=None, parent=0, reach=None,
    )  # type: ignore[arg-type]  # fmt: skip


def test_every_machine_gets_a_chunk_of_every_rule_however_short_the_campaign(
    tmp_path: Path, machines: dict[str, type[TracedMachine]]
) -> None:
    """Machines are dealt to the workers in turn, each one's first chunk runs every rule
    (``all``) and later ones draw their configuration; a chunk is short enough that the first
    round fits in the campaign's time."""
    options = _campaign_options(tmp_path)
    workers = [_worker(w, options, machines) for w in range(2)]
    jobs = [workers[w].job(number) for number in range(6) for w in range(2)]
    first_round = jobs[:3]
    assert ["kernel", "clock_drift", "policy_mutation"] == [job.machine for job in first_round]
    assert {swarm.ALL} == {job.swarm.name for job in first_round}
    assert {swarm.ALL} != {job.swarm.name for job in jobs[3:]}, "later chunks draw"
    assert 120.0 == campaign.chunk_seconds(options)  # 3 machines in 180 s on 2 workers
    long = _campaign_options(tmp_path, duration_s=8 * 3600.0)
    assert campaign.CHUNK_SECONDS_MAX == campaign.chunk_seconds(long)


def test_reach_is_measured_and_machines_steer_in_one_round_of_chunks_in_n(
    tmp_path: Path, machines: dict[str, type[TracedMachine]]
) -> None:
    """3 machines, 2 workers, --reach-every 4: the chunks of rounds 0 and 4 measure (the
    campaign's chunks 0-2 and 12-14), and rounds 0, 2 and 4 steer; chunk k is the worker
    k % 2's (k // 2)-th."""
    options = _campaign_options(tmp_path, reach_every=4)
    workers = [_worker(w, options, machines) for w in range(2)]
    measured = [k for k in range(15) if workers[k % 2].measures_reach(k // 2)]
    assert [0, 1, 2, 12, 13, 14] == measured
    steered = [k for k in range(15) if workers[k % 2].job(k // 2).steer]
    assert [0, 1, 2, 6, 7, 8, 12, 13, 14] == steered
    every = _campaign_options(tmp_path, reach_every=1)
    worker = _worker(0, every, machines)
    assert all(worker.measures_reach(number) for number in range(10))


def test_the_health_check_knows_each_machines_families_and_what_a_swarm_keeps(
    tmp_path: Path, machines: dict[str, type[TracedMachine]]
) -> None:
    everything = campaign.families_of(_campaign_options(tmp_path))
    assert set(swarm.families(machines["kernel"])) == set(everything["kernel"])
    only = campaign.families_of(
        _campaign_options(tmp_path, machines=("kernel",), swarm="only-clock")
    )
    kept = (
        set(transitions(machines["kernel"]))
        - swarm.named(machines["kernel"], "only-clock").disabled
    )
    assert kept == {rule for rules in only["kernel"].values() for rule in rules}
    assert "clock" in only["kernel"] and len(only["kernel"]) < len(everything["kernel"])


def test_chunks_ending_in_errors_in_a_row_stop_the_campaign(tmp_path: Path) -> None:
    """A dead database or a broken machine makes every chunk end in an error: after three in a
    row the campaign stops (the rest of its time would explore nothing) and says why."""
    parent = campaign.Campaign(_campaign_options(tmp_path, machines=("kernel",)), io.StringIO())
    parent.started = time.monotonic()
    slot = parent.slots[0]
    for number in range(campaign.ERRORED_CHUNKS_IN_A_ROW_MAX):
        assert parent.stop_reason is None
        parent._message(
            slot, messages.ChunkStarted(chunk=number, machine="kernel", seed=number, swarm="all")
        )
        parent._message(
            slot,
            messages.ChunkDone(
                worker=0, chunk=number, machine="kernel", seed=number, swarm="all",
                ended_by="error", seconds=0.1, examples=0, steps=0, rules={}, outcomes={},
                transitions={"rules": [], "matrix": []}, findings=(),
                errors=("ConnectionError: Connection refused",),
            ),
        )  # fmt: skip
    assert campaign.ERRORS == parent.stop_reason


def test_a_corpus_file_that_is_no_trace_is_named_and_skipped(tmp_path: Path) -> None:
    """Deep nesting once crashed every worker, and no one said which file: now each worker
    skips it, and the campaign names it first (not green)."""
    folder = tmp_path / "corpus" / "kernel"
    folder.mkdir(parents=True)
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    corpus = chunks.Corpus(tmp_path / "corpus")
    assert {} == corpus.cases("kernel")
    [reason] = corpus.unreadable()
    assert f"{folder / 'deep.json'}: not a trace's JSON (nested too deeply" in reason
    options = _campaign_options(tmp_path, machines=("kernel",))
    parent = campaign.Campaign(options, io.StringIO())
    summary = fuzz_report.summarize(parent.record, stopped_by="deadline", elapsed_s=1.0)
    assert f"corpus file skipped, not a trace: {reason}" in summary["warnings"]


def test_a_run_directory_that_cannot_be_written_still_leaves_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at the end: the summary, with every failure and its saved path, goes to the
    output as JSON, and the exit status still says what was found."""
    options = _campaign_options(tmp_path, machines=("kernel",))
    out = io.StringIO()
    parent = campaign.Campaign(options, out)
    parent.started = time.monotonic()
    slot = parent.slots[0]
    new = chunks.Finding(
        kind=chunks.NEW, invariant="budget_within_limit", message="over", found_steps=9,
        identity="n1", path="/corpus/n1.json", minimal_steps=3,
    )  # fmt: skip
    parent._message(slot, messages.ChunkStarted(chunk=0, machine="kernel", seed=1, swarm="all"))
    parent._message(
        slot,
        messages.ChunkDone(
            worker=0, chunk=0, machine="kernel", seed=1, swarm="all", ended_by="examples",
            seconds=1.0, examples=2, steps=9, rules={}, outcomes={},
            transitions={"rules": [], "matrix": []}, findings=(new,), errors=(),
        ),
    )  # fmt: skip

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fuzz_report, "write", full_disk)
    assert 1 == parent._finish()
    text = out.getvalue()
    assert "cannot write the run directory" in text and "No space left on device" in text
    kept = json.loads(text[text.index("{") :])
    assert ["/corpus/n1.json"] == [failure["path"] for failure in kept["failures"]]


def test_one_bug_seen_with_other_values_is_one_group_and_a_repeat(tmp_path: Path) -> None:
    """Two traces whose violations differ only in numbers (other steps, other values) are one
    group; once the corpus holds an open case of the group, the other is a repeat of that case,
    not a new failure; and in one campaign, a second worker's variant of a new group is a
    repeat too. Another message shape is another group."""
    case = load(next((MACHINES.parent / "tests" / "fixtures" / "traces" / "kernel").glob("*.json")))
    variant = attrs.evolve(case, steps=[dict(s, args={**s["args"]}) for s in case.steps])
    for step in variant.steps:
        for name, value in step["args"].items():
            if value == "alice":
                step["args"][name] = "bob"
    shorter = attrs.evolve(case, steps=case.steps[:-1], message=case.message.replace("3", "2"))
    other_rules = attrs.evolve(case, steps=case.steps[:-1], message=case.message + " (and more)")
    assert case.identity() != variant.identity()
    assert case.group() == variant.group() == shorter.group()
    assert case.group() != other_rules.group()
    corpus = tmp_path / "corpus"
    path = trace_save(case, corpus)
    settler = chunks.Settler(
        corpus=chunks.Corpus(corpus), kernel="correct", profile="ci", run_dir=tmp_path,
        git_commit=None, give_up=lambda: False,
    )  # fmt: skip
    known = settler._known(variant)
    assert known is not None and (path, "open") == (known.path, known.status)
    assert settler._known(other_rules) is None

    parent = campaign.Campaign(_campaign_options(tmp_path, machines=("kernel",)), io.StringIO())
    first, second = (
        chunks.Finding(kind=chunks.NEW, invariant=case.invariant, message="m", found_steps=3,
                       identity=identity, group=case.group(), path=f"/c/{identity}.json")
        for identity in ("one", "two")
    )  # fmt: skip
    assert chunks.NEW == parent._first_saved(first).kind
    assert chunks.REPEAT == parent._first_saved(second).kind
