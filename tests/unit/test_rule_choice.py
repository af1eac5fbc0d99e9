"""RuleChoice: the swarm configuration is drawn once per example; a step's rule is one index over
every rule slot (a rule of weight w holds w), drawn again when it names a rule that is off or
cannot run, and chosen among those that can after RuleChoice.DRAWS misses (harness/stateful.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.stateful import Bundle, consumes

from helmmodel.harness.stateful import RuleChoice, TracedMachine, transition

things = Bundle("things")


class Small(TracedMachine):
    """Three rules: one that fills a bundle (weight 2), one that consumes it, one guarded off."""

    @transition(target=things, n=st.integers(0, 3), weight=2)
    def make(self, n: int) -> tuple[dict[str, Any], Any]:
        return {}, n

    @transition(thing=consumes(things))
    def use(self, thing: int) -> tuple[dict[str, Any], Any]:
        return {}, None

    @transition(guard=lambda self: False)
    def never(self) -> tuple[dict[str, Any], Any]:
        return {}, None


# Hypothesis orders rules with no target first, then by argument count and name: never, use,
# make. The slots: never, use, make, make. The swarm flags are drawn in name order: make, never,
# use.
NEVER, USE, MAKE = 0, 1, 2
ALL_ON = [0, False, False, False]


def small(data: ConjectureData) -> Small:
    """A machine wired to *data* as Hypothesis wires one (its guards' counts go to the data)."""
    machine = Small()
    machine._observability_predicates = data._observability_predicates
    data.hypothesis_runner = machine  # what a bundle argument is drawn from
    return machine


def draw_rule(machine: Small, data: ConjectureData) -> tuple[str, int]:
    """The name of the rule drawn, and how many choices the draw made."""
    before = len(data.choices)
    chosen, _ = data.draw(machine._rules_strategy)
    return chosen.function.__name__, len(data.choices) - before


def test_traced_machines_choose_their_rules_with_rule_choice() -> None:
    assert isinstance(Small()._rules_strategy, RuleChoice)


def test_the_slots_hold_each_rule_as_often_as_its_weight() -> None:
    names = [rule.function.__name__ for rule in Small()._rules_strategy.slots]
    assert ["never", "use", "make", "make"] == names


def test_the_swarm_is_drawn_once_and_a_later_step_is_one_choice_and_its_arguments() -> None:
    # The swarm (share 0: every rule on), then make (slot 2) with n=2.
    data = ConjectureData.for_choices([*ALL_ON, MAKE, 2, MAKE + 1, 1])
    machine = small(data)
    assert ("make", 4 + 1 + 1) == draw_rule(machine, data)
    # The second slot of make, n=1: two choices, where Hypothesis's own pick makes about fifteen.
    assert ("make", 2) == draw_rule(machine, data)


def test_one_index_names_one_rule_whatever_the_state() -> None:
    """Slot 1 is use whenever use can run: a step's choices copied elsewhere copy its rule."""
    data = ConjectureData.for_choices([*ALL_ON, MAKE, 0, USE, 0])
    machine = small(data)
    draw_rule(machine, data)
    machine._add_results_to_targets((things.name,), [0])  # what Hypothesis does after make
    assert ("use", 2) == draw_rule(machine, data)  # the slot, then which value it consumes


def test_a_slot_whose_rule_cannot_run_or_is_off_is_drawn_again() -> None:
    # never (guard false), then use (empty bundle), then make: three draws, then n.
    data = ConjectureData.for_choices([*ALL_ON, NEVER, USE, MAKE, 3])
    assert ("make", 4 + 3 + 1) == draw_rule(small(data), data)
    # make switched off for the example: a drawn make is drawn again.
    data = ConjectureData.for_choices([200, True, False, False, MAKE, USE, 0])
    machine = small(data)
    machine._add_results_to_targets((things.name,), [0])
    assert ("use", 4 + 2 + 1) == draw_rule(machine, data)


def test_after_every_draw_misses_the_rule_is_chosen_among_those_that_can_run() -> None:
    """Three misses, then one index over the rules that can run and are on: use alone here."""
    data = ConjectureData.for_choices([200, True, False, False, NEVER, MAKE, MAKE, 0, 0])
    machine = small(data)
    machine._add_results_to_targets((things.name,), [0])
    assert ("use", 4 + 3 + 1 + 1) == draw_rule(machine, data)
    index = data.nodes[4 + 3]
    assert (0, 0) == (index.constraints["min_value"], index.constraints["max_value"])


def test_when_every_rule_that_can_run_is_off_one_of_them_runs_anyway() -> None:
    """As with Hypothesis's own flags, a swarm never stops an example dead."""
    data = ConjectureData.for_choices([254, True, True, True, NEVER, NEVER, NEVER, 0, 1])
    assert ("make", 4 + 3 + 1 + 1) == draw_rule(small(data), data)
