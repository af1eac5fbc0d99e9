"""The tests' own copy of spec section 4, shared by the tests that check signatures (written
again from the spec on purpose, never imported from the kernel)."""

# The signed fields of each record, in the order spec section 4 lists them.
SPEC_SIGNED_FIELDS = {
    "decision": [
        "id",
        "verdict",
        "reason_code",
        "reason_hash",
        "subject_id",
        "action",
        "resource",
        "effect_digest",
        "policy_version",
        "policy_epoch",
        "requirement_set_hash",
        "budget_id",
        "signature_type",
        "signature_version",
    ],
    "intent": [
        "id",
        "decision_id",
        "effect_digest_hash",
        "issued_at",
        "expires_at",
        "allowed_tool",
        "signer",
        "signature_type",
        "signature_version",
    ],
    "receipt": [
        "receipt_id",
        "decision_id",
        "effect_id",
        "status",
        "output_hash",
        "prev_hash",
        "lamport_clock",
        "args_hash",
        "verdict",
        "reason_code",
        "policy_hash",
        "session_id",
        "signature_version",
    ],
}
