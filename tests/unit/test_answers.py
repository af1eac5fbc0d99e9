"""Operations whose input the checker judges itself (clock times, rotations past the ring's
limit) and presented malformed signatures: the checker's own judgement, the driver's record of the
kernel's answer, and malformed_input_rejected over it."""

from __future__ import annotations

from typing import Any

import pytest

from helmmodel.checker.driver import Driver
from helmmodel.checker.ghost import KeyRecord
from helmmodel.checker.invariants import Checker, malformed_input_rejected
from helmmodel.checker.refusals import time_ms_valid
from helmmodel.errors import InvariantViolation, UsageError
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.mutants.catalogue import BY_NAME

SAFE_MAX = 2**53 - 1


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (0, True),
        (SAFE_MAX, True),
        (-SAFE_MAX, True),
        (SAFE_MAX + 1, False),
        (-SAFE_MAX - 1, False),
        (2**63, False),
        (0.5, False),
        (1.0, False),
        (True, False),
        ("0", False),
        (None, False),
    ],
)
def test_time_ms_valid_is_the_safe_integer_range(value: Any, valid: bool) -> None:
    """The checker accepts exactly the integers (not bools) within ±(2^53−1)."""
    assert valid is time_ms_valid(value)


def answers(driver: Driver) -> list[tuple[str, bool, bool]]:
    return [(a.operation, a.expected, a.accepted) for a in driver.ghost.answers]


@pytest.mark.parametrize("setter", ["set_guardian_time", "set_executor_time"])
def test_a_clock_out_of_range_is_refused_and_judged(setter: str) -> None:
    """The correct kernel refuses a time past the range; the ghost keeps its time; the invariant
    holds over the expected refusal and the expected acceptance."""
    driver = Driver.start(Kernel, KernelConfig())
    set_time = getattr(driver, setter)
    assert {"error": "InvalidInput"} == set_time(SAFE_MAX + 1)
    assert 7 == next(iter(set_time(7).values()))
    assert [(setter, False, False), (setter, True, True)] == answers(driver)
    assert (0, 7) in {(driver.ghost.guardian_ms, driver.ghost.executor_ms)} | {
        (driver.ghost.executor_ms, driver.ghost.guardian_ms)
    }
    Checker(driver.kernel, driver.ghost).check(malformed_input_rejected)


class UncheckedClockKernel(Kernel):
    """Sets the executor's clock to any integer, without the safe-range check."""

    def set_executor_time(self, now_ms: int) -> None:
        self.executor_clock.now_ms = now_ms


def test_a_clock_set_past_the_range_is_a_violation() -> None:
    """A kernel that accepts 2^53 for the executor's clock violates malformed_input_rejected."""
    driver = Driver.start(UncheckedClockKernel, KernelConfig())
    driver.set_executor_time(2**53)
    assert 0 == driver.ghost.executor_ms  # the ghost keeps the time the spec allows
    with pytest.raises(InvariantViolation, match="set_executor_time"):
        Checker(driver.kernel, driver.ghost).check(malformed_input_rejected)


def test_rotation_past_the_limit_is_refused_and_judged() -> None:
    """A ring of limit 2 makes key-0002; the next rotation is refused, as the checker expects."""
    driver = Driver.start(Kernel, KernelConfig(keys_max=2))
    assert {"rotated": "key-0002"} == driver.rotate_key()
    assert not driver.ghost.keys.rotated_past_limit
    assert {"error": "InvalidInput"} == driver.rotate_key()
    assert driver.ghost.keys.rotated_past_limit
    assert [("rotate_key", True, True), ("rotate_key", False, False)] == answers(driver)
    Checker(driver.kernel, driver.ghost).check(malformed_input_rejected)


def test_rotation_past_the_limit_by_a_mutant_is_a_violation() -> None:
    """keyring-rotates-past-limit makes key-0003 past a limit of 2: the ghost makes none."""
    driver = Driver.start(BY_NAME["keyring-rotates-past-limit"].factory, KernelConfig(keys_max=2))
    driver.rotate_key()
    assert {"rotated": "key-0003", "accepted": "invalid"} == driver.rotate_key()
    assert 2 == driver.ghost.keys.count
    with pytest.raises(InvariantViolation, match="rotate_key"):
        Checker(driver.kernel, driver.ghost).check(malformed_input_rejected)


@pytest.fixture
def signed() -> tuple[KeyRecord, bytes, str]:
    """The checker's key record and a genuine signature of key-0001 over a message."""
    keys = KeyRecord(b"seed", 9999)
    keys.derive()
    message = b"{}"
    return keys, message, keys.private_key("key-0001").sign(message).hex()


def test_the_checker_verifies_a_genuine_signature(signed: tuple[KeyRecord, bytes, str]) -> None:
    keys, message, signature = signed
    assert keys.signature_ok("ed25519:key-0001", message, signature)


@pytest.mark.parametrize(
    "spelling",
    [
        str.upper,
        lambda hex_: " ".join(hex_[i : i + 2] for i in range(0, 128, 2)),
        lambda hex_: hex_ + "\n",
        bytes.fromhex,
        lambda hex_: None,
    ],
)
def test_the_checker_refuses_another_spelling_of_a_signature(
    signed: tuple[KeyRecord, bytes, str], spelling: Any
) -> None:
    """Only 128 lowercase hex digits are a signature, though fromhex reads the others."""
    keys, message, signature = signed
    assert not keys.signature_ok("ed25519:key-0001", message, spelling(signature))


@pytest.mark.parametrize("signature_type", [None, 1, "rsa:key-0001"])
def test_the_checker_refuses_a_malformed_signature_type(
    signed: tuple[KeyRecord, bytes, str], signature_type: Any
) -> None:
    keys, message, signature = signed
    assert not keys.signature_ok(signature_type, message, signature)
    assert keys.live(signature_type) is (type(signature_type) is str)


@pytest.mark.parametrize("form", ["signature-uppercase", "signature-spaced"])
def test_a_respelt_intent_is_refused_unless_the_executor_matches_bytes(form: str) -> None:
    """An intent that ran, presented again with its signature spelt otherwise: the checker
    predicts INTENT_SIGNATURE_INVALID; executor-retry-matches-signature-bytes returns a receipt."""
    from machines.families.signers import malformed

    mutant = BY_NAME["executor-retry-matches-signature-bytes"].factory
    for factory, ran_again in ((Kernel, False), (mutant, True)):
        driver = Driver.start(factory, KernelConfig())
        driver.register_tool("echo", {"type": "object"})
        driver.put_rule("echo", {"id": "r", "logic": "AND"})
        call, _ = driver.begin("alice", "echo", {}, {})
        assert call is not None
        decision, _ = driver.decide(call)
        assert decision is not None
        intent, _ = driver.issue_intent(decision, call.effect)
        assert intent is not None
        assert {"executed": "SUCCESS"} == driver.execute(decision, intent, call.effect)[1]
        respelt = malformed(intent, form)
        _, outcome = driver.execute(decision, respelt, call.effect, fault=True)
        assert "INTENT_SIGNATURE_INVALID" == driver.ghost.executions[-1].expected_code
        assert ("executed" in outcome) is ran_again


# --- arguments of the wrong type, presented by fault rules ---------------------------------------


class TruthyFreezeKernel(Kernel):
    """Takes any truthy value for the freeze switch."""

    def set_frozen(self, frozen: bool) -> None:
        self.guardian.set_frozen(bool(frozen))


class FreezeThenRefuseKernel(Kernel):
    """Refuses a non-boolean switch, but only after it has frozen."""

    def set_frozen(self, frozen: bool) -> None:
        self.guardian.set_frozen(True)
        super().set_frozen(frozen)


def present_freeze(driver: Driver, frozen: Any) -> dict[str, Any]:
    return driver.present_arguments(
        "set_frozen", {"frozen": frozen}, lambda: driver.kernel.set_frozen(frozen)
    )


def test_wrong_typed_arguments_are_refused_and_judged() -> None:
    driver = Driver.start(Kernel, KernelConfig())
    assert {"arguments": "set_frozen", "error": "InvalidInput"} == present_freeze(driver, 1)
    assert [("set_frozen", False, False)] == answers(driver)
    Checker(driver.kernel, driver.ghost).check(malformed_input_rejected)


@pytest.mark.parametrize(
    ("kernel", "says"),
    [
        (TruthyFreezeKernel, "was accepted"),
        (FreezeThenRefuseKernel, "was refused but changed state"),
    ],
)
def test_a_kernel_that_takes_or_half_takes_wrong_arguments_is_a_violation(
    kernel: type[Kernel], says: str
) -> None:
    driver = Driver.start(kernel, KernelConfig())
    present_freeze(driver, 1)
    with pytest.raises(InvariantViolation, match=f"set_frozen.*{says}"):
        Checker(driver.kernel, driver.ghost).check(malformed_input_rejected)


def test_a_fault_rule_may_present_only_arguments_the_checker_refuses() -> None:
    driver = Driver.start(Kernel, KernelConfig())
    with pytest.raises(UsageError, match="presents refused arguments"):
        present_freeze(driver, True)
