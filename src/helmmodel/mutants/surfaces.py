"""Mutants of the firewall's tool table, the error budget and the request surface (the release's
API on it included)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from helmmodel.kernel import ErrorBudget, Kernel, ToolTable
from helmmodel.kernel.api import RequestSurface, Response, Route, json_response
from helmmodel.kernel.error_budget import GATED_BELOW
from helmmodel.kernel.semantics import HELM_AI_KERNEL
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


class MetaschemaOnlyToolTable(ToolTable):
    """Registration judges a schema by the metaschema alone, not by where its $refs lead."""

    def schema_problem(self, schema: Mapping[str, Any]) -> str | None:
        problem = super().schema_problem(schema)
        # The bug: "the metaschema already checked $ref is a URI reference", so a schema whose
        # $ref is "#", a URL or a cycle is allowlisted, and the first call validated against it
        # recurses without end or fails to resolve.
        if problem is not None and problem.startswith("cannot be resolved safely"):
            return None
        return problem


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


class VerdictFromReasonSurface(RequestSurface):
    """A governed call's answer reads its verdict off its reason code."""

    def execute_tool(
        self, match: re.Match[str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        response = super().execute_tool(match, headers, body)
        if response.status != 200:
            return response
        answer = json.loads(response.body)
        # The bug: "no reason code means allowed, any reason code means denied" forgets the
        # third verdict, so an ESCALATE (reason APPROVAL_REQUIRED) is answered as a DENY.
        answer["verdict"] = "DENY" if answer["reason_code"] else "ALLOW"
        return json_response(200, answer)


class CachedReleaseReadsSurface(RequestSurface):
    """The release's GET answers are memoised by path."""

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if self.release is None or method != "GET" or not path.startswith("/api/v1/"):
            return super().handle(method, path, headers, body)
        memo: dict[str, Response] = vars(self).setdefault("release_reads_by_path", {})
        # The bug: "a receipt never changes once signed", so each read is answered once per
        # path; but a receipts list, a session's chain and the sessions grow with every
        # decision, and the cached page goes on serving the old ones.
        if path not in memo:
            memo[path] = super().handle(method, path, headers, body)
        return memo[path]


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
        "tool-schema-refs-unchecked",
        "Registration checks a tool schema against the metaschema only, so a $ref to nowhere, "
        "to the schema itself, to a URL or around a cycle is allowlisted; validating arguments "
        "against it then raises from the validator.",
        "ToolTable",
        "kernel",
        "no_unexpected_exception",
        type("MetaschemaOnlyToolsKernel", (Kernel,), {"tool_table_class": MetaschemaOnlyToolTable}),
    ),
    Mutant(
        "surface-verdict-from-reason-code",
        "The request surface answers a governed call with a verdict read off its reason code "
        "(none: ALLOW, any: DENY), so an ESCALATE is answered over HTTP as a DENY.",
        "RequestSurface",
        "malformed_input",
        "http_answer_faithful",
        type("VerdictFromReasonKernel", (Kernel,), {"surface_class": VerdictFromReasonSurface}),
    ),
    Mutant(
        "release-reads-cached-by-path",
        "The release's API memoises its GET answers by path, as if receipts never changed, so a "
        "receipts list read before a decision is served again after it without that receipt.",
        "RequestSurface",
        "release_api",
        "release_api_faithful",
        type("CachedReleaseReadsKernel", (Kernel,), {"surface_class": CachedReleaseReadsSurface}),
        semantics=HELM_AI_KERNEL,
    ),
)
