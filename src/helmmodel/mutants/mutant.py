"""The record that describes one mutant kernel: its bug in a sentence, and who must catch it.

The catalogue is data (docs/design.md, "the must-fail catalogue is data"): each entry names the
component whose one method carries the bug, the machine that must catch it, and the one invariant
that must fire first (in ``ALL_INVARIANTS`` order, at the first failing step).
"""

from __future__ import annotations

import attrs

from helmmodel.kernel import KernelFactory
from helmmodel.kernel.semantics import CHAOS_PAGE


@attrs.frozen
class Mutant:
    """One kernel variant with one known bug, and the machine and invariant that must catch it."""

    name: str
    description: str  # one sentence: what the engineer got wrong
    component: str  # the kernel component whose method carries the bug
    machine: str  # the machine (by name) that must catch it within its ci budget
    invariant: str  # the one invariant expected to fire first
    factory: KernelFactory
    # Mutants whose bug shows only under real threads belong to the concurrent storm; this
    # catalogue's table, exit status and tests cover the sequential ones.
    needs_threads: bool = False
    # The semantics the machine runs the mutant in (spec section 12): a bug of the release's own
    # behaviour shows only there.
    semantics: str = CHAOS_PAGE
