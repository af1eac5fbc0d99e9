"""Mutants of the clocks' range check (spec section 1): the correct kernel but for one method."""

from __future__ import annotations

from helmmodel.errors import InvalidInput
from helmmodel.kernel import Kernel
from helmmodel.mutants.mutant import Mutant


class UncheckedClockKernel(Kernel):
    """The facade sets the executor's clock to any integer, without the safe-range check."""

    def set_executor_time(self, now_ms: int) -> None:
        # The bug: "the executor's clock is only compared, never signed", so any integer is
        # written; but a time past 2^53-1 is outside what the spec lets a kernel hold.
        if type(now_ms) is not int:
            raise InvalidInput(f"clock time {now_ms!r} must be an integer")
        with self.lock:
            self.executor_clock.now_ms = now_ms


MUTANTS = (
    Mutant(
        "clock-range-unchecked",
        "setting the executor's clock checks that the time is an integer but not that it is "
        "within ±(2^53-1), so a time outside the spec's range is accepted.",
        "SimClock",
        "clock_drift",
        "malformed_input_rejected",
        UncheckedClockKernel,
    ),
)
