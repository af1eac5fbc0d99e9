"""PRG mutation: rules put (at and past the spec's bounds, and malformed too) and removed, leaves
added and removed, the policy rewound, and calls that meet container operands with containers."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import (
    LEAF_IDS,
    LEAVES,
    RULES,
    SET_IDS,
    WorldMachine,
    fitted,
    picks,
    policy_sets,
    principals,
    tools,
)

Rules = dict[str, dict[str, Any]]


def _set(set_id: str, logic: str, leaves: list[Any], children: list[Any]) -> dict[str, Any]:
    # Every member given: the checker's leaf mutations expect them on a rule it holds.
    return {"id": set_id, "logic": logic, "leaves": leaves, "children": children}


def _one_leaf(predicate: Any, leaf_id: str = "odd") -> dict[str, Any]:
    return _set("r-odd", "AND", [{"id": leaf_id, "predicate": predicate}], [])


def _chain(depth: int) -> dict[str, Any]:
    """A rule *depth* sets deep, each set holding the next, the last a true leaf."""
    node = _set(f"r-d{depth}", "", [{"id": "t", "predicate": ["const", True]}], [])
    for level in range(depth - 1, 0, -1):
        node = _set(f"r-d{level}", "OR", [], [node])
    return node


def _wide(count: int) -> dict[str, Any]:
    leaves = [{"id": f"t{i}", "predicate": ["const", True]} for i in range(count)]
    return _set("r-wide", "AND", leaves, [])


# Valid rules that compare containers: an object operand, and an "in" over a list, an object
# and a string, judged against the list and object arguments of ``judge_container_args``.
CONTAINER_RULES: dict[str, Any] = {
    "args-eq-object": _one_leaf(["eq", "args", {"x": True}]),
    "x-in-containers": _one_leaf(["in", "args.x", [[1], {"y": 1}, "one"]]),
}

# Rules at and one past the spec's bounds (section 3), and rules the kernel must refuse: the
# checker judges each with its own reading of the spec (checker/policy.py, rule_problem).
BOUND_RULES: dict[str, Any] = {
    "wide-64": _wide(64),
    "deep-16": _chain(16),
    "wide-65": _wide(65),
    "deep-17": _chain(17),
}
MALFORMED_RULES: dict[str, Any] = {
    "set-id-twice": {"id": "r-twice", "children": [{"id": "r-twice"}]},
    "not-object": ["r-list"],
    "child-not-object": {"id": "r-odd", "children": ["r-child"]},
    "unknown-member": {"id": "r-odd", "rules": []},
    "leaves-not-list": {"id": "r-odd", "leaves": {"id": "t", "predicate": ["const", True]}},
    "leaf-not-object": {"id": "r-odd", "leaves": ["x-le-10"]},
    "leaf-extra-member": {
        "id": "r-odd",
        "leaves": [{"id": "t", "predicate": ["const", True], "note": "x"}],
    },
    "logic-not-string": {"id": "r-odd", "logic": ["AND"]},
    "logic-not-identifier": {"id": "r-odd", "logic": "AND OR"},
    "id-missing": {"logic": "AND"},
    "leaf-id-bad": _one_leaf(["const", True], "no spaces"),
    "pred-not-list": _one_leaf("const"),
    "pred-empty": _one_leaf([]),
    "pred-unknown-op": _one_leaf(["lt", "args.x", 10]),
    "pred-arity": _one_leaf(["eq", "args.x"]),
    "pred-const-int": _one_leaf(["const", 1]),
    "pred-path-empty": _one_leaf(["has", ""]),
    "pred-path-gap": _one_leaf(["has", "args..x"]),
    "pred-path-int": _one_leaf(["eq", 1, 1]),
    "pred-in-string": _one_leaf(["in", "principal", "alice"]),
    "pred-le-bool": _one_leaf(["le", "args.x", True]),
    "pred-float": _one_leaf(["eq", "args.x", 1.5]),
    "pred-unsafe-int": _one_leaf(["le", "args.x", 2**53]),
}
ODD_RULES = {**BOUND_RULES, **MALFORMED_RULES}
# Half the draws are a bound: the few bound rules are not drowned by the many malformed ones.
odd_rules = st.sampled_from(sorted(BOUND_RULES)) | st.sampled_from(sorted(MALFORMED_RULES))

# A tool whose schema accepts any object and that needs no approval (so a wrong judgement is an
# ALLOW), and arguments for it that hold containers (and the scalars a container must not equal).
CONTAINER_TOOL = "fail"
CONTAINER_ARGS = ({"x": [1]}, {"x": [True]}, {"x": {"y": 1}}, {"x": 1}, {"x": True})


class PolicyRules(WorldMachine):
    """PRG mutation: put and remove rules, add and remove leaves (each bumps the epoch).

    A rule, set or leaf to change is mostly one the checker's copy of the rules holds now
    (``pick`` indexes it), sometimes the independent draw (stale or unknown ones included).
    The rules of each epoch these rules made are remembered, and ``rewind_policy`` puts an
    earlier one back: the version returns to an earlier value while the epoch moves on.
    Odd rules (at or one past a bound, or malformed) are judged by the checker's own reading of
    the spec; rules with object and list operands are judged against object and list arguments.
    """

    def set_up(self) -> None:
        super().set_up()
        self.policies: list[Rules] = [copy.deepcopy(self.ghost.rules)]

    def _changed(self, outcome: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """Remember the rules after an accepted mutation; pass *outcome* on."""
        if self.ghost.rules != self.policies[-1]:
            self.policies.append(copy.deepcopy(self.ghost.rules))
        return outcome, None

    @transition(tool=tools, template=st.sampled_from(sorted(RULES)))
    def put_rule(self, tool: str, template: str) -> tuple[dict[str, Any], Any]:
        return self._changed(self.driver.put_rule(tool, RULES[template]))

    @transition(tool=tools, template=odd_rules)
    def put_odd_rule(self, tool: str, template: str) -> tuple[dict[str, Any], Any]:
        """Put a rule at or past a bound of the spec, or malformed: the checker predicts which
        the kernel accepts, and a refused one changes nothing."""
        return self._changed(self.driver.put_rule(tool, ODD_RULES[template]))

    @transition(
        template=st.sampled_from(sorted(CONTAINER_RULES)),
        guard=lambda self: self.ghost.rules.get(CONTAINER_TOOL) not in CONTAINER_RULES.values(),
    )
    def put_container_rule(self, template: str) -> tuple[dict[str, Any], Any]:
        """Put a rule with container operands on the tool that takes container arguments.

        Only while the tool has no such rule: each put bumps the epoch, and a put on every
        draw would leave other families' decisions stale before their intents are asked for.
        """
        return self._changed(self.driver.put_rule(CONTAINER_TOOL, CONTAINER_RULES[template]))

    @transition(args=st.sampled_from(CONTAINER_ARGS), principal=principals)
    def judge_container_args(
        self, args: dict[str, Any], principal: str
    ) -> tuple[dict[str, Any], Any]:
        """A whole call with list or object arguments, judged by whatever rule the tool has now:
        the container operands meet container values."""
        return self.driver.whole_call(principal, CONTAINER_TOOL, args, {}), None

    @transition(pick=picks, tool=tools)
    def remove_rule(self, pick: int, tool: str) -> tuple[dict[str, Any], Any]:
        tool = fitted(pick, sorted(self.ghost.rules), tool)
        return self._changed(self.driver.remove_rule(tool))

    @transition(
        pick=picks,
        tool=tools,
        set_id=st.sampled_from(SET_IDS),
        leaf=st.sampled_from(sorted(LEAVES)),
    )
    def add_leaf(self, pick: int, tool: str, set_id: str, leaf: str) -> tuple[dict[str, Any], Any]:
        sets = [(t, s) for t, s, _ in policy_sets(self.ghost.rules)]
        tool, set_id = fitted(pick, sets, (tool, set_id))
        return self._changed(self.driver.add_leaf(tool, set_id, leaf, LEAVES[leaf]))

    @transition(
        pick=picks, tool=tools, set_id=st.sampled_from(SET_IDS), leaf=st.sampled_from(LEAF_IDS)
    )
    def remove_leaf(
        self, pick: int, tool: str, set_id: str, leaf: str
    ) -> tuple[dict[str, Any], Any]:
        held = [(t, s, each) for t, s, leaves in policy_sets(self.ghost.rules) for each in leaves]
        tool, set_id, leaf = fitted(pick, held, (tool, set_id, leaf))
        return self._changed(self.driver.remove_leaf(tool, set_id, leaf))

    @transition(pick=picks, tool=tools)
    def rewind_policy(self, pick: int, tool: str) -> tuple[dict[str, Any], Any]:
        """Put back the rules of an earlier policy, *pick* policies before the previous one (a
        negative pick: *tool*'s rule put again unchanged), with one put or removal per tool
        that differs; each bumps the epoch, and the version ends at the earlier one's."""
        if pick < 0:
            target = {**self.ghost.rules}
            if tool in target:
                target[tool] = copy.deepcopy(target[tool])
                return self._changed(self.driver.put_rule(tool, target[tool]))
        earlier = self.policies[:-1] or self.policies
        target = earlier[-1 - max(pick, 0) % len(earlier)]
        outcome: dict[str, Any] = {"policy": "rewind", "changes": 0}
        for each in sorted(set(target) | set(self.ghost.rules)):
            if target.get(each) == self.ghost.rules.get(each):
                continue
            if each in target:
                changed = self.driver.put_rule(each, copy.deepcopy(target[each]))
            else:
                changed = self.driver.remove_rule(each)
            outcome = {**changed, "policy": "rewind", "changes": outcome["changes"] + 1}
        return self._changed(outcome)
