"""Generated concurrent programs on the correct kernel: every history is linearizable and the
final state is the model's, whatever the interleaving of calls, mutations and key changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helmmodel.concurrency.programs import (
    Call,
    Program,
    PutRule,
    RotateKey,
    SetLimit,
    check_program,
    search,
)
from helmmodel.kernel import Kernel


def test_generated_programs_are_linearizable_on_the_correct_kernel() -> None:
    failure = search(Kernel, runs=2, max_examples=60, seed=0)
    assert failure is None, failure.text() if failure else ""


def test_a_mutation_between_phases_is_a_legal_history() -> None:
    """Calls racing a policy mutation, a limit change and a key rotation: every one of ten runs
    is linearizable, whichever way the threads interleave."""
    program = Program(
        limit=2,
        prefix=(Call(),),
        branches=(
            (Call(session="s1"), Call(session="s2", retries=1)),
            (PutRule("echo", "always"), SetLimit("b1", 3)),
            (RotateKey(), Call(principal="bob")),
        ),
    )
    assert check_program(Kernel, program, runs=10) is None


# Runs the program search under a profile (the second argument), without running the programs,
# and prints each one generated. The first argument names a module to import before: the entry
# points of the project import different modules, and Hypothesis draws some values from the
# constants of local modules.
GENERATED = """
import importlib, sys
if sys.argv[1]:
    importlib.import_module(sys.argv[1])
from helmmodel.concurrency import programs
from helmmodel.harness import profiles
from helmmodel.kernel import Kernel

def record(factory, program, runs):
    print(repr(program))

programs.check_program = record
profiles.load(sys.argv[2])
programs.search(Kernel, runs=1, max_examples=25)
"""


def generated(imported: str, profile: str) -> list[str]:
    """The programs the search generates under *profile* in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", GENERATED, imported, profile],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    return done.stdout.splitlines()


def test_the_search_generates_the_same_programs_every_run_under_ci() -> None:
    """Two interpreters under the ci profile, one of which imported the command line first:
    the same 25 programs. Under dev, two runs differ (so the comparison can fail)."""
    first = generated("", "ci")
    assert 25 == len(first)
    assert first == generated("helmmodel.cli", "ci")
    assert generated("", "dev") != generated("", "dev")
