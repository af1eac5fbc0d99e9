"""Hypothesis settings profiles ``dev``, ``ci`` and ``nightly``, registered and loaded explicitly.

Hypothesis switches its own ``ci`` profile on by itself when it sees a CI environment, so the
profile is always chosen here, by name (``HELMMODEL_PROFILE``, default ``dev``), never left to it.
Every profile keeps ``report_multiple_bugs`` on (each invariant fails from its own line, and
each distinct failure is reported) and has no deadline (a step's cost varies with Ed25519 work).

A derandomized profile (``ci``) also pins the pool of local constants Hypothesis mixes into its
draws (:mod:`helmmodel.harness.stream`), so it draws one stream whatever the entry point and
whatever was imported before; loading another profile gives Hypothesis its own pool back.

Example budgets are per machine: a profile gives the kernel machine's budget and a machine may
scale it (``TracedMachine.budget_share``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

from helmmodel.errors import UnknownProfile
from helmmodel.harness import stream

PROFILE_ENV = "HELMMODEL_PROFILE"
DEFAULT_PROFILE = "dev"
STEPS_PER_EXAMPLE = 50

# Hypothesis's explain phase reruns a failing example many times to say which lines only
# failing runs reach; a state machine's printed program already says more, at a fraction of the
# cost, so no profile runs it.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)

_COMMON = {
    "deadline": None,
    "phases": PHASES,
    "report_multiple_bugs": True,
    "stateful_step_count": STEPS_PER_EXAMPLE,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}

# Every profile descends from Hypothesis's own ``default``, never from ``settings.default``: in a
# CI environment the latter is Hypothesis's ``ci`` profile (derandomized, no database), and a
# ``dev`` or ``nightly`` built on it would draw the same examples every run.
_BASE = settings.get_profile("default")

PROFILES: dict[str, settings] = {
    # A quick look while editing; keeps its example database so failures come back first.
    "dev": settings(_BASE, max_examples=100, **_COMMON),  # type: ignore[arg-type]
    # Reproducible on CI: derandomized, no example database.
    "ci": settings(_BASE, max_examples=1000, derandomize=True, database=None, **_COMMON),  # type: ignore[arg-type]
    # Long campaigns: many examples per chunk, fresh randomness.
    "nightly": settings(_BASE, max_examples=20_000, **_COMMON),  # type: ignore[arg-type]
}

for _name, _settings in PROFILES.items():
    settings.register_profile(f"helmmodel-{_name}", _settings)


def profile_name(name: str | None = None) -> str:
    """The profile to use: *name*, else ``$HELMMODEL_PROFILE``, else ``dev``."""
    chosen = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if chosen not in PROFILES:
        raise UnknownProfile(
            f"unknown profile {chosen!r} (from {'--profile' if name else PROFILE_ENV}); "
            f"choose one of {', '.join(PROFILES)}"
        )
    return chosen


def load(name: str | None = None) -> settings:
    """Load and return the chosen profile (also as Hypothesis's default for plain tests), with
    the local-constant pool pinned if it is derandomized."""
    chosen = profile_name(name)
    settings.load_profile(f"helmmodel-{chosen}")
    stream.pin(PROFILES[chosen].derandomize)
    return PROFILES[chosen]
