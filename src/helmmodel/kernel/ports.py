"""What the request surface needs of a kernel, as a Protocol, so that ``api.py`` never names
the facade (the facade builds the surface; the surface calls back through this port)."""

from __future__ import annotations

import threading
from typing import Protocol

from helmmodel.kernel.error_budget import ErrorBudget
from helmmodel.kernel.records import CallOutcome, Principal, Request


class SurfaceKernel(Protocol):
    """The kernel as the request surface sees it: its lock, error budget, tokens and operations."""

    lock: threading.RLock
    error_budget: ErrorBudget
    tokens: dict[str, Principal]

    def call(self, request: Request) -> CallOutcome:
        """Run every phase of a governed call."""
        ...

    def inject_chaos(self, burn: int) -> tuple[int, str]:
        """Burn error budget points; return the new budget and system state."""
        ...

    def create_spec(self, workspace_id: str, goal: str) -> str | None:
        """Create a generated spec, or None when the budget gate is closed."""
        ...

    def promote_spec(self, workspace_id: str, spec_id: str) -> bool | None:
        """Promote a spec: None when gated, False for an unknown spec, True when promoted."""
        ...
