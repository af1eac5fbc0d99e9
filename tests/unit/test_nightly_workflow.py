"""The nightly fuzz workflow: a scheduled matrix of shards whose --shard arguments cover 1..N
exactly once, with the same N everywhere, each uploading its run directory and new cases."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "nightly-fuzz.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    """The workflow, parsed as YAML."""
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def steps_of(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"]["fuzz"]["steps"]
    return steps


def test_it_runs_on_a_schedule(workflow: dict[Any, Any]) -> None:
    """It runs every night by cron (YAML reads the key `on` as True)."""
    triggers = workflow[True]
    assert re.fullmatch(r"[\d*]+ [\d*]+ \* \* \*", triggers["schedule"][0]["cron"])


def test_the_shards_cover_1_to_n_once_with_the_same_n_everywhere(
    workflow: dict[Any, Any],
) -> None:
    """The matrix lists shards 1..N once each, and every `matrix.shard }}/N` (the --shard
    argument) and `of N` names that same N."""
    shards = workflow["jobs"]["fuzz"]["strategy"]["matrix"]["shard"]
    count = len(shards)
    assert list(range(1, count + 1)) == sorted(shards)
    text = WORKFLOW.read_text()
    written = re.findall(r"\$\{\{ matrix\.shard \}\}(?:/| of )(\d+)", text)
    assert {str(count)} == set(written)
    runs = [step["run"] for step in steps_of(workflow) if "--shard" in step.get("run", "")]
    assert 1 == len(runs)
    assert f"--shard ${{{{ matrix.shard }}}}/{count}" in runs[0]
    assert "nox -s fuzz --" in runs[0]


def test_each_shard_uploads_its_run_directory_and_new_cases_whatever_happened(
    workflow: dict[Any, Any],
) -> None:
    """Both uploads run even when the fuzz step failed (a new failure exits 1), and take the
    directory the --run-dir argument names."""
    [run] = [step["run"] for step in steps_of(workflow) if "--run-dir" in step.get("run", "")]
    run_dir = re.search(r"--run-dir ((?:\$\{\{[^}]*\}\}|\S)+)", run)
    assert run_dir is not None
    uploads = [s for s in steps_of(workflow) if s.get("uses", "").startswith("actions/upload")]
    assert {run_dir[1] + "/", run_dir[1] + "/new-cases/"} == {s["with"]["path"] for s in uploads}
    assert all("always()" == step["if"] for step in uploads)
    assert 2 == len({step["with"]["name"] for step in uploads})
