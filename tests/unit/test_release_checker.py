"""The checker under the release's semantics (spec section 12): which invariants judge a run,
the release's two invariants, the page claim and its divergence report, traces that say their
semantics, and ``run --semantics``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import attrs
import pytest

from helmmodel.checker.driver import Driver
from helmmodel.checker.encoding import go_rfc3339
from helmmodel.checker.invariants import (
    INVARIANT_NAMES,
    PAGE_CLAIM_NAMES,
    RELEASE_ONLY,
    Checker,
    invariant_names,
    reason_code_iff_allow,
)
from helmmodel.cli import main
from helmmodel.errors import InvariantViolation
from helmmodel.harness import divergence, profiles, runner, show, trace
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.semantics import CHAOS_PAGE, HELM_AI_KERNEL, FreezeReceipt, rfc3339_ms

MACHINES = Path(__file__).resolve().parents[2] / "machines"
RELEASE = KernelConfig(semantics=HELM_AI_KERNEL)


def test_each_semantics_is_judged_by_its_own_invariants() -> None:
    page, release = invariant_names(CHAOS_PAGE), invariant_names(HELM_AI_KERNEL)
    assert not RELEASE_ONLY & set(page)
    assert release == INVARIANT_NAMES
    assert set(page) == set(INVARIANT_NAMES) - RELEASE_ONLY
    claims = tuple(sorted(PAGE_CLAIM_NAMES))
    assert invariant_names(HELM_AI_KERNEL, claims) == INVARIANT_NAMES + claims
    with pytest.raises(ValueError, match="not page claims"):
        invariant_names(HELM_AI_KERNEL, ("freeze_respected",))


def started(factory: type[Kernel] = Kernel) -> tuple[Driver, Checker]:
    driver = Driver.start(factory, RELEASE)
    driver.kernel.register_tool("echo", {"type": "object"})
    return driver, Checker(driver.kernel, driver.ghost)


def test_the_checker_knows_the_semantics_from_the_configuration() -> None:
    assert Driver.start(Kernel, RELEASE).ghost.release
    assert not Driver.start(Kernel, KernelConfig()).ghost.release


class UnreceiptedKernel(Kernel):
    """A release kernel whose decisions are never receipted."""

    def __init__(self, config: KernelConfig | None = None) -> None:
        super().__init__(config)
        self.guardian.semantics = attrs.evolve(self.semantics, decision_receipts=False)


def decide_once(driver: Driver) -> None:
    call, _ = driver.begin("alice", "nothing", {}, {})
    assert call is not None
    driver.decide(call)


def test_a_decision_without_its_receipt_breaks_every_decision_receipted() -> None:
    driver, checker = started(UnreceiptedKernel)
    decide_once(driver)
    with pytest.raises(InvariantViolation, match="has 0 decision receipt"):
        checker.check_all()


def test_a_receipted_decision_keeps_every_decision_receipted() -> None:
    driver, checker = started()
    decide_once(driver)
    checker.check_all()
    checker.check_all(full=True)


class MisdatedFreezeKernel(Kernel):
    """A release kernel whose freeze receipts carry the executor's clock."""

    def set_frozen(self, frozen: bool, principal: str = "operator") -> FreezeReceipt | None:
        receipt = super().set_frozen(frozen, principal)
        if receipt is None:
            return None
        return attrs.evolve(receipt, timestamp=self.executor_clock.now_ms)


def test_freeze_transitions_are_judged_by_the_checker() -> None:
    driver, checker = started()
    driver.set_frozen(True)
    assert driver.set_frozen(True) == {"frozen": True, "refused": "ALREADY_FROZEN"}
    driver.set_frozen(False)
    checker.check_all()
    driver, checker = started(MisdatedFreezeKernel)
    driver.set_executor_time(5)
    driver.set_frozen(True)
    with pytest.raises(InvariantViolation, match="freeze receipt says"):
        checker.check_all()


@pytest.mark.parametrize("ms", [0, 1_500, -1, 253_402_300_800_000, -(2**53 - 1), 2**53 - 1])
def test_the_checker_writes_times_with_its_own_code(ms: int) -> None:
    assert go_rfc3339(ms) == rfc3339_ms(ms)


def test_the_divergence_report_shows_the_page_claim_with_a_minimal_trace(tmp_path: Path) -> None:
    machines = runner.load_machines(MACHINES)
    found = divergence.show_all(
        machines, tmp_path, profile_settings=profiles.load("ci"), profile="ci"
    )
    assert [d.name for d in found] == ["freeze_stops_everything_new"]
    shown = found[0]
    assert shown.shown and shown.saved is not None
    assert shown.minimal_length is not None and shown.minimal_length <= 4
    saved = trace.load(shown.saved)
    assert (saved.semantics, saved.invariant, saved.status) == (
        HELM_AI_KERNEL,
        "freeze_stops_everything_new",
        "open",
    )
    assert json.loads(shown.saved.read_text())["semantics"] == HELM_AI_KERNEL
    out = io.StringIO()
    assert divergence.report(found, out) == 0
    assert "1-minimal in" in out.getvalue() and "12.2" in out.getvalue()


def test_a_claim_that_is_not_shown_fails_the_report() -> None:
    claim = divergence.PAGE_CLAIMS[0]
    out = io.StringIO()
    unshown = divergence.Divergence(claim=claim, shown=False, message="nothing fired")
    assert divergence.report([unshown], out) == 1
    assert "NOT SHOWN" in out.getvalue()


def test_a_chaos_page_trace_names_no_semantics(tmp_path: Path) -> None:
    steps = [{"rule": "r", "args": {}, "outcome": {}, "result": None, "digest": "0" * 64}]
    page = trace.Trace(machine="m", kernel="correct", invariant="x", message="", steps=steps)
    assert "semantics" not in page.to_json()
    release = attrs.evolve(page, semantics=HELM_AI_KERNEL)
    loaded = trace.from_json(release.to_json(), "a file")
    assert loaded.semantics == HELM_AI_KERNEL
    assert trace.from_json(page.to_json(), "a file").semantics == CHAOS_PAGE


def test_run_semantics_runs_the_release_and_reports_its_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "run",
            "operator_freeze",
            "--semantics",
            "helm-ai-kernel",
            "--profile",
            "ci",
            "--max-examples",
            "20",
            "--no-coverage",
            "--corpus",
            str(tmp_path),
            "--machines",
            str(MACHINES),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "in helm-ai-kernel semantics" in out
    assert "divergence report" in out and "shown on operator_freeze" in out


def test_run_refuses_an_unknown_semantics(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--semantics", "helm"])
    assert exited.value.code == 2
    assert "invalid choice: 'helm'" in capsys.readouterr().err


class PageCodesKernel(Kernel):
    """A release kernel that still denies an unknown tool with the chaos page's code."""

    def __init__(self, config: KernelConfig | None = None) -> None:
        super().__init__(config)
        self.guardian.semantics = attrs.evolve(
            self.semantics, unknown_tool_code="ERR_TOOL_NOT_FOUND"
        )


def test_a_code_outside_helm_s_registry_breaks_reason_code_iff_allow() -> None:
    driver, checker = started(PageCodesKernel)
    decide_once(driver)
    with pytest.raises(InvariantViolation, match="no DENY code of HELM's reason-code registry"):
        checker.check(reason_code_iff_allow)
    driver, checker = started()
    decide_once(driver)
    checker.check(reason_code_iff_allow)


def test_a_release_trace_prints_as_a_program_in_its_semantics() -> None:
    saved = next((MACHINES.parent / "tests" / "regressions" / "operator_freeze").glob("*.json"))
    printed = show.program(trace.load(saved))
    assert "'helm-ai-kernel', ('freeze_stops_everything_new',))" in printed
    page = attrs.evolve(trace.load(saved), semantics=CHAOS_PAGE, invariant="freeze_respected")
    assert "helm-ai-kernel" not in show.program(page)
