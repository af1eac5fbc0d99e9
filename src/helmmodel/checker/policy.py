"""The checker's policy model (spec section 3): predicates, requirement sets, their hashes, and
the leaf mutations on its own JSON copy of a rule.

Written again on purpose, apart from the kernel's policy graph: the checker evaluates and hashes
its own JSON copy of the rules, so a kernel that evaluates or hashes them wrongly is caught.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs

from helmmodel.checker.encoding import jcs, sha256_hex

TRUE, FALSE, ERROR = "true", "false", "error"
_MISSING = object()


def _lookup(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, dict) or part not in document:
            return _MISSING
        document = document[part]
    return document


def _same(a: Any, b: Any) -> bool:
    # JSON equality: a bool is never a number.
    return type(a) is type(b) and jcs(a) == jcs(b)


def check_predicate(predicate: list[Any], document: Any) -> str:
    op = predicate[0]
    if op == "const":
        return TRUE if predicate[1] is True else FALSE
    found = _lookup(document, predicate[1])
    if op == "has":
        return FALSE if found is _MISSING else TRUE
    if found is _MISSING:
        return ERROR
    if op == "eq":
        return TRUE if _same(found, predicate[2]) else FALSE
    if op == "in":
        return TRUE if any(_same(found, v) for v in predicate[2]) else FALSE
    if type(found) is not int:
        return ERROR
    return TRUE if found <= predicate[2] else FALSE


def check_set(rule: Mapping[str, Any], document: Any) -> str:
    """Evaluate a requirement set given as JSON: HELM's order, NOT as NAND, empty true."""
    leaves = rule.get("leaves", [])
    children = rule.get("children", [])
    if not leaves and not children:
        return TRUE
    outcomes = []
    for leaf in leaves:
        outcome = check_predicate(leaf["predicate"], document)
        if outcome == ERROR:
            return ERROR
        outcomes.append(outcome == TRUE)
    for child in children:
        outcome = check_set(child, document)
        if outcome == ERROR:
            return ERROR
        outcomes.append(outcome == TRUE)
    logic = rule.get("logic", "") or "AND"
    if logic == "AND":
        return TRUE if all(outcomes) else FALSE
    if logic == "OR":
        return TRUE if any(outcomes) else FALSE
    if logic == "NOT":
        return FALSE if all(outcomes) else TRUE
    return ERROR


def set_hash(rule: Mapping[str, Any]) -> str:
    content = f"id={rule['id']}:logic={rule.get('logic', '')}:"
    for leaf in rule.get("leaves", []):
        content += f"req={leaf['id']}:" + jcs(leaf["predicate"]).decode("utf-8") + ";"
    for child in rule.get("children", []):
        content += f"child={set_hash(child)};"
    return "sha256:" + sha256_hex(content.encode("utf-8"))


def policy_version(rules: Mapping[str, Mapping[str, Any]]) -> str:
    content = "".join(f"{tool}={set_hash(rules[tool])};" for tool in sorted(rules))
    return "sha256:" + sha256_hex(content.encode("utf-8"))


@attrs.frozen
class PolicyView:
    """The checker's copy of the policy at one moment: rules as JSON, epoch, version."""

    rules: Mapping[str, Mapping[str, Any]]
    epoch: int
    version: str


def add_leaf_json(rule: dict[str, Any], set_id: str, leaf: dict[str, Any]) -> dict[str, Any] | None:
    """The checker's own copy of *rule* with *leaf* added to the set *set_id*, or None when
    the checker judges the mutation invalid (no such set, or a leaf of that id already)."""
    updated = copy.deepcopy(rule)
    for node in _sets(updated):
        if node["id"] == set_id and all(other["id"] != leaf["id"] for other in node["leaves"]):
            node["leaves"].append(leaf)
            return updated
    return None


def remove_leaf_json(rule: dict[str, Any], set_id: str, leaf_id: str) -> dict[str, Any] | None:
    """The checker's own copy of *rule* without the leaf *leaf_id* of the set *set_id*, or None
    when the checker judges the mutation invalid (no such set or leaf)."""
    updated = copy.deepcopy(rule)
    for node in _sets(updated):
        kept = [leaf for leaf in node["leaves"] if leaf["id"] != leaf_id]
        if node["id"] == set_id and len(kept) < len(node["leaves"]):
            node["leaves"] = kept
            return updated
    return None


def _sets(rule: dict[str, Any]) -> list[dict[str, Any]]:
    found = [rule]
    for child in rule.get("children", []):
        found.extend(_sets(child))
    return found
