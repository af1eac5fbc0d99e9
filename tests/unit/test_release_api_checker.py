"""Invariant 27, ``release_api_faithful``: each clause holds for the correct kernel and is broken
by a kernel that breaks it (a facade read, the receipt.v5 verifier, an evaluation over HTTP, a
refusal that changes state, receipts served over HTTP); and the driver attaches the release's API
with the world's configuration, whose trust keys and fence key the machines sign with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from machines.families.release import (
    FENCE_KEY,
    fence_body,
    release_headers,
    tampered,
    world_signed,
)
from machines.world import trust_public

from helmmodel.checker.driver import (
    RELEASE_ADMIN_KEY,
    RELEASE_PRINCIPAL,
    RELEASE_TENANT,
    RELEASE_WORKSPACE,
    Driver,
    release_config,
)
from helmmodel.checker.invariants import Checker
from helmmodel.errors import InvariantViolation
from helmmodel.harness import runner
from helmmodel.harness.stateful import RuleChoice, machine_for, transitions
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.api import Response, json_response
from helmmodel.kernel.helm_api import HelmSurface
from helmmodel.kernel.records import Receipt
from helmmodel.kernel.semantics import HELM_AI_KERNEL

MACHINES = Path(__file__).resolve().parents[2] / "machines"
RELEASE = KernelConfig(semantics=HELM_AI_KERNEL)
EVALUATE = b'{"tool":"echo","effect_level":"E1","session_id":"s0","args":{"x":1}}'


def started(factory: type[Kernel] = Kernel) -> tuple[Driver, Checker]:
    driver = Driver.start(factory, RELEASE)
    driver.kernel.register_tool("echo", {"type": "object"})
    driver.ghost.register_tool("echo", {"type": "object"}, False)
    return driver, Checker(driver.kernel, driver.ghost)


def step(driver: Driver) -> None:
    driver.ghost.step += 1


def decided(driver: Driver, session: str = "s0") -> str:
    """One evaluation through the facade; the id of its decision receipt."""
    step(driver)
    driver.evaluate("alice", "echo", {"x": 1}, {"session_id": session})
    return driver.ghost.chains[session][-1]


def evaluate_over_http(driver: Driver) -> None:
    step(driver)
    driver.release_http("POST", "/api/v1/evaluate", release_headers("admin"), EVALUATE)


def read_over_http(driver: Driver, path: str) -> None:
    step(driver)
    driver.release_http("GET", path, release_headers("admin"), b"")


def test_the_driver_attaches_the_release_api_with_the_world_s_configuration() -> None:
    driver, _ = started()
    release = driver.kernel.surface.release
    assert isinstance(release, HelmSurface)
    config = release_config()
    assert (config.admin_key, config.tenant_id, config.principal_id) == (
        RELEASE_ADMIN_KEY,
        RELEASE_TENANT,
        RELEASE_PRINCIPAL,
    )
    assert config.workspace_id == RELEASE_WORKSPACE and config.clock is None
    # The world signs fence commands with the private half of the key the driver configures.
    assert [FENCE_KEY.public_key().public_bytes_raw()] == list(config.fence_keys.values())
    assert Driver.start(Kernel, KernelConfig()).kernel.surface.release is None


def test_the_correct_kernel_keeps_release_api_faithful() -> None:
    driver, checker = started()
    receipt_id = decided(driver)
    evaluate_over_http(driver)
    for read in (driver.sessions, lambda: driver.session_receipts("s0")):
        step(driver)
        read()
    for receipt_read in (driver.receipt, driver.receipt_wire):
        step(driver)
        receipt_read(receipt_id)
    step(driver)
    driver.public_key("key-0001")
    for path in (
        "/api/v1/receipts",
        "/api/v1/receipts?session_id=s0",
        f"/api/v1/receipts/{receipt_id}",
        "/api/v1/proofgraph/sessions",
        "/api/v1/proofgraph/sessions/s0/receipts",
    ):
        read_over_http(driver, path)
    step(driver)
    driver.release_http("POST", "/api/v1/evaluate", release_headers("none"), EVALUATE)
    checker.check_all(full=True)
    assert [200] * 5 + [401] == [e.status for e in driver.ghost.release_http[1:]]


# --- facade reads ---------------------------------------------------------------------------


class SessionsDroppedKernel(Kernel):
    def sessions(self) -> tuple[str, ...]:
        return super().sessions()[1:]


class ChainReversedKernel(Kernel):
    def session_receipts(self, session_id: str) -> tuple[Receipt, ...]:
        return tuple(reversed(super().session_receipts(session_id)))


class EnvelopeUnkeyedKernel(Kernel):
    def receipt_wire(self, receipt_id: str) -> dict[str, Any] | None:
        wire = super().receipt_wire(receipt_id)
        return {k: v for k, v in wire.items() if k != "key_id"} if wire else wire


class OtherPublicKeyKernel(Kernel):
    def public_key(self, key_id: str) -> bytes:
        return bytes(32)


@pytest.mark.parametrize(
    ("factory", "read", "message"),
    [
        (SessionsDroppedKernel, "sessions", r"sessions\(\) answered \[\], not the checker"),
        (ChainReversedKernel, "session_receipts", "not the checker's chain"),
        (EnvelopeUnkeyedKernel, "receipt_wire", "not the checker's"),
        (OtherPublicKeyKernel, "public_key", "not the checker's"),
    ],
)
def test_a_facade_read_the_checker_does_not_know_breaks_it(
    factory: type[Kernel], read: str, message: str
) -> None:
    driver, checker = started(factory)
    receipt_id = decided(driver)
    decided(driver)
    step(driver)
    argument = {
        "sessions": (),
        "session_receipts": ("s0",),
        "receipt_wire": (receipt_id,),
        "public_key": ("key-0001",),
    }[read]
    getattr(driver, read)(*argument)
    with pytest.raises(InvariantViolation, match=message):
        checker.check_all()


# --- the receipt.v5 verifier ------------------------------------------------------------------


class TrustingVerifierKernel(Kernel):
    def verify_release_receipt(self, receipt: Mapping[str, Any]) -> None:
        return None


class SessionlessVerifierKernel(Kernel):
    def verify_release_receipt(self, receipt: Mapping[str, Any]) -> None:
        # Verifies the receipt as if its session were not signed.
        super().verify_release_receipt({**receipt, "session_id": "s0"})


def test_the_verifier_must_accept_exactly_what_the_checker_accepts() -> None:
    driver, checker = started()
    step(driver)
    driver.import_trust_key("auditor-1", trust_public("auditor-1"))
    envelope = world_signed(driver.kernel.receipt_wire(decided(driver)) or {}, "auditor-1")
    for presented in (envelope, tampered(envelope, "status"), tampered(envelope, "key_id")):
        step(driver)
        driver.verify_release_receipt(presented)
    step(driver)
    driver.revoke_key("auditor-1")
    step(driver)
    driver.verify_release_receipt(envelope)
    accepted = [check.accepted for check in driver.ghost.release_verifications]
    assert [True, False, False, False] == accepted
    checker.check_all(full=True)


@pytest.mark.parametrize("factory", [TrustingVerifierKernel, SessionlessVerifierKernel])
def test_a_verifier_that_accepts_a_tampered_envelope_breaks_it(factory: type[Kernel]) -> None:
    driver, checker = started(factory)
    step(driver)
    driver.import_trust_key("auditor-1", trust_public("auditor-1"))
    envelope = world_signed(driver.kernel.receipt_wire(decided(driver)) or {}, "auditor-1")
    step(driver)
    driver.verify_release_receipt(tampered(envelope, "session_id"))
    with pytest.raises(InvariantViolation, match="accepted an envelope the checker refuses"):
        checker.check_all()


# --- the HTTP API -----------------------------------------------------------------------------


def _rewritten(response: Response, change: dict[str, Any]) -> Response:
    return json_response(response.status, {**json.loads(response.body), **change})


class LamportOffByOneKernel(Kernel):
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        response = super().handle(method, path, headers, body)
        if path == "/api/v1/evaluate" and response.status == 200:
            return _rewritten(
                response, {"lamport_clock": json.loads(response.body)["lamport_clock"] + 1}
            )
        return response


class LastReceiptIdKernel(Kernel):
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        response = super().handle(method, path, headers, body)
        if path == "/api/v1/evaluate" and response.status == 200:
            return _rewritten(response, {"receipt_id": "rcpt-dec-000001-decision"})
        return response


class RefusalRotatesKernel(Kernel):
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        response = super().handle(method, path, headers, body)
        if 400 <= response.status < 500:
            self.rotate_key()
        return response


class OneReceiptShortKernel(Kernel):
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        response = super().handle(method, path, headers, body)
        if path.startswith("/api/v1/proofgraph/sessions/") and response.status == 200:
            return json_response(200, json.loads(response.body)[:-1])
        return response


class ForeignEnvelopeKernel(Kernel):
    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        response = super().handle(method, path, headers, body)
        if path.startswith("/api/v1/receipts/") and response.status == 200:
            return _rewritten(response, {"executor_id": "someone-else"})
        return response


def test_an_evaluation_answered_with_another_lamport_breaks_it() -> None:
    driver, checker = started(LamportOffByOneKernel)
    evaluate_over_http(driver)
    with pytest.raises(InvariantViolation, match="its lamport_clock is 2; the decision's is 1"):
        checker.check_all()


def test_an_evaluation_answered_with_another_receipt_breaks_it() -> None:
    driver, checker = started(LastReceiptIdKernel)
    decided(driver)
    evaluate_over_http(driver)
    with pytest.raises(InvariantViolation, match="its receipt_id is 'rcpt-dec-000001-decision'"):
        checker.check_all()


def test_a_refusal_that_changes_state_breaks_it() -> None:
    driver, checker = started(RefusalRotatesKernel)
    step(driver)
    driver.release_http("POST", "/api/v1/evaluate", release_headers("admin"), b'{"tool":')
    with pytest.raises(InvariantViolation, match="a 400 changed the kernel's state"):
        checker.check_all()


def test_a_session_served_one_receipt_short_breaks_it() -> None:
    driver, checker = started(OneReceiptShortKernel)
    decided(driver)
    decided(driver)
    read_over_http(driver, "/api/v1/proofgraph/sessions/s0/receipts")
    with pytest.raises(InvariantViolation, match="not the checker's chain"):
        checker.check_all()


def test_a_receipt_served_unlike_the_checker_s_envelope_breaks_it() -> None:
    driver, checker = started(ForeignEnvelopeKernel)
    read_over_http(driver, f"/api/v1/receipts/{decided(driver)}")
    with pytest.raises(InvariantViolation, match="not the checker's"):
        checker.check_all()


def test_a_trust_key_added_over_http_is_judged_and_followed() -> None:
    driver, checker = started()
    body = {"tenant_id": RELEASE_TENANT, "key_id": "auditor-2"}
    public = trust_public("auditor-2").hex()
    for action, extra, status in (
        ("add", {"public_key": public}, 200),
        ("add", {"public_key": public}, 200),  # the same key again: no error
        ("revoke", {}, 200),
        ("add", {"public_key": public}, 400),  # a revoked id is never held again
    ):
        step(driver)
        data = json.dumps({**body, **extra}).encode()
        path = f"/api/v1/trust/keys/{action}"
        driver.release_http("POST", path, release_headers("admin"), data, trust=action)
        assert status == driver.ghost.release_http[-1].expected_status
    assert "auditor-2" in driver.ghost.keys.revoked_at
    checker.check_all(full=True)


def test_a_fence_of_the_served_scope_freezes_the_kernel_and_the_ghost() -> None:
    driver, checker = started()
    step(driver)
    body = fence_body("cmd-1", 1, "served", "now", "good", 0)
    driver.release_http("POST", "/internal/emergency-stop/fence", release_headers("service"), body)
    assert (201, True, True) == (
        driver.ghost.release_http[-1].status,
        driver.ghost.frozen,
        driver.kernel.guardian.frozen,
    )
    step(driver)
    driver.release_http("POST", "/internal/emergency-stop/fence", release_headers("service"), body)
    assert 200 == driver.ghost.release_http[-1].status  # an exact replay
    step(driver)
    stale = fence_body("cmd-2", 1, "served", "now", "good", 0)
    driver.release_http("POST", "/internal/emergency-stop/fence", release_headers("service"), stale)
    assert 409 == driver.ghost.release_http[-1].status
    checker.check_all(full=True)


def test_the_release_s_rules_stay_out_of_a_chaos_page_run() -> None:
    """Under the chaos page RuleChoice draws among the other rules only, so a machine's stream
    there is what it was without the release's rules; under the release they are drawn."""
    machine = runner.load_machines(MACHINES)["release_api"]
    page, release = machine(), machine_for(machine, "correct", Kernel, HELM_AI_KERNEL)()
    names = {name for name, spec in transitions(machine).items() if spec.release}
    assert names and not names & set(RuleChoice(page).names)
    assert names <= set(RuleChoice(release).names)
