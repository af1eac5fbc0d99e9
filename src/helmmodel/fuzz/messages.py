"""What a campaign's worker tells the parent: one frozen record per kind of message, pickled
through the worker's pipe; the parent tells them apart by their type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from helmmodel.fuzz.chunks import Finding, Ran
from helmmodel.harness.stateful import Stats


@attrs.frozen(kw_only=True)
class ChunkStarted:
    """A worker starts a chunk."""

    chunk: int  # the worker's count of chunks, the campaign's first chunk being 0
    machine: str
    seed: int
    swarm: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class Progress:
    """The running chunk's figures so far, and the outcomes it reached first in the worker."""

    examples: int = 0
    steps: int = 0
    outcomes: tuple[tuple[str, str], ...] = ()  # (facet, value), not reported before


@attrs.frozen(kw_only=True)
class ChunkDone:
    """A chunk has ended: its figures, its transitions, its settled findings and its errors."""

    worker: int
    chunk: int
    machine: str
    seed: int
    swarm: str
    ended_by: str | None
    seconds: float
    examples: int
    steps: int
    rules: dict[str, int]  # steps by rule
    outcomes: dict[str, dict[str, int]]  # {facet: {value: count}}
    transitions: dict[str, list[Any]]  # {"rules": the matrix's axes, "matrix": its counts}
    findings: tuple[Finding, ...]
    errors: tuple[str, ...]

    def to_json(self, *, started_s: float, pid: int | None) -> dict[str, Any]:
        """The chunk as the campaign's record keeps it (what :mod:`helmmodel.fuzz.report`
        reads), with when it started and the worker's pid."""
        return {
            **attrs.asdict(self, recurse=False),
            "findings": [finding.to_json() for finding in self.findings],
            "errors": list(self.errors),
            "started_s": started_s,
            "pid": pid,
        }


@attrs.frozen
class Bye:
    """A worker has run its last chunk and stops."""


Message = ChunkStarted | Progress | ChunkDone | Bye


def outcome_counts(stats: Stats) -> dict[str, dict[str, int]]:
    """A run's outcome counts as ``{facet: {value: count}}``."""
    found: dict[str, dict[str, int]] = {}
    for (facet, value), count in sorted(stats.outcomes.items()):
        found.setdefault(facet, {})[value] = count
    return found


def chunk_done(ran: Ran, findings: Sequence[Finding], *, worker: int, chunk: int) -> ChunkDone:
    """The report of the *chunk*-th chunk of *worker*, which *ran* and found *findings*."""
    return ChunkDone(
        worker=worker,
        chunk=chunk,
        machine=ran.chunk.machine,
        seed=ran.chunk.seed,
        swarm=ran.chunk.swarm,
        ended_by=ran.chunk.ended_by,
        seconds=ran.seconds,
        examples=ran.stats.examples,
        steps=ran.stats.steps,
        rules=dict(ran.stats.rules),
        outcomes=outcome_counts(ran.stats),
        transitions={"rules": list(ran.chunk.rules), "matrix": ran.chunk.matrix.tolist()},
        findings=tuple(findings),
        errors=tuple(ran.errors),
    )
