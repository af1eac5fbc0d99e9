"""Regression cases end to end: `helmmodel replay`, `promote` and `show` on the planted kernel's
saved cases, one-line errors for bad trace files, replay after the machine gains or reorders
rules, pytest collection of a corpus, the 1-minimal minimizer, and capture after a run.

The cases under tests/fixtures/traces/ were found against ``planted-freeze``, a test-only kernel
whose *decide* ignores a freeze (tests/fixtures/planted.py); importing it registers it. Every
command runs in-process through ``helmmodel.cli.main`` with ``--machines`` given absolutely, and
any file a test changes is a copy in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from machines.kernel_machine import KernelMachine

from helmmodel import cli
from helmmodel.errors import InvariantViolation
from helmmodel.harness import capture, kernels, profiles, replay, runner, trace
from helmmodel.harness.minimize import minimize, simpler_values
from helmmodel.harness.stateful import Failure, TracedMachine, machine_for, transition, transitions
from tests.fixtures import planted

REPO = Path(__file__).resolve().parents[2]
MACHINES = REPO / "machines"
FIXTURES = REPO / "tests" / "fixtures" / "traces"
FREEZE = FIXTURES / "kernel" / "freeze_respected-85a8446e5aa9.json"
SNAPSHOT = FIXTURES / "kernel" / "snapshot_isolation-e7e4d706d3fa.json"
FIXTURE_FILES = (FREEZE, SNAPSHOT)
CONFTEST = REPO / "tests" / "regressions" / "conftest.py"
FROZEN_DENY = {"verdict": "DENY", "reason_code": "SYSTEM_FROZEN"}


# --- helpers --------------------------------------------------------------------------------------


def main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``helmmodel ARGV`` in-process; its exit status, stdout and stderr."""
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def replay_cli(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, str, str]:
    """``helmmodel replay --machines MACHINES PATH...``."""
    return main(capsys, "replay", "--machines", str(MACHINES), *map(str, paths))


def promote_cli(
    capsys: pytest.CaptureFixture[str], path: Path, status: str
) -> tuple[int, str, str]:
    """``helmmodel promote --machines MACHINES PATH --status STATUS``."""
    return main(capsys, "promote", "--machines", str(MACHINES), str(path), "--status", status)


def read_json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def copy_case(
    folder: Path,
    source: Path = FREEZE,
    name: str | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
    **header: Any,
) -> Path:
    """A copy of a fixture trace in *folder*, with *header* fields set and *edit* applied."""
    data = read_json(source)
    data.update(header)
    if edit is not None:
        edit(data)
    path = folder / (name or source.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def machines_map() -> dict[str, type[TracedMachine]]:
    return runner.load_machines(MACHINES)


def planted_variant() -> type[TracedMachine]:
    """The kernel machine against the planted kernel."""
    return machine_for(KernelMachine, planted.NAME, kernels.kernel_factory(planted.NAME))


def step(rule: str, **args: Any) -> dict[str, Any]:
    """A step as the minimizer sees it (no outcome or digest needed)."""
    return {"rule": rule, "args": args, "result": None}


# --- replay ---------------------------------------------------------------------------------------


def test_replay_fixture_traces_reproduce(capsys: pytest.CaptureFixture[str]) -> None:
    """Replaying the fixture folder reports each case reproduced as its status says; exit 0."""
    code, out, err = replay_cli(capsys, FIXTURES)
    assert 0 == code
    for path in FIXTURE_FILES:
        assert f"{path}: reproduced (ok)" in out
    assert "2 traces replayed, 2 as their status says" in out
    assert "" == err


def test_replay_fixed_status_on_a_reproducing_case_is_a_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A case marked fixed that still reproduces is a mismatch, exit 1."""
    path = copy_case(tmp_path, status="fixed")
    code, out, _ = replay_cli(capsys, path)
    assert 1 == code
    assert f"{path}: reproduced (MISMATCH: status fixed expects fixed)" in out


def test_replay_against_the_correct_kernel_diverges_at_the_decide_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against the correct kernel step 3 answers DENY SYSTEM_FROZEN, not the recorded ALLOW, so
    the case is diverged (an outcome differs), exit 1, and no invariant is violated."""
    path = copy_case(tmp_path, kernel="correct")
    code, out, _ = replay_cli(capsys, path)
    assert 1 == code
    assert f"{path}: diverged (MISMATCH: status open expects reproduced)" in out
    assert "step 3 (decide_call)" in out
    verdict = replay.judge(trace.load(path), machines_map())
    assert replay.DIVERGED == verdict.verdict
    assert verdict.replayed is not None
    assert verdict.replayed.violation is None
    assert FROZEN_DENY == verdict.replayed.steps[2]["outcome"]


def test_promote_fixed_rerecords_outcomes_digests_and_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """promote --status fixed on a case the kernel now passes re-records its outcomes, digests
    and status, and replay then says fixed, exit 0."""
    path = copy_case(tmp_path, kernel="correct")
    recorded = read_json(path)
    code, out, _ = promote_cli(capsys, path, "fixed")
    assert 0 == code
    assert f"{path}: marked fixed, 3 steps re-recorded" in out
    promoted = read_json(path)
    assert "fixed" == promoted["status"]
    assert FROZEN_DENY == promoted["steps"][2]["outcome"]
    assert recorded["steps"][2]["digest"] != promoted["steps"][2]["digest"]
    assert [(s["rule"], s["args"]) for s in recorded["steps"]] == [
        (s["rule"], s["args"]) for s in promoted["steps"]
    ]
    assert path.name == trace.load(path).file_name()  # same steps, same identity
    code, out, _ = replay_cli(capsys, path)
    assert 0 == code
    assert f"{path}: fixed (ok)" in out
    assert "drift" not in out


def test_promote_fixed_is_refused_for_a_case_that_still_reproduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """promote --status fixed on a case that still reproduces exits 1 and leaves it unchanged."""
    path = copy_case(tmp_path)
    before = path.read_bytes()
    code, out, err = promote_cli(capsys, path, "fixed")
    assert 1 == code
    assert before == path.read_bytes()
    assert 1 == len(err.splitlines())
    assert str(path) in err
    assert "reproduced" in err
    assert "" == out


def test_promote_open_on_a_reproducing_case_marked_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """promote --status open re-opens a case marked fixed that still reproduces."""
    path = copy_case(tmp_path, status="fixed")
    code, _, _ = promote_cli(capsys, path, "open")
    assert 0 == code
    assert "open" == read_json(path)["status"]
    code, out, _ = replay_cli(capsys, path)
    assert 0 == code
    assert f"{path}: reproduced (ok)" in out


def test_replay_open_case_that_passes_names_promote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An open case that now passes with the recorded outcomes is fixed, a mismatch (exit 1),
    and the output names the promote command."""

    def answer_as_the_correct_kernel(data: dict[str, Any]) -> None:
        data["steps"][2]["outcome"] = FROZEN_DENY

    path = copy_case(tmp_path, kernel="correct", edit=answer_as_the_correct_kernel)
    code, out, _ = replay_cli(capsys, path)
    assert 1 == code
    assert f"{path}: fixed (MISMATCH: status open expects reproduced)" in out
    assert f"helmmodel promote {path}" in out


def test_replay_reports_digest_drift_but_still_reproduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A recorded digest that differs with the same outcomes is drift: still reproduced, exit 0,
    and the output names drift and the step."""

    def change_digest(data: dict[str, Any]) -> None:
        data["steps"][1]["digest"] = "0" * 64

    path = copy_case(tmp_path, edit=change_digest)
    code, out, _ = replay_cli(capsys, path)
    assert 0 == code
    assert f"{path}: reproduced (ok)" in out
    assert "drift: state digests differ at steps [2]" in out
    verdict = replay.judge(trace.load(path), machines_map())
    assert [2] == verdict.drift


def _renamed(steps: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """*steps* with their value names replaced, in results and in references alike."""
    text = json.dumps(steps)
    for old, new in names.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    renamed: list[dict[str, Any]] = json.loads(text)
    return renamed


@pytest.mark.parametrize("kernel", [planted.NAME, "correct"])
def test_steps_recorded_by_a_replay_replay_again(kernel: str) -> None:
    """The steps a replay records (what capture and promote write into a file) name each value
    as the later steps refer to it, so they replay again to the same end, whatever names the
    file gave its values (a minimized trace's may start anywhere)."""
    variant = machine_for(KernelMachine, kernel, kernels.kernel_factory(kernel))
    steps = _renamed(trace.load(FREEZE).steps, {"begun_1": "begun_7", "decided_1": "decided_7"})
    first = replay.replay(variant, steps)
    assert first.invalid is None, first.invalid
    produced = {s["result"] for s in first.steps if s["result"]}
    referenced = {s["args"]["call"]["$ref"] for s in first.steps if s["rule"] == "decide_call"}
    assert referenced <= produced
    again = replay.replay(variant, first.steps)
    assert again.invalid is None, again.invalid
    assert (first.violation is None) == (again.violation is None)
    assert [s["outcome"] for s in first.steps] == [s["outcome"] for s in again.steps]


# --- bad trace files: one line, exit 2 ------------------------------------------------------------


def _set_step(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["steps"][index].update(fields)

    return edit


def _set_argument(index: int, name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["steps"][index]["args"][name] = value

    return edit


def _prepend(rule: str, **args: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        new = {**step(rule, **args), "outcome": {}, "digest": "0" * 64}
        data["steps"].insert(0, new)

    return edit


BAD_CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    # name: (how the copy differs, what the one line must say besides the file)
    "unknown format version": ({"format_version": 2}, ("format version 2",)),
    "unknown machine": ({"machine": "no_such_machine"}, ("unknown machine 'no_such_machine'",)),
    "unknown kernel": ({"kernel": "no-such-kernel"}, ("unknown kernel 'no-such-kernel'",)),
    "missing header field": ({"edit": lambda d: d.pop("invariant")}, ("'invariant'",)),
    "wrong type of a step field": ({"edit": _set_step(1, rule=5)}, ("step 2", "field rule")),
    "bad digest": ({"edit": _set_step(1, digest="xyz")}, ("step 2", "field digest")),
    "unknown rule": ({"edit": _set_step(1, rule="set_thawed")}, ("step 2", "'set_thawed'")),
    "unknown argument": (
        {"edit": _set_argument(1, "colour", "red")},
        ("step 2", "set_frozen", "colour"),
    ),
    "missing argument": ({"edit": _set_step(1, args={})}, ("step 2", "set_frozen", "frozen")),
    "wrong type: boolean": (
        {"edit": _set_argument(1, "frozen", "yes")},
        ("step 2", "set_frozen", "frozen", "'yes'"),
    ),
    "wrong type: integer": (
        {"edit": _prepend("fault_revoke_key", number="abc")},
        ("step 1", "fault_revoke_key", "number", "'abc'"),
    ),
    "wrong type: integer given a boolean": (
        {"edit": _prepend("set_guardian_clock", now_ms=True)},
        ("step 1", "set_guardian_clock", "now_ms"),
    ),
    "wrong type: object": (
        {"edit": _set_argument(0, "args", "x=1")},
        ("step 1", "begin_call", "args"),
    ),
    "dangling reference": (
        {"edit": _set_argument(2, "call", {"$ref": "begun_9"})},
        ("step 3", "decide_call", "begun_9", "dangling"),
    ),
}


def assert_one_line(path: Path, out: str, err: str, fragments: tuple[str, ...]) -> None:
    """One line names *path* and says each fragment; the only other line is the summary."""
    text = out + err
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    naming = [line for line in lines if str(path) in line]
    assert 1 == len(naming), lines
    for fragment in fragments:
        assert fragment in naming[0]
    others = [line for line in lines if line is not naming[0]]
    assert all(re.fullmatch(r"\d+ traces replayed, \d+ as their status says", o) for o in others)


def test_replay_corrupt_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Corrupt JSON is one line naming the file, exit 2."""
    path = tmp_path / "corrupt.json"
    path.write_text('{"format_version": 1, "steps": [', encoding="utf-8")
    code, out, err = replay_cli(capsys, path)
    assert 2 == code
    assert_one_line(path, out, err, ("not JSON",))


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_replay_bad_trace_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Each kind of bad trace gives one line naming the file (and the step and field or rule
    where there is one), no traceback, and exit status 2."""
    changes, fragments = BAD_CASES[case]
    changes = dict(changes)
    path = copy_case(tmp_path, edit=changes.pop("edit", None), **changes)
    code, out, err = replay_cli(capsys, path)
    assert_one_line(path, out, err, fragments)
    assert 2 == code


def test_replay_bad_file_among_good_ones_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One unreadable file among good ones still makes the exit status 2."""
    good = copy_case(tmp_path)
    bad = tmp_path / "zz-corrupt.json"
    bad.write_text("{", encoding="utf-8")
    code, _, err = replay_cli(capsys, good, bad)
    assert 2 == code
    assert str(bad) in err


@pytest.mark.parametrize("command", ["show", "promote"])
def test_show_and_promote_refuse_corrupt_json_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """show and promote give the same one-line error and exit 2 for a corrupt file."""
    path = tmp_path / "corrupt.json"
    path.write_text("[1, 2", encoding="utf-8")
    extra = ["--machines", str(MACHINES)] if command == "promote" else []
    code, out, err = main(capsys, command, *extra, str(path))
    assert 2 == code
    assert_one_line(path, out, err, ("not JSON",))


def test_promote_of_an_invalid_trace_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """promote of a trace that cannot be replayed (an unknown rule) is one line and exit 2."""
    path = copy_case(tmp_path, edit=_set_step(1, rule="set_thawed"))
    before = path.read_bytes()
    code, out, err = promote_cli(capsys, path, "fixed")
    assert_one_line(path, out, err, ("step 2", "'set_thawed'"))
    assert before == path.read_bytes()
    assert 2 == code


# --- replay after the machine changes -------------------------------------------------------------


class WithNewRule(KernelMachine):
    """The kernel machine after a new traced rule was added."""

    @transition(level=st.integers(0, 3))
    def set_noise(self, level: int) -> tuple[dict[str, Any], Any]:
        """A rule the saved traces have never heard of."""
        return {"noise": level}, None


# Read from KernelMachine itself, so that a family added to it is reordered too.
class Reordered(*reversed(KernelMachine.__bases__)):  # type: ignore[misc]
    """The kernel machine's rule families declared in the reverse order."""


def test_the_changed_machines_really_differ() -> None:
    """WithNewRule has one rule more; Reordered has the same rules in another order."""
    before = list(transitions(KernelMachine))
    assert [*before, "set_noise"] == list(transitions(WithNewRule))
    assert sorted(before) == sorted(transitions(Reordered))
    assert before != list(transitions(Reordered))


@pytest.mark.parametrize("machine", [WithNewRule, Reordered], ids=lambda m: m.__name__)
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_saved_trace_replays_after_the_machine_changes(
    machine: type[TracedMachine], path: Path
) -> None:
    """A trace saved before a rule was added, or before the rules were reordered, reproduces."""
    verdict = replay.judge(trace.load(path), {"kernel": machine})
    assert replay.REPRODUCED == verdict.verdict, verdict.detail
    assert [] == verdict.drift


# --- show -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_show_prints_a_table_and_a_program_that_fails(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """show prints a table of the steps and a program whose lines, run from the repository root,
    raise the trace's InvariantViolation."""
    case = trace.load(path)
    code, out, _ = main(capsys, "show", str(path))
    assert 0 == code
    head, table, program = out.rstrip("\n").split("\n\n")
    assert f"{path}: kernel against the planted-freeze kernel, status open" in head
    rows = table.splitlines()
    assert ["#", "rule", "arguments", "outcome", "digest"] == rows[0].split()
    for number, (row, recorded) in enumerate(zip(rows[1:], case.steps, strict=True), start=1):
        assert [str(number), recorded["rule"]] == row.split()[:2]
        assert recorded["digest"][:12] in row
    monkeypatch.chdir(REPO)
    with pytest.raises(InvariantViolation) as caught:
        exec(compile(program, f"<show {path.name}>", "exec"), {})
    assert case.invariant == caught.value.invariant
    assert case.message == str(caught.value)


def test_show_pytest_writes_a_test_that_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """show --pytest writes a standalone test file that pytest runs and passes (the case still
    violates its invariant, so its pytest.raises holds)."""
    test_file = tmp_path / "test_freeze_case.py"
    code, out, _ = main(
        capsys,
        "show",
        "--import",
        "tests.fixtures.planted",
        str(FREEZE),
        "--pytest",
        str(test_file),
    )
    assert 0 == code
    assert f"wrote {test_file}" in out
    compile(test_file.read_text(encoding="utf-8"), str(test_file), "exec")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, done.stdout[-3000:]
    assert "1 passed" in done.stdout


# --- pytest collection of a corpus ----------------------------------------------------------------


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Run pytest over a corpus beside a copy of tests/regressions/conftest.py; for each case,
    None when it passed, else its failure text."""
    root = tmp_path_factory.mktemp("collection")
    (root / "machines").symlink_to(MACHINES, target_is_directory=True)  # conftest: parents[2]
    corpus = root / "suite" / "regressions"
    corpus.mkdir(parents=True)
    shutil.copy(CONFTEST, corpus / "conftest.py")
    cases = corpus / "kernel"
    copy_case(cases, name="open_reproduces.json")
    copy_case(cases, name="marked_fixed.json", status="fixed")
    copy_case(cases, name="open_against_correct.json", kernel="correct")
    # An open case that passes as recorded: the correct kernel's answer written in by hand (the
    # digests then differ only as drift).

    def answer_as_the_correct_kernel(data: dict[str, Any]) -> None:
        data["steps"][2]["outcome"] = FROZEN_DENY

    copy_case(cases, name="open_passes.json", kernel="correct", edit=answer_as_the_correct_kernel)
    report = root / "report.xml"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(corpus),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.fixtures.planted",  # registers the planted kernel the cases name
            f"--junitxml={report}",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    results: dict[str, str | None] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        text = (
            None if failure is None else (failure.get("message", "") + "\n" + (failure.text or ""))
        )
        results[case.get("name", "")] = text
    return results


def test_collection_makes_one_test_per_file(collected: dict[str, str | None]) -> None:
    """Each JSON file under the corpus is collected as a test named after it."""
    expected = {"open_reproduces", "marked_fixed", "open_against_correct", "open_passes"}
    assert expected == set(collected)


def test_collected_open_case_that_reproduces_passes(collected: dict[str, str | None]) -> None:
    """An open case that still violates its invariant passes."""
    assert collected["open_reproduces"] is None


def test_collected_case_marked_fixed_that_reproduces_fails(
    collected: dict[str, str | None],
) -> None:
    """A case marked fixed that still reproduces fails, naming the file and its status."""
    failure = collected["marked_fixed"]
    assert failure is not None
    assert "marked_fixed.json" in failure
    assert "status fixed" in failure
    assert "reproduced" in failure


def test_collected_open_case_that_passes_names_promote(
    collected: dict[str, str | None],
) -> None:
    """An open case that passes with the recorded outcomes fails and names helmmodel promote."""
    failure = collected["open_passes"]
    assert failure is not None
    assert "open_passes.json" in failure
    assert "helmmodel promote" in failure


def test_collected_open_case_no_longer_failing_names_promote(
    collected: dict[str, str | None],
) -> None:
    """An open case that no longer violates anything against the correct kernel (its decide
    step now answers DENY) fails and names helmmodel promote, which would accept it."""
    failure = collected["open_against_correct"]
    assert failure is not None
    assert "open_against_correct.json" in failure
    assert "helmmodel promote" in failure


# --- the minimizer --------------------------------------------------------------------------------


NOISE_BEFORE = [step("http_status", method="GET"), step("set_guardian_clock", now_ms=299_999)]
NOISE_AFTER = [step("http_status", method="POST"), step("set_guardian_clock", now_ms=-7_200_000)]


def noisy(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """*steps* with irrelevant steps before, between and after them."""
    mixed: list[dict[str, Any]] = [*NOISE_BEFORE]
    for recorded in steps:
        mixed.extend([recorded, step("http_status", method="GET")])
    return [*mixed, *NOISE_AFTER]


def assert_one_minimal(steps: list[dict[str, Any]], fails: Callable[[Any], bool]) -> None:
    """No single step can be removed, and no argument simplified, while *steps* still fail."""
    assert fails(steps)
    for index in range(len(steps)):
        assert not fails(steps[:index] + steps[index + 1 :]), f"step {index + 1} is not needed"
    tried = 0
    for index, recorded in enumerate(steps):
        for name, value in recorded["args"].items():
            for simpler in simpler_values(value):
                changed = json.loads(json.dumps(steps))
                changed[index]["args"][name] = simpler
                tried += 1
                assert not fails(changed), f"step {index + 1}: {name}={simpler!r} still fails"
    assert 0 < tried


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_minimize_removes_irrelevant_steps(path: Path) -> None:
    """Minimizing a fixture with irrelevant steps mixed in gives back the fixture's steps."""
    case = trace.load(path)
    fails = replay.still_fails(planted_variant(), case.invariant)
    minimal = minimize(noisy(case.steps), fails)
    assert len(case.steps) == len(minimal)
    assert [(s["rule"], s["args"]) for s in case.steps] == [(s["rule"], s["args"]) for s in minimal]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_minimize_result_is_one_minimal(path: Path) -> None:
    """The minimizer's result cannot lose a step or take a simpler argument and still fail."""
    case = trace.load(path)
    fails = replay.still_fails(planted_variant(), case.invariant)
    assert_one_minimal(minimize(noisy(case.steps), fails), fails)


def test_minimize_refuses_steps_that_do_not_fail() -> None:
    """Minimizing steps that do not fail is an error, not an empty trace."""
    fails = replay.still_fails(planted_variant(), "freeze_respected")
    with pytest.raises(ValueError, match="does not fail"):
        minimize([step("http_status", method="GET")], fails)


def test_invalid_variant_does_not_count_as_failing() -> None:
    """A variant with a dangling reference is invalid, and the minimizer's test says no."""
    case = trace.load(FREEZE)
    without_begin = case.steps[1:]
    assert replay.replay(planted_variant(), without_begin).invalid is not None
    assert not replay.still_fails(planted_variant(), "freeze_respected")(without_begin)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, [False]),
        (False, []),
        (0, []),
        (10, [0, 1, 5]),
        (-8, [0, 1, -4]),
        (7, [0, 1, 3]),
        ("alice", [""]),
        ("", []),
        ({"a": 1, "b": 2}, [{}, {"b": 2}, {"a": 1}]),
        ({}, []),
        ({"$ref": "begun_1"}, []),
        ({"$bytes": "AAE="}, []),
        ([1, 2, 3], [[], [2, 3], [1, 3], [1, 2]]),
        ([], []),
    ],
    ids=repr,
)
def test_simpler_values_follow_the_documented_order(value: Any, expected: list[Any]) -> None:
    """false for a boolean; 0, 1, half for an integer; "" for a string; {} then one member fewer
    for an object; [] then one element fewer for a list; references and bytes left alone."""
    assert expected == list(simpler_values(value))


# --- capture after a run --------------------------------------------------------------------------


@pytest.fixture
def keep_hypothesis_profile() -> Iterator[None]:
    """Restore Hypothesis's default profile, which profiles.load changes, after the test."""
    previous = settings.get_current_profile_name()
    yield
    settings.load_profile(previous)


@pytest.fixture(scope="module")
def planted_run() -> runner.MachineResult:
    """One ci-profile run of the kernel machine against the planted kernel, without shrinking
    (the ci profile is derandomized, so it finds the planted bug, at about its 840th example)."""
    previous = settings.get_current_profile_name()
    try:
        return runner.run_machine(
            machines_map()["kernel"],
            kernel=planted.NAME,
            profile_settings=profiles.load("ci"),
            profile="ci",
            shrink=False,
        )
    finally:
        settings.load_profile(previous)


CAPTURED = re.compile(
    r"  freeze_respected: \w+ trace (\d+) steps, 1-minimal (\d+) steps, saved to (\S+)\n"
)


@pytest.mark.slow
def test_capture_prints_lengths_and_saves_under_the_machine(
    planted_run: runner.MachineResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """capture makes the run's failure 1-minimal, prints the lengths before and after and the
    path, saves it under <corpus>/kernel/, and attaches the path to the run's error."""
    assert "freeze_respected" in planted_run.failures
    saved = capture.save_failures(planted_run, tmp_path, sys.stdout)
    out = capsys.readouterr().out
    found = CAPTURED.search(out)
    assert found is not None, out
    before, after, shown = int(found[1]), int(found[2]), found[3]
    path = saved["freeze_respected"]
    assert str(path) == shown
    assert tmp_path / "kernel" == path.parent
    assert len(planted_run.failures["freeze_respected"].steps) == before
    assert before >= after
    case = trace.load(path)
    assert after == len(case.steps)
    assert (planted.NAME, "ci", "open") == (case.kernel, case.profile, case.status)
    assert path.name == case.file_name()
    assert replay.REPRODUCED == replay.judge(case, machines_map()).verdict
    assert planted_run.error is not None
    assert any(str(path) in note for note in getattr(planted_run.error, "__notes__", []))


@pytest.mark.slow
def test_capture_saves_a_one_minimal_trace(
    planted_run: runner.MachineResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The trace capture saves is 1-minimal."""
    path = capture.save_failures(planted_run, tmp_path, sys.stdout)["freeze_respected"]
    capsys.readouterr()
    fails = replay.still_fails(planted_variant(), "freeze_respected")
    assert_one_minimal(trace.load(path).steps, fails)


@pytest.mark.slow
def test_capture_twice_is_one_file(
    planted_run: runner.MachineResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Capturing the same failure twice writes one file (the same identity)."""
    first = capture.save_failures(planted_run, tmp_path, sys.stdout)["freeze_respected"]
    second = capture.save_failures(planted_run, tmp_path, sys.stdout)["freeze_respected"]
    capsys.readouterr()
    assert first == second
    assert [first] == sorted((tmp_path / "kernel").iterdir())


def capture_freeze(tmp_path: Path, kernel: str = planted.NAME, **options: Any) -> capture.Captured:
    """The freeze fixture's failure captured on the kernel machine against *kernel*, into
    *tmp_path*/corpus, with *options* for the SaveTo record."""
    case = trace.load(FREEZE)
    variant = machine_for(KernelMachine, kernel, kernels.kernel_factory(kernel))
    to = capture.SaveTo(
        corpus=tmp_path / "corpus", machine="kernel", kernel=kernel, profile="nightly", **options
    )
    return capture.capture(variant, Failure(case.invariant, case.message, case.steps), to)


def test_capture_saves_a_one_minimal_trace_into_the_corpus_and_its_copies(
    tmp_path: Path,
) -> None:
    """capture saves the 1-minimal trace with the header SaveTo gives, into the corpus and
    into each copy folder."""
    captured = capture_freeze(tmp_path, seed=7, git_commit="c" * 40, copies=(tmp_path / "copy",))
    assert (capture.Kind.SAVED, 3, 3, False) == (
        captured.kind, captured.found_length, captured.minimal_length, captured.regressed
    )  # fmt: skip
    assert captured.path is not None and captured.trace is not None
    assert tmp_path / "corpus" / "kernel" / captured.trace.file_name() == captured.path
    saved = trace.load(captured.path)
    assert (7, "c" * 40, "nightly", planted.NAME) == (
        saved.seed, saved.git_commit, saved.profile, saved.kernel
    )  # fmt: skip
    assert (tmp_path / "copy" / "kernel" / captured.path.name).exists()


def test_capture_leaves_a_case_the_corpus_holds_as_open(tmp_path: Path) -> None:
    """A trace whose identity the corpus holds as open is known: its case is named, nothing is
    written."""
    held = tmp_path / "held.json"
    captured = capture_freeze(tmp_path, known=lambda _: capture.Known(status="open", path=held))
    assert (capture.Kind.KNOWN, held, 3) == (
        captured.kind, captured.path, captured.minimal_length
    )  # fmt: skip
    assert not (tmp_path / "corpus").exists()


def test_capture_writes_over_a_case_the_corpus_holds_as_fixed(tmp_path: Path) -> None:
    """A trace whose identity the corpus holds as fixed is saved, and said to have regressed."""
    held = tmp_path / "held.json"
    captured = capture_freeze(tmp_path, known=lambda _: capture.Known(status="fixed", path=held))
    assert (capture.Kind.SAVED, True) == (captured.kind, captured.regressed)
    assert captured.path is not None and captured.path.exists()


def test_capture_saves_the_trace_as_found_once_its_guard_gives_up(tmp_path: Path) -> None:
    """When the guard gives up, the trace is saved as found into the guard's folder, never into
    the corpus."""
    guard = capture.Guard(give_up=lambda: True, pending=tmp_path / "pending")
    captured = capture_freeze(tmp_path, guard=guard)
    assert (capture.Kind.PENDING, None) == (captured.kind, captured.minimal_length)
    assert captured.path is not None
    assert tmp_path / "pending" / "kernel" == captured.path.parent
    assert trace.load(FREEZE).steps == trace.load(captured.path).steps
    assert not (tmp_path / "corpus").exists()


def test_capture_saves_nothing_for_a_failure_that_does_not_fail_again(tmp_path: Path) -> None:
    """A failure that does not fail again on replay (against the correct kernel) is
    unreproducible: no trace, nothing written."""
    captured = capture_freeze(tmp_path, kernel="correct")
    assert (capture.Kind.UNREPRODUCIBLE, None, None) == (
        captured.kind, captured.trace, captured.path
    )  # fmt: skip
    assert not (tmp_path / "corpus").exists()


@pytest.mark.usefixtures("keep_hypothesis_profile")
@pytest.mark.parametrize("corpus", ["tests/regressions", "./tests/regressions/", "absolute"])
def test_run_refuses_the_repository_corpus_for_another_kernel(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, corpus: str
) -> None:
    """`helmmodel run --kernel planted-freeze --corpus tests/regressions` is refused before it
    runs, exit 2: counterexamples of other kernels never go into the repository's corpus."""
    monkeypatch.chdir(REPO)
    given = str(REPO / "tests" / "regressions") if corpus == "absolute" else corpus
    before = sorted(p.name for p in (REPO / "tests" / "regressions").iterdir())
    code, out, err = main(
        capsys,
        "run",
        "kernel",
        "--kernel",
        planted.NAME,
        "--corpus",
        given,
        "--import",
        "tests.fixtures.planted",
        "--machines",
        str(MACHINES),
        "--profile",
        "ci",
    )
    assert 2 == code
    assert "" == out
    assert 1 == len(err.splitlines())
    assert "never go into the repository's corpus" in err
    assert before == sorted(p.name for p in (REPO / "tests" / "regressions").iterdir())
