"""An order-free running digest of a set, so a component's digest costs O(1) per change.

Each member contributes SHA-256 of its bytes, summed modulo 2^256; removing subtracts. Equal sets
give equal digests whatever the order of the changes, which is what a state digest of a set (the
executed decisions, the chain heads) needs.
"""

from __future__ import annotations

import hashlib

_MODULUS = 1 << 256


class SetDigest:
    """A running digest over a multiset of byte strings."""

    __slots__ = ("_total",)

    def __init__(self) -> None:
        self._total = 0

    def add(self, member: bytes) -> None:
        self._total = (self._total + int.from_bytes(hashlib.sha256(member).digest())) % _MODULUS

    def remove(self, member: bytes) -> None:
        self._total = (self._total - int.from_bytes(hashlib.sha256(member).digest())) % _MODULUS

    def value(self) -> bytes:
        return self._total.to_bytes(32)
