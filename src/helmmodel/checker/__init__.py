"""The checker: its own truth (ghost state, second implementations), the driver that records
every kernel operation, and the invariants that judge them. Imports the kernel's records only."""
