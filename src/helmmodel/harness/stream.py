"""One ci stream: a derandomized profile draws its local constants from a fixed set of files.

Hypothesis (6.170, pinned) draws about one value in twenty from a pool of constants: a fixed
global pool, and the literals (integers of magnitude >= 100, non-zero floats, short strings and
bytes) of every *local* module in ``sys.modules``, i.e. neither site-packages nor the standard
library nor a test file (``hypothesis.internal.conjecture.providers._get_local_constants``).
That pool is collected lazily, at the first constant an example draws, from the modules imported
since the last look, and it only grows. So a derandomized profile drew different examples under
``helmmodel run``, ``helmmodel mutants``, pytest (whose collected modules vary with the
selection) and a script (itself a local module), and within one process after a new import.

For a derandomized profile, :func:`pin` swaps that collector for the literals of a fixed set of
files (:func:`pool_files`): the modules of the helmmodel package that ``helmmodel run`` imports
(all but the campaign, the thread storms, the HTTP server and ``__main__``, which it never
loads) and the checkout's ``machines`` directory. Its integers, floats and bytes are those
``helmmodel run`` and ``helmmodel mutants`` collected before (only strings differ, and no
machine draws a string), so their ci streams, and the figures recorded from them, did not move.
Changing a literal in one of these files still moves the stream, as it always did; importing
something else no longer does.

This is the one place that touches Hypothesis's internals; :func:`check_hypothesis` says loudly
when they change.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from pathlib import Path

from hypothesis import __version__ as hypothesis_version
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants, constants_from_module
from hypothesis.internal.floats import float_to_int

# Hypothesis's own dependency (untyped): the sorted sets it holds its pool in.
from sortedcontainers import SortedSet  # type: ignore[import-untyped]

from helmmodel.errors import HelmModelError

PACKAGE = Path(__file__).resolve().parents[1]
# Parts of the package a machine run never imports (see the module docstring).
NOT_IN_POOL = frozenset({"fuzz", "concurrency", "server.py", "__main__.py"})
# The machines of a checkout (src layout): absent from an installed wheel, and then not pooled.
MACHINES = PACKAGE.parents[1] / "machines"

# Hypothesis's own collector, given back by pin(False).
_COLLECTOR: Callable[[], Constants] = providers._get_local_constants


def pool_files() -> list[Path]:
    """The files whose literals make the pinned pool, in a fixed order."""
    files = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in NOT_IN_POOL
    ]
    if MACHINES.is_dir():
        files += sorted(MACHINES.rglob("*.py"))
    return files


@functools.cache
def pinned_pool() -> Constants:
    """The literals of :func:`pool_files`, held in sorted sets as Hypothesis holds its own pool
    (a draw picks from it by position, so the order is part of the stream)."""
    pool = Constants(
        integers=SortedSet(),
        floats=SortedSet(key=float_to_int),
        bytes=SortedSet(),
        strings=SortedSet(),
    )
    for path in pool_files():
        module = types.ModuleType(path.stem)
        module.__file__ = str(path)
        # Hypothesis's own extraction: the same literals, limits and on-disk cache.
        pool |= constants_from_module(module)
    return pool


def _pinned() -> Constants:
    return pinned_pool()


def check_hypothesis() -> None:
    """Raise unless Hypothesis still collects local constants the way :func:`pin` replaces."""
    lazy = providers.HypothesisProvider.__dict__.get("_local_constants")
    code = getattr(getattr(lazy, "func", None), "__code__", None)
    uses_collector = "_get_local_constants" in getattr(code, "co_names", ())
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if not (uses_collector and callable(_COLLECTOR) and hasattr(cache, "clear")):
        raise HelmModelError(
            f"hypothesis {hypothesis_version} no longer draws local constants through "
            "providers._get_local_constants and CONSTANTS_CACHE, so a derandomized profile "
            "cannot be pinned to one stream: update helmmodel.harness.stream for it"
        )


def pin(derandomized: bool) -> None:
    """Pin the local-constant pool for a derandomized profile; else give Hypothesis its own."""
    check_hypothesis()
    wanted = _pinned if derandomized else _COLLECTOR
    if providers._get_local_constants is not wanted:
        providers._get_local_constants = wanted
        # Cached per (type, constraints) from the previous pool: drawn by position, so stale.
        providers.CONSTANTS_CACHE.cache.clear()
