"""The catalogue: every mutant, in one tuple, and by name (data only: nothing is registered)."""

from __future__ import annotations

from helmmodel.mutants import (
    boundary,
    budgets,
    concurrency,
    executor,
    guardian,
    key_ring,
    policy_graph,
    proofgraph,
    surfaces,
)
from helmmodel.mutants.mutant import Mutant

CATALOGUE: tuple[Mutant, ...] = (
    *guardian.MUTANTS,
    *executor.MUTANTS,
    *key_ring.MUTANTS,
    *budgets.MUTANTS,
    *policy_graph.MUTANTS,
    *proofgraph.MUTANTS,
    *surfaces.MUTANTS,
    *concurrency.MUTANTS,
    *boundary.MUTANTS,
)
BY_NAME: dict[str, Mutant] = {mutant.name: mutant for mutant in CATALOGUE}
