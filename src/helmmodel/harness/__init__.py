"""Runs machines: the traced state machine, the kernel registry, the runner, capture, replay,
minimization, the trace format, profiles and the mutant catalogue's runs."""
