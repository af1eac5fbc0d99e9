"""The rule families: one mixin of traced rules per family of kernel operations.

Each family subclasses :class:`machines.world.WorldMachine`; the kernel machine inherits them all
and each scenario machine the families its scenario needs. Rules stay thin: they pick values, call
one driver method (which calls the kernel once and records the step for the checker) and return
``(outcome, value for the target bundle)``. The one exception, ``authorize_call``, runs three
phases in one step to keep the executor's rules fed with authorized intents. Rules set explicit
states (``set_frozen(True)``), never toggle, so that they shrink well.

This package is not scanned for machines (the runner imports the modules of ``machines/`` only):
a family is a building block, never a machine of its own.
"""
