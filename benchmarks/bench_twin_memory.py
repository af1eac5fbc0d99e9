"""The twin's memory per request, and the bound ``--max-requests`` puts on it.

Serves the demo kernel on a loopback port in this process, sends governed calls over one
keep-alive connection, and reads Python's own allocation count (tracemalloc) after a warm-up
and after every block of requests: the growth per request is what the kernel's records cost
(every decision, receipt and proof node is kept). Then the same with ``max_requests`` set: past
the bound the twin answers 503 and its memory stops growing.

    python benchmarks/bench_twin_memory.py                  # 70,000 calls, then the bounded run
    python benchmarks/bench_twin_memory.py --requests 5000  # a quick look
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import time
import tracemalloc

from helmmodel import server

WARM_UP = 200
BLOCKS = 7


def _traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure(requests: int, max_requests: int | None) -> list[tuple[int, int, int]]:
    """(requests sent, of which 503, traced bytes) after the warm-up and after each block."""
    running = server.start(
        server.demo_kernel("bench-admin-token"), "127.0.0.1", [0], max_requests=max_requests
    )
    connection = http.client.HTTPConnection("127.0.0.1", running.ports[0], timeout=10)
    points: list[tuple[int, int, int]] = []
    refused = 0
    try:
        block = max(1, requests // BLOCKS)
        for sent in range(WARM_UP + requests):
            body = json.dumps({"tool": "echo", "args": {"x": sent}})
            connection.request("POST", "/v1/tools/execute", body)
            response = connection.getresponse()
            response.read()
            refused += response.status == 503
            done = sent + 1 - WARM_UP
            if done == 0 or (done > 0 and done % block == 0):
                points.append((done, refused, _traced_bytes()))
    finally:
        connection.close()
        running.stop()
    return points


def report(title: str, points: list[tuple[int, int, int]]) -> None:
    print(title)
    base = points[0][2]
    for sent, refused, traced in points:
        per = (traced - base) / sent if sent else 0.0
        print(
            f"  {sent:>8,} calls  {refused:>7,} answered 503  {traced / 2**20:8.1f} MiB traced"
            f"  {per:8,.0f} B a call since the warm-up"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=70_000, help="calls per run")
    args = parser.parse_args()
    tracemalloc.start()
    started = time.monotonic()
    report(f"unbounded, {args.requests:,} calls:", measure(args.requests, None))
    bound = args.requests // 10
    report(
        f"--max-requests {bound + WARM_UP:,}, {args.requests:,} calls:",
        measure(args.requests, bound + WARM_UP),
    )
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
