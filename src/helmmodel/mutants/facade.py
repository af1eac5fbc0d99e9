"""Mutants of the facade's own operations: the freeze switch's argument check and its shorthands.

Each is the correct kernel but for one facade method; only the rules that present a non-boolean
switch or use ``freeze()`` and ``unfreeze()`` reach it.
"""

from __future__ import annotations

from helmmodel.kernel import Kernel
from helmmodel.mutants.mutant import Mutant


class TruthyFreezeKernel(Kernel):
    """``set_frozen`` takes any value and freezes by its truthiness."""

    def set_frozen(self, frozen: bool) -> None:
        # The bug: "anything truthy means frozen", so 1, "true" and [True] freeze the kernel
        # and 0 or None lift a freeze, where the spec's explicit state refuses them.
        with self.lock:
            self.guardian.set_frozen(bool(frozen))


class ToggleFreezeKernel(Kernel):
    """``freeze()`` toggles the switch instead of setting it."""

    def freeze(self) -> None:
        # The bug: the emergency stop as a toggle, so a second freeze() lifts the first.
        self.set_frozen(not self.guardian.frozen)


MUTANTS = (
    Mutant(
        "facade-freeze-truthy",
        "set_frozen accepts any value and freezes by its truthiness instead of refusing what is "
        "not true or false.",
        "Kernel",
        "operator_freeze",
        "malformed_input_rejected",
        TruthyFreezeKernel,
    ),
    Mutant(
        "facade-freeze-toggles",
        "freeze() toggles the switch, so freezing a frozen kernel unfreezes it.",
        "Kernel",
        "operator_freeze",
        "freeze_respected",
        ToggleFreezeKernel,
    ),
)
