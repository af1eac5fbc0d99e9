"""The HELM kernel model: one module per component, composed by :class:`Kernel`."""

from helmmodel.kernel.budgets import RequestBudgets
from helmmodel.kernel.clock import SimClock
from helmmodel.kernel.error_budget import ErrorBudget
from helmmodel.kernel.executor import EXECUTION_REFUSAL_CODES, SafeExecutor
from helmmodel.kernel.facade import Kernel, KernelConfig, KernelFactory
from helmmodel.kernel.guardian import INTENT_REFUSAL_CODES, Guardian, PendingCall
from helmmodel.kernel.key_ring import KeyRing, derive_private_key
from helmmodel.kernel.policy_graph import (
    Outcome,
    PolicyGraph,
    PolicySnapshot,
    Requirement,
    RequirementSet,
    build_set,
)
from helmmodel.kernel.proofgraph import Node, ProofGraph, ReceiptChains
from helmmodel.kernel.records import (
    ALLOW,
    DENY,
    ESCALATE,
    CallOutcome,
    Decision,
    Effect,
    Intent,
    Principal,
    Receipt,
    Request,
)
from helmmodel.kernel.tools import ToolTable

__all__ = [
    "ALLOW",
    "DENY",
    "ESCALATE",
    "EXECUTION_REFUSAL_CODES",
    "INTENT_REFUSAL_CODES",
    "CallOutcome",
    "Decision",
    "Effect",
    "ErrorBudget",
    "Guardian",
    "Intent",
    "Kernel",
    "KernelConfig",
    "KernelFactory",
    "KeyRing",
    "Node",
    "Outcome",
    "PendingCall",
    "PolicyGraph",
    "PolicySnapshot",
    "Principal",
    "ProofGraph",
    "Receipt",
    "ReceiptChains",
    "Request",
    "RequestBudgets",
    "Requirement",
    "RequirementSet",
    "SafeExecutor",
    "SimClock",
    "ToolTable",
    "build_set",
    "derive_private_key",
]
