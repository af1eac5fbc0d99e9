"""`helmmodel storm`: its arguments, its report, and its exit status."""

from __future__ import annotations

import re

import pytest

from helmmodel.cli import main


def test_a_small_storm_on_the_correct_kernel_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert 0 == main(["storm", "--calls", "60", "--workers", "8"])
    out = capsys.readouterr().out
    assert "60 calls on 8 threads, budget limit 42: consumed 42" in out
    assert "linearizable: " in out
    assert "every check held in 1 storms (the correct kernel)" in out


def test_a_concurrency_mutant_fails_the_storm(capsys: pytest.CaptureFixture[str]) -> None:
    # Catching it is a rate (10 of 10 storms of 300 calls measured): four storms make a miss of
    # all four rarer than one in 10,000, as in tests/quality/test_concurrency_mutants.py.
    argv = ["storm", "--kernel", "facade-budget-check-not-atomic", "--calls", "300", "--runs", "4"]
    status = main(argv)
    out = capsys.readouterr().out
    assert 1 == status, out
    assert "PROBLEM: " in out
    assert re.search(r"[1-4] of 4 storms broke a check \(the facade-budget-check-not-atomic ", out)


def test_generated_programs_on_the_correct_kernel_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert 0 == main(["storm", "--programs", "5"])
    out = capsys.readouterr().out
    assert "generating 5 concurrent programs against the correct kernel" in out
    assert "every generated program passed (the correct kernel)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--calls", "10", "--limit", "10"], "--limit 10 must be below --calls 10"),
        (["--kernel", "no-such-kernel"], "unknown kernel 'no-such-kernel'"),
    ],
)
def test_bad_arguments_are_named(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 2 == main(["storm", *argv])
    assert message in capsys.readouterr().err


def test_a_bad_count_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["storm", "--calls", "0"])
    assert 2 == exit_.value.code
    assert "0 is not a positive number" in capsys.readouterr().err


def test_the_mutants_command_points_threaded_mutants_to_the_storm(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert 2 == main(["mutants", "facade-chain-append-interleaves"])
    err = capsys.readouterr().err
    assert "needs real threads" in err
    assert "helmmodel storm --kernel facade-chain-append-interleaves" in err
