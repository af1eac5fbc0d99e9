"""Bad input gets one line naming the file, option or value, exit status 2, and nothing written.

One test per class of bad input that used to crash, hang or pass silently (issue #21, item 5):
trace files that are not regular files or whose JSON Python refuses past the decoder, replay of a
folder with no traces, ``show --pytest`` over the trace or an existing file, a campaign duration
past any sensible run, a Redis port out of range, a refused database leaving a run directory
behind, and a corpus path that is not a directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helmmodel import cli
from helmmodel.errors import TraceError
from helmmodel.harness import trace as traces

REPO = Path(__file__).resolve().parents[2]
CASE = next((REPO / "tests" / "fixtures" / "traces" / "kernel").glob("*.json"))
MACHINES = REPO / "machines"


def main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- trace files ---------------------------------------------------------------------------------


def test_a_fifo_is_refused_without_reading_it(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: the check comes first."""
    fifo = tmp_path / "case.json"
    os.mkfifo(fifo)
    with pytest.raises(TraceError, match=r"case\.json: not a regular file"):
        traces.load(fifo)


def test_a_device_is_refused() -> None:
    with pytest.raises(TraceError, match="/dev/zero: not a regular file"):
        traces.load("/dev/zero")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"seed": ' + "9" * 5000 + "}", "not a trace's JSON"),
    ],
    ids=["deep-nesting", "huge-integer"],
)
def test_json_python_refuses_past_the_decoder_is_a_trace_error(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "case.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TraceError, match=says) as refused:
        traces.load(path)
    assert str(path) in str(refused.value)


def test_an_oversized_file_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"steps": ["x"] * 100}), encoding="utf-8")
    monkeypatch.setattr(traces, "TRACE_BYTES_MAX", 100)
    with pytest.raises(TraceError, match=r"bytes, more than a trace's 100"):
        traces.load(path)


def test_replay_of_a_folder_without_traces_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = main(capsys, "replay", "--machines", str(MACHINES), str(tmp_path))
    assert (2, "") == (code, out)
    assert f"no trace files (*.json) in {tmp_path}" in err


# --- show --pytest ------------------------------------------------------------------------------


@pytest.fixture
def case(tmp_path: Path) -> Path:
    copy = tmp_path / CASE.name
    shutil.copy(CASE, copy)
    return copy


def test_show_pytest_never_writes_over_the_trace(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = case.read_bytes()
    code, _, err = main(capsys, "show", str(case), "--pytest", str(case))
    assert 2 == code
    assert "is the trace itself" in err
    assert before == case.read_bytes()


def test_show_pytest_replaces_an_existing_file_only_with_force(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = case.with_name("test_case.py")
    target.write_text("# mine\n", encoding="utf-8")
    code, _, err = main(capsys, "show", str(case), "--pytest", str(target))
    assert (2, "# mine\n") == (code, target.read_text(encoding="utf-8"))
    assert "exists; add --force" in err
    code, out, _ = main(capsys, "show", str(case), "--pytest", str(target), "--force")
    assert 0 == code and f"wrote {target}" in out
    assert "def test_" in target.read_text(encoding="utf-8")


def test_show_pytest_into_a_missing_folder_is_a_clear_error(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = case.parent / "no-such-folder" / "test_case.py"
    code, _, err = main(capsys, "show", str(case), "--pytest", str(target))
    assert 2 == code
    assert f"--pytest {target}: cannot write it" in err


# --- campaign options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--duration", "100000h"], "--duration '100000h' is longer than 31 days"),
        (["--duration", "1s", "--progress-every", "0s"], "--progress-every '0s' is no time"),
        (["--duration", "1s", "--db", "redis://127.0.0.1:99999"], "the port is not a number"),
        (["--duration", "1s", "--db", "redis://127.0.0.1:0"], "the port is not a number"),
    ],
    ids=["duration", "progress", "port-too-big", "port-zero"],
)
def test_fuzz_refuses_bad_options_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    run_dir = tmp_path / "run"
    code, _, err = main(
        capsys, "fuzz", *argv, "--run-dir", str(run_dir), "--corpus", str(tmp_path / "corpus")
    )
    assert 2 == code
    assert says in err
    assert not run_dir.exists()


def test_a_refused_database_leaves_no_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on port 1 of the loopback: the database check fails at once."""
    run_dir = tmp_path / "run"
    code, _, err = main(
        capsys, "fuzz", "--duration", "1s", "--db", "redis://127.0.0.1:1",
        "--run-dir", str(run_dir), "--corpus", str(tmp_path / "corpus"),
    )  # fmt: skip
    assert 2 == code and "cannot reach Redis" in err
    assert not run_dir.exists()


# --- corpus paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["fuzz", "--duration", "1s"], ["run", "kernel", "--max-examples", "1", "--no-coverage"]],
    ids=["fuzz", "run"],
)
def test_a_corpus_that_is_a_file_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.write_text("not a folder\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    extra = ["--run-dir", str(run_dir)] if command[0] == "fuzz" else []
    for given, says in [
        (corpus, f"--corpus {corpus}: is not a directory"),
        (corpus / "sub", f"--corpus {corpus / 'sub'}: would be under {corpus}, which is not a"),
    ]:
        code, out, err = main(capsys, *command, "--corpus", str(given), *extra)
        assert (2, "") == (code, out)
        assert says in err
    assert "not a folder\n" == corpus.read_text(encoding="utf-8")
    assert not run_dir.exists()


def test_a_writable_corpus_that_does_not_exist_yet_is_not_created_by_the_check(
    tmp_path: Path,
) -> None:
    traces.check_writable_directory(tmp_path / "a" / "b", "--corpus")
    assert [] == list(tmp_path.iterdir())


# --- a failed save loses nothing ----------------------------------------------------------------


def test_a_save_that_fails_goes_to_the_fallback_then_to_stderr_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helmmodel.harness import capture

    trace = traces.load(CASE)
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    fallback = tmp_path / "pending"
    path = capture.save_or_show(trace, blocked, fallback)
    assert path is not None and path.parent == fallback / trace.machine
    assert trace.to_json() == traces.load(path).to_json()
    assert f"cannot save the {trace.invariant} trace into {blocked}" in capsys.readouterr().err
    assert capture.save_or_show(trace, blocked, blocked / "no") is None
    err = capsys.readouterr().err
    shown = err.splitlines()[-1]
    assert trace.to_json() == traces.from_json(json.loads(shown), "stderr").to_json()


# --- the rest of docs/bad-input.md's table ------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["replay", "/no/such/case.json"], "no such file or directory: /no/such/case.json"),
        (["promote", "/no/such/case.json"], "/no/such/case.json: cannot read it"),
        (["mutants", "no-such-mutant"], "unknown mutant 'no-such-mutant'"),
        (["fuzz", "kernel", "--duration", "1s", "--swarm", "only-nothing"],
         "has no swarm configuration 'only-nothing'"),
    ],
    ids=["replay", "promote", "mutants", "swarm"],
)  # fmt: skip
def test_commands_name_what_they_cannot_find(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    run_dir = tmp_path / "run"
    extra = (
        ["--run-dir", str(run_dir), "--corpus", str(tmp_path / "c")] if argv[0] == "fuzz" else []
    )
    code, _, err = main(capsys, *argv, *extra)
    assert 2 == code
    assert says in err and 1 == err.count("\n")
    assert not run_dir.exists()


def test_serve_on_a_port_in_use_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = main(capsys, "serve", "--port", str(port), "--admin-token", "x" * 24)
    assert 1 == code
    assert "helmmodel serve: cannot listen on 127.0.0.1" in err
