"""Render a trace for people: a table, a runnable Python program, a standalone pytest file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from helmmodel.checker.invariants import PAGE_CLAIM_NAMES
from helmmodel.harness.trace import STATUS_OPEN, Trace
from helmmodel.kernel.semantics import CHAOS_PAGE


def _python(value: Any) -> str:
    """A Python expression for a recorded argument (references become variable names)."""
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return str(value["$ref"])
        if set(value) == {"$bytes"}:
            return f"base64.b64decode({value['$bytes']!r})"
        members = ", ".join(f"{key!r}: {_python(item)}" for key, item in value.items())
        return "{" + members + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_python(item) for item in value) + "]"
    return repr(value)


def step_lines(trace: Trace, check: str | None = None) -> list[str]:
    """One line per step, in the manner of Hypothesis's printed counterexample."""
    lines = []
    for step in trace.steps:
        args = ", ".join(f"{name}={_python(value)}" for name, value in step["args"].items())
        call = f"state.{step['rule']}({args})"
        lines.append(f"{step['result']} = {call}" if step["result"] else call)
        if check:
            lines.append(check)
    return lines


def _semantics(trace: Trace) -> str:
    """The arguments after the factory that put a trace's machine in its semantics, judged with
    the page claim it shows (none for a chaos-page trace)."""
    if trace.semantics == CHAOS_PAGE:
        return ""
    claims = (trace.invariant,) if trace.invariant in PAGE_CLAIM_NAMES else ()
    return f", {trace.semantics!r}, {claims!r}"


def program(trace: Trace, imports: Sequence[str] = ()) -> str:
    """The trace as a program that replays it (the invariants run after each step).

    *imports* are modules to import first (those that register the trace's kernel).
    """
    name = trace.machine_class_name()
    header = [
        f"# {trace.machine} against the {trace.kernel} kernel: {trace.message}",
        f"# status {trace.status}; run from the repository root, or: helmmodel replay PATH",
        *(f"import {module}  # registers kernels" for module in imports),
        "from helmmodel.harness.kernels import kernel_factory",
        "from helmmodel.harness.runner import load_machines",
        "from helmmodel.harness.stateful import machine_for",
        f"{name} = machine_for(load_machines('machines')[{trace.machine!r}], "
        f"{trace.kernel!r}, kernel_factory({trace.kernel!r}){_semantics(trace)})",
        f"state = {name}()",
    ]
    return "\n".join([*header, *step_lines(trace, "state.invariants_hold()"), "state.teardown()"])


def table(trace: Trace) -> str:
    """The steps as a table: number, rule, arguments, outcome, state digest."""
    rows = [("#", "rule", "arguments", "outcome", "digest")]
    for number, step in enumerate(trace.steps, start=1):
        args = ", ".join(f"{k}={_python(v)}" for k, v in step["args"].items())
        outcome = ", ".join(f"{k}={v}" for k, v in step["outcome"].items())
        rows.append((str(number), step["rule"], args, outcome, step["digest"][:12]))
    widths = [min(60, max(len(row[i]) for row in rows)) for i in range(5)]
    lines = []
    for row in rows:
        cells = [cell if len(cell) <= 60 else cell[:57] + "..." for cell in row]
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        )
    return "\n".join(line.rstrip() for line in lines)


def pytest_file(trace: Trace, source: str, imports: Sequence[str] = ()) -> str:
    """A standalone regression test replaying the trace's program (*imports* as in
    :func:`program`)."""
    steps = [f"        {line}" for line in step_lines(trace, "state.invariants_hold()")]
    steps.append("        state.teardown()")
    body = "\n".join(steps)
    name = f"test_{trace.machine}_{trace.invariant}_{trace.identity()}"
    if trace.status == STATUS_OPEN:
        pattern = repr("^" + trace.invariant + " ")
        expectation = f"    with pytest.raises(InvariantViolation, match={pattern}):\n"
        doc = f"Still violates {trace.invariant} (status open): {trace.message}"
    else:
        expectation = "    with contextlib.nullcontext():  # status fixed: every invariant holds\n"
        doc = f"No longer violates {trace.invariant} (status fixed)."
    lines = [
        f'"""Regression test written by `helmmodel show --pytest` from {source}."""',
        "",
        "import base64  # noqa: F401 (used by byte arguments, if any)",
        "import contextlib  # noqa: F401 (used when the case is fixed)",
        "",
        "import pytest",
        "",
        *(f"import {module}  # noqa: F401 (registers kernels)" for module in imports),
        "from helmmodel.checker.invariants import InvariantViolation",
        "from helmmodel.harness.kernels import kernel_factory",
        "from helmmodel.harness.runner import load_machines",
        "from helmmodel.harness.stateful import machine_for",
        "",
        "",
        f"def {name}() -> None:",
        f"    {json.dumps(doc)}",
        f"    machine = load_machines({'machines'!r})[{trace.machine!r}]",
        f"    Machine = machine_for(machine, {trace.kernel!r}, "
        f"kernel_factory({trace.kernel!r}){_semantics(trace)})",
        "    state = Machine()",
    ]
    return "\n".join(lines) + "\n" + expectation + body + "\n"
