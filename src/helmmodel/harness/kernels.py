"""The kernel registry: every kernel a run can name, the correct one and the mutant catalogue's.

The catalogue (:mod:`helmmodel.mutants`) is data and registers nothing when imported; the registry
is built here from it. Kernels of a user's own (a variant under investigation) are added by a
module named with ``--import MODULE`` that calls :func:`register_kernel`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from helmmodel.errors import HelmModelError, RunnerError
from helmmodel.kernel import Kernel, KernelFactory
from helmmodel.mutants import CATALOGUE

KERNELS: dict[str, KernelFactory] = {
    "correct": Kernel,
    **{mutant.name: mutant.factory for mutant in CATALOGUE},
}


def register_kernel(name: str, factory: KernelFactory) -> None:
    """Make *factory* runnable as ``--kernel NAME``."""
    KERNELS[name] = factory


def import_modules(names: Sequence[str]) -> None:
    """Import the ``--import`` modules (they may register kernels), from the current directory."""
    if names and "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: modules of the checkout
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise HelmModelError(f"cannot import {name!r} (--import): {exc}") from None


def kernel_factory(name: str) -> KernelFactory:
    """The kernel registered as *name*."""
    if name not in KERNELS:
        raise RunnerError(f"unknown kernel {name!r}; known kernels: {', '.join(sorted(KERNELS))}")
    return KERNELS[name]
