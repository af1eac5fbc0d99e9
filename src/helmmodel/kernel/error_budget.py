"""The operations console's error budget (spec section 8) and the specs it gates.

Chaos injects burn points; below 50 the system is DEGRADED for good; below 20 the builder and
promotion gates close and every generated-spec or promotion POST answers 429.
"""

from __future__ import annotations

from helmmodel.errors import InvalidInput
from helmmodel.kernel.digest import SetDigest
from helmmodel.kernel.ids import IdCounters

HEALTHY = "HEALTHY"
DEGRADED = "DEGRADED"
BURN_DEFAULT = 30
DEGRADED_BELOW = 50
GATED_BELOW = 20
GATES = ("BLOCK_BUILDER", "BLOCK_PROMOTION")
SPECS_MAX = 100_000
GOAL_CHARS_MAX = 4096


class ErrorBudget:
    """A percentage from 0 to 100, the system state, and the generated specs."""

    def __init__(self, ids: IdCounters) -> None:
        self.ids = ids
        self.percent = 100
        self.state = HEALTHY
        self.specs: dict[str, tuple[str, str]] = {}  # spec id -> (workspace id, goal)
        self.promotions: list[tuple[str, str]] = []  # (workspace id, spec id)
        self._created = SetDigest()

    def gated(self) -> bool:
        """Whether the builder and promotion gates are closed (budget below 20)."""
        return self.percent < GATED_BELOW

    def active_gates(self) -> list[str]:
        return list(GATES) if self.gated() else []

    def inject(self, burn: int = BURN_DEFAULT) -> int:
        """Burn *burn* points (1 to 100), floored at 0; return the new budget."""
        if type(burn) is not int or not 1 <= burn <= 100:
            raise InvalidInput(f"burn must be an integer from 1 to 100, not {burn!r}")
        self.percent = max(0, self.percent - burn)
        if self.percent < DEGRADED_BELOW:
            self.state = DEGRADED
        return self.percent

    def create_spec(self, workspace_id: str, goal: str) -> str:
        """Record a generated spec for *goal*; return its id."""
        if type(goal) is not str or len(goal) > GOAL_CHARS_MAX:
            raise InvalidInput(f"goal must be a string of at most {GOAL_CHARS_MAX} characters")
        if len(self.specs) >= SPECS_MAX:
            raise InvalidInput(f"at most {SPECS_MAX} specs can be created")
        spec_id = self.ids.next("spec")
        self.specs[spec_id] = (workspace_id, goal)
        self._created.add(f"spec|{spec_id}|{workspace_id}|{goal}".encode())
        return spec_id

    def promote(self, workspace_id: str, spec_id: str) -> bool:
        """Promote a known spec; return False (nothing recorded) for an unknown one."""
        if spec_id not in self.specs:
            return False
        self.promotions.append((workspace_id, spec_id))
        self._created.add(f"promotion|{len(self.promotions)}|{workspace_id}|{spec_id}".encode())
        return True

    def digest_material(self) -> bytes:
        return f"{self.percent}|{self.state}|".encode() + self._created.value()
