"""Mutants of the firewall's tool table, the error budget and the request surface."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from helmmodel.canonical import parse_strict
from helmmodel.errors import CanonicalJSONError, InvalidInput
from helmmodel.kernel import ErrorBudget, Kernel, ToolTable
from helmmodel.kernel.api import RequestSurface, Response, Route, problem
from helmmodel.kernel.error_budget import BURN_DEFAULT, DEGRADED, DEGRADED_BELOW, GATED_BELOW
from helmmodel.kernel.tools import Firewall
from helmmodel.mutants.mutant import Mutant


class PythonKeyedFirewallTable(ToolTable):
    """The firewall memo is keyed on the arguments as Python values."""

    def check(self, name: str, args: dict[str, Any], args_jcs: bytes | None = None) -> Firewall:
        memo: dict[Any, Firewall] = vars(self).setdefault("firewall_memo_by_value", {})
        try:
            # The bug: Python equality is not JSON equality: `true == 1` and they hash alike, so
            # the verdict on {"x": 1} is served to {"x": true} and the other way round.
            key = (name, tuple(sorted(args.items())))
            if key not in memo:
                memo[key] = super().check(name, args)
            return memo[key]
        except TypeError:  # unhashable (nested) arguments: not memoised at all
            return super().check(name, args, args_jcs)


class InclusiveGateErrorBudget(ErrorBudget):
    """The builder and promotion gates close at 20% already."""

    def gated(self) -> bool:
        # The bug: `<=` where `<` belongs ("below 20").
        return self.percent <= GATED_BELOW


class GatesEveryApiPostSurface(RequestSurface):
    """The error-budget gate is applied to every POST under ``/api/``."""

    def route(self, path: str) -> tuple[Route | None, re.Match[str] | None]:
        route, match = super().route(path)
        if route is not None and route.method == "POST" and path.startswith("/api/"):
            # The bug: the gate is chosen by path prefix, so the chaos inject is gated too and a
            # request without admin rights gets 429 instead of its 401 or 403.
            route = attrs.evolve(route, gated=True)
        return route, match


class RangeUncheckedErrorBudget(ErrorBudget):
    """``inject`` checks that a burn is an integer, not that it lies from 1 to 100."""

    def inject(self, burn: int = BURN_DEFAULT) -> int:
        # The bug: the endpoint checks the range before it calls, so only the type is checked
        # here, and a direct call with a negative burn raises the budget (101 empties it).
        if type(burn) is not int:
            raise InvalidInput(f"burn must be an integer, not {burn!r}")
        self.percent = max(0, self.percent - burn)
        if self.percent < DEGRADED_BELOW:
            self.state = DEGRADED
        return self.percent


class UntypedMembersSurface(RequestSurface):
    """The body parser checks which members a body has, not their JSON types."""

    def parse_object(self, body: bytes, members: Mapping[str, type]) -> dict[str, Any] | Response:
        try:
            value = parse_strict(body)
        except CanonicalJSONError as exc:
            return problem(400, f"malformed JSON body: {exc}")
        if type(value) is not dict:
            return problem(400, f"the body must be a JSON object, not {type(value).__name__}")
        unknown = sorted(set(value) - set(members))
        if unknown:
            return problem(400, f"unknown members {unknown}; expected {sorted(members)}")
        # The bug: no check of each member's JSON type, so a member of the wrong type reaches
        # the handler (a promotion of {"spec_id": 7} answers 404 for no such spec, not 400).
        return value


MUTANTS = (
    Mutant(
        "firewall-memo-true-equals-one",
        "The firewall memoises schema verdicts keyed on the arguments as Python values, where "
        'true equals 1, so {"x": true} gets the verdict of {"x": 1}.',
        "ToolTable",
        "signer_outage",
        "snapshot_isolation",
        type(
            "PythonKeyedFirewallKernel", (Kernel,), {"tool_table_class": PythonKeyedFirewallTable}
        ),
    ),
    Mutant(
        "error-budget-gate-inclusive",
        "The error budget closes the builder and promotion gates at exactly 20% instead of only "
        "below it.",
        "ErrorBudget",
        "error_budget",
        "error_budget_gate",
        type("InclusiveGateKernel", (Kernel,), {"error_budget_class": InclusiveGateErrorBudget}),
    ),
    Mutant(
        "surface-gates-every-api-post",
        "The request surface applies the error-budget gate to every POST under /api/, so while "
        "gated a chaos inject without admin rights answers 429 instead of 401 or 403.",
        "RequestSurface",
        "error_budget",
        "malformed_input_rejected",
        type("GatesEveryApiPostKernel", (Kernel,), {"surface_class": GatesEveryApiPostSurface}),
    ),
    Mutant(
        "error-budget-inject-range-unchecked",
        "The console's inject checks that a burn is an integer but not that it lies from 1 to "
        "100, so a direct inject of a negative burn raises the error budget.",
        "ErrorBudget",
        "error_budget",
        "error_budget_gate",
        type("RangeUncheckedKernel", (Kernel,), {"error_budget_class": RangeUncheckedErrorBudget}),
    ),
    Mutant(
        "surface-untyped-members",
        "The request surface's body parser checks which members a body has but not their JSON "
        "types, so a promotion whose spec_id is a number answers 404 instead of 400.",
        "RequestSurface",
        "error_budget",
        "malformed_input_rejected",
        type("UntypedMembersKernel", (Kernel,), {"surface_class": UntypedMembersSurface}),
    ),
)
