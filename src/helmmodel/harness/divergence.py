"""Where HELM's release promises less than the chaos page: each page claim, shown by a trace.

Under the release's semantics the page's stricter claims are not run as invariants (the release
does not keep them), but they are not dropped silently either: each is run as an extra invariant
against the release's kernel on the machine that can show it, and what it finds is made 1-minimal
and saved like any counterexample (status ``open``: replaying it must still show the divergence).
A claim the machine cannot show within its budget is reported as not shown, and fails the run: a
divergence the checker cannot reach is a hole in the checker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import attrs
from hypothesis import settings as Settings

from helmmodel.checker.invariants import PAGE_CLAIMS, PageClaim
from helmmodel.harness import capture, runner
from helmmodel.harness.stateful import TracedMachine
from helmmodel.harness.trace import git_commit
from helmmodel.kernel.semantics import HELM_AI_KERNEL


@attrs.frozen(kw_only=True)
class Divergence:
    """One page claim run against the release: shown (with its 1-minimal trace) or not."""

    claim: PageClaim
    shown: bool
    found_length: int | None = None
    minimal_length: int | None = None
    saved: Path | None = None
    message: str = ""

    @property
    def name(self) -> str:
        return self.claim.invariant.__name__


def show(
    claim: PageClaim,
    machine: type[TracedMachine],
    corpus: Path,
    *,
    profile_settings: Settings,
    profile: str,
) -> Divergence:
    """Run *machine* against the release with *claim* as an extra invariant; capture what fires."""
    name = claim.invariant.__name__
    result = runner.run_machine(
        machine,
        profile_settings=profile_settings,
        profile=profile,
        shrink=False,
        semantics=HELM_AI_KERNEL,
        claims=(name,),
    )
    failure = result.failures.get(name)
    if failure is None or result.variant is None:
        fired = ", ".join(result.failures) or "nothing"
        return Divergence(claim=claim, shown=False, message=f"{name} did not fire ({fired} did)")
    to = capture.SaveTo(
        corpus=corpus,
        machine=result.machine,
        kernel="correct",
        semantics=HELM_AI_KERNEL,
        profile=profile,
        git_commit=git_commit(),
    )
    captured = capture.capture(result.variant, failure, to)
    return Divergence(
        claim=claim,
        shown=captured.kind is not capture.Kind.UNREPRODUCIBLE,
        found_length=len(failure.steps),
        minimal_length=captured.minimal_length,
        saved=captured.path,
        message=captured.trace.message if captured.trace is not None else failure.message,
    )


def show_all(
    machines: Mapping[str, type[TracedMachine]],
    corpus: Path,
    *,
    profile_settings: Settings,
    profile: str,
) -> list[Divergence]:
    """Every page claim whose machine is among *machines*, each on its machine."""
    return [
        show(
            claim,
            machines[claim.machine],
            corpus,
            profile_settings=profile_settings,
            profile=profile,
        )
        for claim in PAGE_CLAIMS
        if claim.machine in machines
    ]


def report(divergences: Sequence[Divergence], out: TextIO) -> int:
    """Print the divergence report; 1 when a claim could not be shown, else 0."""
    print(
        f"divergence report: the chaos page's claims that {HELM_AI_KERNEL} does not keep", file=out
    )
    for divergence in divergences:
        claim = divergence.claim
        print(f"  {divergence.name} (the page's {claim.page})", file=out)
        print(f"    the release: {claim.release}", file=out)
        if not divergence.shown:
            print(f"    NOT SHOWN on {claim.machine}: {divergence.message}", file=out)
            continue
        print(
            f"    shown on {claim.machine}: found in {divergence.found_length} steps, "
            f"1-minimal in {divergence.minimal_length}: {divergence.message}",
            file=out,
        )
        if divergence.saved is not None:
            print(f"    saved: {divergence.saved}", file=out)
    return 0 if all(d.shown for d in divergences) else 1
