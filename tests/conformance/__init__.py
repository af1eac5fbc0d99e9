"""The twin against HELM's real server (docs/helm-conformance.md)."""
