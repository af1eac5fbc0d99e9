"""Minimizing brings a sampled argument to its first listed value (issue #21, item 3): two
traces of one bug that differ only in a principal or a tool come out the same, so a campaign
sees one failure, not one per principal."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness import runner
from helmmodel.harness.minimize import minimize, simpler_values
from helmmodel.harness.stateful import sampled_choices, transitions

CHOICES = {"call": {"principal": ("alice", "bob", "carol"), "amount": (3, 1, 2)}}


def fails_on_amounts_of_two_or_more(steps: list[dict[str, Any]]) -> bool:
    """The bug: any call with an amount of at least 2, whoever makes it."""
    return any(step["args"]["amount"] >= 2 for step in steps)


def test_sampled_arguments_become_the_first_value_that_still_fails() -> None:
    for principal in ("bob", "carol"):
        found = [{"rule": "call", "args": {"principal": principal, "amount": 2}}]
        minimal = minimize(found, fails_on_amounts_of_two_or_more, choices=CHOICES)
        # alice is first; 3 is listed first and still fails, so 2 becomes 3: the list's order
        # is the measure of simple, not the number.
        assert [{"rule": "call", "args": {"principal": "alice", "amount": 3}}] == minimal


def test_without_the_list_a_string_is_emptied_as_before() -> None:
    found = [{"rule": "call", "args": {"principal": "carol", "amount": 2}}]
    assert "" == minimize(found, fails_on_amounts_of_two_or_more)[0]["args"]["principal"]


def test_a_boolean_is_never_taken_for_a_listed_integer() -> None:
    assert [False] == list(simpler_values(True, (0, 1)))
    assert [0] == list(simpler_values(1, (0, 1)))


def test_rules_know_what_their_arguments_are_sampled_from() -> None:
    assert ("a", "b") == sampled_choices(st.sampled_from(["a", "b"]))
    assert sampled_choices(st.sampled_from(["a", "b"]).map(str.upper)) is None
    assert sampled_choices(st.integers(0, 3)) is None
    kernel = runner.load_machines("machines")["kernel"]
    begin = transitions(kernel)["begin_call"]
    assert "alice" == begin.choices["principal"][0]
    assert "echo" == begin.choices["tool"][0]
