"""HELM's reason-code registry as the release semantics reads it (``kernel/reason_codes.py``)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from helmmodel.errors import InvalidInput
from helmmodel.kernel.reason_codes import (
    FINALITIES,
    REGISTRY,
    UNCLASSIFIED,
    finality,
    parse_registry,
)

REGISTRY_JSON = json.loads(
    resources.files("helmmodel.kernel").joinpath("data/reason-codes-v1.json").read_text("utf-8")
)


def test_the_registry_lists_every_code_of_the_file_once() -> None:
    """REGISTRY holds the file's codes, each once, in the file's order."""
    assert [entry["code"] for entry in REGISTRY_JSON["codes"]] == list(REGISTRY)
    assert 102 == len(REGISTRY)


@pytest.mark.parametrize("code", [entry["code"] for entry in REGISTRY_JSON["codes"]])
def test_every_listed_code_has_a_finality(code: str) -> None:
    """Each code's finality is the registry's, or "unclassified" where it gives none."""
    listed = next(entry for entry in REGISTRY_JSON["codes"] if entry["code"] == code)
    assert listed.get("finality", UNCLASSIFIED) == finality(code)
    assert finality(code) in FINALITIES | {UNCLASSIFIED}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("SYSTEM_FROZEN", "instance_context"),
        ("NO_POLICY_DEFINED", "ungranted"),
        ("BUDGET_EXCEEDED", "instance_parameter"),
        ("APPROVAL_REQUIRED", "ungranted"),
        ("MISSING_REQUIREMENT", UNCLASSIFIED),
        ("EMERGENCY_STOP_FENCED", "instance_context"),
    ],
)
def test_finality_of_codes_the_model_uses(code: str, expected: str) -> None:
    """Known answers for codes the model's kernel and the fence emit."""
    assert expected == finality(code)


@pytest.mark.parametrize(
    "code", ["ERR_TOOL_NOT_FOUND", "DIGEST_MISMATCH", "system_frozen", "", None, 1]
)
def test_an_unknown_code_is_refused(code: object) -> None:
    """A code the registry does not list raises InvalidInput naming it."""
    with pytest.raises(InvalidInput, match=repr(code).replace("'", "'?")):
        finality(code)  # type: ignore[arg-type]


def test_the_registry_is_read_only() -> None:
    """REGISTRY cannot be changed, nor can its entries."""
    with pytest.raises(TypeError):
        REGISTRY["NEW_CODE"] = REGISTRY["SYSTEM_FROZEN"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        REGISTRY["SYSTEM_FROZEN"].finality = "ungranted"  # type: ignore[misc]


def document(*codes: object, version: str = "1.0.0") -> bytes:
    """The JSON text of a registry of *codes*."""
    return json.dumps({"version": version, "codes": list(codes)}).encode()


GOOD = {
    "code": "X_CODE",
    "applies_to": ["DENY"],
    "domain": "policy",
    "description": "d",
    "since": "1.0.0",
}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        pytest.param(document(GOOD, version="2.0.0"), "1.0.0", id="version"),
        pytest.param(b'{"version": "1.0.0", "codes": {}}', "not a list", id="codes-object"),
        pytest.param(document("X_CODE"), "entry 0", id="entry-string"),
        pytest.param(document({**GOOD, "domain": None}), "domain None", id="domain-null"),
        pytest.param(document({"code": "X_CODE"}), "lacks applies_to", id="missing"),
        pytest.param(document({**GOOD, "applies_to": ["ALLOW"]}), "applies_to", id="allow"),
        pytest.param(document({**GOOD, "applies_to": []}), "applies_to", id="no-verdicts"),
        pytest.param(document({**GOOD, "finality": "unclassified"}), "finality", id="spelled"),
        pytest.param(document(GOOD, GOOD), "twice", id="duplicate"),
    ],
)
def test_a_malformed_registry_is_refused(data: bytes, named: str) -> None:
    """parse_registry refuses a file that is not a registry of version 1.0.0, naming the fault."""
    assert ["X_CODE"] == list(parse_registry(document(GOOD)))
    with pytest.raises(InvalidInput, match=named):
        parse_registry(data)
