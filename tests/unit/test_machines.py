"""The machine directory's layout: the world every machine shares (machines/world.py), one module
per rule family (machines/families/), and the scenario machines, which alone the runner loads."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import machines.families
from machines.kernel_machine import KernelMachine
from machines.world import WorldMachine

from helmmodel.harness import runner
from helmmodel.harness.stateful import transitions

MACHINES = Path(__file__).resolve().parents[2] / "machines"
SCENARIO_MACHINES = {
    "budget_contention",
    "clock_drift",
    "error_budget",
    "forged_artifacts",
    "kernel",
    "malformed_input",
    "operator_freeze",
    "policy_mutation",
    "release_api",
    "signer_outage",
}


def families() -> dict[str, type[WorldMachine]]:
    """Every rule family of machines/families/, by class name."""
    found: dict[str, type[WorldMachine]] = {}
    for module_info in pkgutil.iter_modules(machines.families.__path__):
        module = importlib.import_module(f"machines.families.{module_info.name}")
        for name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, WorldMachine) and value.__module__ == module.__name__:
                found[name] = value
    return found


def test_the_runner_loads_the_scenario_machines_and_no_family() -> None:
    loaded = runner.load_machines(MACHINES)
    assert SCENARIO_MACHINES == set(loaded)
    assert all(machine.__module__.count(".") == 1 for machine in loaded.values())


def test_the_kernel_machine_has_every_family_and_every_rule_of_them() -> None:
    found = families()
    assert {
        "BudgetChangeRules",
        "BudgetRaceRules",
        "BudgetRules",
        "CallRules",
        "ClockRules",
        "FaultRules",
        "FreezeRules",
        "HttpCallRules",
        "HttpOpsRules",
        "PolicyRules",
        "ReleaseRules",
        "SignatureFaultRules",
        "SignerRules",
        "ToolRules",
    } == set(found)
    assert set(found.values()) <= set(KernelMachine.__mro__)
    rules = {name for family in found.values() for name in transitions(family)}
    assert rules == set(transitions(KernelMachine))


def test_the_world_set_up_leaves_kernel_and_checker_on_the_same_policy() -> None:
    """The set-up puts a rule per tool through the driver, so both copies agree from the start."""
    machine = KernelMachine()
    policy, ghost = machine.kernel.policy, machine.ghost
    assert (4, policy.epoch, policy.version) == (ghost.epoch, ghost.epoch, ghost.version)
    assert {"echo", "sum", "fail", "approve"} == set(ghost.rules)
