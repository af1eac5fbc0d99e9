"""Mutants of the policy graph (spec section 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from helmmodel.errors import InvalidInput
from helmmodel.kernel import Kernel, PolicyGraph, PolicySnapshot
from helmmodel.kernel.policy_graph import Outcome, Requirement, RequirementSet
from helmmodel.kernel.records import check_identifier
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


class DepthUncheckedPolicyGraph(PolicyGraph):
    """``put_rule`` forgets the bound on nesting."""

    def put_rule(self, tool: str, requirement_set: RequirementSet) -> None:
        check_identifier(tool, "tool name")
        ids = requirement_set.set_ids()
        if len(set(ids)) != len(ids):
            raise InvalidInput(f"rule for {tool!r} repeats a requirement set id: {ids}")
        # The bug: no bound on the tree's depth.
        self._commit({**self._rules, tool: requirement_set})


def _python_value(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if type(node) is not dict or part not in node:
            return None
        node = node[part]
    return node


class PythonEqualitySet(RequirementSet):
    """A requirement set whose ``eq`` and ``in`` compare a list or object with Python's ``==``."""

    def evaluate(self, document: Mapping[str, Any]) -> tuple[Outcome, list[str]]:
        # The bug: containers are compared with ==, for which true equals 1 inside them; each
        # such leaf is judged that way and the rest evaluated as usual.
        leaves = tuple(_python_judged(leaf, document) for leaf in self.leaves)
        return RequirementSet.evaluate(attrs.evolve(self, leaves=leaves), document)


def _python_judged(leaf: Requirement, document: Mapping[str, Any]) -> Requirement:
    op, *operands = leaf.predicate
    if op not in ("eq", "in"):
        return leaf
    value = _python_value(document, operands[0])
    if type(value) not in (list, dict):
        return leaf
    found = value == operands[1] if op == "eq" else value in operands[1]
    return Requirement(leaf.id, ["const", bool(found)])


def _python_tree(node: RequirementSet) -> RequirementSet:
    children = tuple(_python_tree(child) for child in node.children)
    return PythonEqualitySet(node.id, node.logic, node.leaves, children)


class PythonEqualityPolicyGraph(PolicyGraph):
    """Every rule put is evaluated with Python's equality on containers."""

    def put_rule(self, tool: str, requirement_set: RequirementSet) -> None:
        super().put_rule(tool, _python_tree(requirement_set))


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
        "policy-depth-unbounded",
        "put_rule checks a rule's set ids but not its depth, so a rule nested 17 sets deep is "
        "accepted (and bumps the epoch) where the spec refuses it.",
        "PolicyGraph",
        "policy_mutation",
        "snapshot_isolation",
        _kernel("DepthUncheckedPolicyKernel", DepthUncheckedPolicyGraph),
    ),
    Mutant(
        "policy-container-python-equality",
        'eq and in compare a list or object argument with Python\'s ==, so {"x": 1} equals '
        '{"x": true} and a rule that wants true allows 1.',
        "PolicyGraph",
        "policy_mutation",
        "allow_matches_policy",
        _kernel("PythonEqualityPolicyKernel", PythonEqualityPolicyGraph),
    ),
)
