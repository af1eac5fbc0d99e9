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
    "untyped": {"required": ["x"], "properties": {"x": {}}},  # no "type": any JSON value
    "y-integer": {
        "type": "object",
        "properties": {"y": {"type": "integer"}},
        "additionalProperties": False,
    },
    # A keyword the firewall's fast test does not know, under a property: jsonschema decides.
    "x-at-most-3": {"type": "object", "properties": {"x": {"type": "integer", "maximum": 3}}},
    # Arrays given as Python tuples: canonical JSON (so they compile), though not lists.
    "tuple-type": {"type": ("object",)},
    "tuple-required": {"type": "object", "required": ("x",)},
    "dialect": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
    # References that stay inside the schema and end: a chain of three $defs members.
    "ref-chain": {
        "$defs": {
            "small": {"type": "integer", "maximum": 10},
            "positive-small": {"allOf": [{"$ref": "#/$defs/small"}, {"minimum": 0}]},
            "x-object": {"properties": {"x": {"$ref": "#/$defs/positive-small"}}},
        },
        "$ref": "#/$defs/x-object",
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
# Valid against the metaschema, but with references the kernel refuses (spec section 2, Tool):
# each one, let through, makes jsonschema recurse without end, fetch, or fail to resolve when
# the first call is validated.
UNRESOLVABLE_SCHEMAS: dict[str, Any] = {
    "self-ref": {"$ref": "#"},
    # A URN, not a URL: a mutant kernel that lets it through must fail to resolve it at once,
    # never reach for the network (jsonschema would fetch an http URL).
    "remote-ref": {"type": "object", "properties": {"x": {"$ref": "urn:example:args"}}},
    # "small" is a member of other schemas' $defs, not of this one's.
    "dangling-ref": {"type": "object", "properties": {"x": {"$ref": "#/$defs/small"}}},
    "ref-cycle": {
        "$defs": {
            "a": {"allOf": [{"$ref": "#/$defs/b"}]},
            "b": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/a"}]},
        },
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/a"},
    },
    "moved-base": {
        "$defs": {"small": {"type": "integer", "maximum": 10}},
        "properties": {"x": {"$id": "urn:elsewhere", "$ref": "#/$defs/small"}},
    },
    "foreign-dialect": {
        "$defs": {"old": {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"}},
        "properties": {"x": {"$ref": "#/$defs/old"}},
    },
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
SCHEMAS: dict[str, Any] = {
    **VALID_SCHEMAS,
    **NON_COMPILING_SCHEMAS,
    **UNRESOLVABLE_SCHEMAS,
    **HOSTILE_SCHEMAS,
}
REGISTERED_NAMES = (*TOOLS, "extra")  # "extra" is new to the set-up's table


class ToolRules(WorldMachine):
    """Tool registration: register and replace tools, with valid, non-compiling and hostile
    schemas, on new and existing names."""

    @transition(
        name=st.sampled_from(REGISTERED_NAMES),
        schema=st.sampled_from(sorted(SCHEMAS)),
        # Now and then an approval that is no boolean, or a behaviour the kernel does not know:
        # the kernel refuses both.
        approval=st.sampled_from([False, True, False, True, 1]),
        behaviour=st.sampled_from(["echo", "sum", "fail", "echo", "sum", "fail", "shell"]),
    )
    def register_tool(
        self, name: str, schema: str, approval: Any, behaviour: str
    ) -> tuple[dict[str, Any], Any]:
        return self.driver.register_tool(name, SCHEMAS[schema], approval, behaviour), None
