"""Every public operation of the kernel facade and every route of the request surface is driven
by some machine's rules, measured with a spy on the facade and the surface during rules only."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from helmmodel.harness import runner
from helmmodel.harness.stateful import machine_for
from helmmodel.kernel import Kernel
from helmmodel.kernel.api import ROUTES, RequestSurface

MACHINES = Path(__file__).resolve().parents[2] / "machines"

# Operations no rule calls, each with the reason (never skipped silently).
SET_UP_ONLY: dict[str, str] = {}
FACADE = sorted(
    name
    for name, value in vars(Kernel).items()
    if not name.startswith("_") and inspect.isfunction(value)
)
HANDLERS = sorted({route.handler for route in ROUTES})


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
    for machine in runner.load_machines(MACHINES).values():
        run_state_machine_as_test(machine_for(machine, "spied", kernel), settings=quick)
    return seen


def test_the_lists_are_read_from_the_code() -> None:
    """The facade and the route table are enumerated, and the set-up list names real ones."""
    assert {"register_tool", "put_rule", "handle", "call"} <= set(FACADE)
    assert len(HANDLERS) == len(ROUTES)
    assert set(SET_UP_ONLY) <= set(FACADE)


@pytest.mark.parametrize("operation", [name for name in FACADE if name not in SET_UP_ONLY])
def test_every_facade_operation_has_a_rule(driven: set[str], operation: str) -> None:
    """Some machine's rule calls the facade operation."""
    assert operation in driven


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_route_has_a_rule(driven: set[str], handler: str) -> None:
    """Some machine's rule reaches the route's handler through the request surface."""
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
