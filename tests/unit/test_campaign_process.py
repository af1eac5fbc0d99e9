"""Real campaigns: `python -m helmmodel fuzz` in a subprocess, with real worker processes, real
signals (Ctrl-C to the process group, SIGTERM to the parent) and a worker killed with SIGKILL.

Each campaign runs for seconds, not hours; the mutant kernel makes the failure path run for
real: found, saved into a temporary corpus, reported, and repeated."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helmmodel import cli

ROOT = Path(__file__).resolve().parents[2]
MACHINES = ROOT / "machines"
MUTANT = "executor-reads-guardian-clock"  # caught by clock_drift within about 4 to 12 examples
MUTANT_MACHINE = "clock_drift"
STOP_LIMIT_S = 10.0  # the promise: every worker stopped within 10 seconds

pytestmark = pytest.mark.slow


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a campaign in its own process group (as a terminal would), output into *log*."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "helmmodel", "fuzz", "--machines", str(MACHINES), *argv],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll *condition* until it returns something true; fail after *timeout_s*."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def summary_of(run_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return loaded


def worker_pid(run_dir: Path, index: int) -> int | None:
    """The pid the campaign wrote for worker *index*, once it has written it."""
    path = run_dir / "workers" / f"{index}.pid"
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


BOTH_BUSY = re.compile(r" [1-9][\d,]* steps .*w0 \w+, w1 \w+$")
NEW_FAILURE = re.compile(r" [1-9]\d* new failures")


def progress_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("[")]


def busy(log: Path) -> bool:
    """Whether a progress line shows both workers inside a chunk, with steps done."""
    lines = progress_lines(log)
    return bool(lines) and BOTH_BUSY.search(lines[-1]) is not None


def busy_after_a_new_failure(log: Path) -> bool:
    """Whether a progress line shows both workers inside a chunk after a line that counted a
    new failure. The worker that found it is then in a later chunk, which knows the failure's
    shape (it is in the corpus): it notes each hit and runs on, so a stop finds it running."""
    lines = progress_lines(log)
    first = next((i for i, line in enumerate(lines) if NEW_FAILURE.search(line)), None)
    return first is not None and any(BOTH_BUSY.search(line) for line in lines[first + 1 :])


def stop_and_time(proc: subprocess.Popen[bytes], send: Callable[[], None]) -> float:
    """Send a stop; return how long the campaign took to exit."""
    sent = time.monotonic()
    send()
    proc.wait(timeout=STOP_LIMIT_S + 20)
    return time.monotonic() - sent


def test_a_campaign_against_a_mutant_finds_saves_reports_and_counts_repeats(
    tmp_path: Path,
) -> None:
    """Two workers find the mutant's bug, save it 1-minimal into the temporary corpus (and the
    run directory), count later hits as repeats, print plain progress lines, and write the
    summary, a failing JUnit case naming the trace, and the report; exit status 1."""
    corpus, run_dir, log = tmp_path / "corpus", tmp_path / "run", tmp_path / "out.txt"
    argv = [MUTANT_MACHINE, "--kernel", MUTANT, "--duration", "12s", "--workers", "2"]
    argv += ["--corpus", str(corpus), "--run-dir", str(run_dir), "--no-shrink"]
    argv += ["--progress-every", "2s", "--chunk-examples", "30"]
    argv += ["--swarm", "all"]  # every rule on: a chunk finds the bug within a few examples
    proc = start(argv, log)
    assert 1 == proc.wait(timeout=90), log.read_text()
    out = log.read_text()
    summary = summary_of(run_dir)
    totals = summary["totals"]
    assert totals["new_failures"] >= 1
    assert totals["repeated_failures"] >= 1, out
    assert ["window_respected"] == totals["invariants_violated"]
    assert [] == summary["worker_deaths"]
    saved = [Path(f["path"]) for f in summary["failures"]]
    assert {"new"} == {f["kind"] for f in summary["failures"]}
    assert all(path.parent == corpus / MUTANT_MACHINE and path.exists() for path in saved)
    assert all((run_dir / "new-cases" / MUTANT_MACHINE / path.name).exists() for path in saved)
    assert "NEW window_respected in clock_drift: " in out
    assert len(re.findall(r"^\[0m\d\ds of 0m12s\] [\d,]+ steps", out, re.MULTILINE)) >= 3
    machine = summary["machines"][MUTANT_MACHINE]
    assert machine["steps"] > 0 and machine["transitions"]["matrix"]
    assert {"all"} == {chunk["swarm"] for chunk in summary["chunks"]} == set(summary["swarm"])

    case = ET.parse(run_dir / "junit.xml").getroot().find("testsuite/testcase")
    assert case is not None and MUTANT_MACHINE == case.get("name")
    failure = case.find("failure")
    assert failure is not None and str(saved[0]) in (failure.text or "")
    assert "<svg" in (run_dir / "report.html").read_text()
    assert 0 < summary["reach"]["percent"] <= 100  # the workers' coverage, combined
    assert (run_dir / "coverage" / "index.html").is_file()
    assert '<a href="coverage/index.html">' in (run_dir / "report.html").read_text()
    # The default database is beside the run directory (Hypothesis makes its folder when the
    # campaign opens it). Whether an example is still in it at the end depends on the stream: a
    # failure that a later run notes as known passes, and is dropped again with its key's folder.
    assert f"example database {tmp_path / '.hypothesis-fuzz'}" in out
    assert (tmp_path / ".hypothesis-fuzz").is_dir()
    assert 0 == cli.main(["replay", str(corpus), "--machines", str(MACHINES)])


def test_ctrl_c_stops_every_worker_in_time_and_keeps_the_failures(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group) stops the parent and every worker within 10
    seconds, exit 130; the summary says so and keeps each failure saved before it."""
    corpus, run_dir, log = tmp_path / "corpus", tmp_path / "run", tmp_path / "out.txt"
    argv = [MUTANT_MACHINE, "--kernel", MUTANT, "--duration", "2m", "--workers", "2"]
    argv += ["--corpus", str(corpus), "--run-dir", str(run_dir), "--no-shrink", "--swarm", "all"]
    argv += ["--progress-every", "1s"]
    proc = start(argv, log)
    wait_for(lambda: list(corpus.rglob("*.json")), 60, "a saved failure")
    wait_for(lambda: busy_after_a_new_failure(log), 30, "both workers in a chunk after it")
    pids = [wait_for(lambda i=i: worker_pid(run_dir, i), 10, f"worker {i}") for i in (0, 1)]
    took = stop_and_time(proc, lambda: os.killpg(proc.pid, signal.SIGINT))
    assert took < STOP_LIMIT_S, log.read_text()
    assert 130 == proc.returncode
    assert not any(alive(pid) for pid in pids)
    summary = summary_of(run_dir)
    assert "SIGINT" == summary["stopped_by"]
    reported = {f["path"] for f in summary["failures"]}
    assert {str(path) for path in corpus.rglob("*.json")} <= reported
    ended_by = {chunk["ended_by"] for chunk in summary["chunks"]}
    assert "stop" in ended_by and ended_by <= {"failure", "stop"}  # a stop, never an error


def test_sigterm_stops_a_sharded_campaign_mid_chunk(tmp_path: Path) -> None:
    """SIGTERM to the parent alone stops both workers mid-chunk within 10 seconds (exit 130);
    shard 2/3 ran only its own machines, with seeds of its own (congruent to 1 modulo 3)."""
    run_dir, log = tmp_path / "run", tmp_path / "out.txt"
    argv = ["--duration", "5m", "--workers", "2", "--shard", "2/3", "--progress-every", "1s"]
    argv += ["--corpus", str(tmp_path / "corpus"), "--run-dir", str(run_dir)]
    proc = start(argv, log)
    wait_for(lambda: busy(log), 60, "both workers inside a chunk")
    took = stop_and_time(proc, lambda: proc.send_signal(signal.SIGTERM))
    assert took < STOP_LIMIT_S, log.read_text()
    assert 130 == proc.returncode
    summary = summary_of(run_dir)
    assert "SIGTERM" == summary["stopped_by"]
    assert ["clock_drift", "kernel", "policy_mutation"] == summary["options"]["machines"]
    assert {"stop"} == {chunk["ended_by"] for chunk in summary["chunks"]}
    assert 2 == len(summary["chunks"])
    assert all(seed % 3 == 1 for seed in summary["seeds"])
    assert "SIGTERM: stopping every worker" in log.read_text()


def test_a_killed_worker_is_restarted_and_reported(tmp_path: Path) -> None:
    """A worker killed with SIGKILL is restarted under a new pid; the campaign runs to its end,
    the restarted worker goes on working, and the summary reports the death and the restart."""
    run_dir, log = tmp_path / "run", tmp_path / "out.txt"
    argv = ["clock_drift", "--duration", "15s", "--workers", "2", "--progress-every", "1s"]
    argv += ["--corpus", str(tmp_path / "corpus"), "--run-dir", str(run_dir)]
    proc = start(argv, log)
    wait_for(lambda: busy(log), 30, "both workers inside a chunk")
    victim = worker_pid(run_dir, 0)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    successor = wait_for(
        lambda: (pid := worker_pid(run_dir, 0)) != victim and pid, 10, "a restarted worker 0"
    )
    # The campaign runs on, but a death is something wrong with the run: not green (exit 3).
    assert 3 == proc.wait(timeout=60), log.read_text()
    summary = summary_of(run_dir)
    assert ["1 worker death: signal SIGKILL"] == summary["warnings"]
    assert "NOT GREEN: 1 worker death: signal SIGKILL" in log.read_text()
    assert 1 == summary["worker_restarts"]
    [death] = summary["worker_deaths"]
    assert (0, victim, "signal SIGKILL", True, successor) == (
        death["worker"], death["pid"], death["cause"], death["restarted"], death["new_pid"]
    )  # fmt: skip
    assert any(c["worker"] == 0 and c["pid"] == successor for c in summary["chunks"])
    assert f"worker 0 (pid {victim}) died (signal SIGKILL); restarted as pid {successor}" in (
        log.read_text()
    )


def test_a_frozen_worker_is_killed_and_restarted(tmp_path: Path) -> None:
    """A worker stopped with SIGSTOP sends nothing: after --stalled-after it is killed and
    restarted, the campaign ends on time, and the run is not green (exit 3)."""
    run_dir, log = tmp_path / "run", tmp_path / "out.txt"
    argv = ["clock_drift", "--duration", "20s", "--workers", "2", "--progress-every", "1s"]
    argv += [
        "--stalled-after",
        "3s",
        "--corpus",
        str(tmp_path / "corpus"),
        "--run-dir",
        str(run_dir),
    ]
    started = time.monotonic()
    proc = start(argv, log)
    wait_for(lambda: busy(log), 30, "both workers inside a chunk")
    frozen = worker_pid(run_dir, 1)
    assert frozen is not None
    os.kill(frozen, signal.SIGSTOP)
    successor = wait_for(
        lambda: (pid := worker_pid(run_dir, 1)) != frozen and pid, 15, "a restarted worker 1"
    )
    assert 3 == proc.wait(timeout=60), log.read_text()
    assert time.monotonic() - started < 20 + 30  # start-up, the deadline, and its grace
    assert not alive(frozen)
    summary = summary_of(run_dir)
    [death] = summary["worker_deaths"]
    assert (1, frozen, "stalled: silent for 3 s, killed", True, successor) == (
        death["worker"], death["pid"], death["cause"], death["restarted"], death["new_pid"]
    )  # fmt: skip
    assert f"worker 1 (pid {frozen}) sent nothing for 3 s: killed" in log.read_text()
    assert "NOT GREEN: 1 worker death: stalled" in log.read_text()
