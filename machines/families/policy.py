"""PRG mutation: rules put and removed, leaves added and removed, the policy rewound."""

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
    tools,
)

Rules = dict[str, dict[str, Any]]


class PolicyRules(WorldMachine):
    """PRG mutation: put and remove rules, add and remove leaves (each bumps the epoch).

    A rule, set or leaf to change is mostly one the checker's copy of the rules holds now
    (``pick`` indexes it), sometimes the independent draw (stale or unknown ones included).
    The rules of each epoch these rules made are remembered, and ``rewind_policy`` puts an
    earlier one back: the version returns to an earlier value while the epoch moves on.
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
