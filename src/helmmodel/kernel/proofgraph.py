"""Receipt chains and the ProofGraph (spec section 7).

A receipt chain per session links each receipt to the SHA-256 of its predecessor's JCS. The
ProofGraph is an append-only DAG of content-addressed nodes; each append takes the current heads
as parents, so lamports strictly increase along every edge.
"""

from __future__ import annotations

from typing import Any

import attrs

from helmmodel.canonical import JSONValue, canonical_bytes, sha256_hex
from helmmodel.kernel.clock import SimClock
from helmmodel.kernel.digest import SetDigest
from helmmodel.kernel.records import Receipt
from helmmodel.kernel.release_receipt import chain_hash

NODE_INTENT = "INTENT"
NODE_ATTESTATION = "ATTESTATION"
NODE_EFFECT = "EFFECT"


def receipt_hash(receipt: Receipt) -> str:
    """Bare hex SHA-256 of the receipt's JCS, signature included: the next ``prev_hash``."""
    return sha256_hex(receipt.member_bytes())


@attrs.frozen(kw_only=True)
class Node:
    """A ProofGraph node; ``hash`` covers every member but ``timestamp`` (no wall time in it)."""

    kind: str
    parents: tuple[str, ...]
    lamport: int
    principal: str
    payload: dict[str, Any] = attrs.field(eq=False)
    sig: str
    timestamp: int
    hash: str


def node_hash(
    kind: str,
    parents: tuple[str, ...],
    lamport: int,
    principal: str,
    payload: dict[str, Any],
    sig: str,
) -> str:
    """Bare hex SHA-256 of the JCS of the hashed node members."""
    members = {
        "kind": kind,
        "parents": list(parents),
        "lamport": lamport,
        "principal": principal,
        "payload": payload,
        "sig": sig,
    }
    return sha256_hex(canonical_bytes(members))


class ProofGraph:
    """The append-only DAG of what the kernel did."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self.nodes: dict[str, Node] = {}
        self.order: list[str] = []  # node hashes in append order
        self.heads: tuple[str, ...] = ()
        self.lamport = 0

    def append(self, kind: str, principal: str, payload: dict[str, Any], sig: str = "") -> Node:
        """Append a node whose parents are the current heads; it becomes the only head."""
        parents = tuple(sorted(self.heads))
        lamport = self.lamport + 1
        digest = node_hash(kind, parents, lamport, principal, payload, sig)
        node = Node(
            kind=kind,
            parents=parents,
            lamport=lamport,
            principal=principal,
            payload=payload,
            sig=sig,
            timestamp=self._clock.now_ms,
            hash=digest,
        )
        self.nodes[digest] = node
        self.order.append(digest)
        self.heads = (digest,)
        self.lamport = lamport
        return node

    def digest_material(self) -> bytes:
        return f"{self.lamport}|{','.join(self.heads)}".encode()


class ReceiptChains:
    """One hash-linked chain of receipts per session."""

    def __init__(self) -> None:
        self.chains: dict[str, list[Receipt]] = {}
        # The release's envelope of each receipt, by receipt id (spec 12.4; none otherwise).
        self.wires: dict[str, dict[str, JSONValue]] = {}
        self._head_hashes: dict[str, str] = {}
        self._heads_digest = SetDigest()

    def next_link(self, session_id: str) -> tuple[int, str]:
        """The ``(lamport_clock, prev_hash)`` the next receipt of *session_id* must carry."""
        chain = self.chains.get(session_id)
        if not chain:
            return 1, ""
        return chain[-1].lamport_clock + 1, self._head_hashes[session_id]

    def append(self, receipt: Receipt, wire: dict[str, JSONValue] | None = None) -> None:
        """Append *receipt* to its session's chain; with the release's envelope *wire*, the
        next link is that envelope's hash (the release's rule), not the record's."""
        session = receipt.session_id
        old_head = self._head_hashes.get(session)
        if old_head is not None:
            self._heads_digest.remove(f"{session}|{old_head}".encode())
        if wire is None:
            new_head = receipt_hash(receipt)
        else:
            self.wires[receipt.receipt_id] = wire
            new_head = chain_hash(wire)
        self.chains.setdefault(session, []).append(receipt)
        self._head_hashes[session] = new_head
        self._heads_digest.add(f"{session}|{new_head}".encode())

    def digest_material(self) -> bytes:
        return self._heads_digest.value()
