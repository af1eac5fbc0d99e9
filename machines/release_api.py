"""HELM's release API on the twin: its facade reads, trust keys and HTTP routes, driven.

Goal: show that under the release (spec 12) every read of the facade (sessions, a session's
receipts, a receipt and its envelope, a public key) answers what the checker knows; that the
receipt.v5 verifier accepts exactly the envelopes the checker's own verification accepts (the
kernel's, tampered ones, and ones the world signs with trust keys imported and revoked); and that
the release's HTTP API (evaluate, receipts, sessions, budgets, approvals, trust keys, the
emergency-stop fence) answers each request faithfully and changes nothing when it refuses one.

Method: evaluations through the facade, whole calls and freezes feed the receipt chains that the
reads, the verifier and the HTTP routes are asked about; fence commands freeze the kernel and
freezes lift it. Under the chaos page only the calls and freezes run (the release's rules never
do); invariant 27, ``release_api_faithful``, judges every read, verification and request.
"""

from __future__ import annotations

from machines.families.calls import CallRules
from machines.families.freeze import FreezeRules
from machines.families.release import ReleaseRules


# No signer outages here (the kernel machine has them): with signing removed the fence answers
# 503 before it reads a command, and the command's own checks would go unreached.
class ReleaseApiMachine(CallRules, FreezeRules, ReleaseRules):
    """The release's facade reads, trust keys and HTTP API, between calls and freezes."""

    name = "release_api"
    budget_share = 0.3
