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
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

from helmmodel.errors import HelmModelError
from helmmodel.harness import profiles, runner, stream
from helmmodel.harness.stateful import TracedMachine

ROOT = Path(__file__).resolve().parents[2]
# Its clock rules draw integers from a wide range, where local constants are most often drawn.
MACHINE = "clock_drift"
EXAMPLES = 30
CONSOLE_SCRIPT = Path(sys.executable).parent / "helmmodel"


def recorder(steps: list[dict[str, Any]]) -> Callable[..., Any]:
    """TracedMachine.run_transition, also appending each step of a run's example to *steps*."""
    original = TracedMachine.run_transition

    def recording(self: TracedMachine, *args: Any) -> Any:
        returned = original(self, *args)
        if self.recording is not None:  # not a replay inside the end-of-run checks
            steps.append({"example": self.recording.stats.examples, **self.trace[-1]})
        return returned

    return recording


def _as_json(steps: list[dict[str, Any]]) -> str:
    return json.dumps(steps, sort_keys=True, default=str)


def record(path: str) -> None:
    """Record every step run from now on into *path* (JSON) at exit (in a subprocess)."""
    steps: list[dict[str, Any]] = []
    TracedMachine.run_transition = recorder(steps)  # type: ignore[method-assign]
    atexit.register(lambda: Path(path).write_text(_as_json(steps), "utf-8"))


# The console script, run as `helmmodel run MACHINE --profile ci --max-examples EXAMPLES` runs it.
_CLI = textwrap.dedent(f"""
    import runpy, sys
    sys.argv = ["helmmodel", "run", {MACHINE!r}, "--profile", "ci", "--max-examples", "{EXAMPLES}"]
    runpy.run_path({str(CONSOLE_SCRIPT)!r}, run_name="__main__")
""")


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


@pytest.fixture(scope="module")
def cli() -> list[dict[str, Any]]:
    """The steps of ``helmmodel run MACHINE --profile ci --max-examples EXAMPLES``."""
    with tempfile.TemporaryDirectory() as directory:
        return _run(_CLI, Path(directory) / "cli.json")


def test_two_entry_points_draw_one_ci_stream(cli: list[dict[str, Any]], tmp_path: Path) -> None:
    """``helmmodel run`` and a script with other imports run the same steps to the same states."""
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


@pytest.fixture
def pinned_state() -> Iterator[None]:
    """Give back, after the test, Hypothesis's profile and whichever collector it had before."""
    profile, collector = settings.get_current_profile_name(), providers._get_local_constants
    yield
    settings.load_profile(profile)
    providers._get_local_constants = collector
    providers.CONSTANTS_CACHE.cache.clear()


def test_pytest_draws_the_stream_of_the_console_script(
    cli: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, pinned_state: None
) -> None:
    """In this process, with whatever pytest has imported, the run matches ``helmmodel run``."""
    steps: list[dict[str, Any]] = []
    monkeypatch.setattr(TracedMachine, "run_transition", recorder(steps))
    machine = runner.load_machines(ROOT / "machines")[MACHINE]
    result = runner.run_machine(
        machine, profile_settings=profiles.load("ci"), profile="ci", max_examples=EXAMPLES
    )
    assert result.error is None, result.error
    here: list[dict[str, Any]] = json.loads(_as_json(steps))
    assert cli == here, _first_difference(cli, here)


def _local_module(directory: Path, literal: int) -> str:
    """Import a new local module holding *literal*; its name (in sys.modules)."""
    name = f"stream_probe_{literal}"
    (directory / f"{name}.py").write_text(f"VALUE = {literal}\n", "utf-8")
    sys.path.insert(0, str(directory))
    try:
        __import__(name)
    finally:
        sys.path.remove(str(directory))
    return name


def _drawn_pool() -> Constants:
    """The local constants a new example of Hypothesis's would draw from."""
    pool: Constants = providers.HypothesisProvider(None)._local_constants
    return pool


def test_a_new_import_leaves_the_pinned_pool_alone(tmp_path: Path, pinned_state: None) -> None:
    """Pinned, Hypothesis draws from the fixed pool even after a new local module is imported;
    unpinned, its own collector picks the module's literal up (so the pin is what holds)."""
    literal = 987_654_321
    name = _local_module(tmp_path, literal)
    try:
        stream.pin(True)
        assert _drawn_pool() is stream.pinned_pool()
        assert literal not in _drawn_pool().integers
        stream.pin(False)
        assert literal in _drawn_pool().integers
    finally:
        del sys.modules[name]


def test_loading_a_profile_pins_only_when_derandomized(pinned_state: None) -> None:
    """``ci`` pins the pool; ``dev`` gives Hypothesis its own back."""
    profiles.load("ci")
    assert _drawn_pool() is stream.pinned_pool()
    profiles.load("dev")
    assert _drawn_pool() is not stream.pinned_pool()


def test_pool_files_are_the_package_a_run_imports_and_the_machines() -> None:
    """The pool's files: the package but its campaign, storms and server; and the machines."""
    files = {path.relative_to(ROOT).as_posix() for path in stream.pool_files()}
    assert {"src/helmmodel/kernel/guardian.py", "machines/families/clocks.py"} <= files
    assert not {
        f for f in files if f.startswith(("src/helmmodel/fuzz/", "src/helmmodel/concurrency/"))
    }
    assert "src/helmmodel/server.py" not in files
    assert 300_000 in stream.pinned_pool().integers  # a literal of machines/families/clocks.py


def test_a_change_in_hypothesis_internals_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, pinned_state: None
) -> None:
    """If Hypothesis stops drawing local constants through the collector, pinning refuses."""
    monkeypatch.setattr(
        providers.HypothesisProvider, "_local_constants", cached_property(lambda self: Constants())
    )
    with pytest.raises(HelmModelError, match=r"hypothesis \S+ no longer draws local constants"):
        stream.pin(True)
