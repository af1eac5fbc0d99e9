"""`helmmodel fuzz --db redis://HOST:PORT`: a real campaign shares its example database through a
real redis-server, started here on a free loopback port.

Skipped, with the reason, on a developer machine without redis-server; never skipped on CI
(``CI=true``), where `.ci/run` installs it: there its absence fails the test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
MACHINES = ROOT / "machines"
MUTANT = "executor-reads-guardian-clock"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def redis_url(redis_server: tuple[str, subprocess.Popen[bytes]]) -> str:
    return redis_server[0]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free loopback port (its URL and process),
    stopped afterwards."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is missing on CI: .ci/run must install it (apt-get)")
        pytest.skip("redis-server is not installed (apt-get install redis-server to run this)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}", process
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_a_campaign_keeps_its_examples_in_redis(redis_url: str, tmp_path: Path) -> None:
    """A campaign with --db redis://... stores Hypothesis's examples (its failure among them)
    in that Redis, and none in a directory."""
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "helmmodel", "fuzz", "clock_drift", "--kernel", MUTANT]
    argv += ["--machines", str(MACHINES), "--db", redis_url, "--duration", "6s", "--workers", "1"]
    argv += ["--corpus", str(tmp_path / "corpus"), "--run-dir", str(run_dir), "--no-shrink"]
    argv += ["--swarm", "all"]  # every rule on: the mutant's bug is found within seconds
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert 1 == done.returncode, done.stdout + done.stderr
    assert f"example database {redis_url}" in done.stdout
    host, port = redis_url.removeprefix("redis://").split(":")
    client = redis.Redis(host=host, port=int(port))
    try:
        # Hypothesis adds an example with SADD. Whether one is still there at the end depends on
        # the stream (a failure that a later run of the chunk notes as known passes, and is
        # dropped again), so the writes are counted, not the keys left.
        added = client.info("commandstats").get("cmdstat_sadd", {}).get("calls", 0)
    finally:
        client.close()
    assert added > 0
    assert not (tmp_path / ".hypothesis-fuzz").exists()


def test_a_database_that_dies_mid_campaign_stops_it_not_green(
    redis_server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Redis stopped while a campaign against the correct kernel runs: chunks end in connection
    errors, the campaign stops early instead of running on for its whole time, exits 3, and
    says why first in its output and its summary."""
    url, server = redis_server
    run_dir, log = tmp_path / "run", tmp_path / "out.txt"
    argv = [sys.executable, "-m", "helmmodel", "fuzz", "clock_drift", "--machines", str(MACHINES)]
    argv += ["--db", url, "--duration", "120s", "--workers", "1", "--progress-every", "1s"]
    argv += ["--corpus", str(tmp_path / "corpus"), "--run-dir", str(run_dir)]
    argv += ["--chunk-examples", "20"]  # chunks end often, so each new one meets the dead Redis
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "steps" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        server.terminate()
        server.wait(timeout=10)
        stopped = time.monotonic()
        assert 3 == proc.wait(timeout=100), log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - stopped < 90, "the campaign ran on with its database dead"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "checker errors" == summary["stopped_by"]
    assert summary["warnings"][0].startswith("stopped early: chunks kept ending in checker")
    assert "NOT GREEN: stopped early" in log.read_text()
