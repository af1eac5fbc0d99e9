"""The twin against HELM's real server, recorded (docs/helm-conformance.md).

``tests/data/helm/live/exchanges.json`` holds requests sent to HELM's server (helm-ai-kernel at
24a64557, built from its public source) and what it answered. The twin is set up as that server
was, is sent every recorded request in order (in process, through ``Kernel.handle``), and each
answer is compared with the release's: status, content type, and the body (for JSON, every
member's name and JSON type, and its value unless the recording marks it run-specific, whose
form alone is compared). A difference fails unless the table of docs/helm-conformance.md lists
it, and a listed difference that no longer occurs fails too, so the table stays true.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from helmmodel import server
from helmmodel.kernel import Kernel, KernelConfig
from helmmodel.kernel.api import Response
from helmmodel.kernel.helm_api import HelmSurface
from helmmodel.kernel.semantics import HELM_AI_KERNEL

ROOT = Path(__file__).resolve().parents[2]
RECORDING = json.loads((ROOT / "tests/data/helm/live/exchanges.json").read_text("utf-8"))
TABLE = ROOT / "docs/helm-conformance.md"
KEYS = {"{admin}": "conformance-admin-key", "{service}": "conformance-service-key"}
OPEN = {"id": "open", "logic": "AND", "leaves": []}
# The release's refund requires a human_approval artifact, which an evaluate never carries.
REFUND = {
    "id": "r",
    "logic": "AND",
    "leaves": [{"id": "h", "predicate": ["has", "context.artifacts.human_approval"]}],
}
# The operations of the slice the twin serves: the recording holds each of them.
OPERATIONS = {
    "health",
    "healthz",
    "version",
    "evaluate",
    "receipts list",
    "receipt get",
    "proofgraph sessions",
    "proofgraph session receipts",
    "proofgraph receipt",
    "approve",
    "budgets get",
    "budget put",
    "trust key add",
    "trust key revoke",
    "fence",
    "unknown path",
}
_RECEIPT_REF = re.compile(r"\{receipt_id:([a-z0-9-]+)\}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z")
_HEX = re.compile(r"[0-9a-f]{16,}")
_DIGITS = re.compile(r"[0-9]+")


@attrs.frozen
class Difference:
    """One way the twin's answer differs: where (``status``, ``content-type``, ``body`` or a
    member path such as ``body.receipts[].log_id``), and what each side has there."""

    where: str
    release: str
    twin: str


def json_type(value: Any) -> str:
    """*value*'s JSON type."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) is int:
        return "integer"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def form(text: str) -> str:
    """A run-specific string's shape: an RFC 3339 UTC time reads ``<time>`` (Go writes no
    fraction for a whole second), a hex run of 16 digits or more ``<hex>``, any other digit run
    ``<n>``; so ids, hashes and times compare by form, not by value."""
    return _DIGITS.sub("<n>", _HEX.sub("<hex>", _TIME.sub("<time>", text)))


def compare(release: Any, twin: Any, where: str, run_specific: tuple[str, ...]) -> list[Difference]:
    """The differences between two JSON values; array items are compared pairwise, their
    paths written ``[]``."""
    if json_type(release) != json_type(twin):
        return [Difference(where, json_type(release), json_type(twin))]
    if type(release) is dict:
        found: list[Difference] = []
        for name in sorted(release.keys() | twin.keys()):
            path = f"{where}.{name}"
            if name not in twin:
                found.append(Difference(path, "present", "absent"))
            elif name not in release:
                found.append(Difference(path, "absent", "present"))
            else:
                found += compare(release[name], twin[name], path, run_specific)
        return found
    if type(release) is list:
        found = []
        if len(release) != len(twin):
            found.append(Difference(where, f"{len(release)} items", f"{len(twin)} items"))
        for mine, theirs in zip(release, twin, strict=False):
            found += compare(mine, theirs, f"{where}[]", run_specific)
        return found
    if any(fnmatch.fnmatchcase(where, pattern) for pattern in run_specific):
        if type(release) is str and form(release) != form(twin):
            return [Difference(where, form(release), form(twin))]
        return []
    if release != twin:
        return [Difference(where, json.dumps(release), json.dumps(twin))]
    return []


def _dedupe(found: list[Difference]) -> list[Difference]:
    return list({d.where: d for d in found}.values())


def answer_differences(
    recorded: Mapping[str, Any], response: Response, run_specific: tuple[str, ...]
) -> list[Difference]:
    """How the twin's *response* differs from the *recorded* answer of the release."""
    found = []
    if response.status != recorded["status"]:
        found.append(Difference("status", str(recorded["status"]), str(response.status)))
    content_type = dict(response.headers).get("Content-Type")
    if content_type != recorded["content_type"]:
        found.append(Difference("content-type", str(recorded["content_type"]), str(content_type)))
    mine, theirs = recorded["body"], response.body.decode("utf-8")
    if "json" in (recorded["content_type"] or "") and "json" in (content_type or ""):
        found += compare(json.loads(mine), json.loads(theirs), "body", run_specific)
    elif mine != theirs:
        found.append(Difference("body", repr(mine[:60]), repr(theirs[:60])))
    return _dedupe(found)


def twin(kind: str) -> Kernel:
    """The twin set up as the recorded server of *kind* was: the release's tools and rules in the
    model, its keys, tenant and principal, and for ``fence`` its command key and workspace, on a
    clock stopped at the recording's time (the fence's command windows are real times)."""
    kernel = Kernel(KernelConfig(semantics=HELM_AI_KERNEL))
    for tool in ("read", "echo", "refund"):  # shell is unknown to the kernel: PDP_DENY
        kernel.register_tool(tool, {"type": "object"})
    kernel.put_rule("read", OPEN)
    kernel.put_rule("echo", OPEN)
    kernel.put_rule("refund", REFUND)
    fence: dict[str, Any] = RECORDING["config"]["fence"]
    seed = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(fence["seed_hex"]))
    public = seed.public_key().public_bytes_raw()
    assert public.hex() == fence["public_key_hex"]
    config = server.release_config(
        admin_key=KEYS["{admin}"],
        service_key=KEYS["{service}"],
        tenant_id=RECORDING["config"]["tenant_id"],
        principal_id=RECORDING["config"]["principal_id"],
        **(
            {
                "workspace_id": fence["workspace_id"],
                "fence_audience": fence["audience"],
                "fence_keys": {fence["key_id"]: public},
            }
            if kind == "fence"
            else {}
        ),
    )
    clock_ms = RECORDING["clock_ms"]
    kernel.surface.attach_release(HelmSurface(kernel, attrs.evolve(config, clock=lambda: clock_ms)))
    return kernel


def fill(request: Mapping[str, Any], answers: Mapping[str, bytes]) -> tuple[str, dict[str, str]]:
    """The request's path and headers with the placeholders filled in: the keys, and a receipt
    id from the twin's own answer to an earlier exchange."""
    headers = dict(request["headers"])
    for name, value in headers.items():
        for placeholder, key in KEYS.items():
            value = value.replace(placeholder, key)
        headers[name] = value
    path = _RECEIPT_REF.sub(
        lambda ref: str(json.loads(answers[ref[1]])["receipt_id"]), request["path"]
    )
    return path, headers


def run(kind: str) -> Iterator[tuple[dict[str, Any], Response]]:
    """Every recorded exchange of server *kind*, in order, with the twin's answer."""
    kernel = twin(kind)
    answers: dict[str, bytes] = {}
    for exchange in RECORDING["exchanges"]:
        if exchange["server"] != kind:
            continue
        request = exchange["request"]
        path, headers = fill(request, answers)
        body = request["body"].encode() if request["body"] is not None else b""
        response = kernel.handle(request["method"], path, headers, body)
        answers[exchange["id"]] = response.body
        yield exchange, response


def listed() -> list[tuple[str, str]]:
    """The (exchange pattern, where pattern) rows of docs/helm-conformance.md's table."""
    rows = []
    for line in TABLE.read_text("utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 5:
            rows.append((cells[0].strip("`"), cells[1].strip("`")))
    return rows


def is_listed(exchange_id: str, where: str, rows: list[tuple[str, str]]) -> bool:
    return any(
        fnmatch.fnmatchcase(exchange_id, pattern) and fnmatch.fnmatchcase(where, place)
        for pattern, place in rows
    )


@pytest.fixture(scope="module")
def found() -> dict[str, list[Difference]]:
    """Each exchange id and the twin's differences from the release on it."""
    run_specific = tuple(RECORDING["run_specific"])
    return {
        exchange["id"]: answer_differences(exchange["response"], response, run_specific)
        for kind in ("plain", "fence")
        for exchange, response in run(kind)
    }


def test_the_recording_covers_every_operation_of_the_slice() -> None:
    ids = [exchange["id"] for exchange in RECORDING["exchanges"]]
    assert len(ids) == len(set(ids))
    assert {exchange["operation"] for exchange in RECORDING["exchanges"]} == OPERATIONS
    statuses = {(e["operation"], e["response"]["status"]) for e in RECORDING["exchanges"]}
    for status in (200, 201, 400, 401, 403, 405, 409, 503):
        assert ("fence", status) in statuses
    for status in (200, 400, 401, 403, 405):
        assert ("evaluate", status) in statuses
    reasons = {
        json.loads(e["response"]["body"]).get("reason_code")
        for e in RECORDING["exchanges"]
        if e["operation"] == "evaluate" and e["response"]["status"] == 200
    }
    assert {"", "PDP_DENY", "MISSING_REQUIREMENT"} <= reasons


@pytest.mark.parametrize("exchange_id", [exchange["id"] for exchange in RECORDING["exchanges"]])
def test_the_twin_answers_as_the_release_or_the_difference_is_listed(
    exchange_id: str, found: dict[str, list[Difference]]
) -> None:
    rows = listed()
    unlisted = [d for d in found[exchange_id] if not is_listed(exchange_id, d.where, rows)]
    assert not unlisted, "\n".join(
        f"| `{exchange_id}` | `{d.where}` | {d.release} | {d.twin} | ? |" for d in unlisted
    )


def test_every_listed_difference_still_occurs(found: dict[str, list[Difference]]) -> None:
    stale = [
        (pattern, place)
        for pattern, place in listed()
        if not any(
            fnmatch.fnmatchcase(exchange_id, pattern) and fnmatch.fnmatchcase(d.where, place)
            for exchange_id, differences in found.items()
            for d in differences
        )
    ]
    assert not stale, f"listed in {TABLE.name} but no longer a difference: {stale}"


def test_the_comparison_sees_status_content_type_members_types_and_values() -> None:
    recorded = {
        "status": 200,
        "content_type": "application/json",
        "body": '{"a":1,"b":"x","c":[{"d":true}],"receipt_id":"rcpt-' + "ab" * 16 + '"}',
    }
    same = Response(200, (("Content-Type", "application/json"),), recorded["body"].encode())
    assert answer_differences(recorded, same, ("*.receipt_id",)) == []
    other = Response(
        201,
        (("Content-Type", "application/problem+json"),),
        b'{"a":"1","c":[{"d":false}],"e":null,"receipt_id":"rcpt-' + b"cd" * 16 + b'"}',
    )
    assert {d.where for d in answer_differences(recorded, other, ("*.receipt_id",))} == {
        "status",
        "content-type",
        "body.a",
        "body.b",
        "body.c[].d",
        "body.e",
    }
    # A run-specific value compares by form: another id of the same form is no difference.
    renamed = b'{"a":1,"b":"x","c":[{"d":true}],"receipt_id":"rcpt-dec-000001-decision"}'
    differences = answer_differences(
        recorded, Response(200, same.headers, renamed), ("*.receipt_id",)
    )
    assert differences == [Difference("body.receipt_id", "rcpt-<hex>", "rcpt-dec-<n>-decision")]
    text = {"status": 404, "content_type": "text/plain", "body": "404 page not found\n"}
    assert answer_differences(
        text, Response(404, (("Content-Type", "text/plain"),), b"no"), ()
    ) == [Difference("body", "'404 page not found\\n'", "'no'")]
