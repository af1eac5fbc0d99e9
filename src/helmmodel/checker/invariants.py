"""The safety invariants of docs/kernel-spec.md section 11, in its order (``ALL_INVARIANTS``).

Each invariant is a named function over a :class:`View` (the kernel's state, the checker's ghost
state, and the invariant's own memo of what it already checked). It raises
:class:`InvariantViolation` from its own line, so Hypothesis tells violations of different
invariants apart. It recomputes what it checks with the checker's own code (its encoder, policy
model, refusal orders and request-surface model: :mod:`~helmmodel.checker.encoding`,
:mod:`~helmmodel.checker.policy`, :mod:`~helmmodel.checker.refusals`,
:mod:`~helmmodel.checker.http`): it never asks the kernel whether the kernel is right.

Incremental: each looks only at what is new since it last ran, and keeps its own hashes of what it
already validated; ``View.full`` re-walks everything (the end of every machine run).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from helmmodel.checker.encoding import (
    args_hash,
    decision_hash,
    effect_digest,
    expected_preimage,
    freeze_content_hash,
    node_hash,
    receipt_link,
    release_envelope,
    release_link,
)
from helmmodel.checker.ghost import Decided, Ghost
from helmmodel.checker.http import Malformed, bearer, endpoint, exceeds_body_limit, strict_json
from helmmodel.checker.policy import ERROR, FALSE, TRUE, check_set, set_hash
from helmmodel.checker.refusals import expected_begin, record_valid
from helmmodel.checker.registry import verdicts_of_codes
from helmmodel.errors import InvariantViolation
from helmmodel.kernel import Kernel
from helmmodel.kernel.semantics import HELM_AI_KERNEL

Problem = tuple[int, str]
FIREWALL_CODES = ("ERR_TOOL_NOT_FOUND", "SCHEMA_VIOLATION", "PDP_DENY")
# The statuses of the checks of section 9 (a passing request may still get a 404 for an unknown
# spec, which the checker's model predicts, or a 503 when no key can sign).
REFUSED_STATUSES = frozenset({400, 401, 403, 405, 413, 429})


@attrs.define
class View:
    """What an invariant may look at: the kernel, the ghost, its own memo, and the mode."""

    kernel: Kernel
    ghost: Ghost
    memo: dict[str, Any]
    full: bool = False
    # For deterministic_replay: replays the run into a fresh kernel and returns the state
    # digest after every step, with the digests the run recorded.
    replay: Callable[[], tuple[list[str], list[str]]] | None = None


def _new(view: View, key: str, items: Sequence[Any]) -> Sequence[Any]:
    """The items not yet checked under *key* (all of them in a full re-walk)."""
    memo, end = view.memo, len(items)
    start = 0 if view.full else memo.get(key, 0)
    memo[key] = end
    # Most lists have nothing new at most steps: no copy then.
    return () if start == end else items[start:end]


def _new_receipts(view: View) -> list[Any]:
    """The receipts chained since the invariant last looked (all of them in a full re-walk),
    session by session: a chain only grows (invariant 15 holds it)."""
    read: dict[str, int] = view.memo.setdefault("chained", {})  # session -> receipts read
    if view.full:
        read.clear()
    new: list[Any] = []
    for session, chain in view.kernel.chains.chains.items():
        start = read.get(session, 0)
        if start != len(chain):  # most sessions get no receipt at a step
            new.extend(chain[start:])
            read[session] = len(chain)
    return new


def _policy_outcome(decided: Decided) -> str | None:
    rule = decided.begun.policy.rules.get(decided.begun.request.tool)
    if rule is None:
        return None
    return check_set(rule, decided.begun.request.evaluation_input())


# --- 1. default_deny -----------------------------------------------------------------------------


def _default_deny(view: View) -> Iterator[Problem]:
    for decided in _new(view, "decided", view.ghost.decided):
        decision = decided.decision
        allowed = decision is not None and decision.verdict == "ALLOW"
        if allowed and decided.begun.request.tool not in decided.begun.policy.rules:
            yield decided.step, f"{decided.begun.call_id} was allowed a tool that had no rule"


def default_deny(view: View) -> None:
    """A tool with no rule in the decision's snapshot is never allowed."""
    for step, detail in _default_deny(view):
        raise InvariantViolation("default_deny", step, detail)


# --- 2. fail_closed ------------------------------------------------------------------------------


def _fail_closed(view: View) -> Iterator[Problem]:
    for decided in _new(view, "decided", view.ghost.decided):
        decision = decided.decision
        if decision is not None and not decided.signer:
            yield decided.step, f"{decision.id} was decided while no key could sign"
        elif (
            decision is not None
            and decision.verdict == "ALLOW"
            and _policy_outcome(decided) == ERROR
        ):
            yield decided.step, f"{decision.id} is an ALLOW from an evaluation that errored"


def fail_closed(view: View) -> None:
    """No ALLOW from an evaluation that errored, or whose decide found the signer unavailable."""
    for step, detail in _fail_closed(view):
        raise InvariantViolation("fail_closed", step, detail)


# --- 3. freeze_respected -------------------------------------------------------------------------


def _freeze_respected(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for decided in _new(view, "decided", ghost.decided):
        if decided.frozen and decided.decision is not None and decided.decision.verdict == "ALLOW":
            yield decided.step, f"{decided.decision.id} was allowed while frozen"
    if ghost.freeze_stops_intents_and_executions:
        yield from _frozen_intents_and_dispatches(view)


def _frozen_intents_and_dispatches(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for attempt in _new(view, "intents", ghost.intents):
        if attempt.frozen and attempt.intent is not None:
            yield attempt.step, f"an intent for {attempt.decision.id} was issued while frozen"
    for execution in _new(view, "executions", ghost.executions):
        if execution.frozen and execution.dispatched:
            yield execution.step, "a tool was dispatched while frozen"


def freeze_respected(view: View) -> None:
    """While frozen, no ALLOW is decided (nor, on the chaos page, an intent or a dispatch)."""
    for step, detail in _freeze_respected(view):
        raise InvariantViolation("freeze_respected", step, detail)


# --- 4. allow_matches_policy ---------------------------------------------------------------------


def _allow_matches_policy(view: View) -> Iterator[Problem]:
    for decided in _new(view, "decided", view.ghost.decided):
        decision = decided.decision
        if decision is None:
            continue
        outcome = _policy_outcome(decided)
        if decision.verdict == "ALLOW" and outcome != TRUE:
            yield decided.step, f"{decision.id} is an ALLOW but its requirement set is {outcome}"
        if decision.reason_code == "MISSING_REQUIREMENT" and outcome != FALSE:
            yield decided.step, f"{decision.id} denies MISSING_REQUIREMENT but the set is {outcome}"


def allow_matches_policy(view: View) -> None:
    """Every ALLOW's requirement set is true on its snapshot; every MISSING_REQUIREMENT false."""
    for step, detail in _allow_matches_policy(view):
        raise InvariantViolation("allow_matches_policy", step, detail)


# --- 5. window_respected -------------------------------------------------------------------------


def _window_respected(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for attempt in _new(view, "intents", ghost.intents):
        intent = attempt.intent
        if intent is not None and (
            intent.issued_at != attempt.guardian_ms
            or intent.expires_at != attempt.guardian_ms + ghost.ttl_ms
        ):
            yield (
                attempt.step,
                (
                    f"{intent.id} is valid for [{intent.issued_at}, {intent.expires_at}), not "
                    f"[{attempt.guardian_ms}, {attempt.guardian_ms + ghost.ttl_ms})"
                ),
            )
    for execution in _new(view, "executions", ghost.executions):
        if not execution.dispatched:
            continue
        window = execution.window
        if window is None and execution.intent is not None:
            window = (execution.intent.issued_at, execution.intent.expires_at)
        if window is None or not window[0] <= execution.executor_ms < window[1]:
            yield (
                execution.step,
                (f"dispatched at executor time {execution.executor_ms} ms, outside {window}"),
            )


def window_respected(view: View) -> None:
    """No execution at an executor time outside its intent's window."""
    for step, detail in _window_respected(view):
        raise InvariantViolation("window_respected", step, detail)


# --- 6. no_effect_without_authority --------------------------------------------------------------


def _no_effect_without_authority(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for execution in _new(view, "executions", ghost.executions):
        if not execution.dispatched:
            continue
        decision, intent, effect = execution.decision, execution.intent, execution.effect
        if decision is None or effect is None or decision.verdict != "ALLOW":
            yield execution.step, "a dispatch without an ALLOW decision"
        elif not record_valid(ghost, decision, execution.step):
            yield execution.step, f"{decision.id} did not verify under a live key, yet ran"
        elif effect_digest(effect.tool, effect.args) != decision.effect_digest:
            yield execution.step, f"the effect run is not the one {decision.id} covers"
        elif execution.window is None and (
            intent is None
            or intent.decision_id != decision.id
            or intent.effect_digest_hash != decision.effect_digest
            or not record_valid(ghost, intent, execution.step)
        ):
            yield execution.step, f"the intent for {decision.id} did not authorize this dispatch"
    logged = len(view.kernel.tools.dispatches)
    counted = 0 if view.full else view.memo.get("counted", 0)
    counted += sum(e.dispatched for e in _new(view, "counted_executions", ghost.executions))
    view.memo["counted"] = counted
    if logged != counted:
        yield (
            ghost.step,
            f"the kernel dispatched {logged} times; the checker saw {counted} executions",
        )


def no_effect_without_authority(view: View) -> None:
    """Every dispatch has an ALLOW decision and an intent that verified under live keys."""
    for step, detail in _no_effect_without_authority(view):
        raise InvariantViolation("no_effect_without_authority", step, detail)


# --- 7. at_most_once -----------------------------------------------------------------------------


def _at_most_once(view: View) -> Iterator[Problem]:
    first: dict[str, Any] = view.memo.setdefault("first", {})
    runs: dict[str, int] = view.memo.setdefault("runs", {})
    if view.full:
        first.clear()
        runs.clear()
    for execution in _new(view, "executions", view.ghost.executions):
        receipt, decision = execution.receipt, execution.decision
        if decision is None:
            continue
        if execution.dispatched:
            runs[decision.id] = runs.get(decision.id, 0) + execution.dispatched
            if runs[decision.id] > 1:
                yield execution.step, f"{decision.id} was dispatched {runs[decision.id]} times"
        if receipt is None:
            continue
        earlier = first.setdefault(decision.id, receipt)
        if earlier != receipt:
            yield execution.step, f"a retry of {decision.id} returned a different receipt"


def at_most_once(view: View) -> None:
    """Each decision is dispatched at most once; a retry returns the identical receipt."""
    for step, detail in _at_most_once(view):
        raise InvariantViolation("at_most_once", step, detail)


# --- 8. tamper_evident ---------------------------------------------------------------------------


def _tamper_evident(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    records: list[tuple[int, Any]] = []
    for decided in _new(view, "decided", ghost.decided):
        if decided.decision is not None:
            records.append((decided.step, decided.decision))
    for attempt in _new(view, "intents", ghost.intents):
        if attempt.intent is not None:
            records.append((attempt.step, attempt.intent))
        if attempt.expected_code is not None and (attempt.code or "") != attempt.expected_code:
            got, wanted = attempt.code or "an intent", attempt.expected_code or "an intent"
            yield attempt.step, f"a presented artifact got {got} from issue_intent, not {wanted}"
    for execution in _new(view, "executions", ghost.executions):
        if execution.receipt is not None:
            records.append((execution.step, execution.receipt))
        expected = execution.expected_code
        if expected is not None and (execution.code or "") != expected:
            got, wanted = execution.code or "a receipt", expected or "a receipt"
            yield execution.step, f"a presented artifact got {got} from execute, not {wanted}"
    for check in _new(view, "receipt_checks", ghost.receipt_checks):
        if check.accepted != check.expected_accept:
            verb = "accepted" if check.accepted else "refused"
            yield check.step, f"the receipt verifier {verb} {check.receipt.receipt_id} wrongly"
    for step, record in records:
        if record.preimage() != expected_preimage(record):
            yield step, f"{type(record).__name__} {record_id(record)} signs other fields"


def record_id(record: Any) -> str:
    return str(getattr(record, "receipt_id", None) or record.id)


def tamper_evident(view: View) -> None:
    """Signed preimages hold exactly the spec's fields; every changed artifact is refused."""
    for step, detail in _tamper_evident(view):
        raise InvariantViolation("tamper_evident", step, detail)


# --- 9. every_decision_signed --------------------------------------------------------------------


def _every_decision_signed(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for decided in _new(view, "decided", ghost.decided):
        decision = decided.decision
        if decision is None or not ghost.keys.live(decision.signature_type):
            continue
        if not record_valid(ghost, decision):
            yield decided.step, f"{decision.id} does not verify under {decision.signature_type}"


def every_decision_signed(view: View) -> None:
    """Every decision verifies under the key it names, unless that key was revoked since."""
    for step, detail in _every_decision_signed(view):
        raise InvariantViolation("every_decision_signed", step, detail)


# --- 10. every_call_attested ---------------------------------------------------------------------


def _every_call_attested(view: View) -> Iterator[Problem]:
    ghost, graph = view.ghost, view.kernel.graph
    states: dict[str, str] = view.memo.setdefault("states", {})
    # call id -> (its decision's id or None when it failed closed, whether it is an ALLOW)
    decisions: dict[str, tuple[str | None, bool]] = view.memo.setdefault("decisions", {})
    # decision id -> the call that made it (a refusal of it must name that call)
    owners: dict[str, str] = view.memo.setdefault("owners", {})
    if view.full:
        states.clear()
        decisions.clear()
        owners.clear()
    newly_decided = []
    for decided in _new(view, "decided", ghost.decided):
        decision = decided.decision
        call_id = decided.begun.call_id
        newly_decided.append(call_id)
        if decision is None:
            decisions[call_id] = (None, False)
        else:
            decisions[call_id] = (decision.id, decision.verdict == "ALLOW")
            owners[decision.id] = call_id
    for key in _new(view, "nodes", graph.order):
        node = graph.nodes[key]
        call_id = node.payload.get("call_id")
        refusal = "stage" in node.payload
        presented = str(node.payload.get("decision_id"))
        if refusal and owners.get(presented) != call_id:
            owner = owners.get(presented)
            yield ghost.step, f"a refusal of {presented} names {call_id}, not its maker {owner}"
        if call_id is None:
            if not (node.kind == "ATTESTATION" and refusal):
                yield ghost.step, f"a {node.kind} node names no call"
            continue
        if call_id not in ghost.begun_by_call:
            yield ghost.step, f"a {node.kind} node names {call_id}, which was never begun"
            continue
        state = states.get(call_id, "new")
        if node.kind == "INTENT":
            if state != "new":
                yield ghost.step, f"{call_id} has a second INTENT node"
            states[call_id] = "begun"
        elif node.kind == "ATTESTATION" and state == "begun":
            expected = decisions.get(call_id, ("missing", False))[0]
            if refusal or node.payload.get("decision_id") != expected:
                yield ghost.step, f"{call_id}'s first ATTESTATION is not its decision"
            states[call_id] = "ended"
        elif node.kind == "ATTESTATION":
            if state == "new" or not refusal:
                yield ghost.step, f"{call_id} has an ATTESTATION out of place"
        elif node.kind == "EFFECT":
            if state != "ended" or not decisions.get(call_id, (None, False))[1]:
                yield ghost.step, f"{call_id} has an EFFECT without a prior ALLOW decision"
            states[call_id] = "effect"
        else:
            yield ghost.step, f"a node of unknown kind {node.kind!r}"
    for call_id in newly_decided:
        if states.get(call_id) not in ("ended", "effect"):
            yield ghost.step, f"{call_id} was decided but has no INTENT then ATTESTATION"


def every_call_attested(view: View) -> None:
    """Every completed call has the node pattern of spec section 7; every node names a call."""
    for step, detail in _every_call_attested(view):
        raise InvariantViolation("every_call_attested", step, detail)


# --- 11. denied_draws_nothing --------------------------------------------------------------------


def _denied_draws_nothing(view: View) -> Iterator[Problem]:
    for decided in _new(view, "decided", view.ghost.decided):
        decision = decided.decision
        changed = {budget: delta for budget, delta in decided.budget_deltas.items() if delta}
        if decided.kernel_consumed_delta and not changed:
            changed = {"its budget": decided.kernel_consumed_delta}
        if (decision is None or decision.verdict != "ALLOW") and changed:
            what = decision.verdict if decision is not None else "a fail-closed evaluation"
            yield decided.step, f"{decided.begun.call_id} ended {what} yet changed {changed}"


def denied_draws_nothing(view: View) -> None:
    """A call ending in DENY, ESCALATE or a fail-closed evaluation draws no budget."""
    for step, detail in _denied_draws_nothing(view):
        raise InvariantViolation("denied_draws_nothing", step, detail)


# --- 12. budget_within_limit ---------------------------------------------------------------------


def _budget_within_limit(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for decided in _new(view, "decided", ghost.decided):
        decision = decided.decision
        if decision is None or decision.verdict != "ALLOW" or not decision.budget_id:
            continue
        if decided.budget_before is None or decided.budget_before[0] >= decided.budget_before[1]:
            yield decided.step, f"{decision.id} consumed from {decision.budget_id} with no room"
        elif decided.kernel_consumed_delta != 1:
            yield decided.step, f"{decision.id} consumed {decided.kernel_consumed_delta}, not 1"
    for budget_id in ghost.budget_limits:
        budget = view.kernel.budgets.get(budget_id)
        consumed = budget.consumed if budget is not None else None
        if consumed != ghost.budget_charged.get(budget_id, 0) or (consumed or 0) < 0:
            yield (
                ghost.step,
                (
                    f"budget {budget_id} shows {consumed} consumed; "
                    f"{ghost.budget_charged.get(budget_id, 0)} ALLOW decisions were charged to it"
                ),
            )


def budget_within_limit(view: View) -> None:
    """Consumption only while consumed < limit; consumed equals the charged ALLOW decisions."""
    for step, detail in _budget_within_limit(view):
        raise InvariantViolation("budget_within_limit", step, detail)


# --- 13. snapshot_isolation ----------------------------------------------------------------------


def _snapshot_isolation(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for decided in _new(view, "decided", ghost.decided):
        decision = decided.decision
        if decision is None:
            continue
        policy = decided.begun.policy
        if decision.policy_version != policy.version or decision.policy_epoch != policy.epoch:
            yield (
                decided.step,
                (
                    f"{decision.id} names policy epoch {decision.policy_epoch}, its begin saw "
                    f"epoch {policy.epoch}"
                ),
            )
            continue
        expected = expected_begin(ghost, decided.begun)
        verdict, code = expected.verdict, expected.reason_code
        if verdict == "ALLOW" and decided.frozen:
            verdict, code = "DENY", "SYSTEM_FROZEN"
        elif verdict == "ALLOW" and decided.begun.request.budget_id is not None:
            before = decided.budget_before
            if before is None or before[0] >= before[1]:
                verdict, code = "DENY", "BUDGET_EXCEEDED"
        if (decision.verdict, decision.reason_code) != (verdict, code):
            yield (
                decided.step,
                (
                    f"{decision.id} is {decision.verdict} {decision.reason_code or '(no code)'}; "
                    "its snapshot and the two decide-time changes give "
                    f"{verdict} {code or '(no code)'}"
                ),
            )
        elif verdict == "ALLOW":
            rule = policy.rules[decided.begun.request.tool]
            if decision.requirement_set_hash != set_hash(rule):
                yield decided.step, f"{decision.id} names another requirement set than its rule"


def snapshot_isolation(view: View) -> None:
    """A decision's policy and outcome are its begin-time snapshot's, changed only as allowed."""
    for step, detail in _snapshot_isolation(view):
        raise InvariantViolation("snapshot_isolation", step, detail)


# --- 14. no_stale_intent -------------------------------------------------------------------------


def _no_stale_intent(view: View) -> Iterator[Problem]:
    for attempt in _new(view, "intents", view.ghost.intents):
        decision = attempt.decision
        if attempt.intent is None:
            continue
        if (
            decision.policy_epoch != attempt.policy.epoch
            or decision.policy_version != attempt.policy.version
        ):
            yield (
                attempt.step,
                (
                    f"an intent was issued for {decision.id} of epoch {decision.policy_epoch} "
                    f"while the policy was at epoch {attempt.policy.epoch}"
                ),
            )


def no_stale_intent(view: View) -> None:
    """No intent is issued for a decision whose epoch or policy version is not the current one."""
    for step, detail in _no_stale_intent(view):
        raise InvariantViolation("no_stale_intent", step, detail)


# --- 15. receipt_chain_intact --------------------------------------------------------------------


def _receipt_chain_intact(view: View) -> Iterator[Problem]:
    heads: dict[str, tuple[int, str]] = view.memo.setdefault("heads", {})
    # A full walk starts over, and also compares what it recomputes with the links it kept:
    # a receipt already checked (the last one of a chain included) must not have changed.
    kept = dict(heads) if view.full else {}
    if view.full:
        heads.clear()
    step = view.ghost.step
    link_of = _release_link_of(view) if view.ghost.release else receipt_link
    for session, chain in view.kernel.chains.chains.items():
        checked, link = heads.get(session, (0, ""))
        if len(chain) < checked:
            yield step, f"session {session} lost receipts: {checked} became {len(chain)}"
            continue
        for position in range(checked, len(chain)):
            receipt = chain[position]
            if receipt.lamport_clock != position + 1 or receipt.prev_hash != link:
                yield (
                    step,
                    (
                        f"session {session}: {receipt.receipt_id} at position {position + 1} has "
                        f"lamport {receipt.lamport_clock} and does not link to its predecessor"
                    ),
                )
                break
            link = link_of(receipt)
            heads[session] = (position + 1, link)
            if kept.get(session, (0, ""))[0] == position + 1 and kept[session][1] != link:
                yield step, f"session {session}: {receipt.receipt_id} changed after it was checked"


def _release_envelope_of(view: View) -> Callable[[Any], dict[str, Any] | None]:
    """The checker's own envelope (spec 12.4) of a receipt, built from the decision the checker
    recorded for it and the key it derived; None for a receipt of a decision or key it never
    saw."""
    ghost = view.ghost
    decisions: dict[str, Any] = view.memo.setdefault("decisions", {})
    for decided in _new(view, "decided", ghost.decided):
        if decided.decision is not None:
            decisions[decided.decision.id] = decided.decision

    def envelope(receipt: Any) -> dict[str, Any] | None:
        decision = decisions.get(receipt.decision_id)
        key = ghost.keys.public.get(str(receipt.signature_type).removeprefix("ed25519:"))
        if decision is None or key is None:
            return None
        evaluate = decision if receipt.status in VERDICTS else None
        public_hex = key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        return release_envelope(receipt, decision.subject_id, public_hex, evaluate)

    return envelope


def _release_link_of(view: View) -> Callable[[Any], str]:
    """The release's link rule (spec 12.4) over the checker's own envelope of a receipt."""
    envelope_of = _release_envelope_of(view)

    def link(receipt: Any) -> str:
        envelope = envelope_of(receipt)
        if envelope is None:
            return "(a receipt of a decision or key the checker never saw)"
        return release_link(envelope)

    return link


def receipt_chain_intact(view: View) -> None:
    """Each session's receipts have lamports 1..n and each links to its predecessor's hash."""
    for step, detail in _receipt_chain_intact(view):
        raise InvariantViolation("receipt_chain_intact", step, detail)


# --- 16. proofgraph_consistent -------------------------------------------------------------------


def _proofgraph_consistent(view: View) -> Iterator[Problem]:
    graph, step = view.kernel.graph, view.ghost.step
    parents_seen: set[str] = view.memo.setdefault("with_children", set())
    childless: set[str] = view.memo.setdefault("childless", set())
    if view.full:
        parents_seen.clear()
        childless.clear()
    if len(graph.order) < view.memo.get("order", 0):
        yield step, "the ProofGraph lost nodes"
    for key in _new(view, "order", graph.order):
        node = graph.nodes.get(key)
        if node is None or node_hash(node) != key:
            yield step, f"node {key[:12]} does not hash to its address"
            continue
        for parent in node.parents:
            parent_node = graph.nodes.get(parent)
            if parent_node is None:
                yield step, f"node {key[:12]} names a missing parent {parent[:12]}"
            elif parent_node.lamport >= node.lamport:
                yield step, f"lamport does not increase from {parent[:12]} to {key[:12]}"
            parents_seen.add(parent)
            childless.discard(parent)
        if key not in parents_seen:
            childless.add(key)
    if set(graph.heads) != childless:
        yield step, "the heads are not exactly the nodes without children"


def proofgraph_consistent(view: View) -> None:
    """Nodes hash to their address, parents exist, lamports rise along edges, heads are leaves."""
    for step, detail in _proofgraph_consistent(view):
        raise InvariantViolation("proofgraph_consistent", step, detail)


# --- 17. reason_code_iff_allow -------------------------------------------------------------------


def _reason_code_iff_allow(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for decided in _new(view, "decided", ghost.decided):
        decision = decided.decision
        if decision is None:
            continue
        allow = decision.verdict == "ALLOW"
        if (decision.reason_code == "") != allow or (decision.requirement_set_hash != "") != allow:
            yield (
                decided.step,
                (
                    f"{decision.id} is {decision.verdict} with reason code "
                    f"{decision.reason_code!r} and requirement set hash "
                    f"{decision.requirement_set_hash!r}"
                ),
            )
        elif ghost.release and not allow:
            # The release's codes are those of HELM's registry, each for the verdicts it names.
            applies = verdicts_of_codes().get(decision.reason_code)
            if applies is None or decision.verdict not in applies:
                yield (
                    decided.step,
                    f"{decision.id}: {decision.reason_code!r} is no {decision.verdict} code of "
                    "HELM's reason-code registry",
                )
    for attempt in _new(view, "intents", ghost.intents):
        if attempt.intent is not None and attempt.decision.verdict != "ALLOW":
            yield attempt.step, f"an intent was issued for {attempt.decision.verdict} decision"


def reason_code_iff_allow(view: View) -> None:
    """The reason code and requirement set hash are empty exactly when the verdict is ALLOW."""
    for step, detail in _reason_code_iff_allow(view):
        raise InvariantViolation("reason_code_iff_allow", step, detail)


# --- 18. error_budget_gate -----------------------------------------------------------------------


def _error_budget_gate(view: View) -> Iterator[Problem]:
    ghost, kernel = view.ghost, view.kernel
    percent = kernel.error_budget.percent
    if not 0 <= percent <= 100 or percent != ghost.error_budget:
        yield ghost.step, f"the error budget is {percent}; the checker expects {ghost.error_budget}"
    for exchange in _new(view, "http", ghost.http):
        found = endpoint(exchange.path)
        gated_path = found is not None and found[1] in ("specs", "promotions")
        passes_first_checks = (
            gated_path
            and exchange.method.upper() == "POST"
            and not exceeds_body_limit(exchange.headers, exchange.body)
        )
        if passes_first_checks:
            gated = exchange.error_budget_before < 20
            answered_429 = (
                exchange.status == 429
                and exchange.response_headers.get("X-Gate-Enforced") == "BudgetExhausted"
                and exchange.response_headers.get("Retry-After") == "60"
            )
            if gated != answered_429:
                yield (
                    exchange.step,
                    (
                        f"POST {exchange.path} answered {exchange.status} with the error budget at "
                        f"{exchange.error_budget_before}"
                    ),
                )
            if gated and exchange.specs_after != exchange.specs_before:
                yield exchange.step, f"a gated POST {exchange.path} created something"
        if exchange.error_budget_after != exchange.error_budget_before:
            token = bearer(exchange.headers)
            if found != ("POST", "inject") or token not in ghost.admin_tokens:
                yield exchange.step, "the error budget changed without an admin inject"


def error_budget_gate(view: View) -> None:
    """The error budget stays in [0, 100], gates exactly below 20, and only admins change it."""
    for step, detail in _error_budget_gate(view):
        raise InvariantViolation("error_budget_gate", step, detail)


# --- 19. malformed_input_rejected ----------------------------------------------------------------


def _malformed_input_rejected(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    for exchange in _new(view, "http", ghost.http):
        expected = exchange.expected_status
        if expected is not None and exchange.status != expected:
            yield (
                exchange.step,
                (
                    f"{exchange.method} {exchange.path} answered {exchange.status}; "
                    f"the first check it fails gives {expected}"
                ),
            )
        elif expected is not None and exchange.digest_after != exchange.digest_before:
            yield exchange.step, f"a {expected} for {exchange.path} changed the kernel's state"
        elif expected is None and exchange.status in REFUSED_STATUSES:
            yield (
                exchange.step,
                (
                    f"{exchange.method} {exchange.path} passes every check of section 9, "
                    f"yet answered {exchange.status}"
                ),
            )
        firewall = exchange.verdict is not None and exchange.verdict[1] in FIREWALL_CODES
        # Under the release the denial's own receipt is the one change it makes (spec 12.1).
        own_receipt = 1 if view.ghost.release else 0
        if firewall and (
            exchange.consumed_after != exchange.consumed_before
            or exchange.epoch_after != exchange.epoch_before
            or exchange.receipts_after != exchange.receipts_before + own_receipt
            or exchange.error_budget_after != exchange.error_budget_before
        ):
            yield exchange.step, f"a firewall denial ({exchange.verdict}) changed state"
    for answer in _new(view, "answers", ghost.answers):
        if answer.accepted != answer.expected:
            verb, should = ("accepted", "refuse") if answer.accepted else ("refused", "accept")
            yield (
                answer.step,
                f"{answer.operation}({answer.argument!r}) was {verb}; the spec says {should} it",
            )
        elif answer.changed:
            yield (
                answer.step,
                f"{answer.operation}({answer.argument!r}) was refused but changed state",
            )


def malformed_input_rejected(view: View) -> None:
    """A failed section-9 check gives its status and changes nothing; bad input is refused."""
    for step, detail in _malformed_input_rejected(view):
        raise InvariantViolation("malformed_input_rejected", step, detail)


# --- 20. deterministic_replay --------------------------------------------------------------------


def _deterministic_replay(view: View) -> Iterator[Problem]:
    if not view.full or view.replay is None:
        return
    replayed, recorded = view.replay()
    for step, (again, first) in enumerate(zip(replayed, recorded, strict=False), start=1):
        if again != first:
            yield (
                step,
                f"a fresh kernel replaying this run reaches state {again[:12]}, not {first[:12]}",
            )
            return
    if len(replayed) != len(recorded):
        yield len(replayed), f"the replay ran {len(replayed)} steps, the run {len(recorded)}"


def deterministic_replay(view: View) -> None:
    """Replaying the whole trace into a fresh kernel gives the same state digest at every step."""
    for step, detail in _deterministic_replay(view):
        raise InvariantViolation("deterministic_replay", step, detail)


# --- 21. no_unexpected_exception -----------------------------------------------------------------


def _no_unexpected_exception(view: View) -> Iterator[Problem]:
    for crash in _new(view, "crashes", view.ghost.crashes):
        yield (
            crash.step,
            f"{crash.rule}: the kernel raised {crash.error}: {crash.message} (at {crash.where})",
        )


def no_unexpected_exception(view: View) -> None:
    """No kernel operation raises anything but its typed refusals."""
    for step, detail in _no_unexpected_exception(view):
        raise InvariantViolation("no_unexpected_exception", step, detail)


# --- 22. refusal_dispatched_nothing --------------------------------------------------------------


def _refusal_dispatched_nothing(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    by_step: dict[int, int] = view.memo.setdefault("by_step", {})
    if view.full:
        by_step.clear()
    for dispatch in _new(view, "dispatches", ghost.dispatch_log):
        by_step[dispatch.step] = by_step.get(dispatch.step, 0) + 1
    for execution in _new(view, "executions", ghost.executions):
        ran = by_step.get(execution.step, 0)
        if execution.code is not None and ran:
            yield execution.step, f"an execution refused {execution.code} ran {ran} tool(s)"


def refusal_dispatched_nothing(view: View) -> None:
    """An execution the kernel refused ran no tool, as the tools themselves saw it."""
    for step, detail in _refusal_dispatched_nothing(view):
        raise InvariantViolation("refusal_dispatched_nothing", step, detail)


# --- 23. every_dispatch_accounted ----------------------------------------------------------------


def _every_dispatch_accounted(view: View) -> Iterator[Problem]:
    ghost, kernel = view.ghost, view.kernel
    runs: dict[str, int] = view.memo.setdefault("runs", {})  # effect id -> dispatches seen
    receipted: dict[str, int] = view.memo.setdefault("receipted", {})  # effect id -> receipts
    receipts: dict[str, int] = view.memo.setdefault("receipts", {})  # receipt id -> receipts
    effects: dict[str, int] = view.memo.setdefault("effects", {})  # receipt id -> EFFECT nodes
    if view.full:
        for memo in (runs, receipted, receipts, effects):
            memo.clear()
    touched_effects, touched_receipts = set(), set()
    for dispatch in _new(view, "dispatches", ghost.dispatch_log):
        runs[dispatch.effect_id] = runs.get(dispatch.effect_id, 0) + 1
        touched_effects.add(dispatch.effect_id)
    for receipt in _new_receipts(view):
        if ghost.release and receipt.status in VERDICTS:
            continue  # a decision's receipt (every_decision_receipted judges it)
        receipted[receipt.effect_id] = receipted.get(receipt.effect_id, 0) + 1
        receipts[receipt.receipt_id] = receipts.get(receipt.receipt_id, 0) + 1
        touched_effects.add(receipt.effect_id)
        touched_receipts.add(receipt.receipt_id)
    for key in _new(view, "nodes", kernel.graph.order):
        node = kernel.graph.nodes[key]
        if node.kind == "EFFECT":
            receipt_id = str(node.payload.get("receipt_id"))
            effects[receipt_id] = effects.get(receipt_id, 0) + 1
            touched_receipts.add(receipt_id)
    for effect_id in sorted(touched_effects):
        ran, got = runs.get(effect_id, 0), receipted.get(effect_id, 0)
        if ran != got:
            yield ghost.step, f"the tools ran {effect_id} {ran} time(s); it has {got} receipt(s)"
    for receipt_id in sorted(touched_receipts):
        if effects.get(receipt_id, 0) != receipts.get(receipt_id, 0):
            yield (
                ghost.step,
                (
                    f"{receipt_id}: {receipts.get(receipt_id, 0)} receipt(s), "
                    f"{effects.get(receipt_id, 0)} EFFECT node(s)"
                ),
            )


def every_dispatch_accounted(view: View) -> None:
    """Each dispatch the tools saw has exactly one receipt, and each receipt one EFFECT node."""
    for step, detail in _every_dispatch_accounted(view):
        raise InvariantViolation("every_dispatch_accounted", step, detail)


# --- 24. http_answer_faithful --------------------------------------------------------------------


def _answer_problem(answer: Any, decided: Decided, executions: Sequence[Any]) -> str | None:
    """What the 200 body *answer* of a governed call misreports of the records the checker took
    of that call (its decide, and its execution if it ran), or None."""
    decision = decided.decision
    assert decision is not None
    if not isinstance(answer, dict) or not isinstance(answer.get("execution"), dict):
        return f"the body {answer!r} is not a call's answer"
    expected = {
        "call_id": decided.begun.call_id,
        "verdict": decision.verdict,
        "reason_code": decision.reason_code,
        "decision_id": decision.id,
    }
    for field, value in expected.items():
        if answer.get(field) != value:
            return f"the answer's {field} is {answer.get(field)!r}; the call's is {value!r}"
    execution = answer["execution"]
    receipts = [attempt.receipt for attempt in executions if attempt.receipt is not None]
    if decision.verdict != "ALLOW":
        status, intent = execution.get("status"), answer.get("intent_id")
        if (status, intent) != ("not_attempted", None):
            return f"a {decision.verdict} decision is answered {status!r} with intent {intent!r}"
    elif receipts:
        receipt = receipts[0]
        code = "" if receipt.status == "SUCCESS" else receipt.status
        if (execution.get("status"), execution.get("receipt_id"), execution.get("code")) != (
            "executed",
            receipt.receipt_id,
            code,
        ):
            return (
                f"the call ran with {receipt.receipt_id} ({receipt.status}); answered {execution!r}"
            )
    elif execution.get("status") == "executed":
        return f"the answer says {execution.get('receipt_id')!r} ran; the tools ran nothing"
    return None


def _http_answer_faithful(view: View) -> Iterator[Problem]:
    for exchange in _new(view, "http", view.ghost.http):
        if endpoint(exchange.path) != ("POST", "execute") or exchange.status not in (200, 503):
            continue
        if len(exchange.decided) != 1:
            yield exchange.step, f"one request began {len(exchange.decided)} calls"
            continue
        decided = exchange.decided[0]
        if (decided.decision is None) != (exchange.status == 503):
            outcome = "failed closed" if decided.decision is None else "was decided"
            yield exchange.step, f"{decided.begun.call_id} {outcome}; answered {exchange.status}"
        elif exchange.status == 200:
            try:
                answer = strict_json(exchange.response_body)
            except Malformed as exc:
                yield exchange.step, f"{decided.begun.call_id}: the answer does not parse: {exc}"
                continue
            problem = _answer_problem(answer, decided, exchange.executions)
            if problem is not None:
                yield exchange.step, f"{decided.begun.call_id}: {problem}"


def http_answer_faithful(view: View) -> None:
    """A governed call's HTTP answer reports that call's own decision and execution."""
    for step, detail in _http_answer_faithful(view):
        raise InvariantViolation("http_answer_faithful", step, detail)


# --- 25. every_decision_receipted (the release only) ---------------------------------------------

VERDICTS = frozenset({"ALLOW", "DENY", "ESCALATE"})


def _decision_receipt_problem(ghost: Ghost, decided: Decided, receipt: Any) -> str | None:
    """What *receipt* gets wrong of the decision receipt spec 12.1 gives *decided*."""
    decision, request = decided.decision, decided.begun.request
    assert decision is not None
    context_session = request.context.get("session_id")
    expected = {
        "receipt_id": f"rcpt-{decision.id}-decision",
        "decision_id": decision.id,
        "effect_id": request.tool,
        "status": decision.verdict,
        "verdict": decision.verdict,
        "reason_code": decision.reason_code,
        "output_hash": decision_hash(decision),
        "args_hash": args_hash(request.args),
        "policy_hash": decision.policy_version,
        "session_id": context_session if isinstance(context_session, str) else request.principal,
        "timestamp": decision.timestamp,
        "signature_type": decision.signature_type,
    }
    for name, value in expected.items():
        if getattr(receipt, name) != value:
            return f"its {name} is {getattr(receipt, name)!r}, not {value!r}"
    # As of the decision's step: a key revoked later does not make it wrong then.
    if not record_valid(ghost, receipt, decided.step):
        return f"it does not verify under {receipt.signature_type}"
    return None


def _every_decision_receipted(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    if not ghost.release:
        return
    # decision id -> the decision receipts read from the chains so far
    found: dict[str, list[Any]] = view.memo.setdefault("found", {})
    known: dict[str, Decided] = view.memo.setdefault("known", {})  # decision id -> its record
    if view.full:
        for memo in (found, known):
            memo.clear()
    new_decided = [d for d in _new(view, "decided", ghost.decided) if d.decision is not None]
    for decided in new_decided:
        assert decided.decision is not None
        known[decided.decision.id] = decided
    # A receipt whose status is a verdict is a decision's (a dispatch's is SUCCESS or
    # TOOL_ERROR); every one must match a decision the checker saw, so none can hide.
    fresh = [receipt for receipt in _new_receipts(view) if receipt.status in VERDICTS]
    for receipt in fresh:
        found.setdefault(receipt.decision_id, []).append(receipt)
    for receipt in fresh:
        decided = known.get(receipt.decision_id)
        if decided is None:
            yield ghost.step, f"{receipt.receipt_id} receipts {receipt.decision_id}, no decision"
            continue
        problem = _decision_receipt_problem(ghost, decided, receipt)
        if problem is not None:
            yield decided.step, f"the receipt of {receipt.decision_id}: {problem}"
    for decided in new_decided:
        assert decided.decision is not None
        count = len(found.get(decided.decision.id, ()))
        if count != 1:
            yield decided.step, f"{decided.decision.id} has {count} decision receipt(s), not 1"


def every_decision_receipted(view: View) -> None:
    """Under the release, each decision has exactly one receipt, with the members of spec 12.1."""
    for step, detail in _every_decision_receipted(view):
        raise InvariantViolation("every_decision_receipted", step, detail)


# --- 26. freeze_transitions_receipted (the release only) -----------------------------------------


def _freeze_transitions_receipted(view: View) -> Iterator[Problem]:
    for switch in _new(view, "switches", view.ghost.freeze_switches):
        verb = "freeze" if switch.frozen else "unfreeze"
        if switch.frozen == switch.was_frozen:
            wanted = "ALREADY_FROZEN" if switch.frozen else "NOT_FROZEN"
            if switch.code != wanted:
                got = switch.code or "a receipt"
                yield switch.step, f"a repeated {verb} got {got}, not FreezeRefused({wanted})"
            continue
        receipt = switch.receipt
        if receipt is None:
            yield switch.step, f"a {verb} was refused ({switch.code}) or gave no receipt"
            continue
        expected = (verb, "operator", switch.guardian_ms)
        got = (receipt.action, receipt.principal, receipt.timestamp)
        if got != expected:
            yield switch.step, f"the {verb} receipt says {got}, not {expected}"
        elif receipt.content_hash != freeze_content_hash(*expected):
            yield switch.step, f"the {verb} receipt's content_hash is not its members' hash"


def freeze_transitions_receipted(view: View) -> None:
    """Under the release, a freeze or unfreeze is receipted, or refused if it changes nothing."""
    for step, detail in _freeze_transitions_receipted(view):
        raise InvariantViolation("freeze_transitions_receipted", step, detail)


# --- 27. release_api_faithful (the release only) -------------------------------------------------


def _chained_receipts(view: View) -> dict[str, Any]:
    """Every receipt in the kernel's chains by id, read incrementally (receipts already chained
    never change: invariant 15 holds them)."""
    by_id: dict[str, Any] = view.memo.setdefault("by_id", {})
    if view.full:
        by_id.clear()
    for receipt in _new_receipts(view):
        by_id[receipt.receipt_id] = receipt
    return by_id


def _read_problem(read: Any, envelope_of: Callable[[str], Any]) -> str | None:
    """What a facade read answered that the checker does not know, or None."""
    answer, known, argument = read.answer, read.known, read.argument
    if read.operation == "public_key":
        if known is None:
            return None if read.error == "InvalidInput" else f"a key never held gave {answer!r}"
        return None if answer == known else f"{answer!r}, not the checker's {known.hex()}"
    if read.error is not None:
        return f"refused ({read.error})"
    if read.operation == "sessions":
        return None if list(answer) == known else f"{list(answer)}, not the checker's {known}"
    if read.operation == "session_receipts":
        ids = [receipt.receipt_id for receipt in answer]
        return None if ids == known else f"{ids}, not the checker's chain {known}"
    if read.operation == "receipt":
        if (answer is not None) != known or (answer is not None and answer.receipt_id != argument):
            return f"{answer!r}; the checker {'holds' if known else 'knows no'} such receipt"
        return None
    expected = envelope_of(argument) if known else None
    if answer != expected:
        return f"the envelope {answer!r}, not the checker's {expected!r}"
    return None


def _served_problem(exchange: Any, body: Any, envelope_of: Callable[[str], Any]) -> str | None:
    """What a 200 read of receipts or sessions over HTTP serves that the checker does not know
    (each envelope the checker's own; a session's receipts its chain, in order), or None."""
    route = exchange.path.partition("?")[0]
    query = urllib.parse.parse_qs(exchange.path.partition("?")[2])
    chains: dict[str, list[str]] = exchange.chains
    if route == "/api/v1/proofgraph/sessions":
        listed = [(s, len(chains[s]), len(chains[s])) for s in sorted(chains)]
        # The page: a positive limit (at most 1000) and offset, else 50 from the first.
        limit, offset = (query.get(name, [""])[0] for name in ("limit", "offset"))
        first = min(int(offset), len(listed)) if offset.isdigit() else 0
        count = min(int(limit), 1000) if limit.isdigit() and int(limit) else PROOFGRAPH_SESSIONS
        expected = listed[first : first + count]
        got = [
            (s.get("session_id"), s.get("receipt_count"), s.get("last_lamport_clock")) for s in body
        ]
        return None if got == expected else f"sessions {got}, not the checker's {expected}"
    if route.startswith(("/api/v1/receipts/", "/api/v1/proofgraph/receipts/")):
        envelopes = [body]
        wanted = None
    elif route == "/api/v1/receipts":
        envelopes = body.get("receipts") or []
        session = query.get("session_id", [""])[0]
        total = sum(len(ids) for ids in chains.values())
        if session and set(query) == {"session_id"}:
            wanted = chains.get(session, [])[:RECEIPTS_PAGE]
        elif session and set(query) == {"session_id", "since"}:
            wanted = chains.get(session, [])[1:][:RECEIPTS_PAGE]
        elif not query and len(envelopes) != min(total, RECEIPTS_PAGE):
            return f"{len(envelopes)} receipts listed; the checker knows {total}"
        else:
            wanted = None
    else:  # a session's receipts
        envelopes = body
        session = route.removeprefix("/api/v1/proofgraph/sessions/").removesuffix("/receipts")
        wanted = chains.get(session, [])[:RECEIPTS_PAGE]
    ids = [envelope.get("receipt_id") for envelope in envelopes]
    if wanted is not None and ids != wanted:
        return f"receipts {ids}, not the checker's chain {wanted}"
    for envelope in envelopes:
        expected = envelope_of(str(envelope.get("receipt_id")))
        if envelope != expected:
            return f"the envelope {envelope!r}, not the checker's {expected!r}"
    return None


def _evaluate_problem(exchange: Any, body: Any) -> str | None:
    """What an evaluation over HTTP answers that the decision it made does not say, or None."""
    decided = [d for d in exchange.decided if d.decision is not None]
    if exchange.status == 500:
        failed = len(exchange.decided) == 1 and not decided
        return None if failed else "a 500 for an evaluation that did not fail closed"
    if len(exchange.decided) != 1 or len(decided) != 1:
        return f"a 200 for a request that made {len(exchange.decided)} decide(s)"
    made = decided[0]
    decision = made.decision
    assert decision is not None
    receipt_id = f"rcpt-{decision.id}-decision"
    chain: list[str] = next((ids for ids in exchange.chains.values() if receipt_id in ids), [])
    expected = {
        "verdict": decision.verdict,
        "reason_code": decision.reason_code,
        "decision_id": decision.id,
        "receipt_id": receipt_id,
        "lamport_clock": chain.index(receipt_id) + 1 if receipt_id in chain else None,
        "decision_hash": decision_hash(decision),
    }
    for name, value in expected.items():
        if body.get(name) != value:
            return f"its {name} is {body.get(name)!r}; the decision's is {value!r}"
    return None


def _exchange_problem(exchange: Any, envelope_of: Callable[[str], Any]) -> str | None:
    """What one request to the release's API got wrong, or None."""
    if 400 <= exchange.status < 500:
        if exchange.digest_after != exchange.digest_before:
            return f"a {exchange.status} changed the kernel's state"
        if exchange.decided:
            return f"a {exchange.status} began {len(exchange.decided)} call(s)"
    if exchange.expected_status is not None and exchange.status != exchange.expected_status:
        return (
            f"answered {exchange.status}; the checker's judgement gives {exchange.expected_status}"
        )
    route = exchange.path.partition("?")[0]
    evaluate = route == "/api/v1/evaluate" and exchange.status in (200, 500)
    read = exchange.method == "GET" and exchange.status == 200 and route in READ_ROUTES
    read = read or (exchange.status == 200 and route.startswith(READ_PREFIXES))
    if not (evaluate or read):
        return None
    try:
        body = strict_json(exchange.response_body)
    except Malformed as exc:
        return f"the answer does not parse: {exc}"
    if evaluate:
        return _evaluate_problem(exchange, body)
    return _served_problem(exchange, body, envelope_of)


# The release's pages: a receipts list holds at most 100 by default, sessions at most 50.
RECEIPTS_PAGE = 100
PROOFGRAPH_SESSIONS = 50
READ_ROUTES = frozenset({"/api/v1/receipts", "/api/v1/proofgraph/sessions"})
READ_PREFIXES = (
    "/api/v1/receipts/",
    "/api/v1/proofgraph/sessions/",
    "/api/v1/proofgraph/receipts/",
)


def _release_api_faithful(view: View) -> Iterator[Problem]:
    ghost = view.ghost
    if not ghost.release:
        return
    receipts = _chained_receipts(view)
    envelope = _release_envelope_of(view)

    def envelope_of(receipt_id: str) -> Any:
        receipt = receipts.get(receipt_id)
        return envelope(receipt) if receipt is not None else None

    for read in _new(view, "reads", ghost.release_reads):
        problem = _read_problem(read, envelope_of)
        if problem is not None:
            yield read.step, f"{read.operation}({read.argument or ''}) answered {problem}"
    for check in _new(view, "verifications", ghost.release_verifications):
        if check.accepted != check.expected_accept:
            verb = "accepted" if check.accepted else "refused"
            yield (
                check.step,
                f"verify_release_receipt {verb} an envelope the checker "
                + ("refuses" if check.accepted else "accepts"),
            )
    for exchange in _new(view, "release_http", ghost.release_http):
        problem = _exchange_problem(exchange, envelope_of)
        if problem is not None:
            yield exchange.step, f"{exchange.method} {exchange.path}: {problem}"


def release_api_faithful(view: View) -> None:
    """Under the release, its facade reads, verifier and HTTP API answer what the checker knows."""
    for step, detail in _release_api_faithful(view):
        raise InvariantViolation("release_api_faithful", step, detail)


# --- the chaos page's claims the release does not keep (spec 12.8) -------------------------------


def freeze_stops_everything_new(view: View) -> None:
    """The chaos page's freeze: while frozen, no intent is issued and nothing is dispatched."""
    for step, detail in _frozen_intents_and_dispatches(view):
        raise InvariantViolation("freeze_stops_everything_new", step, detail)


ALL_INVARIANTS: tuple[Callable[[View], None], ...] = (
    default_deny,
    fail_closed,
    freeze_respected,
    allow_matches_policy,
    window_respected,
    no_effect_without_authority,
    at_most_once,
    tamper_evident,
    every_decision_signed,
    every_call_attested,
    denied_draws_nothing,
    budget_within_limit,
    snapshot_isolation,
    no_stale_intent,
    receipt_chain_intact,
    proofgraph_consistent,
    reason_code_iff_allow,
    error_budget_gate,
    malformed_input_rejected,
    deterministic_replay,
    no_unexpected_exception,
    refusal_dispatched_nothing,
    every_dispatch_accounted,
    http_answer_faithful,
    every_decision_receipted,
    freeze_transitions_receipted,
    release_api_faithful,
)
INVARIANT_NAMES = tuple(fn.__name__ for fn in ALL_INVARIANTS)
# The release's own invariants: they judge nothing under the chaos page, so are not run there.
RELEASE_ONLY = frozenset(
    {"every_decision_receipted", "freeze_transitions_receipted", "release_api_faithful"}
)


@attrs.frozen(kw_only=True)
class PageClaim:
    """A claim of the chaos page that the release does not keep: run against the release's
    kernel as an extra invariant, it must fire; what it finds is a divergence, not a bug."""

    invariant: Callable[[View], None]
    machine: str  # the machine that shows it
    page: str  # the page's clause
    release: str  # the clause of spec section 12 that says why the release differs


PAGE_CLAIMS: tuple[PageClaim, ...] = (
    PageClaim(
        invariant=freeze_stops_everything_new,
        machine="operator_freeze",
        page="section 5: while frozen, no intent is issued and nothing is executed",
        release="12.2: the release's freeze stops only the evaluation of new calls",
    ),
)
PAGE_CLAIM_NAMES = frozenset(claim.invariant.__name__ for claim in PAGE_CLAIMS)
_BY_NAME = {fn.__name__: fn for fn in (*ALL_INVARIANTS, *(c.invariant for c in PAGE_CLAIMS))}


def invariant_names(semantics: str, claims: Sequence[str] = ()) -> tuple[str, ...]:
    """The invariants that judge a run in *semantics*, in ALL_INVARIANTS order, then the page
    *claims* named (each checked against the release to show where it diverges)."""
    unknown = [name for name in claims if name not in PAGE_CLAIM_NAMES]
    if unknown:
        raise ValueError(f"not page claims: {unknown}; page claims: {sorted(PAGE_CLAIM_NAMES)}")
    own = tuple(
        name
        for name in INVARIANT_NAMES
        if (name in RELEASE_ONLY) == (semantics == HELM_AI_KERNEL) or name not in RELEASE_ONLY
    )
    return own + tuple(claims)


class Checker:
    """Runs the invariants in order, each with its own memo, incrementally or in full."""

    def __init__(self, kernel: Kernel, ghost: Ghost) -> None:
        self.kernel = kernel
        self.ghost = ghost
        self.views = {name: View(kernel, ghost, {}) for name in _BY_NAME}

    def check(
        self, invariant: Callable[[View], None], *, full: bool = False, replay: Any = None
    ) -> None:
        """Run one invariant; raise InvariantViolation if it is broken."""
        view = self.views[invariant.__name__]
        view.full, view.replay = full, replay
        invariant(view)

    def check_all(self, *, full: bool = False, replay: Any = None) -> None:
        """Run every invariant of the ghost's semantics, in ``ALL_INVARIANTS`` order."""
        for name in invariant_names(self.ghost.semantics):
            self.check(_BY_NAME[name], full=full, replay=replay)
