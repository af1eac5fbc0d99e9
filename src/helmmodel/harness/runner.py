"""Run machines against the correct kernel or a named variant, and report what they reached.

Machines are found in a directory (``./machines`` by default): every module there that defines a
:class:`~helmmodel.harness.stateful.TracedMachine` subclass with a ``name``. Kernels are found by
name in :mod:`helmmodel.harness.kernels`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs
from hypothesis import Phase
from hypothesis import settings as Settings
from hypothesis.stateful import run_state_machine_as_test

from helmmodel.checker.coverage import EXPECTED_OUTCOMES, PHASES, REPORTED
from helmmodel.errors import InterruptedRun, RunnerError
from helmmodel.harness.kernels import kernel_factory
from helmmodel.harness.reach import FLOOR_PERCENT, Reach
from helmmodel.harness.stateful import Failure, Stats, TracedMachine, machine_for, transitions
from helmmodel.kernel.semantics import CHAOS_PAGE, HELM_AI_KERNEL


def load_machines(directory: str | Path = "machines") -> dict[str, type[TracedMachine]]:
    """Every named machine defined by the modules of *directory*, by name."""
    path = Path(directory).resolve()
    if not path.is_dir():
        raise RunnerError(
            f"no machine directory at {path}: run from the repository root or pass --machines DIR"
        )
    # The directory is imported as a package named after it, so its modules can import each
    # other (``from machines.world import ...``).
    parent = str(path.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    found: dict[str, type[TracedMachine]] = {}
    for module_path in sorted(path.glob("*.py")):
        if module_path.name.startswith("_"):
            continue
        module = importlib.import_module(f"{path.name}.{module_path.stem}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, TracedMachine)
                and value.__module__ == module.__name__
                and isinstance(getattr(value, "name", None), str)
            ):
                found[value.name] = value  # type: ignore[attr-defined]
    if not found:
        raise RunnerError(f"{path} defines no machine (a TracedMachine subclass with a name)")
    return found


@attrs.frozen(kw_only=True)
class MachineResult:
    """What one machine's run did and found."""

    machine: str
    kernel: str
    profile: str
    seconds: float
    stats: Stats
    rules: tuple[str, ...]
    failures: dict[str, Failure]
    error: BaseException | None = None
    variant: type[TracedMachine] | None = None
    interrupted: bool = False  # stopped by Ctrl-C: the figures cover what ran until then
    semantics: str = CHAOS_PAGE

    @property
    def examples(self) -> int:
        return self.stats.examples

    @property
    def steps(self) -> int:
        return self.stats.steps

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    def reached(self, facet: str) -> Counter[str]:
        return Counter(
            {value: n for (key, value), n in self.stats.outcomes.items() if key == facet}
        )

    def unreached(self) -> dict[str, list[str]]:
        """Expected outcomes and rules this run never reached."""
        missing = {
            facet: [value for value in expected if not self.reached(facet)[value]]
            for facet, expected in EXPECTED_OUTCOMES.items()
        }
        missing["rules"] = [rule for rule in self.rules if not self.stats.rules[rule]]
        return {facet: values for facet, values in missing.items() if values}


def run_machine(
    machine: type[TracedMachine],
    *,
    kernel: str = "correct",
    profile_settings: Settings,
    profile: str,
    max_examples: int | None = None,
    shrink: bool = True,
    semantics: str = CHAOS_PAGE,
    claims: tuple[str, ...] = (),
) -> MachineResult:
    """Run *machine* against the kernel named *kernel*; never raises for a violation.

    Without *shrink*, Hypothesis's shrinker is skipped: the minimizer makes the first failing
    trace 1-minimal by replay anyway, in far less time (used for the mutant catalogue).
    """
    variant = machine_for(machine, kernel, kernel_factory(kernel), semantics, claims)
    state = variant.run_state
    assert state is not None
    budget = max_examples or max(1, round(profile_settings.max_examples * machine.budget_share))
    phases = [p for p in profile_settings.phases if shrink or p is not Phase.shrink]
    run_settings = Settings(profile_settings, max_examples=budget, phases=phases)
    start = time.perf_counter()
    error: BaseException | None = None
    interrupted = False
    try:
        run_state_machine_as_test(variant, settings=run_settings)
    except KeyboardInterrupt:
        # Keep what the run found so far: its failures are still captured and reported.
        interrupted = True
    except Exception as caught:  # a violation (or several, as an ExceptionGroup)
        error = caught
    seconds = time.perf_counter() - start
    if interrupted and state.failures:
        error = InterruptedRun("stopped by Ctrl-C after finding a violation")
    return MachineResult(
        machine=machine.name,  # type: ignore[attr-defined]
        kernel=kernel,
        profile=profile,
        seconds=seconds,
        stats=state.stats,
        # The release's rules never run outside it (RuleChoice leaves them out), so are not owed.
        rules=tuple(
            sorted(
                name
                for name, spec in transitions(machine).items()
                if semantics == HELM_AI_KERNEL or not spec.release
            )
        ),
        failures=state.failures,
        error=error,
        variant=variant,
        interrupted=interrupted,
        semantics=semantics,
    )


def _counts(counter: Counter[str], order: Iterable[str] = ()) -> str:
    ordered = [key for key in order if key in counter] + sorted(set(counter) - set(order))
    return " · ".join(f"{key or '(empty)'} {counter[key]:,}" for key in ordered) or "none"


def _in(semantics: str) -> str:
    return "" if semantics == CHAOS_PAGE else f" in {semantics} semantics"


def report(result: MachineResult, out: TextIO) -> None:
    """Print one machine's figures, what it reached, and its verdict."""
    print(
        f"{result.machine} against the {result.kernel} kernel{_in(result.semantics)} "
        f"({result.profile} profile): "
        f"{result.examples:,} examples, {result.steps:,} steps, "
        f"{result.steps_per_second:,.0f} steps/s, {result.seconds:.1f} s",
        file=out,
    )
    print(f"  rules: {_counts(result.stats.rules)}", file=out)
    for facet in REPORTED:
        reached = result.reached(facet.name)
        if reached:
            print(f"  {facet.label}: {_counts(reached, facet.expected)}", file=out)
    print_acceptance(result.stats, out)
    if result.interrupted:
        print("  stopped by Ctrl-C: the figures above cover the examples run until then", file=out)
    if result.error is None:
        print("  result: no invariant violated", file=out)
        return
    if not result.failures:
        print(f"  result: ERROR {type(result.error).__name__}: {result.error}", file=out)
        return
    for failure in result.failures.values():
        print(
            f"  result: VIOLATED {failure.invariant} (shortest trace {len(failure.steps)} steps): "
            f"{failure.message}",
            file=out,
        )
    for program in hypothesis_programs(result.error):
        print("  Hypothesis's shrunk program:", file=out)
        for line in program:
            print(f"    {line}", file=out)


def print_acceptance(stats: Stats, out: TextIO) -> None:
    """Print each rule's acceptance, the outcomes by phase, and the verdicts by policy shape."""
    rates = " · ".join(f"{rule} {rate:.0%}" for rule, rate in stats.acceptance().items())
    print(f"  acceptance: {rates or 'none'}", file=out)
    by_phase: dict[str, Counter[str]] = {}
    for (where, facet, value), n in stats.phases.items():
        by_phase.setdefault(where, Counter())[f"{facet}={value}"] += n
    order = [p for p in PHASES if p in by_phase] + sorted(set(by_phase) - set(PHASES))
    for where in order:
        print(f"  at {where}: {_counts(by_phase[where])}", file=out)
    by_shape = Counter({f"{shape}:{verdict}": n for (shape, verdict), n in stats.shapes.items()})
    if by_shape:
        print(f"  verdicts by policy shape: {_counts(by_shape)}", file=out)


def report_reach(reach: Reach, floor: bool, out: TextIO) -> int:
    """Print the kernel's reach, one line per component; with *floor*, say whether it holds.

    Returns 1 when *floor* is asked and the reach is below it, else 0.
    """
    for line in reach.lines():
        print(line, file=out)
    if not floor:
        return 0
    if reach.floor_failure() is None:
        print(f"  floor: {reach.percent:.1f}% reaches the floor of {FLOOR_PERCENT:g}%", file=out)
        return 0
    print(
        f"  floor: FAILED: {reach.percent:.1f}% is below the floor of {FLOOR_PERCENT:g}% "
        "(FLOOR_PERCENT in helmmodel/harness/reach.py): the lines and branches listed as "
        "unreached above are what the machines must drive",
        file=out,
    )
    return 1


def hypothesis_programs(error: BaseException) -> list[list[str]]:
    """The failing programs Hypothesis attached to *error* (one per distinct failure)."""
    errors = list(error.exceptions) if isinstance(error, BaseExceptionGroup) else [error]
    programs = []
    for each in errors:
        notes = list(getattr(each, "__notes__", []))
        starts = [i for i, note in enumerate(notes) if note.startswith("Failing test case")]
        if starts:  # the program is every note after Hypothesis's header line
            programs.append(notes[starts[0] + 1 :])
    return programs


def select(
    machines: dict[str, type[TracedMachine]], names: Sequence[str]
) -> list[type[TracedMachine]]:
    """The machines named (all of them when *names* is empty), in a stable order."""
    unknown = [name for name in names if name not in machines]
    if unknown:
        raise RunnerError(
            f"unknown machine {', '.join(map(repr, unknown))}; "
            f"known machines: {', '.join(sorted(machines))}"
        )
    return [machines[name] for name in (names or sorted(machines))]


def exit_status(results: Sequence[MachineResult]) -> int:
    return 1 if any(result.error is not None for result in results) else 0


def summary_line(results: Sequence[MachineResult]) -> str:
    failed = [r.machine for r in results if r.error is not None]
    steps = sum(r.steps for r in results)
    seconds = sum(r.seconds for r in results)
    verdict = f"FAILED: {', '.join(failed)}" if failed else "every invariant held"
    return f"{len(results)} machines, {steps:,} steps in {seconds:.1f} s: {verdict}"


def describe_machines(machines: dict[str, type[TracedMachine]]) -> list[tuple[str, str]]:
    """``(name, first line of its module docstring)`` for each machine."""
    rows = []
    for name, machine in sorted(machines.items()):
        doc: Any = sys.modules[machine.__module__].__doc__ or ""
        rows.append((name, doc.strip().splitlines()[0] if doc.strip() else ""))
    return rows
