"""Generated concurrent programs on the correct kernel: every history is linearizable and the
final state is the model's, whatever the interleaving of calls, mutations and key changes."""

from __future__ import annotations

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
