"""Deterministic id counters, one set per kernel (spec section 1): ``call-000001`` and so on.

They live on the kernel instance, never on a class: a counter shared between kernels would make a
replayed trace produce other ids (the bug invariant 20 exists for).
"""

from __future__ import annotations

ID_KINDS = ("call", "dec", "eff", "spec")


class IdCounters:
    """The next number of each id kind."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(ID_KINDS, 0)

    def next(self, kind: str) -> str:
        """The next id of *kind*, such as ``dec-000042``."""
        number = self.counts[kind] + 1
        self.counts[kind] = number
        return f"{kind}-{number:06d}"

    def digest_material(self) -> bytes:
        return ",".join(str(self.counts[k]) for k in ID_KINDS).encode()
