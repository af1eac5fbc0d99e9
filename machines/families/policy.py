"""PRG mutation: rules put and removed, leaves added and removed."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import LEAF_IDS, LEAVES, RULES, SET_IDS, WorldMachine, tools


class PolicyRules(WorldMachine):
    """PRG mutation: put and remove rules, add and remove leaves (each bumps the epoch)."""

    @transition(tool=tools, template=st.sampled_from(sorted(RULES)))
    def put_rule(self, tool: str, template: str) -> tuple[dict[str, Any], Any]:
        return self.driver.put_rule(tool, RULES[template]), None

    @transition(tool=tools)
    def remove_rule(self, tool: str) -> tuple[dict[str, Any], Any]:
        return self.driver.remove_rule(tool), None

    @transition(tool=tools, set_id=st.sampled_from(SET_IDS), leaf=st.sampled_from(sorted(LEAVES)))
    def add_leaf(self, tool: str, set_id: str, leaf: str) -> tuple[dict[str, Any], Any]:
        return self.driver.add_leaf(tool, set_id, leaf, LEAVES[leaf]), None

    @transition(tool=tools, set_id=st.sampled_from(SET_IDS), leaf=st.sampled_from(LEAF_IDS))
    def remove_leaf(self, tool: str, set_id: str, leaf: str) -> tuple[dict[str, Any], Any]:
        return self.driver.remove_leaf(tool, set_id, leaf), None
