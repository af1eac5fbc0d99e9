"""The twin under the release's semantics on a loopback port, and HELM's own clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from helm_sdk import HelmClient

from helmmodel import server
from helmmodel.kernel import Kernel
from helmmodel.kernel.helm_api import DEFAULT_PRINCIPAL, DEFAULT_TENANT
from helmmodel.kernel.semantics import HELM_AI_KERNEL

ADMIN = "release-admin-key"
SERVICE = "release-service-key"
CHAOS_ADMIN = "chaos-admin-token-0123456789"


@attrs.frozen
class Twin:
    """A running twin: its kernel, its address, and how to make HELM's client for it."""

    kernel: Kernel
    url: str

    def client(self, api_key: str | None = ADMIN, *, scoped: bool = True) -> HelmClient:
        """HELM's client with *api_key*, bound to the release's tenant and principal when
        *scoped* (the tenant-scoped routes need both headers)."""
        return HelmClient(
            self.url,
            api_key=api_key,
            tenant_id=DEFAULT_TENANT if scoped else None,
            principal_id=DEFAULT_PRINCIPAL if scoped else None,
            timeout=10.0,
        )


@pytest.fixture
def twin() -> Iterator[Twin]:
    """``helmmodel serve --semantics helm-ai-kernel`` in-process, on 127.0.0.1 and a free port."""
    kernel = server.demo_kernel(
        CHAOS_ADMIN,
        semantics=HELM_AI_KERNEL,
        release=server.release_config(admin_key=ADMIN, service_key=SERVICE),
    )
    kernel.register_tool("approve", {"type": "object"}, approval=True)
    kernel.put_rule("approve", {"id": "approve-open", "logic": "AND", "leaves": []})
    running = server.start(kernel, "127.0.0.1", [0])
    try:
        yield Twin(kernel, f"http://127.0.0.1:{running.ports[0]}")
    finally:
        running.stop()
