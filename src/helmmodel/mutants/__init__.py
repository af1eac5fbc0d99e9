"""The must-fail catalogue: kernel variants with one known bug each, as data.

A checker that is never red proves nothing. Each :class:`Mutant` is the correct kernel with one
realistic bug in one method of one component, the machine that must catch it, and the invariant
that must fire first. This package imports only the kernel and registers nothing: the kernel
registry (:mod:`helmmodel.harness.kernels`) names every mutant, so any of them can be run by name
(``helmmodel run --kernel NAME``), and :mod:`helmmodel.harness.mutation` runs the catalogue.
"""

from __future__ import annotations

from helmmodel.mutants.catalogue import BY_NAME, CATALOGUE
from helmmodel.mutants.mutant import Mutant

__all__ = ["BY_NAME", "CATALOGUE", "Mutant"]
