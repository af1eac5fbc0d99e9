"""The profiles mean the same thing in a CI environment as on a laptop.

Hypothesis loads its own ``ci`` profile at import when it sees ``CI`` (and a dozen other
variables) in the environment, so a profile built on ``settings.default`` would inherit
``derandomize=True`` there: ``dev`` and ``nightly`` would draw the same examples every run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json
from helmmodel.harness import profiles
out = {}
for name in profiles.PROFILES:
    chosen = profiles.load(name)
    out[name] = {"derandomize": chosen.derandomize, "database": chosen.database is not None,
                 "print_blob": chosen.print_blob}
print(json.dumps(out))
"""


def _profiles_under(environment: dict[str, str]) -> dict[str, dict[str, bool]]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "GITHUB_ACTIONS"}}
    env.update(environment)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, dict[str, bool]] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("environment", [{}, {"CI": "true"}, {"GITHUB_ACTIONS": "true"}])
def test_only_ci_is_derandomized_whatever_the_environment(environment: dict[str, str]) -> None:
    seen = _profiles_under(environment)
    assert {name: p["derandomize"] for name, p in seen.items()} == {
        "dev": False,
        "ci": True,
        "nightly": False,
    }
    assert {name: p["database"] for name, p in seen.items()} == {
        "dev": True,
        "ci": False,
        "nightly": True,
    }
    assert not any(p["print_blob"] for p in seen.values())
