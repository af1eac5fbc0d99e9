"""coverage.accepted: which outcomes count as a step that did what it asked."""

from __future__ import annotations

from typing import Any

import pytest

from helmmodel.checker.coverage import accepted


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ({"policy": "put", "epoch": 3}, True),
        ({"http": 200}, True),
        ({"http": 399}, True),
        ({"http": 400}, False),
        ({"http": 503}, False),
        ({"http": "zz"}, False),  # a malformed status is no acceptance, and no crash
        ({"http": "200"}, False),
        ({"http": None}, False),
        ({"http": True}, False),
        ({"error": "InvalidInput"}, False),
        ({"begun": "DENY"}, False),
        ({"receipt": "none"}, False),
    ],
)
def test_accepted(outcome: dict[str, Any], expected: bool) -> None:
    """A refusal, a DENY, an HTTP error or a status that is no integer is not accepted."""
    assert expected == accepted(outcome)
