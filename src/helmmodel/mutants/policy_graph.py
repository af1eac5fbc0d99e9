"""Mutants of the policy graph (spec section 3)."""

from __future__ import annotations

from helmmodel.kernel import Kernel, PolicyGraph, PolicySnapshot
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
)
