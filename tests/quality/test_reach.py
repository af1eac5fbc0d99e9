"""The reach floor: a ci-profile run of the kernel machine under both semantics (the chaos
page's and the release's, whose API only the release's rules reach), measured by coverage.py over
both, reaches at least FLOOR_PERCENT of the kernel model's statements and branches (``nox -s
model`` runs every machine under both with the same floor; that takes minutes, so this runs the
machine that reaches most).

It runs ``helmmodel run`` in a fresh process, as ``nox -s model`` does: the ci stream depends on
the entry point and on what was imported before (issue #17), so an in-process run here would
measure another stream than the one the floor is set for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helmmodel.harness import reach

ROOT = Path(__file__).resolve().parents[2]


def helmmodel_command() -> list[str]:
    """The ``helmmodel`` script beside this interpreter (as nox runs it), else ``-m``."""
    script = Path(sys.executable).with_name("helmmodel")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "helmmodel"]


def test_the_kernel_machine_reaches_the_floor(tmp_path: Path) -> None:
    """The ci run of the kernel machine under both semantics holds every invariant and reaches
    the floor; when it does not, the message names the figure and every unreached line."""
    html = tmp_path / "coverage"
    semantics = ["--semantics", "chaos-page", "--semantics", "helm-ai-kernel"]
    options = ["--profile", "ci", *semantics, "--coverage-floor", "--coverage-html", str(html)]
    done = subprocess.run(
        [*helmmodel_command(), "run", "kernel", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    out = done.stdout
    total = re.search(r"^  total (\d+\.\d)% of ", out, re.MULTILINE)
    assert total is not None, out + done.stderr
    assert "result: no invariant violated" in out, out
    assert float(total[1]) >= reach.FLOOR_PERCENT, out
    assert f"reaches the floor of {reach.FLOOR_PERCENT:g}%" in out, out
    assert 0 == done.returncode, out + done.stderr
    assert (html / "index.html").is_file()
