"""Mutants seen only at the kernel's boundary: a kernel operation that crashes.

Each is the correct kernel but for one method, whose bug only what the checker sees outside the
kernel's records catches: the exception a kernel operation raised (``no_unexpected_exception``).
"""

from __future__ import annotations

import attrs

from helmmodel.kernel import Kernel, PolicyGraph
from helmmodel.kernel.policy_graph import RequirementSet
from helmmodel.mutants.mutant import Mutant


class IndexingPolicyGraph(PolicyGraph):
    """``remove_leaf`` finds the leaf with ``list.index``."""

    def remove_leaf(self, tool: str, set_id: str, requirement_id: str) -> None:
        root = self._set_in(tool, set_id)

        def without(s: RequirementSet) -> RequirementSet:
            # The bug: list.index finds the leaf, and raises ValueError for a leaf the set does
            # not hold, where the spec refuses the mutation with InvalidInput.
            position = [leaf.id for leaf in s.leaves].index(requirement_id)
            return attrs.evolve(s, leaves=s.leaves[:position] + s.leaves[position + 1 :])

        self._commit({**self._rules, tool: root.replace(set_id, without)})


def _kernel(name: str, **components: type) -> type[Kernel]:
    """The correct kernel but for the component classes given."""
    return type(name, (Kernel,), {**components, "__module__": __name__})


MUTANTS = (
    Mutant(
        "policy-remove-leaf-crashes",
        "Removing a leaf finds it with list.index, so removing a leaf the set does not hold "
        "raises ValueError instead of refusing the mutation.",
        "PolicyGraph",
        "policy_mutation",
        "no_unexpected_exception",
        _kernel("IndexingPolicyKernel", policy_graph_class=IndexingPolicyGraph),
    ),
)
