"""Tool registration: tools added and replaced with valid, non-compiling and hostile schemas."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from helmmodel.harness.stateful import transition
from machines.world import ANY_SCHEMA, ECHO_SCHEMA, SUM_SCHEMA, TOOLS, WorldMachine


def _nested(depth: int) -> dict[str, Any]:
    """An object schema whose property ``x`` nests *depth* objects deep."""
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


# Schemas by name: the trace records the name, the rule looks the schema up.
VALID_SCHEMAS: dict[str, Any] = {
    "echo": ECHO_SCHEMA,
    "sum": SUM_SCHEMA,
    "any": ANY_SCHEMA,
    "x-required": {"type": "object", "required": ["x"]},
    "y-integer": {
        "type": "object",
        "properties": {"y": {"type": "integer"}},
        "additionalProperties": False,
    },
}
# Each refused by the metaschema or the canonical subset, and each one a validator can still
# evaluate on any drawn arguments (a kernel that lets one through answers, it does not crash).
NON_COMPILING_SCHEMAS: dict[str, Any] = {
    "required-string": {"type": "object", "required": "x"},
    "required-twice": {"type": "object", "required": ["x", "x"]},
    "bad-regex": {"type": "string", "pattern": "("},
    "negative-min": {"type": "object", "minProperties": -1},
    "float": {"type": "object", "properties": {"x": {"type": "integer", "maximum": 1.5}}},
    "not-an-object": ["type", "object"],
    "boolean": True,
}
# Compiling, but built to hurt: nothing passes, deep nesting, a backtracking pattern, a large
# enum, a local reference.
HOSTILE_SCHEMAS: dict[str, Any] = {
    "nothing": {"not": {}},
    "deep": _nested(40),
    "backtracking": {
        "type": "object",
        "additionalProperties": {"type": "string", "pattern": "^(a+)+$"},
    },
    "large-enum": {"enum": [{"x": n} for n in range(200)]},
    "local-ref": {
        "$defs": {"small": {"type": "integer", "maximum": 10}},
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/small"}},
    },
}
SCHEMAS: dict[str, Any] = {**VALID_SCHEMAS, **NON_COMPILING_SCHEMAS, **HOSTILE_SCHEMAS}
REGISTERED_NAMES = (*TOOLS, "extra")  # "extra" is new to the set-up's table


class ToolRules(WorldMachine):
    """Tool registration: register and replace tools, with valid, non-compiling and hostile
    schemas, on new and existing names."""

    @transition(
        name=st.sampled_from(REGISTERED_NAMES),
        schema=st.sampled_from(sorted(SCHEMAS)),
        approval=st.booleans(),
        behaviour=st.sampled_from(["echo", "sum", "fail"]),
    )
    def register_tool(
        self, name: str, schema: str, approval: bool, behaviour: str
    ) -> tuple[dict[str, Any], Any]:
        return self.driver.register_tool(name, SCHEMAS[schema], approval, behaviour), None
