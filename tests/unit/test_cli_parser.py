"""The command line's parser is pinned: every ``--help`` page is the one kept in
tests/fixtures/cli_help (at 80 columns), each command reads its arguments into the same names
and defaults, and bad arguments are refused with the same message and exit status 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helmmodel import cli

HELP_PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "cli_help"
COMMANDS = ("serve", "run", "replay", "promote", "show", "mutants", "storm", "fuzz")


def exit_status(argv: list[str]) -> int | str | None:
    """The status ``helmmodel ARGV`` exits with while parsing."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    return exited.value.code


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_page_is_the_pinned_one(
    command: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``helmmodel --help`` and ``helmmodel CMD --help`` print the kept page and exit 0."""
    monkeypatch.setenv("COLUMNS", "80")
    assert 0 == exit_status([command, "--help"] if command else ["--help"])
    expected = (HELP_PAGES / f"{command or 'helmmodel'}.txt").read_text(encoding="utf-8")
    assert expected == capsys.readouterr().out


def test_no_command_prints_the_help_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``helmmodel`` alone prints the top help page and returns 2."""
    monkeypatch.setenv("COLUMNS", "80")
    assert 2 == cli.main([])
    assert (HELP_PAGES / "helmmodel.txt").read_text(encoding="utf-8") == capsys.readouterr().out


SHARED = {"imports": [], "machine_dir": "machines"}
# serve's options for the release's API, unset (the chaos page's kernel).
RELEASE_UNSET = {
    "semantics": "chaos-page",
    "helm_admin_key": None,
    "helm_service_key": None,
    "helm_tenant": None,
    "helm_principal": None,
}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve"], {"host": "127.0.0.1", "ports": None, "admin_token": None, "token": [],
                     "access_log": False, "max_requests": None, **RELEASE_UNSET}),
        (["serve", "--port", "1", "--port", "0", "--token", "a=b", "--token", "c=d",
          "--access-log", "--max-requests", "7"],
         {"host": "127.0.0.1", "ports": [1, 0], "admin_token": None,
          "token": [("a", "b"), ("c", "d")], "access_log": True, "max_requests": 7,
          **RELEASE_UNSET}),
        (["serve", "--semantics", "helm-ai-kernel", "--helm-admin-key", "a",
          "--helm-service-key", "s", "--helm-tenant", "t", "--helm-principal", "p"],
         {"host": "127.0.0.1", "ports": None, "admin_token": None, "token": [],
          "access_log": False, "max_requests": None, "semantics": "helm-ai-kernel",
          "helm_admin_key": "a", "helm_service_key": "s", "helm_tenant": "t",
          "helm_principal": "p"}),
        (["run"], {**SHARED, "machines": [], "kernel": "correct", "profile": None,
                   "max_examples": None, "list": False, "shrink": True, "corpus": None,
                   "coverage": True, "coverage_html": None, "coverage_floor": False,
                   "semantics": None}),
        (["run", "a", "b", "--kernel", "k", "--profile", "ci", "--max-examples", "5", "--list",
          "--no-shrink", "--corpus", "c", "--import", "m1", "--import", "m2", "--machines", "d",
          "--no-coverage", "--coverage-html", "h", "--coverage-floor"],
         {"imports": ["m1", "m2"], "machine_dir": "d", "machines": ["a", "b"], "kernel": "k",
          "profile": "ci", "max_examples": 5, "list": True, "shrink": False, "corpus": "c",
          "coverage": False, "coverage_html": "h", "coverage_floor": True, "semantics": None}),
        (["replay", "p1", "p2"], {**SHARED, "paths": ["p1", "p2"]}),
        (["promote", "p"], {**SHARED, "path": "p", "status": "fixed"}),
        (["show", "p", "--pytest", "f"],
         {"imports": [], "path": "p", "pytest": "f", "force": False}),
        (["mutants", "x"], {**SHARED, "names": ["x"], "list": False, "corpus": None}),
        (["storm"], {"imports": [], "kernel": "correct", "runs": 1, "calls": 1000,
                     "limit": None, "workers": 16, "programs": None}),
        (["storm", "--kernel", "k", "--runs", "2", "--calls", "10", "--limit", "3", "--workers",
          "4", "--programs", "7", "--import", "m"],
         {"imports": ["m"], "kernel": "k", "runs": 2, "calls": 10, "limit": 3, "workers": 4,
          "programs": 7}),
        (["fuzz", "--dur", "1s", "--mach", "d"],
         {"imports": [], "machine_dir": "d", "machines": [], "duration": "1s",
          "workers": "auto", "kernel": "correct", "corpus": None, "db": None, "shard": "1/1",
          "run_dir": None, "chunk_examples": None, "shrink": True, "swarm": None,
          "progress_every": "1m", "stalled_after": "5m", "reach_every": None}),
    ],
)  # fmt: skip
def test_each_command_reads_its_arguments_into_the_same_names(
    argv: list[str], expected: dict[str, Any]
) -> None:
    """The namespace of a command holds exactly its options, with their defaults and types."""
    assert {"command": argv[0], **expected} == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "helmmodel: error: argument COMMAND: invalid choice: 'nope' (choose from "
                   "'serve', 'run', 'replay', 'promote', 'show', 'mutants', 'storm', 'fuzz')"),
        (["run", "--max-examples", "0"],
         "helmmodel run: error: argument --max-examples: 0 is not a positive number"),
        (["storm", "--workers", "1.5"],
         "helmmodel storm: error: argument --workers: '1.5' is not a number"),
        (["serve", "--port", "70000"],
         "helmmodel serve: error: argument --port: port 70000 is outside 0..65535"),
        (["serve", "--token", "foo"],
         "helmmodel serve: error: argument --token: 'foo' is not TOKEN=PRINCIPAL"),
        (["promote", "a", "--status", "bogus"],
         "helmmodel promote: error: argument --status: invalid choice: 'bogus' (choose from "
         "'fixed', 'open')"),
        (["fuzz"], "helmmodel fuzz: error: the following arguments are required: --duration"),
        (["replay"], "helmmodel replay: error: the following arguments are required: PATH"),
        (["show", "p", "--machines", "d"],
         "helmmodel: error: unrecognized arguments: --machines d"),
        (["storm", "--corpus", "x"], "helmmodel: error: unrecognized arguments: --corpus x"),
        (["fuzz", "--profile", "ci", "--duration", "1s"],
         "helmmodel: error: unrecognized arguments: --profile"),
        (["serve", "--import", "m"], "helmmodel: error: unrecognized arguments: --import m"),
        (["serve", "--semantics", "x"],
         "helmmodel serve: error: argument --semantics: invalid choice: 'x' (choose from "
         "'chaos-page', 'helm-ai-kernel')"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_with_the_same_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad argument exits 2, its message the last line on stderr."""
    assert 2 == exit_status(argv)
    assert message == capsys.readouterr().err.splitlines()[-1]
