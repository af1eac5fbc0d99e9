"""Benchmark: what a governed call costs, against the Ed25519 work it cannot avoid.

Run with ``nox -s bench``. Prints medians over repeated rounds, all measured in this one run, and
the two target ratios: a governed call at most 2.0 x the crypto floor (3 signs, 2 verifies: the
target issue #18 settled on, since the Ed25519 work inside a call costs what the floor costs and
the rest is the model's own Python, spread evenly), and a non-crypto operation at most 0.5 x one
sign. Ratios measured side by side are what count; the
absolute figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from helmmodel.kernel import Kernel, Request

CALL_TARGET = 2.0
NON_CRYPTO_TARGET = 0.5


def setup_kernel() -> Kernel:
    kernel = Kernel()
    kernel.register_tool(
        "echo",
        {"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False},
    )
    kernel.put_rule(
        "echo",
        {
            "id": "root",
            "logic": "AND",
            "leaves": [{"id": "small", "predicate": ["le", "args.x", 10**9]}],
        },
    )
    kernel.create_budget("b1", 10**12)
    return kernel


def samples_us(
    benchmarks: dict[str, Callable[[int], None]], ops: int, rounds: int
) -> dict[str, list[float]]:
    """µs per operation of each benchmark in each of *rounds* rounds.

    Rounds are interleaved (each round runs every benchmark once, for a fraction of a second),
    so that the machine's speed, which drifts on a shared host, is nearly the same for all the
    benchmarks of one round: a ratio is taken within each round, and the median of those is the
    figure.
    """
    samples: dict[str, list[float]] = {name: [] for name in benchmarks}
    for _ in range(rounds):
        for name, run in benchmarks.items():
            start = time.perf_counter()
            run(ops)
            samples[name].append((time.perf_counter() - start) / ops * 1e6)
    return samples


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median over rounds of one round's figure divided by another's, of the same round."""
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100, help="operations per round")
    parser.add_argument("--rounds", type=int, default=41, help="rounds; medians are reported")
    args = parser.parse_args(argv)
    ops, rounds = args.ops, args.rounds

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = key.public_key()
    counter = iter(range(10**12))

    # The floor signs messages as long as a call's own decision, intent and receipt preimages
    # (Ed25519 hashes the whole message), each made distinct by a counter in its last bytes.
    sample = setup_kernel().call(Request("alice", "echo", {"x": 1}, {"session_id": "s1"}))
    assert sample.decision is not None and sample.intent is not None and sample.receipt is not None
    preimages = [r.preimage()[:-12] for r in (sample.decision, sample.intent, sample.receipt)]

    def crypto_floor(n: int) -> None:
        for _ in range(n):
            last = b"%012d" % next(counter)
            messages = [preimage + last for preimage in preimages]
            signatures = [key.sign(m) for m in messages]
            public.verify(signatures[0], messages[0])
            public.verify(signatures[1], messages[1])

    def one_sign(n: int) -> None:
        for _ in range(n):
            key.sign(b"message %d" % next(counter))

    kernel = setup_kernel()
    session = iter(range(10**12))

    def governed_call(n: int) -> None:
        for _ in range(n):
            i = next(session)
            kernel.call(
                Request("alice", "echo", {"x": i % 1000}, {"budget_id": "b1", "session_id": "s1"})
            )

    http_kernel = setup_kernel()

    def http_call(n: int) -> None:
        for _ in range(n):
            body = b'{"tool":"echo","args":{"x":%d},"context":{"session_id":"s1"}}' % (
                next(session) % 1000
            )
            http_kernel.handle(
                "POST", "/v1/tools/execute", {"Content-Type": "application/json"}, body
            )

    ops_kernel = setup_kernel()

    def prg_mutation(n: int) -> None:
        for _ in range(n):
            i = next(counter)
            ops_kernel.put_rule(
                "echo", {"id": "root", "leaves": [{"id": "cap", "predicate": ["le", "args.x", i]}]}
            )

    def clock_shift(n: int) -> None:
        for _ in range(n):
            ops_kernel.set_guardian_time(next(counter) % 100_000)

    def budget_change(n: int) -> None:
        for _ in range(n):
            ops_kernel.set_budget_limit("b1", next(counter) % 1000)

    # Warm up every path once so that first-call costs (imports, caches) are not measured.
    for run in (
        crypto_floor,
        one_sign,
        governed_call,
        http_call,
        prg_mutation,
        clock_shift,
        budget_change,
    ):
        run(20)

    samples = samples_us(
        {
            "crypto floor (3 signs + 2 verifies)": crypto_floor,
            "one Ed25519 sign": one_sign,
            "governed call through the facade": governed_call,
            "HTTP request through handle()": http_call,
            "PRG mutation (put_rule)": prg_mutation,
            "clock shift (set_guardian_time)": clock_shift,
            "budget change (set_budget_limit)": budget_change,
        },
        ops,
        rounds,
    )
    width = max(map(len, samples))
    print(f"medians of {rounds} rounds x {ops} operations (µs per operation)")
    for name, values in samples.items():
        print(f"  {name:<{width}}  {statistics.median(values):9.1f}")

    floor = samples["crypto floor (3 signs + 2 verifies)"]
    sign = samples["one Ed25519 sign"]
    checks = [
        (
            "governed call / crypto floor",
            median_ratio(samples["governed call through the facade"], floor),
            CALL_TARGET,
        ),
        (
            "HTTP request / crypto floor",
            median_ratio(samples["HTTP request through handle()"], floor),
            None,
        ),
    ]
    for name in (
        "PRG mutation (put_rule)",
        "clock shift (set_guardian_time)",
        "budget change (set_budget_limit)",
    ):
        checks.append(
            (
                f"{name.split(' (')[0]} / one sign",
                median_ratio(samples[name], sign),
                NON_CRYPTO_TARGET,
            )
        )
    print("ratios (median over rounds of each round's ratio)")
    failed = False
    for name, ratio, target in checks:
        verdict = "" if target is None else ("  ok" if ratio <= target else "  OVER TARGET")
        bound = "" if target is None else f"  (target <= {target})"
        failed |= target is not None and ratio > target
        print(f"  {name:<{width}}  {ratio:9.2f}{bound}{verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
