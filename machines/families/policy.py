"""PRG mutation: rules put and removed, leaves added and removed."""

from __future__ import annotations

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


class PolicyRules(WorldMachine):
    """PRG mutation: put and remove rules, add and remove leaves (each bumps the epoch).

    A rule, set or leaf to change is mostly one the checker's copy of the rules holds now
    (``pick`` indexes it), sometimes the independent draw (stale or unknown ones included).
    """

    @transition(tool=tools, template=st.sampled_from(sorted(RULES)))
    def put_rule(self, tool: str, template: str) -> tuple[dict[str, Any], Any]:
        return self.driver.put_rule(tool, RULES[template]), None

    @transition(pick=picks, tool=tools)
    def remove_rule(self, pick: int, tool: str) -> tuple[dict[str, Any], Any]:
        tool = fitted(pick, sorted(self.ghost.rules), tool)
        return self.driver.remove_rule(tool), None

    @transition(
        pick=picks,
        tool=tools,
        set_id=st.sampled_from(SET_IDS),
        leaf=st.sampled_from(sorted(LEAVES)),
    )
    def add_leaf(self, pick: int, tool: str, set_id: str, leaf: str) -> tuple[dict[str, Any], Any]:
        sets = [(t, s) for t, s, _ in policy_sets(self.ghost.rules)]
        tool, set_id = fitted(pick, sets, (tool, set_id))
        return self.driver.add_leaf(tool, set_id, leaf, LEAVES[leaf]), None

    @transition(
        pick=picks, tool=tools, set_id=st.sampled_from(SET_IDS), leaf=st.sampled_from(LEAF_IDS)
    )
    def remove_leaf(
        self, pick: int, tool: str, set_id: str, leaf: str
    ) -> tuple[dict[str, Any], Any]:
        held = [(t, s, each) for t, s, leaves in policy_sets(self.ghost.rules) for each in leaves]
        tool, set_id, leaf = fitted(pick, held, (tool, set_id, leaf))
        return self.driver.remove_leaf(tool, set_id, leaf), None
