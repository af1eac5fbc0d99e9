"""Clock shifts: either clock set forwards or backwards, to drawn times and to window edges."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import TWO_HOURS_MS, Stage, WorldMachine, intended

clock_values = st.sampled_from([0, 1, 299_999, 300_000, TWO_HOURS_MS, -TWO_HOURS_MS]) | st.integers(
    -10 * TWO_HOURS_MS, 10 * TWO_HOURS_MS
)
# Times no clock may be set to (spec section 1): past ±(2^53−1), far past it, not an integer.
# 2^53−1 is a safe time, refused for the Guardian only: an intent's expiry would pass the range.
OUT_OF_RANGE = (2**53, -(2**53), 2**63, 0.5, True, 2**53 - 1)
WINDOW_EDGES = ("issued_at-1", "issued_at", "expires_at-1", "expires_at", "-2h", "+2h")


class ClockRules(WorldMachine):
    """Clock shifts: each clock set forwards or backwards, to drawn times and window edges."""

    @transition(now_ms=clock_values)
    def set_guardian_clock(self, now_ms: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_guardian_time(now_ms), None

    @transition(now_ms=clock_values)
    def fault_set_executor_clock(self, now_ms: int) -> tuple[dict[str, Any], Any]:
        return self.driver.set_executor_time(now_ms), None

    @transition(
        clock=st.sampled_from(["guardian", "executor"]), now_ms=st.sampled_from(OUT_OF_RANGE)
    )
    def fault_clock_out_of_range(self, clock: str, now_ms: Any) -> tuple[dict[str, Any], Any]:
        """Set a clock to a time outside the safe range; the checker expects a refusal."""
        if clock == "guardian":
            return self.driver.set_guardian_time(now_ms), None
        return self.driver.set_executor_time(now_ms), None

    @transition(entry=intended, edge=st.sampled_from(WINDOW_EDGES))
    def fault_executor_clock_to_window_edge(
        self, entry: Stage, edge: str
    ) -> tuple[dict[str, Any], Any]:
        intent = entry.intent
        assert intent is not None
        now_ms = {
            "issued_at-1": intent.issued_at - 1,
            "issued_at": intent.issued_at,
            "expires_at-1": intent.expires_at - 1,
            "expires_at": intent.expires_at,
            "-2h": intent.issued_at - TWO_HOURS_MS,
            "+2h": intent.issued_at + TWO_HOURS_MS,
        }[edge]
        return self.driver.set_executor_time(now_ms), None
