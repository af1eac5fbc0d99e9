"""The must-fail catalogue: kernel variants with one known bug each, and the runs that catch them.

A checker that is never red proves nothing. Each :class:`Mutant` is the correct kernel with one
realistic bug in one method of one component, the machine that must catch it, and the invariant
that must fire first. Importing this package registers every mutant with the runner, so any of
them can be run by name (``helmmodel run --kernel NAME``); :func:`run_catalogue` runs each one's
machine against it and reports how quickly it was caught.
"""

from __future__ import annotations

from helmmodel.mutants.catalogue import BY_NAME, CATALOGUE
from helmmodel.mutants.mutant import Mutant
from helmmodel.mutants.runs import (
    Figures,
    Row,
    exit_status,
    figures,
    print_table,
    run_and_report,
    run_catalogue,
)

__all__ = [
    "BY_NAME",
    "CATALOGUE",
    "Figures",
    "Mutant",
    "Row",
    "exit_status",
    "figures",
    "print_table",
    "run_and_report",
    "run_catalogue",
]
