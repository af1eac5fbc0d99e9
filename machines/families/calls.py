"""Intent submission: the four phases one by one, whole calls, and idempotent retries."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import consumes

from helmmodel.harness.stateful import transition
from machines.world import (
    Stage,
    WorldMachine,
    arguments,
    begun,
    contexts,
    decided,
    executed,
    intended,
    principals,
    tools,
)

# decide and issue_intent each take what the phase before made, and a call reaches its intent
# only if each is picked in turn among a machine's rules: they weigh more, so that calls flow
# through the phases among the kernel machine's fifty rules. execute_intent does not: the
# intents it consumes are what a dozen rules that present faults and retries read.
PHASE_WEIGHT = 2


class CallRules(WorldMachine):
    """Intent submission: the four phases one by one, whole calls, and idempotent retries."""

    @transition(target=begun, principal=principals, tool=tools, args=arguments, context=contexts)
    def begin_call(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        call, outcome = self.driver.begin(principal, tool, args, context)
        return outcome, call

    @transition(target=decided, call=consumes(begun), weight=PHASE_WEIGHT)
    def decide_call(self, call: Any) -> tuple[dict[str, Any], Any]:
        decision, outcome = self.driver.decide(call)
        return outcome, Stage(decision, call.effect) if decision is not None else None

    @transition(target=intended, entry=consumes(decided), weight=PHASE_WEIGHT)
    def issue_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        intent, outcome = self.driver.issue_intent(entry.decision, entry.effect)
        return outcome, attrs.evolve(entry, intent=intent) if intent is not None else None

    @transition(target=executed, entry=consumes(intended))
    def execute_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        _, outcome = self.driver.execute(entry.decision, entry.intent, entry.effect)
        return outcome, entry

    @transition(target=executed, entry=intended)
    def retry_execution(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Execute an authorized intent again (or for the first time): an idempotent retry."""
        _, outcome = self.driver.execute(entry.decision, entry.intent, entry.effect)
        return outcome, entry

    @transition(entry=intended)
    def reissue_intent(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Ask again for an intent for an authorized decision (a client retrying phase 3)."""
        _, outcome = self.driver.issue_intent(entry.decision, entry.effect)
        return outcome, None

    @transition(entry=executed)
    def verify_receipt(self, entry: Stage) -> tuple[dict[str, Any], Any]:
        """Present a call's genuine receipt to the kernel's verifier."""
        receipt = self.kernel.executor.executed.get(entry.decision.id)
        if receipt is None:
            return {"receipt": "none"}, None
        return self.driver.verify_receipt(receipt), None

    @transition(
        target=intended,
        principal=principals,
        tool=st.sampled_from(["echo", "sum", "fail"]),
        x=st.integers(0, 10),
        context=contexts,
    )
    def authorize_call(
        self, principal: str, tool: str, x: int, context: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        """Begin, decide and issue an intent in one step, to feed the executor's rules with
        authorized intents (the phase rules above interleave the same phases one by one)."""
        call, outcome = self.driver.begin(principal, tool, {"x": x}, context)
        if call is None:
            return outcome, None
        decision, decided = self.driver.decide(call)
        outcome = {**outcome, **decided}  # every phase's answer counts towards coverage
        if decision is None or decision.verdict != "ALLOW":
            return outcome, None
        intent, issued = self.driver.issue_intent(decision, call.effect)
        outcome = {**outcome, **issued}
        return outcome, Stage(decision, call.effect, intent) if intent is not None else None

    @transition(principal=principals, tool=tools, args=arguments, context=contexts)
    def whole_call(
        self, principal: str, tool: str, args: dict[str, Any], context: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        return self.driver.whole_call(principal, tool, args, context), None
