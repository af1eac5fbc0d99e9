"""The campaign's run directory is pinned byte for byte: for a campaign built by hand (with every
kind of finding, worker deaths, a machine that never ran, text that needs escaping) and for an
empty one, ``summary.json``, ``junit.xml`` and ``report.html`` are exactly the files kept in
tests/fixtures/fuzz_report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helmmodel.fuzz import chunks
from helmmodel.fuzz import report as fuzz_report

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "fuzz_report"
OPTIONS = {
    "machines": ["alpha", "beta", "gamma"],
    "duration_s": 120.0,
    "workers": 2,
    "kernel": "k<&>",
    "profile": "nightly",
    "corpus": "/corpus",
    "database": "/db",
    "shard": {"index": 2, "count": 3},
    "run_dir": "/run",
    "chunk_examples": 10,
    "shrink": True,
}


def a_chunk(number: int, machine: str, swarm: str, **figures: Any) -> dict[str, Any]:
    """A worker's report of one chunk: *figures* replace the defaults."""
    chunk = {
        "worker": number % 2, "pid": 100 + number % 2, "chunk": number, "machine": machine,
        "seed": 1000 + number, "swarm": swarm, "started_s": 1.5 * number, "seconds": 2.5,
        "examples": 10, "steps": 123, "ended_by": "examples", "rules": {"a": 60, "b": 63},
        "outcomes": {"verdict": {"ALLOW": 3, "DENY": 1}},
        "transitions": {"rules": ["a", "b"], "matrix": [[5, 7], [9, 0]]},
        "findings": [], "errors": [],
    }  # fmt: skip
    chunk.update(figures)
    return chunk


def a_finding(kind: str, invariant: str, **fields: Any) -> dict[str, Any]:
    """A settled finding as a worker reports it."""
    return chunks.Finding(
        kind=kind,
        invariant=invariant,
        message=f"{invariant} broke: <x & y>",
        found_steps=20,
        **fields,
    ).to_json()


def a_rich_record() -> fuzz_report.Record:
    """Four chunks of three machines (one not in the options, one never run, one with a rule
    family that took no step), every kind of finding, a checker error, two worker deaths (one
    at the stop) and a timeline."""
    families = {
        "alpha": {"call": ["a", "b"], "fault": ["c<d"], "clock": ["z"]},
        "beta": {"call": ["a"]},
        "gamma": {"call": ["a"]},
    }
    record = fuzz_report.Record(
        dict(OPTIONS), families=families, started_at="2024-05-06T07:08:09+00:00"
    )
    new = a_finding(
        chunks.NEW, "budget", hits=3, identity="n1", path="/corpus/n1.json", minimal_steps=4
    )
    pending = a_finding(chunks.PENDING, "window", identity="p1", path="/run/pending/p1.json")
    repeat = a_finding(chunks.REPEAT, "budget", hits=2, identity="r1", path="/corpus/r1.json")
    record.chunks = [
        a_chunk(0, "alpha", "all", findings=[new, repeat]),
        a_chunk(
            1, "alpha", "no-fault", rules={"b": 40, "c<d": 2}, findings=[pending],
            outcomes={"verdict": {"ESCALATE": 2}, "http": {"404": 7}},
            transitions={"rules": ["b", "c<d"], "matrix": [[30, 2], [1, 0]]},
        ),
        a_chunk(
            2, "beta", "all", seconds=0.0, steps=0, examples=0, rules={}, outcomes={},
            transitions={"rules": [], "matrix": []}, ended_by="stopped",
            findings=[a_finding(chunks.UNREPRODUCIBLE, "chains", hits=2)],
            errors=["Traceback: KeyError <k>"],
        ),
        a_chunk(3, "delta", "only-clock", findings=[dict(repeat, hits=5)]),
    ]  # fmt: skip
    record.deaths = [
        {"worker": 1, "pid": 101, "cause": "signal SIGKILL", "at_s": 3.25,
         "lost_chunk": None, "restarted": True, "new_pid": 102},
        {"worker": 0, "pid": 100, "cause": "exit status 1", "at_s": 9.0,
         "lost_chunk": 2, "restarted": False, "new_pid": None, "at_stop": True},
    ]  # fmt: skip
    for second in range(0, 130, 7):
        record.sample(second * 0.9, second * 1234, second * 3, second // 9)
    return record


def an_empty_record() -> fuzz_report.Record:
    """A campaign stopped before any chunk ended."""
    return fuzz_report.Record(dict(OPTIONS), started_at="2024-05-06T07:08:09+00:00")


@pytest.fixture(autouse=True)
def fixed_surroundings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock, the commit and the versions the summary records are fixed."""
    monkeypatch.setattr(fuzz_report, "_now", lambda: "2024-05-06T08:00:00+00:00")
    monkeypatch.setattr(fuzz_report, "git_commit", lambda: "0" * 40)
    monkeypatch.setattr(fuzz_report, "__version__", "0.0.test")
    monkeypatch.setattr(fuzz_report.hypothesis, "__version__", "0.0.hypothesis")


@pytest.mark.parametrize(
    ("case", "record", "stopped_by", "elapsed_s"),
    [
        ("rich", a_rich_record, "deadline", 118.5),
        ("empty", an_empty_record, "interrupt", 0.0),
    ],
)
@pytest.mark.parametrize("name", [fuzz_report.SUMMARY, fuzz_report.JUNIT, fuzz_report.REPORT])
def test_the_run_directory_is_the_pinned_one(
    tmp_path: Path,
    case: str,
    record: Any,
    stopped_by: str,
    elapsed_s: float,
    name: str,
) -> None:
    """Each file written for a fixed campaign is byte-identical to the one kept."""
    fuzz_report.write(record(), tmp_path, stopped_by=stopped_by, elapsed_s=elapsed_s)
    written = (tmp_path / name).read_bytes()
    assert (EXPECTED / case / name).read_bytes() == written, (
        f"{tmp_path / name} differs from {EXPECTED / case / name}"
    )


def test_the_report_links_the_kernel_reach_when_it_was_measured(tmp_path: Path) -> None:
    """With the workers' coverage combined, the summary holds it and report.html gives the total
    and links its HTML report; the pinned runs above, without it, have neither."""
    reach = {"percent": 91.25, "html": "coverage/index.html", "components": {"clock.py": 76.5}}
    summary = fuzz_report.write(
        a_rich_record(), tmp_path, stopped_by="deadline", elapsed_s=118.5, reach=reach
    )
    assert reach == summary["reach"]
    page = (tmp_path / fuzz_report.REPORT).read_text(encoding="utf-8")
    assert "Kernel reach: 91.2% of the kernel model" in page
    assert '<a href="coverage/index.html">' in page
    assert "Kernel reach" not in (EXPECTED / "rich" / fuzz_report.REPORT).read_text("utf-8")


def test_the_report_says_which_chunks_measured_the_reach(tmp_path: Path) -> None:
    reach = {"percent": 91.25, "html": "coverage/index.html", "components": {}}
    for every, said in (
        (4, "measured in the first round of chunks and one round in 4"),
        (1, "measured in every chunk"),
    ):
        fuzz_report.write(
            a_rich_record(), tmp_path, stopped_by="deadline", elapsed_s=118.5,
            reach={**reach, "measured_every": every},
        )  # fmt: skip
        assert said in (tmp_path / fuzz_report.REPORT).read_text(encoding="utf-8")


def test_a_clean_run_has_no_warning_and_says_so(tmp_path: Path) -> None:
    """Every machine and family stepped, no error, no death: nothing is wrong, and the report
    says so where the warnings would be; the JUnit health case passes."""
    record = fuzz_report.Record(
        dict(OPTIONS, machines=["alpha"]), families={"alpha": {"call": ["a"], "fault": ["b"]}}
    )
    record.chunks = [a_chunk(0, "alpha", "all")]
    summary = fuzz_report.write(record, tmp_path, stopped_by="deadline", elapsed_s=10.0)
    assert [] == summary["warnings"]
    page = (tmp_path / fuzz_report.REPORT).read_text(encoding="utf-8")
    assert "Nothing is wrong with the run itself" in page
    assert "What is wrong with this run" not in page
    junit = (tmp_path / fuzz_report.JUNIT).read_text(encoding="utf-8")
    assert 'name="campaign"' in junit and "UnhealthyRun" not in junit


@pytest.mark.parametrize(
    ("change", "warning"),
    [
        ({"stopped_by": "checker errors"}, "stopped early: chunks kept ending in checker errors"),
        ({"stopped_by": "worker crashes"}, "stopped early: every worker crashed too often"),
        ({"errors": ["ConnectionError: gone"]},
         "1 of 1 chunks ended in checker errors (the first, alpha seed 1000: ConnectionError"),
        ({"rules": {"a": 5}}, "machine alpha: rule families that took no step: fault"),
        ({"steps": 0}, "machine alpha was asked for and took no step"),
        ({"death": "stalled: silent for 3 s, killed"},
         "1 worker death: stalled: silent for 3 s, killed"),
    ],
)  # fmt: skip
def test_each_kind_of_trouble_is_a_warning_at_the_top(
    tmp_path: Path, change: dict[str, Any], warning: str
) -> None:
    record = fuzz_report.Record(
        dict(OPTIONS, machines=["alpha"]), families={"alpha": {"call": ["a"], "fault": ["b"]}}
    )
    figures = {k: v for k, v in change.items() if k in ("errors", "rules", "steps")}
    record.chunks = [a_chunk(0, "alpha", "all", **figures)]
    if "death" in change:
        record.deaths = [
            {"worker": 0, "pid": 1, "cause": change["death"], "at_s": 1.0, "lost_chunk": None,
             "restarted": True, "new_pid": 2, "at_stop": False}
        ]  # fmt: skip
    stopped_by = change.get("stopped_by", "deadline")
    summary = fuzz_report.write(record, tmp_path, stopped_by=stopped_by, elapsed_s=10.0)
    assert any(w.startswith(warning) for w in summary["warnings"]), summary["warnings"]
    page = (tmp_path / fuzz_report.REPORT).read_text(encoding="utf-8")
    assert page.index("What is wrong with this run") < page.index("<h2>Failures</h2>")
    assert 'type="UnhealthyRun"' in (tmp_path / fuzz_report.JUNIT).read_text(encoding="utf-8")


def test_the_report_gives_each_failure_its_commands_and_the_run_its_command_line(
    tmp_path: Path,
) -> None:
    record = a_rich_record()
    record.options["command_line"] = ["helmmodel", "fuzz", "--duration", "2m"]
    fuzz_report.write(record, tmp_path, stopped_by="deadline", elapsed_s=118.5)
    page = (tmp_path / fuzz_report.REPORT).read_text(encoding="utf-8")
    assert "Made by <code>helmmodel fuzz --duration 2m</code>" in page
    for command in (
        "helmmodel show /corpus/n1.json",
        "helmmodel replay /corpus/n1.json",
        "helmmodel show /corpus/n1.json --pytest test_n1.py",
    ):
        assert f"<code>{command}</code>" in page
    assert '<a href="file:///corpus/n1.json">' in page
    assert "seed 1000, all, chunk started at 0 s" in page
    assert '<a href="summary.json">' in page and '<a href="junit.xml">' in page


def test_outcomes_never_reached_are_split_into_missed_and_not_applicable(tmp_path: Path) -> None:
    """A machine with call rules only: a frozen refusal is not applicable (no freeze rules),
    an escalation is missed (its calls can cause one)."""
    record = fuzz_report.Record(
        dict(OPTIONS, machines=["alpha"]), families={"alpha": {"call": ["a"]}}
    )
    record.chunks = [a_chunk(0, "alpha", "all")]
    summary = fuzz_report.write(record, tmp_path, stopped_by="deadline", elapsed_s=10.0)
    alpha = summary["machines"]["alpha"]
    assert "ESCALATE" in alpha["outcomes_never_reached"]["verdict"]
    assert "SYSTEM_FROZEN" not in alpha["outcomes_never_reached"]["intent_refused"]
    assert "SYSTEM_FROZEN" in alpha["outcomes_not_applicable"]["intent_refused"]
    assert "http" in alpha["outcomes_not_applicable"]
    reached, can = alpha["outcomes_reached_of_applicable"]
    assert 2 == reached and can > reached  # ALLOW and DENY of the chunk's verdicts


def test_each_machine_shows_its_reach_over_time_with_its_denominator(tmp_path: Path) -> None:
    """At the end of each chunk, in the order they ended: outcomes reached so far of those its
    families can cause; the last point is the machine's total."""
    record = fuzz_report.Record(
        dict(OPTIONS, machines=["alpha"]), families={"alpha": {"call": ["a"]}}
    )
    record.chunks = [
        a_chunk(1, "alpha", "all", outcomes={"verdict": {"ESCALATE": 1}}),
        a_chunk(0, "alpha", "all"),  # ended first: ALLOW and DENY
        a_chunk(2, "alpha", "all", outcomes={"verdict": {"DENY": 4}}),
    ]
    summary = fuzz_report.write(record, tmp_path, stopped_by="deadline", elapsed_s=10.0)
    alpha = summary["machines"]["alpha"]
    can = alpha["outcomes_reached_of_applicable"][1]
    assert [[2.5, 2, can], [4.0, 3, can], [5.5, 3, can]] == alpha["outcomes_over_time"]
    assert alpha["outcomes_reached_of_applicable"][0] == alpha["outcomes_over_time"][-1][1]
    page = (tmp_path / fuzz_report.REPORT).read_text(encoding="utf-8")
    assert f"at the end of each chunk: 0:02 2/{can} · 0:04 3/{can} · 0:06 3/{can}" in page
