"""Receipt chains and the ProofGraph (spec section 7).

A receipt chain per session links each receipt to the SHA-256 of its predecessor's JCS. The
ProofGraph is an append-only DAG of content-addressed nodes; each append takes the current heads
as parents, so lamports strictly increase along every edge.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

from helmmodel.canonical import (
    SAFE_INTEGER_MAX,
    JSONValue,
    canonical_bytes,
    canonical_text,
    encode_string,
    flat_encoder,
    sha256_hex,
)
from helmmodel.errors import IntegrityError
from helmmodel.kernel.clock import SimClock
from helmmodel.kernel.digest import SetDigest
from helmmodel.kernel.records import Receipt

NODE_INTENT = "INTENT"
NODE_ATTESTATION = "ATTESTATION"
NODE_EFFECT = "EFFECT"


def receipt_hash(receipt: Receipt) -> str:
    """Bare hex SHA-256 of the receipt's JCS, signature included: the next ``prev_hash``."""
    return sha256_hex(receipt.member_bytes())


@attrs.frozen
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

    def hashed_members(self) -> dict[str, JSONValue]:
        return {
            "kind": self.kind,
            "parents": list(self.parents),
            "lamport": self.lamport,
            "principal": self.principal,
            "payload": self.payload,
            "sig": self.sig,
        }


_NODE_TEMPLATE = '{"kind":%s,"lamport":%d,"parents":[%s],"payload":%s,"principal":%s,"sig":%s}'


def node_hash(
    kind: str,
    parents: tuple[str, ...],
    lamport: int,
    principal: str,
    payload: dict[str, Any],
    sig: str,
) -> str:
    """Bare hex SHA-256 of the JCS of the hashed node members."""
    if (
        type(kind) is str
        and type(principal) is str
        and type(sig) is str
        and type(lamport) is int
        and -SAFE_INTEGER_MAX <= lamport <= SAFE_INTEGER_MAX
        and type(payload) is dict
    ):
        # Every append hashes a node, so the object is written here, members in sorted order.
        # The payload (flat, with keys fixed in code, as the kernel makes them) has a template of
        # its own; anything else about it goes through the checking encoder at the path and depth
        # it has inside the node, so a refusal is the one encoding the whole gives (the members
        # before it are strings or a safe integer, which pass).
        try:
            parents_text = ",".join(map(encode_string, parents))
        except TypeError:
            parents_text = None  # a parent that is not a string: the full encoding below
        if parents_text is not None:
            try:
                payload_text = flat_encoder(tuple(payload)).text(payload)
            except ValueError:
                payload_text = None  # keys that are not identifiers
            if payload_text is None:
                payload_text = canonical_text(payload, "payload", 1)
            text = _NODE_TEMPLATE % (
                encode_string(kind),
                lamport,
                parents_text,
                payload_text,
                encode_string(principal),
                encode_string(sig),
            )
            try:
                return hashlib.sha256(text.encode("utf-8")).hexdigest()
            except UnicodeEncodeError:
                pass  # a lone surrogate: the full encoding below refuses it and names where
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
        heads = self.heads
        # After the first append the heads are one node, already a sorted tuple.
        parents = heads if type(heads) is tuple and len(heads) < 2 else tuple(sorted(heads))
        lamport = self.lamport + 1
        digest = node_hash(kind, parents, lamport, principal, payload, sig)
        node = Node(kind, parents, lamport, principal, payload, sig, self._clock.now_ms, digest)
        self.nodes[digest] = node
        self.order.append(digest)
        self.heads = (digest,)
        self.lamport = lamport
        return node

    def verify(self) -> None:
        """Raise IntegrityError unless every node recomputes, every parent exists and lamports
        strictly increase along every edge, and the heads are exactly the childless nodes."""
        with_children: set[str] = set()
        for key, node in self.nodes.items():
            members = node.hashed_members()
            if node.hash != key or sha256_hex(canonical_bytes(members)) != key:
                raise IntegrityError(f"node {key[:12]} does not hash to its address")
            for parent in node.parents:
                if parent not in self.nodes:
                    raise IntegrityError(f"node {key[:12]} names a missing parent {parent[:12]}")
                if self.nodes[parent].lamport >= node.lamport:
                    raise IntegrityError(
                        f"lamport does not increase from {parent[:12]} to {key[:12]}"
                    )
                with_children.add(parent)
        if set(self.heads) != set(self.nodes) - with_children:
            raise IntegrityError("the heads are not exactly the nodes without children")

    def digest_material(self) -> bytes:
        return f"{self.lamport}|{','.join(self.heads)}".encode()


class ReceiptChains:
    """One hash-linked chain of receipts per session."""

    def __init__(self) -> None:
        self.chains: dict[str, list[Receipt]] = {}
        self._head_hashes: dict[str, str] = {}
        self._heads_digest = SetDigest()
        # Each session's head as a term of the digest, so replacing it needs no rehashing.
        self._head_terms: dict[str, int] = {}

    def next_link(self, session_id: str) -> tuple[int, str]:
        """The ``(lamport_clock, prev_hash)`` the next receipt of *session_id* must carry."""
        chain = self.chains.get(session_id)
        if not chain:
            return 1, ""
        return chain[-1].lamport_clock + 1, self._head_hashes[session_id]

    def append(self, receipt: Receipt) -> None:
        """Append *receipt* to its session's chain."""
        session = receipt.session_id
        old_term = self._head_terms.get(session)
        if old_term is not None:
            self._heads_digest.remove_term(old_term)
        new_head = receipt_hash(receipt)
        self.chains.setdefault(session, []).append(receipt)
        self._head_hashes[session] = new_head
        self._head_terms[session] = self._heads_digest.add(f"{session}|{new_head}".encode())

    def verify(self, session_id: str) -> None:
        """Raise IntegrityError unless *session_id*'s lamports run 1..n and each ``prev_hash``
        is the hash of its predecessor."""
        previous: Receipt | None = None
        for position, receipt in enumerate(self.chains.get(session_id, []), start=1):
            expected = receipt_hash(previous) if previous is not None else ""
            if receipt.lamport_clock != position:
                raise IntegrityError(
                    f"session {session_id!r}: receipt {position} has lamport "
                    f"{receipt.lamport_clock}"
                )
            if receipt.prev_hash != expected or receipt.session_id != session_id:
                raise IntegrityError(
                    f"session {session_id!r}: receipt {receipt.receipt_id} does not link to "
                    "its predecessor"
                )
            previous = receipt
        if previous is not None and receipt_hash(previous) != self._head_hashes.get(session_id):
            raise IntegrityError(
                f"session {session_id!r}: the last receipt is not the one that was appended"
            )

    def digest_material(self) -> bytes:
        return self._heads_digest.value()
