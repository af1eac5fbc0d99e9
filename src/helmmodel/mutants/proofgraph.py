"""Mutants of the ProofGraph and of the receipt chains (spec section 7)."""

from __future__ import annotations

from typing import Any

from helmmodel.kernel import Kernel, Node, ProofGraph, ReceiptChains
from helmmodel.kernel.proofgraph import receipt_hash
from helmmodel.mutants.mutant import Mutant


class PerCallParentsProofGraph(ProofGraph):
    """``append`` hangs a call's node from that call's previous node, not from the heads."""

    def append(self, kind: str, principal: str, payload: dict[str, Any], sig: str = "") -> Node:
        last_of_call: dict[Any, str] = vars(self).setdefault("last_node_of_call", {})
        own = last_of_call.get(payload.get("call_id"))
        if own is not None:
            # The bug: each call is kept as its own chain, so when calls interleave a node's
            # parent already has a child and another call's node is left a childless non-head.
            self.heads = (own,)
        node = super().append(kind, principal, payload, sig)
        last_of_call[payload.get("call_id")] = node.hash
        return node


class LinksToFirstReceiptChains(ReceiptChains):
    """``next_link`` links a new receipt to the session's first receipt."""

    def next_link(self, session_id: str) -> tuple[int, str]:
        chain = self.chains.get(session_id)
        if not chain:
            return 1, ""
        # The bug: chain[0] where chain[-1] belongs; right for a session's second receipt only.
        return len(chain) + 1, receipt_hash(chain[0])


MUTANTS = (
    Mutant(
        "proofgraph-per-call-parents",
        "append takes the call's own previous node as the parent instead of the graph's heads, "
        "so interleaved calls leave childless nodes that are not heads.",
        "ProofGraph",
        "budget_contention",
        "proofgraph_consistent",
        type("PerCallParentsKernel", (Kernel,), {"proofgraph_class": PerCallParentsProofGraph}),
    ),
    Mutant(
        "chains-link-to-first-receipt",
        "next_link takes prev_hash from the session's first receipt instead of its last, which is "
        "right only for the second receipt of a session.",
        "ReceiptChains",
        "budget_contention",
        "receipt_chain_intact",
        type("LinksToFirstKernel", (Kernel,), {"chains_class": LinksToFirstReceiptChains}),
    ),
)
