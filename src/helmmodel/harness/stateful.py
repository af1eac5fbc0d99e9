"""The base of every helmmodel state machine: traced rules, bundles of named values, invariants.

A rule is written as a plain method returning ``(outcome, value)`` and declared with
:func:`transition`, which registers it with Hypothesis and wraps it so that each call

1. advances the checker's step counter,
2. resolves bundle arguments (the machine passes :class:`Ref` objects; the rule sees payloads),
3. appends one step to the machine's trace: the rule, its arguments as JSON with bundle values by
   name, the outcome, the name of the value it produced, and the kernel's state digest after it,
4. puts the produced value, if any, into the target bundle.

Because the trace names bundle values and records plain JSON arguments, a run can be replayed by
calling the same rule methods with no Hypothesis engine (:func:`replay_steps`): that is how the
end-of-run check ``deterministic_replay`` works, and how saved regression cases replay.
"""

from __future__ import annotations

import base64
import collections
import functools
import importlib.metadata
import sys
import time
import traceback
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import attrs
from hypothesis.errors import InvalidDefinition
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.stateful import (
    Bundle,
    Rule,
    RuleBasedStateMachine,
    RuleStrategy,
    invariant,
    multiple,
    precondition,
    rule,
)

from helmmodel.checker.coverage import COUNTED_FACETS, accepted, phase, shapes
from helmmodel.checker.driver import Driver
from helmmodel.checker.ghost import Crash, Decided, Ghost
from helmmodel.checker.invariants import ALL_INVARIANTS, PAGE_CLAIMS, Checker, invariant_names
from helmmodel.errors import InvariantViolation, ReplayError
from helmmodel.kernel import Kernel, KernelConfig, KernelFactory
from helmmodel.kernel.semantics import CHAOS_PAGE


@attrs.frozen(eq=False)
class Ref:
    """A value in a bundle, with the name the trace knows it by."""

    name: str
    payload: Any

    def __repr__(self) -> str:
        return self.name


@attrs.frozen
class Param:
    """How a rule argument is drawn: a bundle (consumed or not) or a plain strategy."""

    bundle: str | None = None
    consume: bool = False


@attrs.frozen(kw_only=True)
class Transition:
    """A rule's replay metadata."""

    name: str
    function: Callable[..., Any]
    params: Mapping[str, Param]
    target: str | None
    guard: Callable[[Any], bool] | None
    types: Mapping[str, type] = attrs.field(factory=dict)  # declared types of plain arguments
    # The values a plain argument is sampled from, in the rule's order (the first is the
    # simplest): the minimizer tries earlier ones, so that two traces of one bug that differ
    # only in a principal or a tool come out the same.
    choices: Mapping[str, tuple[Any, ...]] = attrs.field(factory=dict)
    # How many times as often as a rule of weight 1 RuleChoice picks this rule when it can run.
    weight: int = 1
    # A rule of the release's API (spec 12): it runs only under the release, and RuleChoice
    # leaves it out of every other run's draws.
    release: bool = False


def to_json(value: Any) -> Any:
    """A drawn argument as JSON; bytes become ``{"$bytes": base64}``."""
    if isinstance(value, Ref):
        return {"$ref": value.name}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def from_json(value: Any) -> Any:
    """The inverse of :func:`to_json` for plain values (references are resolved by replay)."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


@attrs.frozen
class FirstFailure:
    """When the first invariant violation of a run happened."""

    examples: int  # examples run until then, that one included
    seconds: float  # since the run started


@attrs.define(kw_only=True)
class Stats:
    """Counts over a run: rules run, steps, and each facet of each outcome."""

    examples: int = 0
    steps: int = 0
    started: float = attrs.field(factory=time.perf_counter)
    first_failure: FirstFailure | None = None
    rules: collections.Counter[str] = attrs.field(factory=collections.Counter)
    outcomes: collections.Counter[tuple[str, str]] = attrs.field(factory=collections.Counter)
    # Steps of each rule that did what they asked (coverage.accepted).
    accepted: collections.Counter[str] = attrs.field(factory=collections.Counter)
    # (phase, facet, value): each counted outcome by the phase it arose in (coverage.phase).
    phases: collections.Counter[tuple[str, str, str]] = attrs.field(factory=collections.Counter)
    # (shape, verdict): each decision by the shapes of the rule its begin evaluated.
    shapes: collections.Counter[tuple[str, str]] = attrs.field(factory=collections.Counter)

    def count(self, rule_name: str, outcome: Mapping[str, Any], ghost: Ghost | None = None) -> None:
        """Count one step: its rule, its outcome's facets (by phase), whether it was accepted,
        and, given the *ghost*, the shapes of the rules its decisions evaluated."""
        self.steps += 1
        self.rules[rule_name] += 1
        self.accepted[rule_name] += accepted(outcome)
        decided = _decided_now(ghost)
        # A code *decide* signs arose there only if it is not the one *begin* gave the call.
        settled = {d.decision.reason_code for d in decided if d.decision is not None} - {
            d.begin_code for d in decided
        }
        for key, value in outcome.items():
            if key in COUNTED_FACETS:
                self.outcomes[(key, str(value))] += 1
                where = phase(rule_name, key, outcome)
                if where == "decide" and key == "reason_code" and value not in settled:
                    where = "begin"
                self.phases[(where, key, str(value))] += 1
        for each in decided:
            rule = each.begun.policy.rules.get(each.begun.request.tool)
            verdict = each.decision.verdict if each.decision is not None else "none"
            for shape in shapes(rule) if rule is not None else ("no rule",):
                self.shapes[(shape, verdict)] += 1

    def acceptance(self) -> dict[str, float]:
        """Each rule's share of steps that did what they asked."""
        return {rule: self.accepted[rule] / n for rule, n in sorted(self.rules.items()) if n}


def _decided_now(ghost: Ghost | None) -> list[Decided]:
    """The decisions the ghost recorded at its current step."""
    found: list[Decided] = []
    if ghost is None:
        return found
    for each in reversed(ghost.decided):
        if each.step != ghost.step:
            break
        found.append(each)
    return found


def sampled_choices(strategy: Any) -> tuple[Any, ...] | None:
    """The elements of a plain ``st.sampled_from`` of JSON scalars, in order; None for any other
    strategy (a mapped or filtered one included: its values are not its elements)."""
    inner = getattr(strategy, "wrapped_strategy", strategy)
    elements = getattr(inner, "elements", None)
    if not isinstance(elements, tuple) or getattr(inner, "_transformations", None) != ():
        return None
    if not all(type(e) in (str, int, bool) for e in elements):
        return None
    return elements


def transition(
    *,
    target: Bundle[Any] | None = None,
    guard: Callable[[Any], bool] | None = None,
    weight: int = 1,
    release: bool = False,
    **arguments: Any,
) -> Callable[[Callable[..., tuple[dict[str, Any], Any]]], Callable[..., Any]]:
    """Declare a traced rule (see the module docstring); *guard* is its precondition, *weight*
    how often it is picked when it can run, against a rule of weight 1 (see RuleChoice);
    *release* makes it a rule of the release's API, whose precondition is also that the run is
    under the release."""
    if release:
        guard = _under_release(guard)

    def decorate(function: Callable[..., tuple[dict[str, Any], Any]]) -> Callable[..., Any]:
        params = {
            name: Param(strategy.name, bool(getattr(strategy, "consume", False)))
            if isinstance(strategy, Bundle)
            else Param()
            for name, strategy in arguments.items()
        }
        rule_name = function.__name__

        @functools.wraps(function)
        def traced(self: TracedMachine, **kwargs: Any) -> Any:
            return self.run_transition(rule_name, function, target, kwargs)

        hints = typing.get_type_hints(function)
        types: dict[str, type] = {}
        for name, param in params.items():
            declared = typing.get_origin(hints.get(name)) or hints.get(name)
            if param.bundle is None and isinstance(declared, type):
                types[name] = declared
        traced.helmmodel_transition = Transition(  # type: ignore[attr-defined]
            name=rule_name,
            function=traced,
            params=params,
            target=target.name if target is not None else None,
            guard=guard,
            types=types,
            choices={
                name: found
                for name, strategy in arguments.items()
                if (found := sampled_choices(strategy)) is not None
            },
            weight=weight,
            release=release,
        )
        register = rule(target=target, **arguments) if target is not None else rule(**arguments)
        decorated: Callable[..., Any] = register(traced)
        if guard is not None:
            decorated = precondition(guard)(decorated)
        return decorated

    return decorate


def _under_release(guard: Callable[[Any], bool] | None) -> Callable[[Any], bool]:
    """*guard* (or none), and the run under the release."""

    def released(machine: Any) -> bool:
        return bool(machine.ghost.release) and (guard is None or guard(machine))

    return released


def _release_only(rule: Rule) -> bool:
    declared = getattr(rule.function, "helmmodel_transition", None)
    return isinstance(declared, Transition) and declared.release


def _weight(rule: Rule) -> int:
    declared = getattr(rule.function, "helmmodel_transition", None)
    return declared.weight if isinstance(declared, Transition) else 1


class RuleChoice(RuleStrategy):
    """Hypothesis's choice of the next rule, at about one choice a step instead of fifteen.

    Hypothesis (6.170) asks its swarm flags, rule by rule, whether each rule it considers is on,
    and each answer is a choice of its own; with fifty rules, a step often enumerates them all.
    This draws the swarm configuration once, at an example's first step (a share of rules to
    leave out, then a flag per rule, as Hypothesis's feature flags do, shrinking towards every
    rule on). A step then draws an index over every rule, each as many times as its weight (the
    same index names the same rule at any step, so that Hypothesis's mutations, which copy a
    step's choices elsewhere, copy the rule too); a rule that is off, or whose bundles or guard
    do not allow it now, is drawn again, and after ``DRAWS`` misses one index is drawn among
    the rules that can run (those that are on, else all). The arguments are drawn as Hypothesis
    draws them. It relies on Hypothesis's ``RuleStrategy`` internals, which is why
    pyproject.toml pins Hypothesis; tests/unit/test_rule_choice.py fails if they move.
    """

    DRAWS = 3

    def __init__(self, machine: RuleBasedStateMachine) -> None:
        super().__init__(machine)
        # Outside the release its rules can never run: left out of the draws entirely, so that
        # a machine's stream there (its swarm flags, its indices) is what it was without them.
        if not machine.ghost.release:  # type: ignore[attr-defined]
            self.rules = [rule for rule in self.rules if not _release_only(rule)]
        self.names = sorted({rule.function.__name__ for rule in self.rules})
        self.slots = [rule for rule in self.rules for _ in range(_weight(rule))]
        self.disabled: frozenset[str] | None = None

    def _runs(self, rule: Rule, disabled: frozenset[str]) -> bool:
        return rule.function.__name__ not in disabled and self.is_valid(rule)

    def do_draw(self, data: ConjectureData) -> tuple[Rule, dict[str, Any]]:
        if self.disabled is None:
            share = data.draw_integer(0, 254) / 255
            self.disabled = frozenset(name for name in self.names if data.draw_boolean(share))
        disabled = self.disabled
        for _ in range(self.DRAWS):
            chosen = self.slots[data.draw_integer(0, len(self.slots) - 1)]
            if self._runs(chosen, disabled):
                break
        else:
            valid = [rule for rule in self.slots if self.is_valid(rule)]
            if not valid:
                names = ", ".join(self.names)
                raise InvalidDefinition(
                    f"no rule can run now (no bundle value, or a guard): {names}"
                )
            candidates = [rule for rule in valid if rule.function.__name__ not in disabled]
            candidates = candidates or valid
            chosen = candidates[data.draw_integer(0, len(candidates) - 1)]
        arguments = {
            name: data.draw(strategy) for name, strategy in chosen.arguments_strategies.items()
        }
        return chosen, arguments


@attrs.frozen
class Failure:
    """The shortest trace of a run that violated one invariant."""

    invariant: str
    message: str
    steps: list[dict[str, Any]]


@attrs.frozen
class RunState:
    """What one run of a machine variant gathers: its figures and, per invariant, the shortest
    failing trace (in the order the invariants first failed)."""

    stats: Stats = attrs.field(factory=Stats)
    failures: dict[str, Failure] = attrs.field(factory=dict)


class TracedMachine(RuleBasedStateMachine):
    """A machine over one kernel, a driver and a checker, whose rules are traced."""

    kernel_factory: ClassVar[KernelFactory] = Kernel
    kernel_name: ClassVar[str] = "correct"
    config: ClassVar[KernelConfig] = KernelConfig()
    # The invariants that judge this machine, in ALL_INVARIANTS order (its semantics' own).
    invariant_names: ClassVar[tuple[str, ...]] = invariant_names(CHAOS_PAGE)
    # The record of the run this class was made for (see variant()); None: nothing is recorded.
    run_state: ClassVar[RunState | None] = None
    # This machine's share of the profile's example budget (the kernel machine takes it all).
    budget_share: ClassVar[float] = 1.0
    # False while replaying: the end-of-run replay must not start a replay of its own.
    check_replay: bool = True
    # Set once an invariant fails: the end-of-run checks would only repeat the failure.
    failed: bool = False

    # No argument: Hypothesis hashes this signature into a derandomized run's seed (a replay's
    # instance is made by for_replay instead).
    def __init__(self) -> None:
        super().__init__()
        self.driver = Driver.start(type(self).kernel_factory, type(self).config)
        self.kernel = self.driver.kernel
        self.ghost = self.driver.ghost
        self._rules_strategy = RuleChoice(self)  # after the ghost: it reads the semantics
        self.checker = Checker(self.kernel, self.ghost)
        self.trace: list[dict[str, Any]] = []
        self._names: collections.Counter[str] = collections.Counter()
        self.set_up()
        # A replay is no example of the run: it counts nothing and records no failure.
        self.recording = type(self).run_state if self.check_replay else None
        if self.recording is not None:
            self.recording.stats.examples += 1

    @classmethod
    def for_replay(cls) -> Self:
        """An instance that replays steps: no example of its class's run, recording nothing."""
        instance = cls.__new__(cls)
        instance.check_replay = False  # read by __init__
        cls.__init__(instance)
        return instance

    def set_up(self) -> None:
        """Register tools, rules and budgets (not traced: part of the machine's definition)."""

    # --- running a rule -------------------------------------------------------------------------

    def run_transition(
        self,
        rule_name: str,
        function: Callable[..., tuple[dict[str, Any], Any]],
        target: Bundle[Any] | None,
        kwargs: dict[str, Any],
    ) -> Any:
        self.ghost.step += 1
        arguments = {name: to_json(value) for name, value in kwargs.items()}
        plain = {
            name: value.payload if isinstance(value, Ref) else value
            for name, value in kwargs.items()
        }
        try:
            outcome, produced = function(self, **plain)
        except Exception as error:
            where = kernel_frame(error)
            if where is None:  # raised by the checker or the machine, not the kernel: a bug here
                raise
            outcome, produced = self._crashed(rule_name, error, where), None
        result = None
        if target is not None and produced is not None:
            # Numbered from 0, as Hypothesis numbers the same values in its printed program.
            result = Ref(f"{target.name}_{self._names[target.name]}", produced)
            self._names[target.name] += 1
        self.trace.append(
            {
                "rule": rule_name,
                "args": arguments,
                "outcome": outcome,
                "result": result.name if result is not None else None,
                "digest": self.kernel.state_digest(),
            }
        )
        if self.recording is not None:
            self.recording.stats.count(rule_name, outcome, self.ghost)
        if self.ghost.crashes:
            # Judged here, before any other invariant reads what the crash left half done.
            self.check("no_unexpected_exception")
        if target is None:
            return None
        return result if result is not None else multiple()

    def _crashed(self, rule_name: str, error: Exception, where: str) -> dict[str, Any]:
        """Record a kernel crash in the ghost (no_unexpected_exception judges it); the step's
        outcome names the exception, so the crashing step replays as it ran."""
        message = str(error)
        self.ghost.crashes.append(
            Crash(
                step=self.ghost.step,
                rule=rule_name,
                error=type(error).__name__,
                message=message,
                where=where,
            )
        )
        return {"exception": type(error).__name__, "message": message}

    # --- invariants -------------------------------------------------------------------------------

    def check(self, name: str, *, full: bool = False) -> None:
        """Run one invariant; on a violation remember this run's trace if it is the shortest."""
        fn = _INVARIANTS_BY_NAME[name]
        try:
            self.checker.check(fn, full=full, replay=self._replay_digests if full else None)
        except InvariantViolation as violation:
            self._remember(violation)
            raise

    def _remember(self, violation: InvariantViolation) -> None:
        self.failed = True
        if self.recording is None:
            return
        stats, failures = self.recording.stats, self.recording.failures
        if stats.first_failure is None:
            seconds = time.perf_counter() - stats.started
            stats.first_failure = FirstFailure(stats.examples, seconds)
        known = failures.get(violation.invariant)
        if known is None or len(self.trace) < len(known.steps):
            failures[violation.invariant] = Failure(
                violation.invariant, str(violation), list(self.trace)
            )

    @invariant()
    def invariants_hold(self) -> None:
        """Every invariant but the end-of-run replay, incrementally, in ALL_INVARIANTS order.

        One Hypothesis invariant runs them all (cheaper than one each); each still raises from
        its own line in :mod:`helmmodel.checker.invariants`, which is how Hypothesis tells them
        apart.
        """
        for name in self.invariant_names:
            if name not in END_OF_RUN_INVARIANTS:
                self.check(name)

    def teardown(self) -> None:
        """At the end of a run: every invariant in full, including the fresh-kernel replay."""
        if not self.check_replay or self.failed:
            return
        for name in self.invariant_names:
            self.check(name, full=True)

    def _replay_digests(self) -> tuple[list[str], list[str]]:
        replayed = replay_steps(type(self), self.trace, check=False)
        return [step["digest"] for step in replayed.trace], [step["digest"] for step in self.trace]


_INVARIANTS_BY_NAME = {
    fn.__name__: fn for fn in (*ALL_INVARIANTS, *(c.invariant for c in PAGE_CLAIMS))
}
# Checked at the end of each run only (it replays the whole run into a fresh kernel).
END_OF_RUN_INVARIANTS = frozenset({"deterministic_replay"})


_DRIVER_MODULE = "helmmodel.checker.driver"


@functools.cache
def _library_packages() -> frozenset[str]:
    """Top-level packages of the standard library and of installed distributions but helmmodel."""
    installed = set(importlib.metadata.packages_distributions()) - {"helmmodel"}
    return frozenset(installed | set(sys.stdlib_module_names))


def kernel_frame(error: BaseException) -> str | None:
    """Where the kernel raised *error* (``file:line`` of the innermost kernel frame), or None
    when the kernel did not: the traceback never left the driver for the kernel, or left it for
    the checker's own code."""
    walked = list(traceback.walk_tb(error.__traceback__))
    modules = [str(frame.f_globals.get("__name__", "")) for frame, _ in walked]
    calls = [n for n, module in enumerate(modules) if module == _DRIVER_MODULE]
    first = calls[-1] + 1 if calls else len(walked)
    if first == len(walked) or modules[first].startswith("helmmodel.checker"):
        return None
    below = walked[first:]
    own = [
        (frame, line)
        for (frame, line), module in zip(below, modules[first:], strict=True)
        if module.split(".")[0] not in _library_packages()
    ]
    frame, line = (own or below)[-1]
    return f"{_shown_path(frame.f_code.co_filename)}:{line}"


def _shown_path(filename: str) -> str:
    """*filename* relative to the working directory when it is under it."""
    path = Path(filename)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return filename


def transitions(machine: type[TracedMachine]) -> dict[str, Transition]:
    """Every traced rule of *machine*, by name."""
    found: dict[str, Transition] = {}
    for klass in reversed(machine.__mro__):
        for value in vars(klass).values():
            spec = getattr(value, "helmmodel_transition", None)
            if isinstance(spec, Transition):
                found[spec.name] = spec
    return found


def replay_steps(
    machine: type[TracedMachine],
    steps: Iterable[Mapping[str, Any]],
    *,
    check: bool = True,
    finish: bool = False,
    instance: TracedMachine | None = None,
) -> TracedMachine:
    """Replay recorded steps on a fresh machine by calling its rules, no Hypothesis engine.

    With *check*, the invariants run after every step as in a normal run; with *finish*, the
    end-of-run checks too (every invariant in full, with the fresh-kernel replay). Raises
    ReplayError for a step that names an unknown rule or argument, gives an argument of the wrong
    type, refers to a value no earlier step produced (or one already consumed), or whose guard
    does not hold. *instance*, when given, is the machine to replay on, made by
    :meth:`TracedMachine.for_replay` (so that a caller keeps its partial trace when an invariant
    fails).
    """
    if instance is None:
        instance = machine.for_replay()
    known = transitions(machine)
    values: dict[str, Ref] = {}
    for number, step in enumerate(steps, start=1):
        spec = known.get(step.get("rule", ""))
        if spec is None:
            raise ReplayError(f"step {number}: the machine has no rule {step.get('rule')!r}")
        args = step.get("args", {})
        unknown = set(args) - set(spec.params)
        missing = set(spec.params) - set(args)
        if unknown or missing:
            raise ReplayError(
                f"step {number} ({spec.name}): arguments {sorted(unknown)} are unknown, "
                f"{sorted(missing)} are missing"
            )
        kwargs: dict[str, Any] = {}
        for name, param in spec.params.items():
            value = args[name]
            if param.bundle is None:
                kwargs[name] = from_json(value)
                _check_type(number, spec, name, kwargs[name])
                continue
            ref_name = value.get("$ref") if isinstance(value, dict) else None
            if ref_name not in values:
                raise ReplayError(f"step {number} ({spec.name}): {name} = {value!r} is dangling")
            kwargs[name] = values[ref_name]
            if param.consume:
                del values[ref_name]
        if spec.guard is not None and not spec.guard(instance):
            raise ReplayError(f"step {number} ({spec.name}): its precondition does not hold")
        result = spec.function(instance, **kwargs)
        recorded_name = step.get("result")
        if isinstance(result, Ref) and recorded_name:
            # The value keeps the name the file gave it (its own counter may differ, after a
            # minimizer removed steps), in the replayed trace too, so that it replays again.
            values[recorded_name] = Ref(recorded_name, result.payload)
            instance.trace[-1]["result"] = recorded_name
        if check:
            instance.invariants_hold()
    if finish:
        instance.check_replay = True
        instance.teardown()
    return instance


_JSON_TYPES = {int: "an integer", str: "a string", bool: "true or false", dict: "an object"}


def _check_type(number: int, spec: Transition, name: str, value: Any) -> None:
    """Refuse an argument whose JSON type is not the one the rule's signature declares."""
    expected = spec.types.get(name)
    if expected is None or expected not in _JSON_TYPES:
        return
    wrong = type(value) is not expected and not (expected is dict and isinstance(value, dict))
    if wrong or (expected is int and type(value) is bool):
        raise ReplayError(
            f"step {number} ({spec.name}): argument {name} must be {_JSON_TYPES[expected]}, "
            f"not {value!r}"
        )


def variant(
    machine: type[TracedMachine],
    bases: tuple[type[TracedMachine], ...],
    namespace: Mapping[str, Any],
) -> type[Any]:
    """A class of *bases* with *namespace* for one run of *machine*, with a RunState of its own.

    It keeps the machine's name and module: Hypothesis finds the machine's source through them,
    and derives from it the seed of a derandomized run and the key of the example database.
    """
    own = {**namespace, "run_state": RunState(), "__module__": machine.__module__}
    return type(machine.__name__, bases, own)


def machine_for(
    machine: type[TracedMachine],
    name: str,
    factory: KernelFactory,
    semantics: str = CHAOS_PAGE,
    claims: tuple[str, ...] = (),
) -> type[TracedMachine]:
    """A subclass of *machine* that runs against the kernel *factory* makes (one per run), in
    *semantics*, judged by that semantics' invariants and the page *claims* named."""
    found: type[TracedMachine] = variant(
        machine,
        (machine,),
        {
            "kernel_factory": staticmethod(factory),
            "kernel_name": name,
            "config": attrs.evolve(machine.config, semantics=semantics),
            "invariant_names": invariant_names(semantics, claims),
        },
    )
    return found
