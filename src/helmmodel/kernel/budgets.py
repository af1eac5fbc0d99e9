"""Request budgets (spec section 8): whole requests, consumed one per charged ALLOW in *decide*.

Consumption is a ledger: each budget knows which calls it charged, so a call's consumption can be
released (fail-closed) without touching another call's.
"""

from __future__ import annotations

import attrs

from helmmodel.canonical import SAFE_INTEGER_MAX
from helmmodel.errors import InvalidInput
from helmmodel.kernel.digest import SetDigest
from helmmodel.kernel.records import check_identifier


def _check_limit(limit: object) -> int:
    if type(limit) is not int or not 0 <= limit <= SAFE_INTEGER_MAX:
        raise InvalidInput(f"a budget limit must be an integer from 0 to 2^53−1, not {limit!r}")
    return limit


@attrs.define
class RequestBudget:
    """One budget: its limit, what it consumed, and the calls it charged."""

    id: str
    limit: int
    charged_calls: set[str] = attrs.field(factory=set)

    @property
    def consumed(self) -> int:
        return len(self.charged_calls)


class RequestBudgets:
    """Every request budget of a kernel, by id."""

    def __init__(self) -> None:
        self._budgets: dict[str, RequestBudget] = {}
        self._charges = SetDigest()

    def ids(self) -> list[str]:
        return sorted(self._budgets)

    def get(self, budget_id: str) -> RequestBudget | None:
        return self._budgets.get(budget_id)

    def create(self, budget_id: str, limit: int) -> None:
        """Create the budget *budget_id* with *limit* requests; it must not exist yet."""
        check_identifier(budget_id, "budget id")
        _check_limit(limit)
        if budget_id in self._budgets:
            raise InvalidInput(f"budget {budget_id!r} exists already; set its limit instead")
        self._budgets[budget_id] = RequestBudget(budget_id, limit)

    def _existing(self, budget_id: str) -> RequestBudget:
        budget = self._budgets.get(budget_id)
        if budget is None:
            raise InvalidInput(f"there is no budget {budget_id!r}; budgets are {self.ids()}")
        return budget

    def set_limit(self, budget_id: str, limit: int) -> None:
        """Raise or lower the limit, even below what is consumed."""
        budget = self._existing(budget_id)
        budget.limit = _check_limit(limit)

    def has_room(self, budget_id: str) -> bool:
        """Whether *budget_id* exists and ``consumed < limit`` now (the *begin* pre-check)."""
        budget = self._budgets.get(budget_id)
        return budget is not None and budget.consumed < budget.limit

    def consume(self, budget_id: str, call_id: str) -> bool:
        """Charge one request to *call_id* if ``consumed < limit`` at this moment."""
        budget = self._existing(budget_id)
        if budget.consumed >= budget.limit or call_id in budget.charged_calls:
            return False
        budget.charged_calls.add(call_id)
        self._charges.add(f"{budget_id}|{call_id}".encode())
        return True

    def release(self, budget_id: str, call_id: str) -> None:
        """Undo *call_id*'s charge, and only that call's."""
        budget = self._existing(budget_id)
        charged = budget.charged_calls
        if call_id in charged:  # pragma: no branch - the Guardian releases only a charge it took
            charged.remove(call_id)
            self._charges.remove(f"{budget_id}|{call_id}".encode())

    def digest_material(self) -> bytes:
        limits = "|".join(f"{k}:{self._budgets[k].limit}" for k in sorted(self._budgets))
        return self._charges.value() + limits.encode()
