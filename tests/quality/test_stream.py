"""One ci stream: a derandomized profile draws the same examples whatever the entry point and
whatever local modules were imported before (Hypothesis seeds part of its generation with the
constants of the local modules it finds in ``sys.modules``; see :mod:`helmmodel.harness.stream`).

The kernel machine runs under the ci profile in two subprocesses: the ``helmmodel`` console
script, and a plain script that first imports local modules ``helmmodel run`` never imports (a
benchmark, the campaign's report) and then calls the runner. Each records every step of every
example (rule, arguments, outcome, the kernel's state digest after it) into a JSON file.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from hypothesis.internal.conjecture.providers import HypothesisProvider

from helmmodel.harness import profiles, stream

ROOT = Path(__file__).resolve().parents[2]
MACHINE = "clock_drift"
EXAMPLES = 30
CONSOLE_SCRIPT = Path(sys.executable).parent / "helmmodel"


def record(path: str) -> None:
    """Record every step of every example run from now on into *path* (JSON) at exit."""
    from helmmodel.harness.stateful import TracedMachine

    steps: list[dict[str, Any]] = []
    examples: list[int] = []
    original = TracedMachine.run_transition

    def recording(self: TracedMachine, *args: Any) -> Any:
        returned = original(self, *args)
        if self.recording is not None:  # not a replay inside the end-of-run checks
            if not examples or examples[-1] != id(self):
                examples.append(id(self))
            steps.append({"example": len(examples), **self.trace[-1]})
        return returned

    TracedMachine.run_transition = recording  # type: ignore[method-assign]
    atexit.register(
        lambda: Path(path).write_text(json.dumps(steps, sort_keys=True, default=str), "utf-8")
    )


def _run(code: str, out: Path) -> list[dict[str, Any]]:
    """Run *code* in a fresh interpreter at the repository root; the steps it recorded."""
    script = f"import tests.quality.test_stream as t; t.record({str(out)!r})\n{code}"
    env = {k: v for k, v in os.environ.items() if k != profiles.PROFILE_ENV}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    steps: list[dict[str, Any]] = json.loads(out.read_text("utf-8"))
    return steps


def _first_difference(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    """Where two recorded streams part, for the failure message."""
    for number, (left, right) in enumerate(zip(a, b, strict=False), start=1):
        if left != right:
            return f"step {number} differs:\n  {left}\n  {right}"
    return f"one stream is a prefix of the other ({len(a)} vs {len(b)} steps)"


def test_two_entry_points_draw_one_ci_stream(tmp_path: Path) -> None:
    """``helmmodel run`` and a script with other imports run the same steps to the same states."""
    cli = _run(
        textwrap.dedent(f"""
            import runpy, sys
            sys.argv = ["helmmodel", "run", {MACHINE!r}, "--profile", "ci",
                        "--max-examples", "{EXAMPLES}"]
            runpy.run_path({str(CONSOLE_SCRIPT)!r}, run_name="__main__")
        """),
        tmp_path / "cli.json",
    )
    script = _run(
        textwrap.dedent(f"""
            import benchmarks.bench_machines, helmmodel.fuzz.report
            from helmmodel.harness import profiles, runner
            machine = runner.load_machines("machines")[{MACHINE!r}]
            result = runner.run_machine(machine, profile_settings=profiles.load("ci"),
                                        profile="ci", max_examples={EXAMPLES})
            assert result.error is None, result.error
        """),
        tmp_path / "script.json",
    )
    assert EXAMPLES <= max(step["example"] for step in cli)  # Hypothesis may run a few more
    assert (len(cli), cli[-1]["digest"]) == (len(script), script[-1]["digest"]), _first_difference(
        cli, script
    )
    assert cli == script, _first_difference(cli, script)
