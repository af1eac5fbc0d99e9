"""Mutants of the policy graph (spec section 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from helmmodel.kernel import Kernel, PolicyGraph, PolicySnapshot
from helmmodel.kernel.policy_graph import (
    Outcome,
    Requirement,
    RequirementSet,
    evaluate_predicate,
)
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


class ValidatedByIdPolicyGraph(PolicyGraph):
    """``put_rule`` remembers which root set ids it has checked."""

    def put_rule(self, tool: str, requirement_set: RequirementSet) -> None:
        # The bug: a root id checked once is trusted after, so a rule that reuses the id of an
        # accepted one skips the repeated-id and depth checks.
        checked: set[str] = vars(self).setdefault("checked_root_ids", set())
        if requirement_set.id in checked:
            check_identifier(tool, "tool name")
            self._commit({**self._rules, tool: requirement_set})
            return
        super().put_rule(tool, requirement_set)
        checked.add(requirement_set.id)


def _python_value(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if type(node) is not dict or part not in node:
            return None
        node = node[part]
    return node


def _frozen(value: Any) -> Any:
    if type(value) is list:
        return tuple(map(_frozen, value))
    if type(value) is dict:
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


class MemoisedContainerSet(RequirementSet):
    """A requirement set that memoises its ``eq`` and ``in`` leaves on list or object values."""

    def evaluate(self, document: Mapping[str, Any]) -> tuple[Outcome, list[str]]:
        # The bug: the memo key freezes the value into tuples, where true and 1 are one key, so
        # after [1] is judged, [true] gets [1]'s outcome.
        memo: dict[Any, bool] = vars(self).setdefault("memo", {})
        leaves = tuple(_memo_judged(leaf, document, memo) for leaf in self.leaves)
        return RequirementSet.evaluate(attrs.evolve(self, leaves=leaves), document)


def _memo_judged(
    leaf: Requirement, document: Mapping[str, Any], memo: dict[Any, bool]
) -> Requirement:
    if leaf.predicate[0] not in ("eq", "in"):
        return leaf
    value = _python_value(document, leaf.predicate[1])
    if type(value) not in (list, dict):
        return leaf
    key = (leaf.id, _frozen(value))
    if key not in memo:
        memo[key] = evaluate_predicate(leaf.predicate, document) is Outcome.TRUE
    return Requirement(leaf.id, ["const", memo[key]])


def _memo_tree(node: RequirementSet) -> RequirementSet:
    children = tuple(_memo_tree(child) for child in node.children)
    return MemoisedContainerSet(node.id, node.logic, node.leaves, children)


class ContainerMemoPolicyGraph(PolicyGraph):
    """Every rule put memoises its container comparisons."""

    def put_rule(self, tool: str, requirement_set: RequirementSet) -> None:
        super().put_rule(tool, _memo_tree(requirement_set))


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
        "policy-checked-root-ids-trusted",
        "put_rule trusts a root set id it has checked before, so a rule 17 sets deep that reuses "
        "the root id of an accepted 16-deep rule is accepted (and bumps the epoch).",
        "PolicyGraph",
        "policy_mutation",
        "snapshot_isolation",
        _kernel("ValidatedByIdPolicyKernel", ValidatedByIdPolicyGraph),
    ),
    Mutant(
        "policy-container-memo-true-equals-one",
        "eq and in memoise their outcome on a list or object value frozen into tuples, where "
        "true and 1 are one key, so after [1] is judged in a rule, [true] gets its outcome.",
        "PolicyGraph",
        "policy_mutation",
        "allow_matches_policy",
        _kernel("ContainerMemoPolicyKernel", ContainerMemoPolicyGraph),
    ),
)
