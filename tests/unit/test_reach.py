"""Kernel reach, from a small fake measurement: each component's line names its unreached lines
and branches in compact ranges, and a reach below the floor fails naming them."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from helmmodel import cli
from helmmodel.harness import reach, runner

MACHINES = Path(__file__).resolve().parents[2] / "machines"

CLOCK = reach.Component(
    name="clock.py",
    percent=76.5,
    statements=20,
    branches=4,
    missing_lines=(12, 24, 28, 29),
    missing_branches=((11, 12), (28, 29), (30, -1), (40, 44)),
)
IDS = reach.Component(name="ids.py", percent=100.0, statements=8, branches=0)


def a_reach(percent: float) -> reach.Reach:
    return reach.Reach(components=(CLOCK, IDS), percent=percent)


def test_ranges_are_compact() -> None:
    """Runs of consecutive numbers become ranges; the order and duplicates do not matter."""
    assert "3-5, 9, 11-12" == reach.ranges([12, 9, 3, 4, 5, 11, 4])
    assert "" == reach.ranges([])


def test_a_component_names_its_unreached_lines_and_branches() -> None:
    """Missing lines as ranges, then the branches never taken from lines that did run (a branch
    from a missing line is already said by the line)."""
    assert "12, 24, 28-29, 11->12, 30->exit, 40->44" == CLOCK.unreached()
    assert "" == IDS.unreached()


def test_each_component_gets_a_line_with_its_figure_then_the_total() -> None:
    """One line per component with its figure and unreached lines, then the total."""
    out = io.StringIO()
    assert 0 == runner.report_reach(a_reach(82.0), floor=False, out=out)
    lines = out.getvalue().splitlines()
    assert "  clock.py  76.5%  unreached: 12, 24, 28-29, 11->12, 30->exit, 40->44" == lines[1]
    assert "  ids.py   100.0%" == lines[2]
    assert "  total 82.0% of 28 statements and 4 branches" == lines[3]
    assert "floor" not in out.getvalue()


def test_a_reach_below_the_floor_fails_naming_the_unreached_lines() -> None:
    """Below FLOOR_PERCENT the floor fails, exit status 1, and its message names each
    component's unreached lines; at the floor it holds."""
    below = a_reach(reach.FLOOR_PERCENT - 0.1)
    failure = below.floor_failure()
    assert failure is not None
    assert "clock.py: 12, 24, 28-29, 11->12, 30->exit, 40->44" in failure
    assert "ids.py" not in failure  # nothing of it is unreached
    out = io.StringIO()
    assert 1 == runner.report_reach(below, floor=True, out=out)
    assert "floor: FAILED" in out.getvalue()
    at_floor = a_reach(reach.FLOOR_PERCENT)
    assert None is at_floor.floor_failure()
    assert 0 == runner.report_reach(at_floor, floor=True, out=io.StringIO())


def test_a_measurement_counts_what_ran_and_what_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real measurement of one clock call: ``set`` is reached, the refusal is not, the
    import-time lines (``class SimClock:``) are joined in although the kernel was imported
    before, and no data file is written (the measurement stays in memory)."""
    from helmmodel.kernel import SimClock

    monkeypatch.chdir(tmp_path)
    measurement = reach.measuring()
    measurement.start()
    SimClock().set(5)
    measurement.stop()
    measured = reach.analyse(measurement)
    clock = next(c for c in measured.components if c.name == "clock.py")
    assert (12,) == clock.missing_lines  # the refusal
    assert ((11, 12),) == clock.missing_branches
    assert 0 < measured.percent < reach.FLOOR_PERCENT
    assert [] == list(tmp_path.iterdir())


def test_measuring_does_not_change_what_the_machines_draw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same derandomized run with and without coverage takes the same steps and reaches the
    same outcomes; with it, the reach and the HTML report's place are printed."""
    monkeypatch.chdir(tmp_path)
    argv = ["run", "error_budget", "--profile", "ci", "--max-examples", "8"]
    argv += ["--machines", str(MACHINES), "--corpus", str(tmp_path / "corpus")]

    def figures(extra: list[str]) -> tuple[str, list[str]]:
        """The output, and its lines but the reach block, without the timings."""
        assert 0 == cli.main([*argv, *extra])
        out = capsys.readouterr().out
        lines = out.splitlines()
        reach_at = next((i for i, line in enumerate(lines) if line.startswith("kernel reach")), -1)
        kept = [*lines[:reach_at], lines[-1]]
        return out, [re.sub(r"[\d,.]+ steps/s, [\d.]+ s|in [\d.]+ s", "", line) for line in kept]

    measured, with_coverage = figures([])
    plain, without = figures(["--no-coverage"])
    assert with_coverage == without
    assert "kernel reach" not in plain
    assert f"HTML report: {Path('.helmmodel/coverage/index.html')}" in measured
    assert (tmp_path / ".helmmodel" / "coverage" / "index.html").is_file()


def test_no_coverage_refuses_the_options_that_need_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--no-coverage with --coverage-floor (or --coverage-html) is refused with status 2."""
    argv = ["run", "--no-coverage", "--coverage-floor", "--machines", str(MACHINES)]
    assert 2 == cli.main(argv)
    assert "--no-coverage leaves nothing for --coverage-floor" in capsys.readouterr().err
