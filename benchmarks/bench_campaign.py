"""Benchmark: the fuzz campaign's scaling over cores, and its memory over a long run.

Run with ``nox -s bench`` (or ``python benchmarks/bench_campaign.py``, from the repository root).
Prints, measured in one run:

- throughput: the same campaign (the kernel machine, every rule on, the correct kernel) with 1
  worker and with 2, alternately, for ``--rounds`` rounds of ``--seconds`` each; aggregate
  steps/s is read from the campaign's timeline once the workers are warm (after
  ``--warmup-seconds``), and the ratio of the medians is the figure (target: at least 1.8 on
  2 cores);
- memory: one campaign of 2 workers for ``--memory-minutes`` (default 20) on the kernel machine,
  whose chunks are all alike, so that a growth is a leak and not a heavier machine's turn; each
  worker's resident set size (VmRSS from /proc) is sampled every 10 s, and the last sample is
  compared with the one at ``--reference-minute`` (default 2; target: within 10%).

- steps per worker against the baseline commit (``--baseline``, by default the commit before
  issue #18's work): a campaign of 1 worker on the kernel machine, in chunks of
  ``--chunk-examples`` examples so that several chunks run (a nightly campaign's
  chunks measure the kernel's reach only now and then), for this tree and the baseline's
  alternately, each in a child process that imports that tree (target: at least 2 x);

Exit status 1 when a target is missed (the figures are printed either way).

Run it on an otherwise idle machine: on 2 cores, any other busy process takes the second
worker's core, and the ratio then measures that process, not the campaign.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_machines import BASELINE, export  # type: ignore[import-not-found]

from helmmodel.fuzz import campaign

ROOT = Path(__file__).resolve().parents[1]
SCALING_TARGET = 1.8
PER_WORKER_TARGET = 2.0
MEMORY_TARGET = 0.10
SAMPLE_EVERY_S = 10.0


def options(
    workdir: Path, name: str, workers: int, seconds: float, tree: Path = ROOT, **more: Any
) -> campaign.Options:
    """A campaign of *tree*'s kernel machine with every rule on, in *workdir*/*name* (only the
    options the baseline's campaign has too, besides *more*)."""
    return campaign.Options(
        machines=("kernel",),
        duration_s=seconds,
        workers=workers,
        kernel="correct",
        corpus=workdir / "corpus",
        database=str(workdir / "db"),
        shard=campaign.Shard(),
        run_dir=workdir / name,
        progress_every_s=3600.0,
        machine_dir=tree / "machines",
        swarm="all",
        **more,
    )


def run(chosen: campaign.Options) -> dict[str, object]:
    """Run a campaign quietly; return its summary."""
    campaign.prepare_run_dir(chosen.run_dir)
    campaign.run(chosen, io.StringIO(), tty=False)
    summary: dict[str, object] = json.loads((chosen.run_dir / "summary.json").read_text())
    return summary


def warm_rate(summary: dict[str, object], warmup_s: float) -> float:
    """Aggregate steps/s between the first timeline point after *warmup_s* and the last."""
    timeline = summary["timeline"]
    assert isinstance(timeline, dict)
    points = [p for p in timeline["points"] if p[0] >= warmup_s]
    if len(points) < 2:
        raise SystemExit("the campaign was too short to measure: raise --seconds")
    (t0, s0, *_), (t1, s1, *_) = points[0], points[-1]
    return float((s1 - s0) / (t1 - t0))


def throughput(workdir: Path, rounds: int, seconds: float, warmup_s: float, chunk: int) -> bool:
    print(
        f"throughput: kernel machine, correct kernel, every rule, every chunk of {chunk} examples "
        f"steering and measuring the reach, {seconds:g} s per campaign, {rounds} rounds "
        f"(measured after {warmup_s:g} s of warm-up)"
    )
    rates: dict[int, list[float]] = {1: [], 2: []}
    for number in range(1, rounds + 1):
        for workers in (1, 2):
            # Every chunk alike (each steers and measures the reach): with rounds that differ in
            # cost, a worker that happens to get the cheap ones would count as scaling.
            chosen = options(
                workdir,
                f"round-{number}-{workers}",
                workers,
                seconds,
                chunk_examples=chunk,
                reach_every=1,
                steer_every=1,
            )
            summary = run(chosen)
            rates[workers].append(warm_rate(summary, warmup_s))
        print(
            f"  round {number}: 1 worker {rates[1][-1]:,.0f} steps/s, "
            f"2 workers {rates[2][-1]:,.0f} steps/s"
        )
    ratio = statistics.median(rates[2]) / statistics.median(rates[1])
    met = ratio >= SCALING_TARGET
    print(
        f"  aggregate steps/s, 2 workers / 1 worker (medians): {ratio:.2f} "
        f"(target >= {SCALING_TARGET}): {'met' if met else 'MISSED'}"
    )
    return met


def per_worker_round(
    tree: Path, workdir: Path, seconds: float, warmup_s: float, chunk: int
) -> float:
    """One worker's warm steps/s, in a child process that imports helmmodel from *tree*."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(tree)])}
    command = [
        sys.executable, __file__, "--measure-worker", str(tree), "--workdir", str(workdir),
        "--seconds", str(seconds), "--warmup-seconds", str(warmup_s), "--chunk", str(chunk),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench_campaign: the campaign of {tree} failed:\n{done.stderr}")
    return float(done.stdout)


def per_worker(
    workdir: Path, rounds: int, seconds: float, warmup_s: float, chunk: int, revision: str
) -> bool:
    print(
        f"per worker: 1 worker, kernel machine, {seconds:g} s per campaign in chunks of {chunk} "
        f"examples, this tree against {revision}, {rounds} rounds"
    )
    baseline = export(revision, workdir)
    rates: dict[str, list[float]] = {"baseline": [], "this tree": []}
    for number in range(1, rounds + 1):
        for label, tree in (("baseline", baseline), ("this tree", ROOT)):
            place = workdir / f"per-worker-{number}-{label.replace(' ', '-')}"
            place.mkdir()
            rates[label].append(per_worker_round(tree, place, seconds, warmup_s, chunk))
        print(
            f"  round {number}: baseline {rates['baseline'][-1]:,.0f} steps/s, "
            f"this tree {rates['this tree'][-1]:,.0f} steps/s"
        )
    ratio = statistics.median(rates["this tree"]) / statistics.median(rates["baseline"])
    met = ratio >= PER_WORKER_TARGET
    print(
        f"  steps/s per worker, this tree / baseline (medians): {ratio:.2f} "
        f"(target >= {PER_WORKER_TARGET}): {'met' if met else 'MISSED'}"
    )
    return met


def rss_kb(pid: int) -> int | None:
    """A process's resident set size in kB, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def memory(workdir: Path, minutes: float, reference_minute: float) -> bool:
    print(
        f"memory: 2 workers, kernel machine, {minutes:g} min, RSS sampled every "
        f"{SAMPLE_EVERY_S:g} s, compared at {reference_minute:g} min and at the end"
    )
    chosen = options(workdir, "memory", 2, minutes * 60)
    samples: dict[int, list[tuple[float, int, int]]] = {0: [], 1: []}  # (s, pid, kB)
    done = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not done.wait(SAMPLE_EVERY_S):
            for worker, found in samples.items():
                pid_file = chosen.run_dir / "workers" / f"{worker}.pid"
                if not pid_file.exists():
                    continue
                pid = int(pid_file.read_text())
                kb = rss_kb(pid)
                if kb is not None:
                    found.append((time.monotonic() - started, pid, kb))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    summary = run(chosen)
    done.set()
    sampler.join()
    met = summary["worker_restarts"] == 0
    for worker, found in samples.items():
        if not found:
            print(f"  worker {worker}: no sample")
            met = False
            continue
        at, _, reference = min(found, key=lambda s: abs(s[0] - reference_minute * 60))
        end, pid, last = found[-1]
        change = last / reference - 1
        ok = abs(change) <= MEMORY_TARGET
        met = met and ok
        print(
            f"  worker {worker} (pid {pid}): {reference / 1024:,.1f} MB at {at / 60:.1f} min, "
            f"{last / 1024:,.1f} MB at {end / 60:.1f} min: {change:+.1%} "
            f"(target within {MEMORY_TARGET:.0%}): {'met' if ok else 'MISSED'}"
        )
        peak = max(kb for _, _, kb in found)
        per_minute = [kb for seconds, _, kb in found if seconds % 60 < SAMPLE_EVERY_S]
        print(
            f"    peak {peak / 1024:,.1f} MB over {len(found)} samples; each minute: "
            + ", ".join(f"{kb / 1024:.0f}" for kb in per_minute)
            + " MB"
        )
    if summary["worker_restarts"]:
        print(f"  {summary['worker_restarts']} worker restarts: the samples span several pids")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0, help="per throughput campaign")
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument("--memory-minutes", type=float, default=20.0)
    parser.add_argument("--reference-minute", type=float, default=2.0)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-per-worker", action="store_true")
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare against")
    parser.add_argument("--per-worker-seconds", type=float, default=90.0)
    parser.add_argument("--chunk-examples", type=int, default=100)
    # The child's mode: one campaign of the tree it imports, its warm steps/s on stdout.
    parser.add_argument("--measure-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_worker is not None:
        chosen = options(
            args.workdir, "run", 1, args.seconds, args.measure_worker, chunk_examples=args.chunk
        )
        print(warm_rate(run(chosen), args.warmup_seconds))
        return 0
    met = True
    with tempfile.TemporaryDirectory(prefix="helmmodel-bench-campaign-") as workdir:
        if not args.skip_per_worker:
            met = (
                per_worker(
                    Path(workdir),
                    args.rounds,
                    args.per_worker_seconds,
                    args.warmup_seconds,
                    args.chunk_examples,
                    args.baseline,
                )
                and met
            )
        if not args.skip_throughput:
            met = (
                throughput(
                    Path(workdir),
                    args.rounds,
                    args.seconds,
                    args.warmup_seconds,
                    args.chunk_examples,
                )
                and met
            )
        if not args.skip_memory:
            met = memory(Path(workdir), args.memory_minutes, args.reference_minute) and met
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
