"""Every public operation of the kernel facade, every route of the request surface and every
route of the release's API (``helm_api.HelmSurface``, the emergency-stop fence included) is driven
by some machine's rules under either semantics, measured with a spy on the facade and the
surfaces during rules only."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from helmmodel.checker import driver
from helmmodel.harness import runner
from helmmodel.harness.stateful import machine_for
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.api import ROUTES, RequestSurface
from helmmodel.kernel.helm_api import HelmSurface
from helmmodel.kernel.semantics import CHAOS_PAGE, HELM_AI_KERNEL

MACHINES = Path(__file__).resolve().parents[2] / "machines"

# Operations no rule calls, each with the reason (never skipped silently).
SET_UP_ONLY: dict[str, str] = {}
FACADE = sorted(
    name
    for name, value in vars(Kernel).items()
    if not name.startswith("_") and inspect.isfunction(value)
)
HANDLERS = sorted({route.handler for route in ROUTES})
# The release's route handlers: its public methods but routing and the receipt writer.
RELEASE_HANDLERS = sorted(
    {
        name
        for name, value in vars(HelmSurface).items()
        if inspect.isfunction(value)
        and not name.startswith("_")
        and name not in ("handle", "serves", "receipt_json")
    }
)


def _in_rule() -> bool:
    """Whether a traced rule is running (set-up and the harness's reads are not operations)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "run_transition":
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _spied(cls: type[Any], names: list[str], seen: set[str]) -> type[Any]:
    """A subclass of *cls* whose methods *names* note, in *seen*, each call made in a rule."""

    def wrap(name: str) -> Any:
        original = getattr(cls, name)

        def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _in_rule():
                seen.add(name)
            return original(self, *args, **kwargs)

        return spy

    return type(f"Spied{cls.__name__}", (cls,), {name: wrap(name) for name in names})


@pytest.fixture(scope="module")
def driven() -> set[str]:
    """The facade operations and surface handlers that every machine's rules reached."""
    seen: set[str] = set()
    surface = _spied(RequestSurface, HANDLERS, seen)
    kernel = _spied(Kernel, FACADE, seen)
    kernel.surface_class = surface
    quick = settings(
        max_examples=25, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    release = driver.HelmSurface
    driver.HelmSurface = _spied(HelmSurface, RELEASE_HANDLERS, seen)  # type: ignore[misc]
    try:
        for machine in runner.load_machines(MACHINES).values():
            for semantics in (CHAOS_PAGE, HELM_AI_KERNEL):
                spied = machine_for(machine, "spied", kernel, semantics)
                run_state_machine_as_test(spied, settings=quick)
    finally:
        driver.HelmSurface = release  # type: ignore[misc]
    return seen


def test_the_lists_are_read_from_the_code() -> None:
    """The facade and the route table are enumerated, and the set-up list names real ones."""
    assert {"register_tool", "put_rule", "handle", "call"} <= set(FACADE)
    assert len(HANDLERS) == len(ROUTES)
    # One handler per path of the release's table, but /version and /api/v1/version share one.
    release = HelmSurface(Kernel(KernelConfig(semantics=HELM_AI_KERNEL)))
    assert len(release._exact) + len(release._prefixes) - 1 == len(RELEASE_HANDLERS)
    assert {"fence", "evaluate", "add_trust_key"} <= set(RELEASE_HANDLERS)
    assert set(SET_UP_ONLY) <= set(FACADE)


@pytest.mark.parametrize("operation", [name for name in FACADE if name not in SET_UP_ONLY])
def test_every_facade_operation_has_a_rule(driven: set[str], operation: str) -> None:
    """Some machine's rule calls the facade operation."""
    assert operation in driven


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_route_has_a_rule(driven: set[str], handler: str) -> None:
    """Some machine's rule reaches the route's handler through the request surface."""
    assert handler in driven


@pytest.mark.parametrize("handler", RELEASE_HANDLERS)
def test_every_release_route_has_a_rule(driven: set[str], handler: str) -> None:
    """Some machine's rule reaches the release route's handler through the request surface."""
    assert handler in driven


def test_the_spy_sees_only_rules() -> None:
    """Calls made in set-up (the budgets, tokens and tools every machine starts with) are not
    counted as driven, so the tests above can fail."""
    seen: set[str] = set()
    kernel = _spied(Kernel, FACADE, seen)
    made: list[Kernel] = []

    def factory(config: Any) -> Kernel:
        made.append(kernel(config))
        return made[-1]

    machine_for(runner.load_machines(MACHINES)["kernel"], "spied", factory)()
    assert made and made[-1].budgets.ids(), "set-up made no budget: the test shows nothing"
    assert set() == seen
