"""Swarm configurations: each chunk of a fuzz campaign runs its machine with a named choice of rules
and argument ranges, drawn from the chunk's seed.

Swarm testing (Groce et al., ISSTA 2012) finds more bugs by leaving features out of whole runs:
with fewer kinds of interference, the features that remain reach deeper states. Hypothesis
already switches rules on and off within one example; a configuration does it for a whole chunk
(thousands of examples), by rule family (the mixin that defines a rule: ``CallRules``,
``ClockRules``, ...), and may narrow some arguments to their boundaries (a machine's
``swarm_ranges``, see ``machines/world.py``).

Configurations are named so that the summary can say what each one explored:

- ``all``: every rule;
- ``no-FAMILY``: without that family, and without the rules it alone fed (a rule whose bundle
  nothing fills would never run anyway);
- ``only-FAMILY``: that family, and the rules that fill the bundles it needs;
- ``...+RANGE``: with the arguments of the range named (``all+clock-edges``).

A configuration changes only which rules Hypothesis may draw and from which values. Rule names and
argument types stay the machine's own, so a trace found under any configuration replays on the
plain machine (``helmmodel replay``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, consumes, precondition, rule

from helmmodel.errors import SwarmError
from helmmodel.harness.stateful import TracedMachine, Transition, transitions

ALL = "all"
Ranges = Mapping[str, Mapping[str, Mapping[str, st.SearchStrategy[Any]]]]


@attrs.frozen
class SwarmConfig:
    """Which rules a chunk may draw, and which range narrows their arguments."""

    name: str
    disabled: frozenset[str] = frozenset()
    ranges: str | None = None


def family_of(spec: Transition) -> str:
    """The family of a rule: the class that defines it, as ``http-call`` for ``HttpCallRules``."""
    owner = spec.function.__qualname__.split(".")[0].removesuffix("Rules")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", owner).lower()


def families(machine: type[TracedMachine]) -> dict[str, frozenset[str]]:
    """The machine's rules by family."""
    found: dict[str, set[str]] = {}
    for name, spec in transitions(machine).items():
        found.setdefault(family_of(spec), set()).add(name)
    return {family: frozenset(names) for family, names in sorted(found.items())}


def _needs(spec: Transition) -> set[str]:
    return {param.bundle for param in spec.params.values() if param.bundle is not None}


def _without_starved(specs: Mapping[str, Transition], enabled: set[str]) -> set[str]:
    """*enabled* less every rule that needs a bundle no enabled rule fills (repeatedly)."""
    while True:
        filled = {specs[name].target for name in enabled}
        starved = {name for name in enabled if not _needs(specs[name]) <= filled}
        if not starved:
            return enabled
        enabled -= starved


def _with_feeders(specs: Mapping[str, Transition], enabled: set[str]) -> set[str]:
    """*enabled* plus every rule that fills a bundle an enabled rule needs (repeatedly)."""
    while True:
        needed = set().union(*(_needs(specs[name]) for name in enabled))
        feeders = {name for name, spec in specs.items() if spec.target in needed} - enabled
        if not feeders:
            return enabled
        enabled |= feeders


def subsets(machine: type[TracedMachine]) -> list[SwarmConfig]:
    """Every distinct rule subset of the machine, ``all`` first, none that could not run.

    A subset must keep a rule that needs no bundle, or Hypothesis could never start a run.
    """
    specs = transitions(machine)
    everything = set(specs)
    found = [SwarmConfig(ALL)]
    seen = {frozenset[str]()}
    by_family = families(machine)
    if len(by_family) < 2:
        return found
    for family, names in by_family.items():
        for name, enabled in (
            (f"no-{family}", _without_starved(specs, everything - names)),
            (f"only-{family}", _with_feeders(specs, set(names))),
        ):
            disabled = frozenset(everything - enabled)
            if disabled in seen or not any(not _needs(specs[rule]) for rule in enabled):
                continue
            seen.add(disabled)
            found.append(SwarmConfig(name, disabled))
    return found


def ranges_of(machine: type[TracedMachine]) -> Ranges:
    """The argument ranges the machine offers (``swarm_ranges``), none for a machine without."""
    found: Ranges = getattr(machine, "swarm_ranges", {})
    return found


def draw(machine: type[TracedMachine], seed: int) -> SwarmConfig:
    """The configuration of the chunk with this *seed*: the same seed, the same configuration.

    Every rule stays on in a third of the chunks (``all``); a range narrows the arguments in
    half of them, when one applies to a rule the subset keeps.
    """
    rng = random.Random(seed)
    choices = subsets(machine)
    subset = choices[0] if len(choices) == 1 or rng.random() < 1 / 3 else rng.choice(choices[1:])
    specs = transitions(machine)
    enabled = set(specs) - subset.disabled
    applicable = sorted(name for name, rules in ranges_of(machine).items() if enabled & set(rules))
    if not applicable or rng.random() < 0.5:
        return subset
    chosen = rng.choice(applicable)
    return attrs.evolve(subset, name=f"{subset.name}+{chosen}", ranges=chosen)


def named(machine: type[TracedMachine], name: str) -> SwarmConfig:
    """The configuration called *name* (``all``, ``no-fault+clock-edges``...) of *machine*."""
    subset_name, _, ranges = name.partition("+")
    subset = next((c for c in subsets(machine) if c.name == subset_name), None)
    if subset is None or (ranges and ranges not in ranges_of(machine)):
        known = [c.name for c in subsets(machine)]
        raise SwarmError(
            f"{machine.name} has no swarm configuration {name!r}: its rule subsets are "  # type: ignore[attr-defined]
            f"{', '.join(known)}, and its ranges (after a +) "
            f"{', '.join(ranges_of(machine)) or 'none'}"
        )
    return attrs.evolve(subset, name=name, ranges=ranges or None)


def overrides(machine: type[TracedMachine], config: SwarmConfig) -> dict[str, Any]:
    """Class attributes that make a subclass of *machine* run under *config*.

    A disabled rule's attribute becomes None, which Hypothesis does not collect as a rule (the
    rule stays known to :func:`~helmmodel.harness.stateful.transitions`, so replay still finds
    it). A narrowed rule is registered again, on the same traced method, with the range's
    strategies.
    """
    found: dict[str, Any] = dict.fromkeys(config.disabled)
    if config.ranges is None:
        return found
    specs = transitions(machine)
    for name, strategies in ranges_of(machine)[config.ranges].items():
        if name in specs and name not in config.disabled:
            found[name] = narrowed(machine, specs[name], strategies)
    return found


def narrowed(
    machine: type[TracedMachine], spec: Transition, strategies: Mapping[str, Any]
) -> Callable[..., Any]:
    """The rule *spec* registered again with *strategies* for its plain arguments."""
    plain = {name for name, param in spec.params.items() if param.bundle is None}
    if set(strategies) != plain:
        raise SwarmError(
            f"{machine.__name__}.swarm_ranges gives {spec.name} the arguments "
            f"{sorted(strategies)}, but its plain arguments are {sorted(plain)}: give a strategy "
            "for each of them and for nothing else"
        )
    arguments: dict[str, Any] = {}
    for name, param in spec.params.items():
        if param.bundle is None:
            arguments[name] = strategies[name]
        else:
            bundle = _bundle(machine, param.bundle)
            arguments[name] = consumes(bundle) if param.consume else bundle
    register: Callable[[Callable[..., Any]], Callable[..., Any]]
    if spec.target is not None:
        register = rule(target=_bundle(machine, spec.target), **arguments)
    else:
        register = rule(**arguments)
    registered = register(spec.function)
    if spec.guard is not None:
        registered = precondition(spec.guard)(registered)
    return registered


def _bundle(machine: type[TracedMachine], name: str) -> Bundle[Any]:
    """The machine's own Bundle of this name (Hypothesis knows bundles by name)."""
    found = getattr(machine, name, None)
    return found if isinstance(found, Bundle) and found.name == name else Bundle(name)
