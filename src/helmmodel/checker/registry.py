"""HELM's reason-code registry as the checker reads it (spec 12.5): which verdicts each code
may carry. The registry is data shipped with the kernel; the checker parses it itself."""

from __future__ import annotations

import functools
import json
from importlib import resources


@functools.cache
def verdicts_of_codes() -> dict[str, frozenset[str]]:
    """Each code of HELM's registry, with the verdicts it applies to."""
    text = resources.files("helmmodel.kernel").joinpath("data/reason-codes-v1.json").read_text()
    return {entry["code"]: frozenset(entry["applies_to"]) for entry in json.loads(text)["codes"]}
