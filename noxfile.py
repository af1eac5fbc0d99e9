"""Sessions for helmmodel: `nox -l` lists them with these docstrings."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests"]  # `nox` alone; the model run is `nox -s model`
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite (unit, scenarios) with pytest."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def model(session: nox.Session) -> None:
    """The model checker's standard run: every machine, ci profile, correct kernel, in both
    semantics (the chaos page's, then HELM's helm-ai-kernel release with its divergence
    report); fails when the kernel's reach over both is below the floor (FLOOR_PERCENT in
    helmmodel/harness/reach.py)."""
    session.install("-e", ".")
    session.run(
        "helmmodel",
        "run",
        "--profile",
        "ci",
        "--semantics",
        "chaos-page",
        "--semantics",
        "helm-ai-kernel",
        "--coverage-floor",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def replay(session: nox.Session) -> None:
    """Replay every saved regression case (tests/regressions/, or the paths given)."""
    session.install("-e", ".")
    session.run("helmmodel", "replay", *(session.posargs or ["tests/regressions"]))


@nox.session(python=PYTHON, default=False)
def mutants(session: nox.Session) -> None:
    """The must-fail catalogue: every mutant kernel caught by its expected invariant."""
    session.install("-e", ".")
    session.run("helmmodel", "mutants", *session.posargs)


@nox.session(python=PYTHON, default=False)
def cli(session: nox.Session) -> None:
    """Any helmmodel command: ``nox -s cli -- show PATH`` (helmmodel need not be on the PATH)."""
    session.install("-e", ".")
    session.run("helmmodel", *(session.posargs or ["--help"]))


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks (not tests): a call against its Ed25519 floor; checking's cost; storms;
    campaigns; the twin's memory per request."""
    session.install("-e", ".")
    # Exit status 1 means a target was missed: reported, and the other benchmark still runs.
    session.run("python", "benchmarks/bench_kernel.py", *session.posargs, success_codes=[0, 1])
    session.run("python", "benchmarks/bench_machines.py", success_codes=[0, 1])
    session.run("python", "benchmarks/bench_concurrency.py", success_codes=[0, 1])
    session.run("python", "benchmarks/bench_campaign.py", success_codes=[0, 1])
    session.run("python", "benchmarks/bench_twin_memory.py")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and mypy on src/."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def fuzz(session: nox.Session) -> None:
    """A long fuzz campaign on every core (helmmodel fuzz; default --duration 8h)."""
    session.install("-e", ".")
    arguments = list(session.posargs)
    if not any(arg.split("=")[0] == "--duration" for arg in arguments):
        arguments = ["--duration", "8h", *arguments]
    session.run("helmmodel", "fuzz", *arguments)
