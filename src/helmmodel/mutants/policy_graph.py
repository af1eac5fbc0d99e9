"""Mutants of the policy graph and its evaluation (spec section 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helmmodel.kernel import Kernel, Outcome, PolicyGraph, PolicySnapshot, RequirementSet
from helmmodel.mutants.mutant import Mutant


class VersionMemoPolicyGraph(PolicyGraph):
    """``snapshot`` is memoised on the policy version alone."""

    def snapshot(self) -> PolicySnapshot:
        # The bug: the memo key leaves the epoch out, so after a mutation that restores an
        # earlier content (the same rule put again), a new call gets that moment's epoch.
        memo: dict[str, PolicySnapshot] = vars(self).setdefault("snapshots_by_version", {})
        if self.version not in memo:
            memo[self.version] = super().snapshot()
        return memo[self.version]


class LeavesFirstSet(RequirementSet):
    """A requirement set that combines its leaves alone whenever it has any."""

    def evaluate(self, document: Mapping[str, Any]) -> tuple[Outcome, list[str]]:
        outcome, ids = super().evaluate(document)
        if outcome is Outcome.ERROR or not (self.leaves and self.children):
            return outcome, ids
        # The bug: `leaf_results or child_results`: the children are evaluated (their errors
        # still count) but their results are combined only when the set has no leaves.
        return RequirementSet(self.id, self.logic, self.leaves).evaluate(document)


def _leaves_first(rule: RequirementSet) -> LeavesFirstSet:
    return LeavesFirstSet(
        rule.id, rule.logic, rule.leaves, tuple(map(_leaves_first, rule.children))
    )


class LeavesFirstPolicyGraph(PolicyGraph):
    """A policy graph whose rules evaluate with :class:`LeavesFirstSet`."""

    def _commit(self, rules: dict[str, RequirementSet]) -> None:
        # Installs the evaluation bug on every committed rule; the hashes are unchanged (the
        # content is), so only the outcome of evaluation differs from the correct graph's.
        super()._commit({tool: _leaves_first(rule) for tool, rule in rules.items()})


def _kernel(name: str, graph: type[PolicyGraph]) -> type[Kernel]:
    """The correct kernel but for its policy graph."""
    return type(name, (Kernel,), {"policy_graph_class": graph, "__module__": __name__})


MUTANTS = (
    Mutant(
        "policy-snapshot-memo-by-version",
        "The policy snapshot is memoised by content hash without the epoch, so after the same "
        "rule is put again a new call is judged and stamped with the older epoch.",
        "PolicyGraph",
        "policy_mutation",
        "snapshot_isolation",
        _kernel("VersionMemoPolicyKernel", VersionMemoPolicyGraph),
    ),
    Mutant(
        "prg-combines-leaves-only",
        "A requirement set with both leaves and child sets combines only its leaves' results, "
        "so a child set that is false (or true) is ignored.",
        "PolicyGraph",
        "policy_mutation",
        "allow_matches_policy",
        _kernel("LeavesFirstPolicyKernel", LeavesFirstPolicyGraph),
    ),
)
