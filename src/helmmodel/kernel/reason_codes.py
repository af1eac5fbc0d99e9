"""HELM's reason-code registry (the helm-ai-kernel release, spec section 12).

The registry is HELM's ``protocols/json-schemas/reason-codes/reason-codes-v1.json``, shipped as
package data (``data/reason-codes-v1.json``, provenance in ``data/README.md``) and read once, at
import. Each code says which verdicts it may accompany, its domain and its *finality*: what kind of
refusal it is (``class_forbidden``, ``ungranted``, ``instance_parameter``, ``instance_context``,
``instance_membership``). The registry leaves finality out where "the lesson is ambiguous", and
its schema calls such a code *unclassified*; :func:`finality` answers ``"unclassified"`` for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

import attrs

from helmmodel.canonical import parse_strict
from helmmodel.errors import InvalidInput

REGISTRY_FILE = "data/reason-codes-v1.json"
REGISTRY_VERSION = "1.0.0"
FINALITIES = frozenset(
    {
        "class_forbidden",
        "ungranted",
        "instance_parameter",
        "instance_context",
        "instance_membership",
    }
)
UNCLASSIFIED = "unclassified"
VERDICTS = frozenset({"DENY", "ESCALATE"})
_REQUIRED = ("code", "applies_to", "domain", "description", "since")


@attrs.frozen
class ReasonCode:
    """One registry entry; ``finality`` is one of FINALITIES or UNCLASSIFIED."""

    code: str
    applies_to: tuple[str, ...]
    domain: str
    description: str
    since: str
    finality: str


# HELM's registry is a file of the package, read once at import, so no machine's rule can present
# a malformed one: tests/unit/test_reason_codes.py presents each refusal below instead.
def _entry(item: Any, index: int) -> ReasonCode:
    where = f"registry entry {index}"
    if type(item) is not dict:  # pragma: no cover
        raise InvalidInput(f"{where} is not an object: {item!r}")
    missing = [name for name in _REQUIRED if name not in item]
    if missing:  # pragma: no cover
        raise InvalidInput(f"{where} ({item.get('code')!r}) lacks {', '.join(missing)}")
    for name in ("code", "domain", "description", "since"):
        if type(item[name]) is not str:  # pragma: no cover
            raise InvalidInput(f"{where}: {name} {item[name]!r} is not a string")
    applies_to = item["applies_to"]
    verdicts = type(applies_to) is list and applies_to and VERDICTS.issuperset(applies_to)
    if not verdicts:  # pragma: no cover
        raise InvalidInput(f"{where} ({item['code']!r}): applies_to {applies_to!r}")
    # Absent is the registry's "unclassified"; a value that is there must be one of its five.
    if "finality" in item and item["finality"] not in FINALITIES:  # pragma: no cover
        raise InvalidInput(f"{where} ({item['code']!r}): finality {item['finality']!r}")
    return ReasonCode(
        code=item["code"],
        applies_to=tuple(applies_to),
        domain=item["domain"],
        description=item["description"],
        since=item["since"],
        finality=item.get("finality", UNCLASSIFIED),
    )


def parse_registry(data: bytes) -> Mapping[str, ReasonCode]:
    """The registry in *data* (the JSON text of a reason-codes-v1 file), by code, read-only."""
    document = parse_strict(data)
    versioned = type(document) is dict and document.get("version") == REGISTRY_VERSION
    if not versioned:  # pragma: no cover
        raise InvalidInput(f"not a reason-code registry of version {REGISTRY_VERSION}")
    codes = document.get("codes")
    if type(codes) is not list:  # pragma: no cover
        raise InvalidInput(f"the registry's codes are not a list: {codes!r}")
    registry: dict[str, ReasonCode] = {}
    for index, item in enumerate(codes):
        entry = _entry(item, index)
        if entry.code in registry:  # pragma: no cover
            raise InvalidInput(f"the registry lists {entry.code!r} twice")
        registry[entry.code] = entry
    return MappingProxyType(registry)


REGISTRY: Mapping[str, ReasonCode] = parse_registry(
    resources.files("helmmodel.kernel").joinpath(REGISTRY_FILE).read_bytes()
)


# No kernel operation asks a code's finality (HELM's clients do: tests/unit/test_reason_codes.py).
def finality(code: str) -> str:  # pragma: no cover
    """The finality HELM's registry gives *code* (``"unclassified"`` where it gives none)."""
    entry = REGISTRY.get(code) if type(code) is str else None
    if entry is None:
        raise InvalidInput(
            f"reason code {code!r} is not in HELM's reason-code registry {REGISTRY_VERSION}"
        )
    return entry.finality
