"""The must-fail catalogue: every sequential mutant kernel is caught under the ci profile, within
its machine's ci budget, by the invariant it names, with a 1-minimal trace of at most 12 steps;
and the catalogue itself covers every component and every invariant of spec section 11.

The catalogue runs once for the whole module (each mutant's machine, shrinking off, the first
failing trace made 1-minimal and saved into a temporary corpus).
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import sys
from pathlib import Path

import pytest

from helmmodel.checker.invariants import INVARIANT_NAMES
from helmmodel.harness import kernels, runner
from helmmodel.harness.mutation import Row, exit_status, print_table, run_catalogue
from helmmodel.harness.replay import REPRODUCED, judge
from helmmodel.harness.trace import load
from helmmodel.kernel import Kernel
from helmmodel.mutants import CATALOGUE, Mutant

MACHINES = Path(__file__).resolve().parents[2] / "machines"
SEQUENTIAL = [mutant for mutant in CATALOGUE if not mutant.needs_threads]
THREADED = [mutant for mutant in CATALOGUE if mutant.needs_threads]
MINIMAL_STEPS_MAX = 12
SHORT_STEPS = 2
# The mutants that may be caught in two steps or fewer, each named with why its bug needs no
# interleaving; any other mutant must need one (a new short one is named here, or reworked).
SHORT_MUTANTS = {
    "ids-counted-on-the-class": "a class-level counter shows at the end-of-run replay of one step",
    "firewall-memo-true-equals-one": "two checks of values equal to Python but not to JSON",
    "executor-unattested-tool-error": "one call whose tool fails",
    "tool-schema-refs-unchecked": "a registration the kernel should refuse, then one call",
    "surface-verdict-from-reason-code": "one call over HTTP that ends in ESCALATE",
    "executor-reads-guardian-clock": "the executor's clock moved, then one whole call",
    "release-denials-unreceipted": "one call the release denies",
    "release-refreeze-receipted": "two freezes in a row",
}

# The kernel's components, and the Kernel class attribute through which a mutant swaps each one
# (ids are counted by the Guardian, so an id-counter bug comes in through it).
COMPONENT_ATTRIBUTES = {
    "Guardian": "guardian_class",
    "SafeExecutor": "executor_class",
    "KeyRing": "key_ring_class",
    "PolicyGraph": "policy_graph_class",
    "RequestBudgets": "budgets_class",
    "ProofGraph": "proofgraph_class",
    "ReceiptChains": "chains_class",
    "ToolTable": "tool_table_class",
    "ErrorBudget": "error_budget_class",
    "RequestSurface": "surface_class",
    "IdCounters": "guardian_class",
}
CLASS_ATTRIBUTES = sorted(set(COMPONENT_ATTRIBUTES.values()))


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Row]:
    """One run of the sequential catalogue, its traces saved into a temporary corpus."""
    corpus = tmp_path_factory.mktemp("mutant-corpus")
    found = run_catalogue([], machines_dir=MACHINES, corpus=corpus, out=io.StringIO())
    return {row.mutant: row for row in found}


# --- every mutant is caught -------------------------------------------------------------------


@pytest.mark.parametrize("name", [mutant.name for mutant in SEQUENTIAL])
def test_mutant_is_caught_first_by_its_invariant(rows: dict[str, Row], name: str) -> None:
    """The mutant's machine catches it, and the first invariant to fire is the expected one."""
    row = rows[name]
    assert (True, row.expected) == (row.caught, row.fired), row.note


@pytest.mark.parametrize("name", [mutant.name for mutant in SEQUENTIAL])
def test_mutant_is_caught_within_the_ci_budget(rows: dict[str, Row], name: str) -> None:
    """The first violation comes within the machine's ci budget of examples."""
    row = rows[name]
    assert row.examples is not None, row.note
    assert row.examples <= row.budget


@pytest.mark.parametrize("name", [mutant.name for mutant in SEQUENTIAL])
def test_one_minimal_trace_is_short(rows: dict[str, Row], name: str) -> None:
    """The found trace minimizes to a 1-minimal trace of at most 12 steps."""
    row = rows[name]
    assert row.minimal_length is not None, row.note
    assert row.minimal_length <= MINIMAL_STEPS_MAX


@pytest.mark.parametrize("name", [mutant.name for mutant in SEQUENTIAL])
def test_saved_trace_reproduces(rows: dict[str, Row], name: str) -> None:
    """The saved 1-minimal trace replays, with no Hypothesis, to the same violation."""
    row = rows[name]
    assert row.saved is not None, row.note
    trace = load(row.saved)
    verdict = judge(trace, runner.load_machines(MACHINES))
    assert (REPRODUCED, name, row.expected) == (verdict.verdict, trace.kernel, trace.invariant), (
        verdict.detail
    )


def test_most_mutants_need_an_interleaving(rows: dict[str, Row]) -> None:
    """Only the mutants named in SHORT_MUTANTS are caught by a 1-minimal trace of two steps
    or fewer."""
    short = sorted(
        name
        for name, row in rows.items()
        if row.minimal_length is not None and row.minimal_length <= SHORT_STEPS
    )
    assert set(short) <= set(SHORT_MUTANTS), short
    assert set(SHORT_MUTANTS) <= {mutant.name for mutant in CATALOGUE}


# --- the catalogue as data --------------------------------------------------------------------


def test_catalogue_holds_twenty_mutants_with_unique_names() -> None:
    """At least 20 mutants, no two with the same name."""
    names = [mutant.name for mutant in CATALOGUE]
    assert len(names) >= 20
    assert sorted(set(names)) == sorted(names)


def test_every_component_is_mutated() -> None:
    """Each component of the kernel carries the bug of at least one mutant."""
    assert set(COMPONENT_ATTRIBUTES) == {mutant.component for mutant in SEQUENTIAL}


def test_every_invariant_is_expected_to_catch_one() -> None:
    """Each invariant of ALL_INVARIANTS is the expected catcher of at least one mutant."""
    assert set(INVARIANT_NAMES) == {mutant.invariant for mutant in SEQUENTIAL}


def test_every_mutant_names_a_known_machine() -> None:
    """The machine each mutant names is one the machines directory defines."""
    machines = runner.load_machines(MACHINES)
    assert [] == [mutant.name for mutant in SEQUENTIAL if mutant.machine not in machines]


def test_every_description_is_one_sentence() -> None:
    """Each description is one sentence: a capital or quote first, one full stop, at the end."""
    one_sentence = re.compile(r"[A-Za-z][^\n]*[^.]\.")
    inner_stop = re.compile(r"[.!?]\s+[A-Z]")
    wrong = [
        mutant.name
        for mutant in CATALOGUE
        if not one_sentence.fullmatch(mutant.description) or inner_stop.search(mutant.description)
    ]
    assert [] == wrong


def test_every_mutant_is_registered_as_a_kernel() -> None:
    """Importing the catalogue makes each mutant runnable by name (``--kernel NAME``)."""
    assert [m.factory for m in CATALOGUE] == [kernels.kernel_factory(m.name) for m in CATALOGUE]


@pytest.mark.parametrize("mutant", SEQUENTIAL, ids=lambda mutant: mutant.name)
def test_mutant_changes_one_method_of_its_component(mutant: Mutant) -> None:
    """The mutant kernel swaps exactly its component's class, for a subclass of the correct one
    that overrides one method."""
    factory = mutant.factory
    attribute = COMPONENT_ATTRIBUTES[mutant.component]
    swapped = [a for a in CLASS_ATTRIBUTES if getattr(factory, a) is not getattr(Kernel, a)]
    assert [attribute] == swapped
    component = getattr(factory, attribute)
    assert getattr(Kernel, attribute) in component.__bases__
    methods = [name for name, value in vars(component).items() if inspect.isfunction(value)]
    assert 1 == len(methods), methods


@pytest.mark.parametrize("mutant", THREADED, ids=lambda mutant: mutant.name)
def test_a_threaded_mutant_splits_one_facade_method_across_two_critical_sections(
    mutant: Mutant,
) -> None:
    """A concurrency mutant is the facade with one phase method overridden, taking the lock
    twice (a component class it swaps in only reorders that phase's steps); it is no machine's
    to catch (the storm catches it)."""
    factory = mutant.factory
    assert Kernel in factory.__bases__
    methods = [name for name, value in vars(factory).items() if inspect.isfunction(value)]
    assert 1 == len(methods), methods
    assert methods[0] in ("decide", "execute")
    assert 2 == inspect.getsource(vars(factory)[methods[0]]).count("with self.lock:")
    assert ("storm", "linearizable") == (mutant.machine, mutant.invariant)


FORBIDDEN_NAMES = {"sleep", "threading", "random", "urandom", "secrets", "time", "perf_counter"}


def forbidden_in(source: str) -> list[str]:
    """The sleeps, yields, threads, clocks and random draws *source* uses or imports."""
    tree = ast.parse(source)
    words = [
        node.id if isinstance(node, ast.Name) else getattr(node, "attr", type(node).__name__)
        for node in ast.walk(tree)
        if isinstance(node, ast.Yield | ast.YieldFrom)
        or (isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES)
        or (isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names = [alias.name for alias in node.names] + modules
            words += [name for name in names if name.split(".")[0] in FORBIDDEN_NAMES]
    return words


@pytest.mark.parametrize(
    "source",
    [
        "from threading import Thread",
        "from random import choice",
        "from time import monotonic",
        "import os.path\nos.urandom(4)",
        "import secrets",
        "def f():\n    yield 1",
    ],
)
def test_the_scan_finds_time_threads_and_randomness(source: str) -> None:
    assert forbidden_in(source)


def test_mutants_use_no_time_threads_or_randomness() -> None:
    """No mutant sleeps, yields, starts a thread or draws a random number (read from the code,
    so a docstring that says so does not count)."""
    # Every module a mutant is defined in, so that a new one is read too.
    modules = {sys.modules[mutant.factory.__module__] for mutant in CATALOGUE}
    assert 8 <= len(modules)
    found = {m.__name__: forbidden_in(inspect.getsource(m)) for m in modules}
    assert {} == {name: words for name, words in found.items() if words}


# --- the report and the exit status -----------------------------------------------------------


def _row(caught: bool, fired: str | None) -> Row:
    return Row(
        mutant="m", component="Guardian", machine="kernel", expected="default_deny", budget=1000,
        caught=caught, fired=fired, examples=3, seconds=0.5, found_length=9, minimal_length=3,
        saved=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("caught", "fired", "status", "verdict"),
    [
        (True, "default_deny", 0, "caught"),
        (True, "fail_closed", 1, "WRONG INVARIANT"),
        (False, None, 1, "SURVIVED"),
    ],
)
def test_exit_status_fails_for_a_survivor_or_another_invariant(
    caught: bool, fired: str | None, status: int, verdict: str
) -> None:
    """Exit status 1 when a mutant survives or another invariant fires first, 0 otherwise; the
    table says which."""
    row = _row(caught, fired)
    out = io.StringIO()
    print_table([row], out)
    assert (status, verdict) == (exit_status([_row(True, "default_deny"), row]), row.verdict)
    assert verdict in out.getvalue()
