"""The tool table and the firewall (spec section 2): allowlisted tools, schemas, behaviours.

Behaviours are deterministic: ``echo`` returns its arguments, ``sum`` adds its integer arguments,
``fail`` is a tool error. An output that cannot be encoded canonically is a tool error too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import jsonschema
from jsonschema.exceptions import SchemaError

from helmmodel.canonical import JSONValue, canonical_bytes
from helmmodel.errors import CanonicalJSONError, InvalidInput
from helmmodel.kernel.records import check_identifier

BEHAVIOURS = ("echo", "sum", "fail")
TOOLS_MAX = 256
FIREWALL_MEMO_MAX = 65_536

ERR_TOOL_NOT_FOUND = "ERR_TOOL_NOT_FOUND"
SCHEMA_VIOLATION = "SCHEMA_VIOLATION"


class ToolError(Exception):
    """The tool ran and failed: a value (``status = TOOL_ERROR``), never a kernel error."""


# Draft 2020-12's subschema positions (as the ``referencing`` package lists them): a keyword
# whose value is one subschema, an array of subschemas, or an object of subschemas. Only these are
# walked, so a "$ref" member of an enum or a property named "$ref" is data, not a reference.
_ONE_SUBSCHEMA = frozenset(
    {
        "additionalProperties",
        "contains",
        "contentSchema",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_SUBSCHEMA_ARRAYS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_OBJECTS = frozenset(
    {"$defs", "definitions", "dependentSchemas", "patternProperties", "properties"}
)
# Keywords that move the base URI or resolve dynamically: with them a local-looking "#/$defs/x"
# can point into another resource, or to nothing.
_RESOLUTION_KEYWORDS = ("$id", "$anchor", "$dynamicAnchor", "$dynamicRef")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_LOCAL_REF = re.compile(r"#/\$defs/([A-Za-z0-9_.-]{1,64})")


def _reference_problem(schema: dict[str, Any]) -> str | None:
    """Why *schema*'s references cannot be resolved safely, or None (spec section 2, Tool).

    jsonschema resolves a reference only when a call is validated: a remote one it would fetch,
    a dangling one it cannot resolve, and a cycle it follows until the interpreter's recursion
    limit. So registration allows only references to the root's own ``$defs`` that never cycle.
    """
    defs = schema.get("$defs", {})
    refers: dict[str, set[str]] = {name: set() for name in defs}  # $defs member -> its targets
    # (subschema, the root $defs member it lies in or None, whether it is the root)
    pending: list[tuple[Any, str | None, bool]] = [(schema, None, True)]
    while pending:
        node, owner, root = pending.pop()
        if type(node) is not dict:  # a boolean subschema refers to nothing
            continue
        for keyword in _RESOLUTION_KEYWORDS:
            if keyword in node:
                return f"it uses {keyword}, which can move a reference out of the schema"
        if "$schema" in node and not (root and node["$schema"] == DIALECT):
            return f"$schema is allowed only at the root, and only as {DIALECT}"
        if "$ref" in node:
            target = _LOCAL_REF.fullmatch(node["$ref"])
            if target is None or target.group(1) not in defs:
                return (
                    f"$ref {node['$ref']!r} is not #/$defs/<name> for a member of the root's $defs"
                )
            if owner is not None:
                refers[owner].add(target.group(1))
        for keyword, value in node.items():
            if keyword in _ONE_SUBSCHEMA:
                pending.append((value, owner, False))
            elif keyword in _SUBSCHEMA_ARRAYS:
                pending.extend((item, owner, False) for item in value)
            elif keyword in _SUBSCHEMA_OBJECTS:
                top = root and keyword == "$defs"
                pending.extend(
                    (item, name if top else owner, False) for name, item in value.items()
                )
    # Peel off members that refer to nothing left; a cycle is whatever cannot be peeled.
    left = {name: set(targets) for name, targets in refers.items()}
    while True:
        done = [name for name, targets in left.items() if not targets]
        if not done:
            break
        for name in done:
            del left[name]
        for targets in left.values():
            targets.difference_update(done)
    if left:
        return f"the $defs members {sorted(left)} refer to each other in a cycle"
    return None


@functools.lru_cache(maxsize=256)
def _schema_problem(schema_jcs: bytes) -> str | None:
    """Why the schema with canonical bytes *schema_jcs* is refused, or None. Checking a schema
    against the metaschema costs milliseconds and depends on its bytes alone: memoised."""
    schema = json.loads(schema_jcs)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"does not compile: {exc.message}"
    problem = _reference_problem(schema)
    return None if problem is None else f"cannot be resolved safely: {problem}"


# The JSON types of the canonical subset: a value of any other type (a tuple, a subclass) is left
# to jsonschema.
_PLAIN_TYPES = frozenset({dict, list, str, int, bool, type(None)})

# Draft 2020-12's type names, each as a test that implies jsonschema's own on plain values.
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: type(value) is dict,
    "array": lambda value: type(value) is list,
    "string": lambda value: type(value) is str,
    "integer": lambda value: type(value) is int,
    "number": lambda value: type(value) is int,
    "boolean": lambda value: type(value) is bool,
    "null": lambda value: value is None,
}
_PASSING_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})

Passes = Callable[[Any], bool]
DispatchObserver = Callable[[str, str, dict[str, Any]], None]


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def passing_check(schema: Any) -> Passes | None:
    """A fast test that a value is certainly valid against *schema*, or None.

    Only for schemas made of ``type``, ``properties``, ``required`` and ``additionalProperties``
    (the shapes tools declare), with booleans as subschemas. The test is one-sided: True means
    jsonschema would find no error; False means only that the firewall must ask jsonschema,
    which decides, and words the error. So verdicts and messages are jsonschema's alone.
    *schema* is one registration accepted: valid against the metaschema, in the canonical subset.
    """
    if schema is True:
        return _always
    if schema is False:
        return _never
    if type(schema) is not dict or not _PASSING_KEYWORDS.issuperset(schema):
        return None
    type_tests: list[Passes] = []
    if "type" in schema:
        names = schema["type"]
        names = [names] if type(names) is str else names
        if type(names) is not list or not names:
            return None
        # The metaschema allows only the seven type names, and canonical JSON only exact strings.
        type_tests.extend(_TYPE_TESTS[name] for name in names)
    required = schema.get("required", [])
    properties = schema.get("properties", {})
    if type(required) is not list or not all(type(name) is str for name in required):
        return None
    property_checks = {}
    for name, subschema in properties.items():
        check = passing_check(subschema)
        if check is None:
            return None
        property_checks[name] = check
    additional = passing_check(schema.get("additionalProperties", True))
    if additional is None:
        return None

    def passes(value: Any) -> bool:
        if type(value) not in _PLAIN_TYPES:
            return False
        if type_tests and not any(test(value) for test in type_tests):
            return False
        if type(value) is dict:  # the other three keywords look at objects only
            for name in required:
                if name not in value:
                    return False
            for key, item in value.items():
                if not property_checks.get(key, additional)(item):
                    return False
        return True

    return passes


@attrs.frozen
class Tool:
    """An allowlisted tool: its name, argument schema, approval flag and behaviour."""

    name: str
    schema: Mapping[str, Any] = attrs.field(eq=False)
    approval: bool
    behaviour: str
    validator: Any = attrs.field(eq=False, repr=False)
    # None when the schema uses more than the fast test knows: then jsonschema alone decides.
    passes: Passes | None = attrs.field(default=None, eq=False, repr=False)


def _run(behaviour: str, args: dict[str, Any]) -> JSONValue:
    if behaviour == "echo":
        return args
    if behaviour == "sum":
        values = list(args.values())
        if not all(type(v) is int for v in values):
            raise ToolError("sum adds integer arguments only")
        return {"sum": sum(values)}
    raise ToolError("the tool failed")


@attrs.frozen
class Firewall:
    """A firewall verdict: None when the call may proceed, else the DENY reason code and why."""

    code: str | None
    reason: str = ""


_ALLOWED = Firewall(None)


def _unobserved(effect_id: str, name: str, args: dict[str, Any]) -> None:
    """The observer of a table nobody watches (a server, a storm): it notes nothing."""


class ToolTable:
    """The kernel's allowlist: only registered tools can be called."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self.dispatches: list[tuple[str, str]] = []  # (effect id, tool) per dispatch, in order
        # Called with (effect id, tool, args) on every real run of a tool: the world outside the
        # kernel (a checker) sees each effect as it happens, not through the kernel's records.
        self.observer: DispatchObserver = _unobserved
        self._digest_material = b""
        # Schema validation is a pure function of (tool schema, args): memoised on the tool
        # name and the canonical bytes of the args, and dropped whenever a tool is registered.
        self._firewall_memo: dict[tuple[str, bytes], Firewall] = {}

    def observe(self, observer: DispatchObserver) -> None:
        """Call *observer* with (effect id, tool, args) whenever a tool really runs."""
        self.observer = observer

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def register(
        self,
        name: str,
        schema: Mapping[str, Any],
        *,
        approval: bool = False,
        behaviour: str = "echo",
    ) -> None:
        """Allowlist *name*; a schema that does not compile is refused and nothing is added."""
        check_identifier(name, "tool name")
        if behaviour not in BEHAVIOURS:
            raise InvalidInput(f"tool behaviour {behaviour!r} is not one of {list(BEHAVIOURS)}")
        if type(approval) is not bool:
            raise InvalidInput(f"tool approval must be true or false, not {approval!r}")
        if not isinstance(schema, Mapping):
            raise InvalidInput(f"the schema of tool {name!r} must be an object, not {schema!r}")
        problem = self.schema_problem(schema)
        if problem is not None:
            raise InvalidInput(
                f"the schema of tool {name!r} {problem}; the tool is not allowlisted"
            )
        if name not in self._tools and len(self._tools) >= TOOLS_MAX:
            raise InvalidInput(f"the tool table holds at most {TOOLS_MAX} tools")
        validator = jsonschema.Draft202012Validator(schema)
        passes = passing_check(dict(schema))
        self._tools[name] = Tool(name, schema, approval, behaviour, validator, passes)
        self._firewall_memo.clear()
        # Registration is rare and schemas can be large: encode them once, here.
        self._digest_material = "|".join(
            f"{t.name}:{t.approval}:{t.behaviour}:{canonical_bytes(dict(t.schema)).hex()}"
            for t in (self._tools[n] for n in sorted(self._tools))
        ).encode()

    def schema_problem(self, schema: Mapping[str, Any]) -> str | None:
        """Why *schema* is refused at registration, or None: it must be canonical JSON, valid
        against the Draft 2020-12 metaschema, and resolvable (spec section 2, Tool)."""
        try:
            return _schema_problem(canonical_bytes(dict(schema)))
        except CanonicalJSONError as exc:
            return f"does not compile: {exc}"

    def check(self, name: str, args: dict[str, Any], args_jcs: bytes | None = None) -> Firewall:
        """The firewall: the tool must be allowlisted and *args* valid against its schema.

        *args_jcs*, the canonical bytes of *args* when the caller has them, keys a memo.
        """
        tool = self._tools.get(name)
        if tool is None:
            return Firewall(ERR_TOOL_NOT_FOUND, f"tool {name!r} is not allowlisted")
        key = (name, args_jcs) if args_jcs is not None else None
        if key is not None and key in self._firewall_memo:
            return self._firewall_memo[key]
        verdict = _ALLOWED
        if (tool.passes is None or not tool.passes(args)) and not tool.validator.is_valid(args):
            error = jsonschema.exceptions.best_match(tool.validator.iter_errors(args))
            where = "/".join(str(p) for p in error.absolute_path) or "args"
            verdict = Firewall(SCHEMA_VIOLATION, f"{where}: {error.message}")
        if key is not None:
            if len(self._firewall_memo) >= FIREWALL_MEMO_MAX:
                self._firewall_memo.clear()
            self._firewall_memo[key] = verdict
        return verdict

    def dispatch(self, effect_id: str, name: str, args: dict[str, Any]) -> tuple[JSONValue, bytes]:
        """Run the tool; return its output and the output's canonical bytes.

        Raise ToolError for a tool error, including an output that cannot be encoded.
        """
        tool = self._tools[name]
        self.dispatches.append((effect_id, name))
        self.observer(effect_id, name, args)
        output = _run(tool.behaviour, args)
        try:
            return output, canonical_bytes(output)
        except CanonicalJSONError as exc:
            raise ToolError(f"the output cannot be encoded canonically: {exc}") from None

    def digest_material(self) -> bytes:
        return self._digest_material
