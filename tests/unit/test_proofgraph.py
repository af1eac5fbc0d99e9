"""The ProofGraph and receipt chains (spec section 7): honest runs pass the checker's walk of them
(the one the storm runs on its final state), tampering does not."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helmmodel.canonical import canonical_bytes
from helmmodel.concurrency.programs import chain_problems, graph_problems
from helmmodel.errors import (
    CanonicalJSONError,
    ExecutionRefused,
    IntentRefused,
    SignerUnavailable,
)
from helmmodel.kernel import Kernel, Node, Request
from helmmodel.kernel.proofgraph import node_hash
from tests.conftest import echo, make_kernel


def jcs(value: object) -> bytes:
    """Canonical JSON for ASCII keys and safe integers (spec section 1's fast path)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def nodes_by_call(kernel: Kernel) -> dict[str | None, list[Node]]:
    """The graph's nodes grouped by their payload's call_id, each group in append order."""
    groups: dict[str | None, list[Node]] = {}
    for key in kernel.graph.order:
        node = kernel.graph.nodes[key]
        groups.setdefault(node.payload["call_id"], []).append(node)
    return groups


def problems(kernel: Kernel) -> list[str]:
    """What the storm's walk (the checker's own hashes) finds wrong with chains and graph."""
    return chain_problems(kernel) + [f"ProofGraph: {problem}" for problem in graph_problems(kernel)]


def kinds_of(kernel: Kernel, call_id: str) -> list[str]:
    """The node kinds of *call_id*, in append order."""
    return [node.kind for node in nodes_by_call(kernel)[call_id]]


def busy_kernel() -> Kernel:
    """A kernel after calls that end in every way, over two sessions."""
    kernel = make_kernel()
    for x in range(3):
        kernel.call(echo(x, session_id="s1"))
    kernel.call(echo(9, session_id="s2"))
    kernel.call(Request("alice", "sum", {"a": 1, "b": 2}, {"session_id": "s1"}))
    kernel.call(Request("alice", "fail", {}, {"session_id": "s2"}))
    kernel.call(Request("alice", "approve", {}))
    kernel.call(Request("alice", "nope", {}))
    kernel.call(echo(4, budget_id="b1"))
    kernel.remove_signing()
    kernel.call(echo(5))
    kernel.restore_signing()
    kernel.call(echo(6, session_id="s1"))
    return kernel


@pytest.fixture
def busy() -> Kernel:
    """A kernel from :func:`busy_kernel`."""
    return busy_kernel()


def middle_key(kernel: Kernel) -> str:
    """The hash of a node that has both parents and children."""
    return kernel.graph.order[len(kernel.graph.order) // 2]


# --- honest runs ----------------------------------------------------------------------------------


def test_honest_kernel_verifies(busy: Kernel) -> None:
    """After many calls the ProofGraph and every receipt chain pass the walk."""
    assert [] == problems(busy)
    assert {"s1", "s2"} <= set(busy.chains.chains)
    assert 5 == len(busy.chains.chains["s1"])


def test_empty_graph_verifies() -> None:
    """A kernel that did nothing has an empty graph, which passes the walk."""
    kernel = make_kernel()
    assert [] == problems(kernel)
    assert ([], ()) == (kernel.graph.order, kernel.graph.heads)


def test_lamports_strictly_increase_along_every_edge(busy: Kernel) -> None:
    """Each node's lamport is greater than each parent's; append order runs 1..n."""
    graph = busy.graph
    for node in graph.nodes.values():
        for parent in node.parents:
            assert graph.nodes[parent].lamport < node.lamport
    lamports = [graph.nodes[key].lamport for key in graph.order]
    assert list(range(1, len(graph.order) + 1)) == lamports
    assert len(graph.order) == graph.lamport


def test_each_append_takes_the_heads_as_parents(busy: Kernel) -> None:
    """Every node's parents are the heads before it: its predecessor, the first has none."""
    order = busy.graph.order
    assert () == busy.graph.nodes[order[0]].parents
    for previous, key in itertools.pairwise(order):
        assert (previous,) == busy.graph.nodes[key].parents
    assert (order[-1],) == busy.graph.heads


def test_node_hash_is_sha256_of_the_jcs_of_its_members(busy: Kernel) -> None:
    """A node's hash is bare SHA-256 hex of the JCS of kind, parents, lamport, principal,
    payload and sig: no timestamp."""
    for key, node in busy.graph.nodes.items():
        members = {
            "kind": node.kind,
            "parents": list(node.parents),
            "lamport": node.lamport,
            "principal": node.principal,
            "payload": node.payload,
            "sig": node.sig,
        }
        assert hashlib.sha256(jcs(members)).hexdigest() == key


def test_node_hash_excludes_the_timestamp() -> None:
    """The same calls at other Guardian and executor times give the same node hashes."""
    early = make_kernel(guardian_start_ms=0, executor_start_ms=0)
    late = make_kernel(guardian_start_ms=777_000, executor_start_ms=777_000)
    for kernel in (early, late):
        kernel.call(echo(1))
        kernel.call(Request("alice", "approve", {}))
    assert early.graph.order == late.graph.order
    timestamps = {late.graph.nodes[key].timestamp for key in late.graph.order}
    assert {777_000} == timestamps


def test_changed_timestamp_still_verifies(busy: Kernel) -> None:
    """Changing a node's timestamp leaves its hash, and the graph, valid."""
    key = middle_key(busy)
    node = busy.graph.nodes[key]
    busy.graph.nodes[key] = attrs.evolve(node, timestamp=node.timestamp + 12_345)
    assert [] == problems(busy)


# --- tampering with the graph ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"payload": {"call_id": "call-999999"}},
        {"lamport": 10_000},
        {"parents": ()},
        {"sig": "ab" * 64},
        {"principal": "mallory"},
        {"kind": "EFFECT"},
    ],
    ids=["payload", "lamport", "parents", "sig", "principal", "kind"],
)
def test_changed_node_is_detected(busy: Kernel, change: dict[str, object]) -> None:
    """A node replaced by a copy with a changed hashed member fails verification."""
    key = middle_key(busy)
    busy.graph.nodes[key] = attrs.evolve(busy.graph.nodes[key], **change)
    assert any(problem.startswith("ProofGraph") for problem in problems(busy))


def test_changed_payload_in_place_is_detected(busy: Kernel) -> None:
    """A node whose payload dict is edited in place fails verification."""
    node = busy.graph.nodes[middle_key(busy)]
    node.payload["call_id"] = "call-999999"
    assert any(problem.startswith("ProofGraph") for problem in problems(busy))


def test_rehashed_node_is_detected_by_its_children(busy: Kernel) -> None:
    """A changed node stored under its new hash leaves its child naming a missing parent."""
    key = middle_key(busy)
    node = busy.graph.nodes.pop(key)
    payload = {**node.payload, "call_id": "call-999999"}
    rehashed = node_hash(node.kind, node.parents, node.lamport, node.principal, payload, node.sig)
    busy.graph.nodes[rehashed] = attrs.evolve(node, payload=payload, hash=rehashed)
    assert any("missing parent" in problem for problem in problems(busy))


def test_missing_parent_is_detected(busy: Kernel) -> None:
    """A node whose parent is gone fails verification."""
    del busy.graph.nodes[middle_key(busy)]
    assert any("missing parent" in problem for problem in problems(busy))


def test_lamport_not_increasing_along_an_edge_is_detected(busy: Kernel) -> None:
    """A consistently rehashed head whose lamport equals its parent's fails verification."""
    graph = busy.graph
    key = graph.order[-1]
    node = graph.nodes.pop(key)
    lamport = graph.nodes[node.parents[0]].lamport
    rehashed = node_hash(node.kind, node.parents, lamport, node.principal, node.payload, node.sig)
    graph.nodes[rehashed] = attrs.evolve(node, lamport=lamport, hash=rehashed)
    graph.heads = (rehashed,)
    assert any("lamport does not increase" in problem for problem in problems(busy))


@pytest.mark.parametrize("heads", ["none", "first", "extra"])
def test_wrong_heads_are_detected(busy: Kernel, heads: str) -> None:
    """Heads that are not exactly the childless nodes fail verification."""
    graph = busy.graph
    wrong = {
        "none": (),
        "first": (graph.order[0],),
        "extra": (graph.order[-1], graph.order[-2]),
    }[heads]
    graph.heads = wrong
    assert any("heads" in problem for problem in problems(busy))


# --- tampering with a receipt chain ---------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"status": "TOOL_ERROR"},
        {"output_hash": "sha256:" + "0" * 64},
        {"signature": "cd" * 64},
        {"timestamp": 99},
    ],
    ids=["status", "output_hash", "signature", "timestamp"],
)
def test_changed_receipt_is_detected(busy: Kernel, change: dict[str, object]) -> None:
    """A receipt replaced by a changed copy breaks its successor's link."""
    chain = busy.chains.chains["s1"]
    chain[1] = attrs.evolve(chain[1], **change)
    assert any(problem.startswith("receipt chain s1") for problem in problems(busy))


def test_changed_receipt_lamport_is_detected(busy: Kernel) -> None:
    """A receipt whose lamport is changed fails verification."""
    chain = busy.chains.chains["s1"]
    chain[0] = attrs.evolve(chain[0], lamport_clock=7)
    assert any(problem.startswith("receipt chain s1") for problem in problems(busy))


@pytest.mark.parametrize("position", [0, 1, 2])
def test_removed_receipt_is_detected(busy: Kernel, position: int) -> None:
    """A receipt removed from the start or the middle of a chain fails verification."""
    del busy.chains.chains["s1"][position]
    assert any(problem.startswith("receipt chain s1") for problem in problems(busy))


@pytest.mark.parametrize(("first", "second"), [(0, 1), (1, 2), (0, 4)])
def test_reordered_receipts_are_detected(busy: Kernel, first: int, second: int) -> None:
    """Two receipts swapped in a chain fail verification."""
    chain = busy.chains.chains["s1"]
    chain[first], chain[second] = chain[second], chain[first]
    assert any(problem.startswith("receipt chain s1") for problem in problems(busy))


def test_receipt_of_another_session_is_detected(busy: Kernel) -> None:
    """A receipt moved into another session's chain fails verification."""
    busy.chains.chains["s1"].append(busy.chains.chains["s2"][0])
    assert any(problem.startswith("receipt chain s1") for problem in problems(busy))


# --- the node pattern of each way a call ends -----------------------------------------------------


def test_deny_pattern(kernel: Kernel) -> None:
    """A DENY call is [INTENT, ATTESTATION], the ATTESTATION signed by the decision."""
    outcome = kernel.call(Request("alice", "nope", {}))
    assert outcome.decision is not None
    nodes = nodes_by_call(kernel)[outcome.call_id]
    assert ["INTENT", "ATTESTATION"] == [node.kind for node in nodes]
    assert outcome.decision.signature == nodes[1].sig
    assert outcome.decision.id == nodes[1].payload["decision_id"]


def test_escalate_pattern(kernel: Kernel) -> None:
    """An ESCALATE call is [INTENT, ATTESTATION]."""
    outcome = kernel.call(Request("alice", "approve", {}))
    assert outcome.decision is not None
    assert "ESCALATE" == outcome.decision.verdict
    assert ["INTENT", "ATTESTATION"] == kinds_of(kernel, outcome.call_id)


def test_fail_closed_pattern(kernel: Kernel) -> None:
    """A fail-closed call is [INTENT, unsigned ATTESTATION with reason SIGNER_UNAVAILABLE]."""
    kernel.remove_signing()
    outcome = kernel.call(echo())
    assert outcome.fail_closed
    nodes = nodes_by_call(kernel)[outcome.call_id]
    assert ["INTENT", "ATTESTATION"] == [node.kind for node in nodes]
    assert "" == nodes[1].sig
    assert "SIGNER_UNAVAILABLE" == nodes[1].payload["reason_code"]


def test_fail_closed_pattern_through_the_phases(kernel: Kernel) -> None:
    """Begin then a failed decide leaves the same two nodes for the call."""
    pending = kernel.begin(echo())
    kernel.remove_signing()
    with pytest.raises(SignerUnavailable):
        kernel.decide(pending)
    assert ["INTENT", "ATTESTATION"] == kinds_of(kernel, pending.call_id)


def test_intent_refused_pattern(kernel: Kernel) -> None:
    """An intent refusal is [INTENT, ATTESTATION (decision), ATTESTATION (refusal)]."""
    pending = kernel.begin(echo())
    decision = kernel.decide(pending)
    kernel.put_rule("sum", {"id": "other"})
    with pytest.raises(IntentRefused):
        kernel.issue_intent(decision, pending.effect)
    nodes = nodes_by_call(kernel)[pending.call_id]
    assert ["INTENT", "ATTESTATION", "ATTESTATION"] == [node.kind for node in nodes]
    assert decision.signature == nodes[1].sig
    assert ("", "intent", "POLICY_EPOCH_CHANGED") == (
        nodes[2].sig,
        nodes[2].payload["stage"],
        nodes[2].payload["code"],
    )


def test_execution_refused_pattern(kernel: Kernel) -> None:
    """An execution refusal is [INTENT, ATTESTATION (decision), ATTESTATION (refusal)]."""
    pending = kernel.begin(echo())
    decision = kernel.decide(pending)
    intent = kernel.issue_intent(decision, pending.effect)
    kernel.set_executor_time(intent.expires_at)
    with pytest.raises(ExecutionRefused):
        kernel.execute(decision, intent, pending.effect)
    nodes = nodes_by_call(kernel)[pending.call_id]
    assert ["INTENT", "ATTESTATION", "ATTESTATION"] == [node.kind for node in nodes]
    assert ("execution", "INTENT_EXPIRED") == (nodes[2].payload["stage"], nodes[2].payload["code"])


def test_executed_pattern(kernel: Kernel) -> None:
    """An executed call is [INTENT, ATTESTATION, EFFECT], the EFFECT naming its receipt."""
    outcome = kernel.call(echo())
    assert outcome.decision is not None and outcome.receipt is not None
    nodes = nodes_by_call(kernel)[outcome.call_id]
    assert ["INTENT", "ATTESTATION", "EFFECT"] == [node.kind for node in nodes]
    assert outcome.decision.signature == nodes[1].sig
    assert outcome.receipt.signature == nodes[2].sig
    assert outcome.receipt.receipt_id == nodes[2].payload["receipt_id"]
    assert outcome.decision.effect_digest == nodes[0].payload["effect_digest"]


def test_retried_execution_adds_no_node(kernel: Kernel) -> None:
    """Retrying an executed decision leaves the call's pattern and the graph unchanged."""
    pending = kernel.begin(echo())
    decision = kernel.decide(pending)
    intent = kernel.issue_intent(decision, pending.effect)
    kernel.execute(decision, intent, pending.effect)
    order = list(kernel.graph.order)
    kernel.execute(decision, intent, pending.effect)
    kernel.execute(decision, kernel.issue_intent(decision, pending.effect), pending.effect)
    assert order == kernel.graph.order
    assert ["INTENT", "ATTESTATION", "EFFECT"] == kinds_of(kernel, pending.call_id)


def test_every_call_of_a_busy_kernel_has_a_completed_pattern(busy: Kernel) -> None:
    """Every call began has one INTENT first, then its decision or fail-closed ATTESTATION."""
    groups = nodes_by_call(busy)
    assert set(busy.guardian.calls) == set(groups)
    for call_id, nodes in groups.items():
        kinds = [node.kind for node in nodes]
        assert "INTENT" == kinds[0], call_id
        assert "ATTESTATION" == kinds[1], call_id
        assert kinds in (
            ["INTENT", "ATTESTATION"],
            ["INTENT", "ATTESTATION", "EFFECT"],
        ), call_id


def test_effect_of_a_relabelled_decision_stays_with_its_own_call(kernel: Kernel) -> None:
    """An ALLOW whose unsigned call_id is changed to a DENY call's never gives that call an
    EFFECT: every EFFECT belongs to the call that made its decision."""
    allowed = kernel.begin(echo(1))
    decision = kernel.decide(allowed)
    denied = kernel.begin(Request("bob", "nope", {}))
    kernel.decide(denied)
    # call_id is not among the signed fields (section 4), so the signature still verifies.
    relabelled = attrs.evolve(decision, call_id=denied.call_id)
    try:
        intent = kernel.issue_intent(relabelled, allowed.effect)
        kernel.execute(relabelled, intent, allowed.effect)
    except (IntentRefused, ExecutionRefused):
        pass  # refusing the relabelled decision is also within the spec
    assert "EFFECT" not in kinds_of(kernel, denied.call_id)
    for call_id, nodes in nodes_by_call(kernel).items():
        for node in nodes:
            if node.kind == "EFFECT":
                owner = kernel.guardian.calls[call_id].decision
                assert owner is not None
                assert owner.id == node.payload["decision_id"]


# Strings the node writer can take as they are, and ones it must hand to the full encoder.
NODE_TEXT = st.one_of(
    st.text(max_size=8), st.sampled_from(["", "\ud800", 'a"b\\c\n', "é\u2028", "\U0001f600"])
)
NODE_VALUES = st.one_of(
    NODE_TEXT,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False),
    st.lists(st.integers(min_value=-3, max_value=3), max_size=2),
    st.dictionaries(NODE_TEXT, st.integers(min_value=0, max_value=3), max_size=2),
)
NODE_MEMBERS = st.fixed_dictionaries(
    {
        "kind": st.one_of(NODE_TEXT, st.integers(min_value=0, max_value=3)),
        "parents": st.one_of(st.tuples(), st.tuples(NODE_TEXT), st.tuples(NODE_TEXT, st.just(7))),
        "lamport": st.one_of(
            st.integers(min_value=0, max_value=10),
            st.sampled_from([2**53 - 1, 2**53, -(2**53), True]),
        ),
        "principal": st.one_of(NODE_TEXT, st.none()),
        "payload": st.one_of(
            st.dictionaries(
                st.one_of(st.sampled_from(["call_id", "stage", "code", "x"]), NODE_TEXT),
                NODE_VALUES,
                max_size=4,
            ),
            st.none(),
        ),
        "sig": st.one_of(NODE_TEXT, st.sampled_from(["ab" * 64, 5])),
    }
)


@settings(max_examples=400, deadline=None)
@given(NODE_MEMBERS)
def test_node_hash_agrees_with_hashing_the_canonical_bytes(members: dict[str, Any]) -> None:
    """node_hash is SHA-256 of canonical_bytes of the members (parents as a list), or refuses
    with canonical_bytes's refusal, whatever the members hold."""
    order = ("kind", "parents", "lamport", "principal", "payload", "sig")
    whole = {name: members[name] for name in order} | {"parents": list(members["parents"])}
    try:
        expected: object = hashlib.sha256(canonical_bytes(whole)).hexdigest()
    except (CanonicalJSONError, TypeError) as exc:
        expected = (type(exc), str(exc))
    try:
        actual: object = node_hash(**members)
    except (CanonicalJSONError, TypeError) as exc:
        actual = (type(exc), str(exc))
    assert expected == actual
