"""Simulated clocks (spec section 1): integer milliseconds that move only when told to."""

from __future__ import annotations

from helmmodel.canonical import SAFE_INTEGER_MAX
from helmmodel.errors import InvalidInput


def check_time_ms(value: object, what: str) -> int:
    """Return *value* if it is a safe integer number of milliseconds; raise InvalidInput."""
    if type(value) is not int or not -SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX:
        raise InvalidInput(f"{what} {value!r} must be an integer of milliseconds within ±(2^53−1)")
    return value


class SimClock:
    """A clock that holds integer milliseconds; it may be set backwards (drift)."""

    def __init__(self, now_ms: int = 0) -> None:
        self.now_ms = check_time_ms(now_ms, "clock time")

    def set(self, now_ms: int) -> None:
        """Set the clock to *now_ms*, forwards or backwards."""
        self.now_ms = check_time_ms(now_ms, "clock time")
