"""The trace format (docs/trace-format.md): saving atomically under the case's identity, what the
identity hashes, one-line errors for files that do not follow the format, finding trace files,
the shipped JSON Schema, and the git commit recorded in the header."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest

from helmmodel.errors import TraceError
from helmmodel.harness import trace
from helmmodel.harness.trace import Trace

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "traces"
FREEZE = FIXTURES / "kernel" / "freeze_respected-85a8446e5aa9.json"
FIXTURE_FILES = sorted(FIXTURES.rglob("*.json"))


def fixture_json() -> dict[str, Any]:
    """The freeze_respected fixture as parsed JSON (a fresh copy each time)."""
    loaded: dict[str, Any] = json.loads(FREEZE.read_text(encoding="utf-8"))
    return loaded


def fixture_trace() -> Trace:
    """The freeze_respected fixture as a Trace."""
    return trace.load(FREEZE)


def write_json(path: Path, data: Any) -> Path:
    """Write *data* as JSON to *path* and return *path*."""
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


# --- saving ---------------------------------------------------------------------------------------


def test_save_writes_machine_folder_and_invariant_identity_name(tmp_path: Path) -> None:
    """save writes `<corpus>/<machine>/<invariant>-<identity>.json` and returns that path."""
    case = fixture_trace()
    path = trace.save(case, tmp_path)
    assert tmp_path / "kernel" / f"freeze_respected-{case.identity()}.json" == path
    assert case.to_json() == json.loads(path.read_text(encoding="utf-8"))


def test_save_round_trips_through_load(tmp_path: Path) -> None:
    """A saved trace loads back equal to the one saved."""
    case = fixture_trace()
    assert case == trace.load(trace.save(case, tmp_path))


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    """After a save the machine's folder holds the trace file and nothing else (no temp file)."""
    path = trace.save(fixture_trace(), tmp_path)
    assert [path.name] == sorted(p.name for p in path.parent.iterdir())


def test_save_of_the_same_case_twice_is_one_file(tmp_path: Path) -> None:
    """Saving the same counterexample again, with another header, overwrites the one file."""
    case = fixture_trace()
    first = trace.save(case, tmp_path)
    second = trace.save(attrs.evolve(case, message="found again", seed=7), tmp_path)
    assert first == second
    assert [first] == sorted((tmp_path / "kernel").iterdir())
    assert "found again" == trace.load(first).message


def test_failed_write_leaves_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails before its rename leaves the old file as it was, and no temp file."""
    case = fixture_trace()
    path = trace.save(case, tmp_path)
    before = path.read_bytes()

    def refuse(source: Any, target: Any) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="simulated"):
        trace.save(attrs.evolve(case, status=trace.STATUS_FIXED, message="changed"), tmp_path)
    assert before == path.read_bytes()
    assert [path.name] == sorted(p.name for p in path.parent.iterdir())


def test_write_atomically_replaces_the_whole_file(tmp_path: Path) -> None:
    """write_atomically replaces a longer old file entirely (no trailing bytes of the old one)."""
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"padding": "x" * 1000}), encoding="utf-8")
    trace.write_atomically(path, {"a": 1})
    assert {"a": 1} == json.loads(path.read_text(encoding="utf-8"))


# --- identity -------------------------------------------------------------------------------------


def test_identity_is_short_hex() -> None:
    """An identity is IDENTITY_CHARS lowercase hex digits."""
    identity = fixture_trace().identity()
    assert re.fullmatch(f"[0-9a-f]{{{trace.IDENTITY_CHARS}}}", identity)


def test_identity_ignores_outcomes_and_digests() -> None:
    """Changing every outcome, digest and result name leaves the identity as it was."""
    case = fixture_trace()
    steps = copy.deepcopy(case.steps)
    for step in steps:
        step["outcome"] = {"changed": True}
        step["digest"] = "0" * 64
    assert case.identity() == attrs.evolve(case, steps=steps).identity()


@pytest.mark.parametrize(
    "change",
    [
        {"kernel": "correct"},
        {"message": "another message"},
        {"status": "fixed"},
        {"profile": "nightly"},
        {"seed": 12345},
        {"hypothesis_version": "9.9.9"},
        {"helmmodel_version": "9.9.9"},
        {"git_commit": "f" * 40},
    ],
    ids=lambda change: next(iter(change)),
)
def test_identity_ignores_the_header(change: dict[str, Any]) -> None:
    """A header field (kernel, message, status, profile, seed, versions, commit) is not hashed."""
    case = fixture_trace()
    assert case.identity() == attrs.evolve(case, **change).identity()


def _rule_changed(steps: list[dict[str, Any]]) -> None:
    steps[1]["rule"] = "fault_set_signing"


def _argument_changed(steps: list[dict[str, Any]]) -> None:
    steps[0]["args"]["principal"] = "bob"


def _nested_argument_changed(steps: list[dict[str, Any]]) -> None:
    steps[0]["args"]["args"]["x"] = 2


def _step_removed(steps: list[dict[str, Any]]) -> None:
    del steps[1]


@pytest.mark.parametrize(
    "change", [_rule_changed, _argument_changed, _nested_argument_changed, _step_removed]
)
def test_identity_changes_with_the_steps(change: Any) -> None:
    """Another rule, another argument (nested ones too) or another step list is another identity."""
    case = fixture_trace()
    steps = copy.deepcopy(case.steps)
    change(steps)
    assert case.identity() != attrs.evolve(case, steps=steps).identity()


@pytest.mark.parametrize("change", [{"machine": "clock_drift"}, {"invariant": "default_deny"}])
def test_identity_changes_with_machine_and_invariant(change: dict[str, Any]) -> None:
    """The machine and the invariant are part of the identity."""
    case = fixture_trace()
    assert case.identity() != attrs.evolve(case, **change).identity()


def test_identity_of_the_fixture_matches_its_file_name() -> None:
    """Each fixture file is named `<invariant>-<identity>.json` after its own content."""
    for path in FIXTURE_FILES:
        case = trace.load(path)
        assert path.name == case.file_name()


# --- one-line errors ------------------------------------------------------------------------------


def load_error(path: Path) -> str:
    """The TraceError message load gives for *path*, checked to be one line naming the file."""
    with pytest.raises(TraceError) as caught:
        trace.load(path)
    message = str(caught.value)
    assert 1 == len(message.splitlines())
    assert message.startswith(f"{path}: ")
    return message


def test_load_corrupt_json(tmp_path: Path) -> None:
    """Corrupt JSON is one line naming the file and saying it is not JSON."""
    path = tmp_path / "corrupt.json"
    path.write_text('{"format_version": 1,', encoding="utf-8")
    assert "not JSON" in load_error(path)


def test_load_not_utf8(tmp_path: Path) -> None:
    """A file that is not UTF-8 is one line naming the file and saying so."""
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"message": "caf\xe9"}')
    assert "not UTF-8" in load_error(path)


def test_load_missing_file(tmp_path: Path) -> None:
    """A file that does not exist is one line naming it."""
    assert "cannot read" in load_error(tmp_path / "absent.json")


@pytest.mark.parametrize("version", [2, 0, "1"])
def test_load_unknown_format_version(tmp_path: Path, version: Any) -> None:
    """An unknown format version is one line naming the file, the version and the one read."""
    data = fixture_json()
    data["format_version"] = version
    message = load_error(write_json(tmp_path / "version.json", data))
    assert "format version" in message
    assert repr(version) in message


@pytest.mark.parametrize("field", ["machine", "invariant", "status", "steps", "format_version"])
def test_load_missing_header_field(tmp_path: Path, field: str) -> None:
    """A missing header field is one line naming the file and the field."""
    data = fixture_json()
    del data[field]
    assert repr(field) in load_error(write_json(tmp_path / "missing.json", data))


def test_load_unknown_header_field(tmp_path: Path) -> None:
    """A field the format does not define is refused, naming it."""
    data = fixture_json()
    data["colour"] = "red"
    assert "'colour'" in load_error(write_json(tmp_path / "extra.json", data))


def test_load_unknown_status(tmp_path: Path) -> None:
    """A status other than open or fixed is refused, naming the field."""
    data = fixture_json()
    data["status"] = "closed"
    assert "field status" in load_error(write_json(tmp_path / "status.json", data))


@pytest.mark.parametrize(
    ("field", "value"),
    [("rule", 5), ("args", []), ("outcome", "ALLOW"), ("result", 3)],
)
def test_load_wrong_type_of_a_step_field(tmp_path: Path, field: str, value: Any) -> None:
    """A step field of the wrong type is one line naming the file, `step N` and the field."""
    data = fixture_json()
    data["steps"][1][field] = value
    message = load_error(write_json(tmp_path / "step.json", data))
    assert f"step 2, field {field}" in message


def test_load_missing_step_field(tmp_path: Path) -> None:
    """A step without its digest is refused, naming the step and the field."""
    data = fixture_json()
    del data["steps"][2]["digest"]
    message = load_error(write_json(tmp_path / "step.json", data))
    assert "step 3" in message
    assert "'digest'" in message


@pytest.mark.parametrize("digest", ["xyz", "A" * 64, "0" * 63])
def test_load_bad_digest(tmp_path: Path, digest: str) -> None:
    """A digest that is not 64 lowercase hex digits names the step and the digest field."""
    data = fixture_json()
    data["steps"][0]["digest"] = digest
    assert "step 1, field digest" in load_error(write_json(tmp_path / "digest.json", data))


def test_load_no_steps(tmp_path: Path) -> None:
    """A trace without steps is refused."""
    data = fixture_json()
    data["steps"] = []
    assert "field steps" in load_error(write_json(tmp_path / "empty.json", data))


def test_load_not_an_object(tmp_path: Path) -> None:
    """A JSON document that is not an object is refused in one line."""
    load_error(write_json(tmp_path / "list.json", []))


def test_from_json_names_the_source() -> None:
    """from_json's errors name the source it is given."""
    data = fixture_json()
    data["steps"][0]["rule"] = None
    with pytest.raises(TraceError) as caught:
        trace.from_json(data, "somewhere.json")
    assert str(caught.value).startswith("somewhere.json: step 1, field rule")


# --- finding trace files --------------------------------------------------------------------------


def test_find_returns_files_as_given(tmp_path: Path) -> None:
    """A file path is returned as given, JSON or not, in the order given."""
    first, second = tmp_path / "b.json", tmp_path / "a.txt"
    assert [first, second] == trace.find([first, second])


def test_find_searches_directories_for_json(tmp_path: Path) -> None:
    """A directory yields its *.json files at any depth, sorted, skipping dot-files and others."""
    for name in ("kernel/b.json", "kernel/a.json", "clock_drift/c.json", "notes.txt", ".x.json"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}", encoding="utf-8")
    expected = [
        tmp_path / "clock_drift/c.json",
        tmp_path / "kernel/a.json",
        tmp_path / "kernel/b.json",
    ]
    assert expected == trace.find([tmp_path])


def test_find_mixes_files_and_directories(tmp_path: Path) -> None:
    """Files and directories may be given together."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.json").write_text("{}", encoding="utf-8")
    single = tmp_path / "single.json"
    assert [single, folder / "a.json"] == trace.find([single, folder])


def test_find_empty_directory(tmp_path: Path) -> None:
    """An empty directory yields no files."""
    assert [] == trace.find([tmp_path])


# --- the schema -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: path.name)
def test_schema_validates_the_fixture_traces(path: Path) -> None:
    """The JSON Schema shipped in the package accepts each fixture trace."""
    jsonschema.Draft202012Validator(trace.schema()).validate(
        json.loads(path.read_text(encoding="utf-8"))
    )


def test_there_are_fixture_traces() -> None:
    """The fixture folder holds the planted kernel's saved cases (the schema test is not empty)."""
    assert 2 <= len(FIXTURE_FILES)
    assert {"planted-freeze"} == {trace.load(path).kernel for path in FIXTURE_FILES}


def test_schema_refuses_an_extra_step_field() -> None:
    """The shipped schema is strict: a step field it does not define is an error."""
    data = fixture_json()
    data["steps"][0]["comment"] = "added by hand"
    assert not jsonschema.Draft202012Validator(trace.schema()).is_valid(data)


def test_schema_is_the_one_in_the_package() -> None:
    """schema() reads the trace.schema.json shipped beside helmmodel.harness.trace."""
    shipped = Path(trace.__file__).with_name("trace.schema.json")
    assert json.loads(shipped.read_text(encoding="utf-8")) == trace.schema()


# --- git commit -----------------------------------------------------------------------------------


def test_git_commit_in_this_repository() -> None:
    """In this checkout git_commit is the 40 hex digits of HEAD."""
    commit = trace.git_commit(REPO)
    assert commit is not None
    assert re.fullmatch("[0-9a-f]{40}", commit)


def test_git_commit_outside_a_repository(tmp_path: Path) -> None:
    """Outside a git checkout git_commit is None."""
    assert trace.git_commit(tmp_path) is None
