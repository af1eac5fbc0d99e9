"""Every saved counterexample under tests/regressions/ is a test of its own.

A ``fixed`` case must pass (no invariant violated, every step answering as recorded); an
``open`` case must still violate its recorded invariant. A case that passes while ``open`` fails
here and names the command that marks it fixed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helmmodel.errors import TraceError
from helmmodel.harness import replay, runner, trace

MACHINES = Path(__file__).resolve().parents[2] / "machines"


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".json" and not file_path.name.startswith("."):
        return RegressionFile.from_parent(parent, path=file_path)
    return None


class RegressionFile(pytest.File):
    """A saved trace, collected as one test."""

    def collect(self) -> Iterator[pytest.Item]:
        yield RegressionCase.from_parent(self, name=self.path.stem)


class RegressionCase(pytest.Item):
    """Replays one saved trace and checks it does what its status says."""

    def runtest(self) -> None:
        case = trace.load(self.path)
        verdict = replay.judge(case, runner.load_machines(MACHINES))
        if not verdict.matches(case.status):
            hint = ""
            if verdict.passes():
                hint = f"; it passes now: `helmmodel promote {self.path}` marks it fixed"
            raise RegressionFailure(
                f"{self.path.name} is {verdict.verdict}, its status {case.status} expects "
                f"{replay.EXPECTED_VERDICT[case.status]}: {verdict.detail}{hint}"
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, RegressionFailure | TraceError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"regression case {self.path.name}"


class RegressionFailure(Exception):
    """A saved case no longer behaves as its status says."""
