"""The Policy Requirement Graph (spec section 3): predicates, requirement sets, hashes, mutations.

Requirement sets are frozen values; a mutation builds new sets along the changed path and a new
rule mapping, so a :class:`PolicySnapshot` is just a reference to the mapping of its moment and
costs nothing to take. Evaluation is three-valued: true, false, or an *error* (a missing path or a
wrong type), which the Guardian turns into a DENY distinct from a plain false.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from helmmodel.canonical import canonical_bytes
from helmmodel.errors import InvalidInput
from helmmodel.kernel.records import check_identifier

LOGIC_AND = "AND"
LOGIC_OR = "OR"
LOGIC_NOT = "NOT"

PREDICATE_OPS = ("const", "has", "eq", "in", "le")
LEAVES_PER_SET_MAX = 64
TREE_DEPTH_MAX = 16


class Outcome(enum.Enum):
    """The three results of evaluating a predicate or a set."""

    TRUE = "true"
    FALSE = "false"
    ERROR = "error"


# The outcomes as module constants: evaluation runs on every call and reads them often.
_TRUE, _FALSE, _ERROR = Outcome.TRUE, Outcome.FALSE, Outcome.ERROR
_MISSING = object()


def _check_path(path: object, predicate: list[Any]) -> str:
    if type(path) is not str or not path or "" in path.split("."):
        raise InvalidInput(
            f"predicate {predicate!r}: the path {path!r} must be a dotted path like 'args.amount'"
        )
    return path


_ARITY = {"const": 2, "has": 2, "eq": 3, "in": 3, "le": 3}


def _check_form(predicate: object) -> list[Any]:
    """Return *predicate* if it has one of the five forms; raise InvalidInput. Its operands are
    checked against the canonical subset when the predicate is encoded."""
    if type(predicate) is not list or not predicate or predicate[0] not in PREDICATE_OPS:
        raise InvalidInput(
            f"predicate {predicate!r} is not one of ['const', bool], ['has', path], "
            "['eq', path, value], ['in', path, [values]], ['le', path, integer]"
        )
    op = predicate[0]
    arity = _ARITY[op]
    if len(predicate) != arity:
        raise InvalidInput(f"predicate {predicate!r}: {op!r} takes {arity - 1} operand(s)")
    if op == "const":
        if type(predicate[1]) is not bool:
            raise InvalidInput(f"predicate {predicate!r}: 'const' takes true or false")
        return predicate
    _check_path(predicate[1], predicate)
    if op == "in" and type(predicate[2]) is not list:
        raise InvalidInput(f"predicate {predicate!r}: 'in' takes a list of values")
    if op == "le" and type(predicate[2]) is not int:
        raise InvalidInput(f"predicate {predicate!r}: 'le' takes an integer bound")
    return predicate


def _detached(predicate: list[Any], predicate_jcs: bytes) -> list[Any]:
    """A copy of *predicate* equal to decoding *predicate_jcs*, its canonical bytes.

    Copied directly when its operands are scalars or lists of scalars (the usual case; a tuple
    becomes a list, as decoding makes it); anything holding an object or deeper lists is
    decoded, which puts object members in canonical order.
    """
    if _SCALARS.issuperset(map(type, predicate)):
        return list(predicate)
    copy: list[Any] = []
    for item in predicate:
        kind = type(item)
        if (kind is list or kind is tuple) and _SCALARS.issuperset(map(type, item)):
            copy.append(list(item))
        elif kind in _SCALARS:
            copy.append(item)
        else:
            return list(json.loads(predicate_jcs))
    return copy


# The types the canonical subset allows that decoding gives back as they are.
_SCALARS = frozenset({str, int, bool, type(None)})


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if type(node) is not dict or part not in node:
            return _MISSING
        node = node[part]
    return node


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's, ``true`` is not ``1``."""
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(map(_json_equal, left, right))
    if type(left) is dict:
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def evaluate_predicate(predicate: list[Any], document: Mapping[str, Any]) -> Outcome:
    """Evaluate one predicate: a missing path or a wrong type is ERROR, distinct from FALSE."""
    op = predicate[0]
    if op == "const":
        return _TRUE if predicate[1] else _FALSE
    value = _lookup(document, predicate[1])
    if op == "has":
        return _FALSE if value is _MISSING else _TRUE
    if value is _MISSING:
        return _ERROR
    if op == "eq":
        return _TRUE if _json_equal(value, predicate[2]) else _FALSE
    if op == "in":
        found = any(_json_equal(value, candidate) for candidate in predicate[2])
        return _TRUE if found else _FALSE
    # "le": a bool is not an integer.
    if type(value) is not int:
        return _ERROR
    return _TRUE if value <= predicate[2] else _FALSE


@attrs.frozen
class Requirement:
    """One leaf of a requirement set: an id and a predicate."""

    id: str
    predicate: list[Any] = attrs.field(eq=False)
    predicate_jcs: bytes = attrs.field(init=False)

    @predicate_jcs.default
    def _encode(self) -> bytes:
        check_identifier(self.id, "requirement id")
        # Refuses floats and unsafe integers in operands: the predicate is hashed into the policy.
        return canonical_bytes(_check_form(self.predicate))

    def __attrs_post_init__(self) -> None:
        # A private copy, equal to the canonical bytes decoded: a caller's later change to its
        # list must not reach a policy that is already hashed.
        object.__setattr__(self, "predicate", _detached(self.predicate, self.predicate_jcs))


@attrs.frozen
class RequirementSet:
    """A node of the requirement tree: logic over leaves and child sets, with its hash."""

    id: str
    logic: str = ""
    leaves: tuple[Requirement, ...] = ()
    children: tuple[RequirementSet, ...] = ()
    hash: str = attrs.field(init=False)

    @hash.default
    def _hash(self) -> str:
        check_identifier(self.id, "requirement set id")
        # An unknown logic must be storable (its evaluation is an error), but it is part of
        # the content string, so it keeps to the identifier alphabet to stay injective.
        if self.logic:
            check_identifier(self.logic, "requirement set logic")
        if len(self.leaves) > 1:  # one leaf or none cannot repeat an id
            leaf_ids = [leaf.id for leaf in self.leaves]
            if len(set(leaf_ids)) != len(leaf_ids):
                raise InvalidInput(f"requirement set {self.id!r} has duplicate leaf ids {leaf_ids}")
        if len(self.leaves) > LEAVES_PER_SET_MAX:
            raise InvalidInput(f"requirement set {self.id!r} has more than 64 leaves")
        parts = [f"id={self.id}:logic={self.logic}:".encode()]
        for leaf in self.leaves:
            parts.append(f"req={leaf.id}:".encode() + leaf.predicate_jcs + b";")
        for child in self.children:
            parts.append(f"child={child.hash};".encode())
        return "sha256:" + hashlib.sha256(b"".join(parts)).hexdigest()

    def set_ids(self) -> list[str]:
        """Every set id in this tree, this one first."""
        ids = [self.id]
        for child in self.children:
            ids.extend(child.set_ids())
        return ids

    def depth(self) -> int:
        if not self.children:
            return 1
        return 1 + max(child.depth() for child in self.children)

    def replace(self, set_id: str, change: Any) -> RequirementSet:
        """Return this tree with the set *set_id* replaced by ``change(set)``."""
        if self.id == set_id:
            result: RequirementSet = change(self)
            return result
        children = tuple(child.replace(set_id, change) for child in self.children)
        return attrs.evolve(self, children=children)

    def requirement_ids(self) -> list[str]:
        """Every requirement id in this tree, leaves before children."""
        ids = [leaf.id for leaf in self.leaves]
        for child in self.children:
            ids.extend(child.requirement_ids())
        return ids

    def evaluate(self, document: Mapping[str, Any]) -> tuple[Outcome, list[str]]:
        """Evaluate in HELM's order; return the outcome and the requirement ids behind it.

        For FALSE the ids are the blocking requirements (under AND the false ones; under OR
        every one, all false; under NOT every one, all true); for ERROR, the one that errored.
        Every part is evaluated (in order, leaves first) before the logic is looked at, so an
        erroring part wins over an unknown logic.
        """
        if not self.leaves and not self.children:
            return _TRUE, []
        all_true = True
        any_true = False
        false_ids: list[str] = []  # what AND reports: the ids behind each false part
        every_id: list[str] = []  # what OR and NOT report: the ids behind every part
        for leaf in self.leaves:
            outcome = evaluate_predicate(leaf.predicate, document)
            if outcome is _TRUE:
                any_true = True
            elif outcome is _FALSE:
                all_true = False
                false_ids.append(leaf.id)
            else:
                return _ERROR, [leaf.id]
            every_id.append(leaf.id)
        for child in self.children:
            outcome, ids = child.evaluate(document)
            if outcome is _TRUE:
                any_true = True
                every_id.extend(child.requirement_ids())
            elif outcome is _FALSE:
                all_true = False
                false_ids.extend(ids)
                every_id.extend(ids)
            else:
                return _ERROR, ids
        logic = self.logic or LOGIC_AND
        if logic == LOGIC_AND:
            return (_TRUE, []) if all_true else (_FALSE, false_ids)
        if logic == LOGIC_OR:
            return (_TRUE, []) if any_true else (_FALSE, every_id)
        if logic == LOGIC_NOT:
            # NOT is "not all true" (a NAND), as HELM evaluates it.
            return (_TRUE, []) if not all_true else (_FALSE, every_id)
        return _ERROR, [f"{self.id}:logic={logic}"]


_SET_MEMBERS = frozenset({"id", "logic", "leaves", "children"})
_LEAF_MEMBERS = frozenset({"id", "predicate"})


def build_set(spec: Mapping[str, Any]) -> RequirementSet:
    """Build a RequirementSet from ``{id, logic, leaves: [{id, predicate}], children}``.

    Raises InvalidInput naming the bad member.
    """
    # A dict is a Mapping; asking the ABC only for other types saves its check on every set.
    if type(spec) is not dict and not isinstance(spec, Mapping):
        raise InvalidInput(f"a requirement set must be an object, not {spec!r}")
    if not _SET_MEMBERS.issuperset(spec):
        unknown = set(spec) - _SET_MEMBERS
        raise InvalidInput(f"requirement set has unknown members {sorted(unknown)}")
    leaves = spec.get("leaves", [])
    children = spec.get("children", [])
    if type(leaves) is not list or type(children) is not list:
        raise InvalidInput("requirement set 'leaves' and 'children' must be lists")
    built_leaves = []
    for leaf in leaves:
        if type(leaf) is dict:
            shaped = leaf.keys() == _LEAF_MEMBERS
        else:
            shaped = isinstance(leaf, Mapping) and set(leaf) == _LEAF_MEMBERS
        if not shaped:
            raise InvalidInput(f"a requirement must be {{'id', 'predicate'}}, not {leaf!r}")
        built_leaves.append(Requirement(leaf["id"], leaf["predicate"]))
    logic = spec.get("logic", "")
    if type(logic) is not str:
        raise InvalidInput(f"requirement set logic {logic!r} must be a string")
    return RequirementSet(
        spec.get("id"),  # type: ignore[arg-type]  # checked in RequirementSet
        logic,
        tuple(built_leaves),
        tuple(map(build_set, children)),
    )


def graph_content_hash(rules: Mapping[str, RequirementSet]) -> str:
    """Bare hex SHA-256 over ``<tool>=<set hash>;`` for the sorted tool names."""
    text = "".join([f"{tool}={rules[tool].hash};" for tool in sorted(rules)])
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.frozen
class PolicySnapshot:
    """The policy of one moment: the rule mapping (never mutated), its epoch and its version."""

    rules: Mapping[str, RequirementSet]
    epoch: int
    version: str


class PolicyGraph:
    """Maps tool names to requirement sets; every accepted mutation bumps the epoch by one."""

    def __init__(self) -> None:
        self._rules: dict[str, RequirementSet] = {}
        self.epoch = 0
        self.version = "sha256:" + graph_content_hash(self._rules)

    def snapshot(self) -> PolicySnapshot:
        """The current rules, epoch and version; later mutations never change it."""
        return PolicySnapshot(self._rules, self.epoch, self.version)

    def tools(self) -> list[str]:
        return sorted(self._rules)

    def _commit(self, rules: dict[str, RequirementSet]) -> None:
        # A new dict every time: snapshots hold the old one and must never see a change.
        self._rules = rules
        self.epoch += 1
        self.version = "sha256:" + graph_content_hash(rules)

    def put_rule(self, tool: str, requirement_set: RequirementSet) -> None:
        """Add or replace the rule of *tool*."""
        check_identifier(tool, "tool name")
        ids = requirement_set.set_ids()
        if len(set(ids)) != len(ids):
            raise InvalidInput(f"rule for {tool!r} repeats a requirement set id: {ids}")
        if requirement_set.depth() > TREE_DEPTH_MAX:
            raise InvalidInput(f"rule for {tool!r} is nested deeper than {TREE_DEPTH_MAX} sets")
        self._commit({**self._rules, tool: requirement_set})

    def remove_rule(self, tool: str) -> None:
        """Remove the rule of *tool*, which must exist."""
        if tool not in self._rules:
            raise InvalidInput(
                f"there is no rule for tool {tool!r}; rules exist for {self.tools()}"
            )
        rules = dict(self._rules)
        del rules[tool]
        self._commit(rules)

    def _set_in(self, tool: str, set_id: str) -> RequirementSet:
        root = self._rules.get(tool)
        if root is None:
            raise InvalidInput(
                f"there is no rule for tool {tool!r}; rules exist for {self.tools()}"
            )
        if set_id not in root.set_ids():
            raise InvalidInput(
                f"the rule for {tool!r} has no requirement set {set_id!r}; it has {root.set_ids()}"
            )
        return root

    def add_leaf(self, tool: str, set_id: str, requirement: Requirement) -> None:
        """Add *requirement* to the set *set_id* of *tool*'s rule."""
        root = self._set_in(tool, set_id)
        new_root = root.replace(set_id, lambda s: attrs.evolve(s, leaves=(*s.leaves, requirement)))
        self._commit({**self._rules, tool: new_root})

    def remove_leaf(self, tool: str, set_id: str, requirement_id: str) -> None:
        """Remove the leaf *requirement_id* from the set *set_id* of *tool*'s rule."""
        root = self._set_in(tool, set_id)

        def without(s: RequirementSet) -> RequirementSet:
            leaves = tuple(leaf for leaf in s.leaves if leaf.id != requirement_id)
            if len(leaves) == len(s.leaves):
                raise InvalidInput(
                    f"requirement set {set_id!r} has no leaf {requirement_id!r}; "
                    f"it has {[leaf.id for leaf in s.leaves]}"
                )
            return attrs.evolve(s, leaves=leaves)

        self._commit({**self._rules, tool: root.replace(set_id, without)})

    def digest_material(self) -> bytes:
        return f"{self.epoch}|{self.version}".encode()
