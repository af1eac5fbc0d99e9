"""Tool schema references (kernel-spec section 2, "Tool schema references").

A regression: ``{"$ref": "#"}`` and a remote ``$ref`` were allowlisted, and the firewall then
crashed on the first call (RecursionError, jsonschema's Unresolvable). Registration now refuses
every reference that does not name a member of the root's ``$defs`` without a cycle, and the
checker's own judgement (``schema_compiles``) says the same without asking the kernel.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from machines.families.tools import HOSTILE_SCHEMAS, UNRESOLVABLE_SCHEMAS, VALID_SCHEMAS

from helmmodel.checker.ghost import schema_compiles
from helmmodel.errors import InvalidInput
from helmmodel.kernel.tools import ERR_TOOL_NOT_FOUND, SCHEMA_VIOLATION, ToolTable
from helmmodel.mutants import BY_NAME

REFUSED: dict[str, Any] = {
    **UNRESOLVABLE_SCHEMAS,
    "https-ref": {"$ref": "https://example.com/s.json"},
    "file-ref": {"properties": {"x": {"$ref": "file:///etc/passwd"}}},
    "pointer-outside-defs": {"$ref": "#/properties/x", "properties": {"x": {}}},
    "nested-defs-member": {"$defs": {"a": {"$defs": {"b": {}}}}, "$ref": "#/$defs/a/$defs/b"},
    "not-an-identifier": {"$defs": {"a b": {}}, "$ref": "#/$defs/a b"},
    "cycle-through-properties": {
        "$defs": {"node": {"properties": {"next": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    },
    "unreferenced-remote": {"$defs": {"unused": {"$ref": "urn:example:unused"}}},
    "anchor": {"$defs": {"a": {"$anchor": "a"}}},
    "dynamic-anchor": {"$dynamicAnchor": "meta"},
    "dynamic-ref": {"$dynamicRef": "#/$defs/a", "$defs": {"a": {}}},
    "root-dialect-other": {"$schema": "http://json-schema.org/draft-07/schema#"},
}
ACCEPTED: dict[str, Any] = {
    "local-ref": HOSTILE_SCHEMAS["local-ref"],
    "ref-chain": VALID_SCHEMAS["ref-chain"],
    "dialect": VALID_SCHEMAS["dialect"],
    "boolean-member": {"$defs": {"no": False}, "properties": {"x": {"$ref": "#/$defs/no"}}},
    "ref-as-data": {
        "$defs": {"s": {"type": "string"}},
        "enum": [{"$ref": "#"}],
        "properties": {"$ref": {"$ref": "#/$defs/s"}},
    },
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unresolvable_references_are_refused_at_registration(name: str) -> None:
    """Refused with InvalidInput, not allowlisted, nothing fetched; the checker agrees."""
    tools = ToolTable()
    with (
        mock.patch("urllib.request.urlopen", side_effect=AssertionError("fetched")),
        pytest.raises(InvalidInput, match="cannot be resolved safely"),
    ):
        tools.register("t", REFUSED[name])
    assert tools.get("t") is None
    assert ERR_TOOL_NOT_FOUND == tools.check("t", {"x": 1}).code
    assert not schema_compiles(REFUSED[name])


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_references_into_the_roots_defs_are_allowlisted_and_validate(name: str) -> None:
    """Accepted, and the firewall answers on any arguments; the checker agrees."""
    tools = ToolTable()
    tools.register("t", ACCEPTED[name])
    for args in ({}, {"x": 1}, {"x": 99}, {"x": "s"}, {"x": {"x": -1}}, {"$ref": 1}):
        assert tools.check("t", args).code in (None, SCHEMA_VIOLATION)
    assert schema_compiles(ACCEPTED[name])


def test_a_chain_of_references_is_followed() -> None:
    """The chain x-object -> positive-small -> small bounds x to 0..10."""
    tools = ToolTable()
    tools.register("t", VALID_SCHEMAS["ref-chain"])
    assert [None, SCHEMA_VIOLATION, SCHEMA_VIOLATION] == [
        tools.check("t", {"x": x}).code for x in (10, 11, -1)
    ]


def test_the_mutant_that_skips_the_reference_check_crashes_the_firewall() -> None:
    """What the tool-schema-refs-unchecked mutant lets through, and why it is caught."""
    tools = BY_NAME["tool-schema-refs-unchecked"].factory().tools
    tools.register("t", {"$ref": "#"})
    with pytest.raises(RecursionError):
        tools.check("t", {})


# Schemas built of references of every kind, at several positions, for the agreement test.
REFS = st.sampled_from(
    ["#", "#/$defs/a", "#/$defs/b", "#/$defs/c", "#/$defs/missing", "urn:x", "#/properties/x"]
)
LEAVES = st.one_of(
    st.booleans(),
    st.just({"type": "integer"}),
    REFS.map(lambda ref: {"$ref": ref}),
    st.just({"$id": "urn:y"}),
    st.just({"$schema": "https://json-schema.org/draft/2020-12/schema"}),
)
SUBSCHEMAS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda s: {"allOf": [s]}, inner),
        st.builds(lambda s: {"properties": {"x": s}}, inner),
        st.builds(lambda s: {"items": s}, inner),
        st.builds(lambda s: {"not": s}, inner),
        st.builds(lambda s, t: {"if": s, "then": t}, inner, inner),
        st.builds(lambda s: {"enum": [s]}, inner),  # data: never looked at
    ),
    max_leaves=4,
)
SCHEMAS = st.builds(
    lambda root, defs: {**root, "$defs": defs} if defs else root,
    SUBSCHEMAS.filter(lambda s: isinstance(s, dict)),
    st.dictionaries(st.sampled_from("abc"), SUBSCHEMAS, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(SCHEMAS)
def test_kernel_and_checker_judge_references_alike(schema: dict[str, Any]) -> None:
    """The kernel allowlists exactly what the checker judges compiling, and an allowlisted
    schema's firewall answers without raising."""
    tools = ToolTable()
    try:
        tools.register("t", schema)
        accepted = True
    except InvalidInput:
        accepted = False
    assert accepted == schema_compiles(schema)
    if accepted:
        for args in ({}, {"x": 1}, {"x": [1, "s"]}):
            assert tools.check("t", args).code in (None, SCHEMA_VIOLATION)
