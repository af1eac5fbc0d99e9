"""Which kernel the model is: the chaos page's (the default) or a HELM release's (spec section 12).

A semantics is configuration of the same components, never a fork: each field is one behaviour on
which HELM's release and the chaos page differ, and the component that owns the behaviour reads
its field. ``docs/kernel-spec.md`` section 12 gives each difference with the HELM file it follows.
"""

from __future__ import annotations

import hashlib
import json

import attrs

from helmmodel.errors import InvalidInput
from helmmodel.kernel.rfc3339 import format_rfc3339

CHAOS_PAGE = "chaos-page"
HELM_AI_KERNEL = "helm-ai-kernel"

# The commit of Mindburn-Labs/helm-ai-kernel whose behaviour HELM_AI_KERNEL follows.
HELM_AI_KERNEL_COMMIT = "24a64557611fc25efde60254d9fe40e84dc261ca"

# Freeze scopes: what a freeze stops.
FREEZE_STOPS_EVERYTHING_NEW = "everything-new"  # decisions, intents and executions
FREEZE_STOPS_NEW_DECISIONS = "new-decisions"  # only the evaluation of new calls


@attrs.frozen(kw_only=True)
class Semantics:
    """The behaviours on which the two kernels differ."""

    name: str
    follows: str  # what the behaviour is drawn from, for reports
    # Every decision, DENY and ESCALATE included, is receipted and chained in its session.
    decision_receipts: bool
    freeze_scope: str
    # freeze and unfreeze return a FreezeReceipt; freezing a frozen kernel (or unfreezing one
    # that is not frozen) is refused.
    freeze_receipts: bool
    # The reason code of a denial for a tool the kernel does not know.
    unknown_tool_code: str

    @property
    def freeze_stops_intents_and_executions(self) -> bool:
        return self.freeze_scope == FREEZE_STOPS_EVERYTHING_NEW


SEMANTICS: dict[str, Semantics] = {
    CHAOS_PAGE: Semantics(
        name=CHAOS_PAGE,
        follows="HELM's chaos-testing page (docs/kernel-spec.md sections 1 to 11)",
        decision_receipts=False,
        freeze_scope=FREEZE_STOPS_EVERYTHING_NEW,
        freeze_receipts=False,
        unknown_tool_code="ERR_TOOL_NOT_FOUND",
    ),
    HELM_AI_KERNEL: Semantics(
        name=HELM_AI_KERNEL,
        follows=f"Mindburn-Labs/helm-ai-kernel at {HELM_AI_KERNEL_COMMIT[:8]}",
        decision_receipts=True,
        freeze_scope=FREEZE_STOPS_NEW_DECISIONS,
        freeze_receipts=True,
        unknown_tool_code="PDP_DENY",
    ),
}


def semantics_named(name: object) -> Semantics:
    """The semantics called *name*; InvalidInput names the known ones otherwise."""
    if type(name) is not str or name not in SEMANTICS:
        raise InvalidInput(f"unknown semantics {name!r}; known: {', '.join(SEMANTICS)}")
    return SEMANTICS[name]


# --- times as the release writes them ------------------------------------------------------------


def rfc3339_ms(now_ms: int) -> str:
    """*now_ms* (milliseconds since 1970-01-01T00:00:00Z) as Go's ``time.RFC3339Nano`` writes it.

    UTC with ``Z``; the fraction without trailing zeros, and none when whole; the year at least
    four digits, with a minus sign before year 0 (so ``-0001``), as Go formats every year.
    """
    return format_rfc3339(now_ms * 1_000_000)


# --- freeze receipts -----------------------------------------------------------------------------

FREEZE = "freeze"
UNFREEZE = "unfreeze"
ALREADY_FROZEN = "ALREADY_FROZEN"
NOT_FROZEN = "NOT_FROZEN"


def _go_json_string(text: str) -> str:
    # Go's encoding/json escapes <, > and & (and U+2028, U+2029) where JSON would not need it.
    escaped = json.dumps(text, ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        escaped = escaped.replace(char, escape)
    return escaped


@attrs.frozen(kw_only=True)
class FreezeReceipt:
    """The audit record of one freeze or unfreeze (the release's ``kernel.FreezeReceipt``)."""

    action: str  # FREEZE or UNFREEZE
    principal: str
    timestamp: int  # the Guardian's clock, in ms

    @property
    def content_hash(self) -> str:
        """SHA-256 hex of ``{"action","principal","timestamp"}`` as the release encodes it: Go's
        JSON in that member order, the time as RFC 3339 (not JCS: the release hashes it so)."""
        text = (
            f'{{"action":{_go_json_string(self.action)},'
            f'"principal":{_go_json_string(self.principal)},'
            f'"timestamp":"{rfc3339_ms(self.timestamp)}"}}'
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def as_json(self) -> dict[str, str]:
        return {
            "action": self.action,
            "principal": self.principal,
            "timestamp": rfc3339_ms(self.timestamp),
            "content_hash": self.content_hash,
        }
