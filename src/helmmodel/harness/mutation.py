"""Run the catalogue: each mutant's machine against it, its first failing trace made 1-minimal.

For each mutant, its machine runs under the ``ci`` profile within that machine's ``ci`` budget
(``max_examples * budget_share``) with Hypothesis's shrinker off: the run stops at the first
violation, and :func:`helmmodel.harness.minimize.minimize` makes that trace 1-minimal by replay, far
faster than shrinking. The trace Hypothesis found is reported as *found* (it was never shrunk).
Traces are saved into the corpus given (a temporary one, never ``tests/regressions``), one folder
per mutant so that two mutants never share a file.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import attrs

from helmmodel.errors import RunnerError
from helmmodel.harness import capture, profiles, runner
from helmmodel.harness.stateful import TracedMachine
from helmmodel.harness.trace import git_commit
from helmmodel.mutants.catalogue import BY_NAME, CATALOGUE
from helmmodel.mutants.mutant import Mutant

PROFILE = "ci"


@attrs.frozen(kw_only=True)
class Row:
    """What one mutant's run found: whether it was caught, by what, how fast, and the traces."""

    mutant: str
    component: str
    machine: str
    expected: str
    budget: int  # examples the machine's ci budget allows
    caught: bool  # an invariant fired
    fired: str | None  # the first invariant that fired
    examples: int | None  # examples run until the first violation (that one included)
    seconds: float | None  # seconds from the start of the run to the first violation
    found_length: int | None  # steps of the failing trace Hypothesis found (not shrunk)
    minimal_length: int | None  # steps of its 1-minimal variant
    saved: Path | None  # where the 1-minimal trace was saved
    note: str = ""  # why a length or the trace is missing, or an error that was no violation

    @property
    def as_expected(self) -> bool:
        """Caught, and by the expected invariant."""
        return self.caught and self.fired == self.expected

    @property
    def verdict(self) -> str:
        if not self.caught:
            return "SURVIVED"
        return "caught" if self.as_expected else "WRONG INVARIANT"


def select(names: Sequence[str]) -> list[Mutant]:
    """The sequential mutants named (all of them when *names* is empty), in catalogue order."""
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise RunnerError(
            f"unknown mutant {', '.join(map(repr, unknown))}; known mutants: "
            f"{', '.join(sorted(BY_NAME))}"
        )
    wanted = set(names)
    return [m for m in CATALOGUE if (m.name in wanted if names else not m.needs_threads)]


def run_one(
    mutant: Mutant,
    machine: type[TracedMachine],
    corpus: Path,
    commit: str | None,
) -> Row:
    """Run *machine* against *mutant* and make its first failing trace 1-minimal."""
    settings = profiles.load(PROFILE)
    budget = max(1, round(settings.max_examples * machine.budget_share))
    result = runner.run_machine(
        machine,
        kernel=mutant.name,
        profile_settings=settings,
        profile=PROFILE,
        shrink=False,
        semantics=mutant.semantics,
    )
    row = Row(
        mutant=mutant.name,
        component=mutant.component,
        machine=mutant.machine,
        expected=mutant.invariant,
        budget=budget,
        caught=False,
        fired=None,
        examples=None,
        seconds=None,
        found_length=None,
        minimal_length=None,
        saved=None,
    )
    if not result.failures:
        error = result.error
        note = f"{type(error).__name__}: {error}" if error is not None else ""
        return attrs.evolve(row, note=note)
    # Failures keep the order in which their invariants first fired.
    fired = next(iter(result.failures))
    found = result.failures[fired].steps
    first = result.stats.first_failure
    row = attrs.evolve(
        row,
        caught=True,
        fired=fired,
        examples=first.examples if first is not None else None,
        seconds=first.seconds if first is not None else None,
        found_length=len(found),
    )
    assert result.variant is not None
    to = capture.SaveTo(
        corpus=corpus / mutant.name,
        machine=mutant.machine,
        kernel=mutant.name,
        semantics=mutant.semantics,
        profile=PROFILE,
        git_commit=commit,
    )
    captured = capture.capture(result.variant, result.failures[fired], to)
    if captured.kind is capture.Kind.UNREPRODUCIBLE:
        return attrs.evolve(row, note="the found trace does not fail again on replay")
    return attrs.evolve(row, minimal_length=captured.minimal_length, saved=captured.path)


def run_catalogue(
    names: Sequence[str], *, machines_dir: str | Path = "machines", corpus: Path, out: TextIO
) -> list[Row]:
    """Run each named mutant (all sequential ones when *names* is empty) against its machine.

    Prints one progress line per mutant to *out*; raises RunnerError for an unknown mutant or
    machine. Never raises for a mutant that survives: that is a row.
    """
    selected = select(names)
    machines = runner.load_machines(machines_dir)
    missing = sorted({m.machine for m in selected} - set(machines))
    if missing:
        raise RunnerError(
            f"the catalogue needs machines {missing}, which {machines_dir} does not define"
        )
    commit = git_commit()
    rows = []
    for mutant in selected:
        started = time.perf_counter()
        row = run_one(mutant, machines[mutant.machine], corpus, commit)
        print(
            f"{mutant.name}: {row.verdict} ({row.fired or 'nothing fired'}) "
            f"in {time.perf_counter() - started:.1f} s",
            file=out,
            flush=True,
        )
        rows.append(row)
    return rows


@attrs.frozen(kw_only=True)
class Spread:
    """The median and the worst of some figures."""

    median: float
    worst: float


@attrs.frozen(kw_only=True)
class Figures:
    """The catalogue's summary figures (over the caught mutants, for the timings and lengths)."""

    caught: int
    total: int
    examples: Spread | None  # None when no mutant was caught
    seconds: Spread | None
    found_length: Spread | None
    minimal_length: Spread | None

    @property
    def score(self) -> float:
        """The mutation score: mutants caught by their expected invariant, over all of them."""
        return self.caught / self.total if self.total else 0.0


def _spread(values: Sequence[float | None]) -> Spread | None:
    known = [value for value in values if value is not None]
    return Spread(median=statistics.median(known), worst=max(known)) if known else None


def figures(rows: Sequence[Row]) -> Figures:
    """Mutation score, and median and worst detection effort and trace lengths."""
    caught = [row for row in rows if row.as_expected]
    return Figures(
        caught=len(caught),
        total=len(rows),
        examples=_spread([r.examples for r in caught]),
        seconds=_spread([r.seconds for r in caught]),
        found_length=_spread([r.found_length for r in caught]),
        minimal_length=_spread([r.minimal_length for r in caught]),
    )


_COLUMNS = (
    ("mutant", "<"),
    ("component", "<"),
    ("machine", "<"),
    ("expected invariant", "<"),
    ("result", "<"),
    ("fired first", "<"),
    ("examples", ">"),
    ("seconds", ">"),
    ("found", ">"),
    ("1-minimal", ">"),
)


def _cells(row: Row) -> tuple[str, ...]:
    def number(value: int | None) -> str:
        return "-" if value is None else str(value)

    return (
        row.mutant,
        row.component,
        row.machine,
        row.expected,
        row.verdict,
        row.fired or "-",
        f"{number(row.examples)}/{row.budget}",
        "-" if row.seconds is None else f"{row.seconds:.1f}",
        number(row.found_length),
        number(row.minimal_length),
    )


def print_table(rows: Sequence[Row], out: TextIO) -> None:
    """Print one line per mutant, then the catalogue's figures and where the traces went."""
    cells = [tuple(title for title, _ in _COLUMNS), *map(_cells, rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    for number, line in enumerate(cells):
        print(
            "  ".join(
                f"{cell:{align}{width}}"
                for cell, (_, align), width in zip(line, _COLUMNS, widths, strict=True)
            ).rstrip(),
            file=out,
        )
        if number == 0:
            print("  ".join("-" * width for width in widths), file=out)
    found = figures(rows)
    print(
        f"\nmutation score: {found.caught}/{found.total} caught by their expected invariant "
        f"({found.score:.0%})",
        file=out,
    )
    for label, spread, unit in (
        ("examples until detection", found.examples, ""),
        ("seconds until detection", found.seconds, " s"),
        ("found trace length", found.found_length, " steps"),
        ("1-minimal trace length", found.minimal_length, " steps"),
    ):
        if spread is not None:
            median, worst = (
                f"{value:.2f}" if unit == " s" else f"{value:g}"
                for value in (spread.median, spread.worst)
            )
            print(f"{label}: median {median}{unit}, worst {worst}{unit}", file=out)
    for row in rows:
        if row.note:
            print(f"{row.mutant}: {row.note}", file=out)
        if not row.as_expected and row.saved is not None:
            print(f"{row.mutant}: trace saved to {row.saved}", file=out)


def exit_status(rows: Sequence[Row]) -> int:
    """0 when every mutant was caught by its expected invariant, else 1."""
    return 0 if all(row.as_expected for row in rows) else 1


def run_and_report(
    names: Sequence[str], *, machines_dir: str | Path = "machines", corpus: Path, out: TextIO
) -> int:
    """Run the catalogue, print its table, and return the exit status (``helmmodel mutants``)."""
    rows = run_catalogue(names, machines_dir=machines_dir, corpus=corpus, out=out)
    print(file=out)
    print_table(rows, out)
    print(f"traces saved under {corpus}", file=out)
    return exit_status(rows)
