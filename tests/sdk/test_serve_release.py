"""``helmmodel serve --semantics helm-ai-kernel`` as a process: the release's environment variables
configure its API's auth as they configure the release, and HELM's client works against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from helm_sdk import EvaluateRequest, HelmApiError, HelmClient

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)$")
STARTUP_TIMEOUT_S = 15.0
RELEASE_ENV = (
    "HELM_ADMIN_API_KEY",
    "HELM_SERVICE_API_KEY",
    "HELM_RUNTIME_TENANT_ID",
    "HELM_RUNTIME_PRINCIPAL_ID",
)


@contextmanager
def serve(**env: str) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    """Run the twin under the release's semantics with *env* as its release variables; give
    its address, the stdout lines read so far, and the process; stop it with Ctrl-C."""
    environment = {k: v for k, v in os.environ.items() if k not in RELEASE_ENV} | env
    process = subprocess.Popen(
        [sys.executable, "-m", "helmmodel", "serve", "--semantics", "helm-ai-kernel",
         "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            match = LISTENING.search(lines[-1])
            if match is not None:
                break
        else:
            pytest.fail(f"serve ended early: {lines}")
        yield match[1], lines, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STARTUP_TIMEOUT_S)
        finally:
            process.kill()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def test_the_release_variables_configure_the_twin() -> None:
    with serve(
        HELM_ADMIN_API_KEY="adm", HELM_RUNTIME_TENANT_ID="acme", HELM_RUNTIME_PRINCIPAL_ID="bot"
    ) as (url, lines, _):
        assert "also answering helm-ai-kernel's API at the same ports" in lines
        with HelmClient(url, api_key="adm", tenant_id="acme", principal_id="bot") as client:
            answer = client.evaluate_decision_v5(
                EvaluateRequest(tool="echo", effect_level="echo", session_id="s1", args={"x": 1})
            )
            assert answer.verdict == "ALLOW"
            assert client.get_receipt(answer.receipt_id).executor_id == "bot"


def test_without_an_admin_key_the_release_routes_answer_401() -> None:
    with serve() as (url, _, process):
        with HelmClient(url, api_key="adm", tenant_id="default", principal_id="system-admin") as c:
            with pytest.raises(HelmApiError) as caught:
                c.list_sessions()
            assert caught.value.status == 401
            assert "set HELM_ADMIN_API_KEY" in caught.value.body["detail"]
            assert c.health()["status"] == "ok"
        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        assert "no --helm-admin-key (or $HELM_ADMIN_API_KEY)" in process.stderr.read()
