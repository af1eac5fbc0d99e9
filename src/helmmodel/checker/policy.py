"""The checker's policy model (spec section 3): predicates, requirement sets, their hashes, and
the leaf mutations on its own JSON copy of a rule.

Written again on purpose, apart from the kernel's policy graph: the checker evaluates and hashes
its own JSON copy of the rules, so a kernel that evaluates or hashes them wrongly is caught.
"""

from __future__ import annotations

import copy
import re
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


# What the spec (section 3) lets a rule be: identifiers, the five predicate forms with their
# operand counts, at most 64 leaves a set, at most 16 sets deep, set ids unique in a rule.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_OPERANDS = {"const": 1, "has": 1, "eq": 2, "in": 2, "le": 2}
_SET_MEMBERS = {"id", "logic", "leaves", "children"}
SET_LEAVES_MAX = 64
RULE_DEPTH_MAX = 16


def _identifier(value: Any) -> bool:
    return type(value) is str and _IDENTIFIER.fullmatch(value) is not None


def predicate_problem(predicate: Any) -> str | None:
    """Why *predicate* is not one of the five forms over canonical operands, or None."""
    if type(predicate) is not list or not predicate or type(predicate[0]) is not str:
        return "not a predicate form"
    if predicate[0] not in _OPERANDS:
        return "not a predicate form"
    op = predicate[0]
    if len(predicate) != 1 + _OPERANDS[op]:
        return f"{op!r} takes {_OPERANDS[op]} operand(s)"
    if op == "const":
        return None if type(predicate[1]) is bool else "'const' takes a bool"
    path = predicate[1]
    if type(path) is not str or not all(path.split(".")):
        return "the path is not dotted names"
    if op == "in" and type(predicate[2]) is not list:
        return "'in' takes a list"
    if op == "le" and type(predicate[2]) is not int:
        return "'le' takes an integer"
    try:
        jcs(predicate)
    except ValueError:
        return "an operand is outside the canonical subset"
    return None


def rule_problem(rule: Any) -> str | None:
    """Why the kernel must refuse *rule* (a requirement set as JSON), or None when it is valid."""
    set_ids: list[str] = []
    problem = _set_problem(rule, 1, set_ids)
    if problem is None and len(set(set_ids)) != len(set_ids):
        return f"set ids repeat: {set_ids}"
    return problem


def _set_problem(node: Any, depth: int, set_ids: list[str]) -> str | None:
    if type(node) is not dict:
        return "a set is not an object"
    if not _SET_MEMBERS.issuperset(node):
        return f"unknown members {sorted(set(node) - _SET_MEMBERS)}"
    leaves, children = node.get("leaves", []), node.get("children", [])
    if type(leaves) is not list or type(children) is not list:
        return "leaves and children are not lists"
    if depth > RULE_DEPTH_MAX:
        return f"nested deeper than {RULE_DEPTH_MAX} sets"
    logic = node.get("logic", "")
    if type(logic) is not str or (logic and not _identifier(logic)):
        return f"logic {logic!r} is not an identifier"
    if not _identifier(node.get("id")):
        return f"set id {node.get('id')!r} is not an identifier"
    set_ids.append(node["id"])
    if len(leaves) > SET_LEAVES_MAX:
        return f"more than {SET_LEAVES_MAX} leaves"
    for leaf in leaves:
        if type(leaf) is not dict or set(leaf) != {"id", "predicate"}:
            return f"leaf {leaf!r} is not {{id, predicate}}"
        if not _identifier(leaf["id"]):
            return f"leaf id {leaf['id']!r} is not an identifier"
        problem = predicate_problem(leaf["predicate"])
        if problem is not None:
            return problem
    leaf_ids = [leaf["id"] for leaf in leaves]
    if len(set(leaf_ids)) != len(leaf_ids):
        return f"leaf ids repeat: {leaf_ids}"
    for child in children:
        problem = _set_problem(child, depth + 1, set_ids)
        if problem is not None:
            return problem
    return None


def _sets(rule: dict[str, Any]) -> list[dict[str, Any]]:
    found = [rule]
    for child in rule.get("children", []):
        found.extend(_sets(child))
    return found
