"""Latency of ``liftoff.log()``.

    LIFTOFF_BASE_URL=http://localhost:8080 LIFTOFF_API_KEY=local-... \\
        python bench/python/log_latency.py [CALLS]

Starts a run, times CALLS (default 100000) calls of ``liftoff.log({"loss": ..., "acc": ...})``
one by one with ``time.perf_counter_ns``, finishes the run (which waits for the upload) and
prints one JSON object on stdout: calls, p50/p99/p99.9/max latency in microseconds, the
interpreter and the SDK version, plus the wall time of the loop and of ``finish()`` and, as a
floor, the p50 of an empty Python function call timed the same way.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))

import liftoff  # noqa: E402


def percentile(sorted_values: "list[int]", q: float) -> float:
    """Nearest-rank percentile of sorted nanosecond values, in microseconds."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1] / 1000.0


def _empty(values: "dict[str, float]") -> None:
    pass


def empty_call_p50_us(calls: int) -> float:
    """p50 of timing an empty function call exactly as log() is timed: the measurement floor."""
    clock = time.perf_counter_ns
    latencies = [0] * calls
    for i in range(calls):
        values = {"loss": 1.0 / (i + 1), "acc": i / calls}
        t0 = clock()
        _empty(values)
        latencies[i] = clock() - t0
    latencies.sort()
    return percentile(latencies, 50)


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    run = liftoff.init(
        project=os.environ.get("LIFTOFF_PROJECT", "bench"),
        name=f"log-latency-{calls}",
        config={"calls": calls, "python": sys.version.split()[0]},
        console="off",
    )
    log = liftoff.log
    clock = time.perf_counter_ns
    latencies = [0] * calls
    started = time.perf_counter()
    for i in range(calls):
        values = {"loss": 1.0 / (i + 1), "acc": i / calls}
        t0 = clock()
        log(values)
        latencies[i] = clock() - t0
    loop_seconds = time.perf_counter() - started

    started = time.perf_counter()
    run.finish()
    finish_seconds = time.perf_counter() - started

    latencies.sort()
    result = {
        "calls": calls,
        "p50_us": round(percentile(latencies, 50), 2),
        "p99_us": round(percentile(latencies, 99), 2),
        "p999_us": round(percentile(latencies, 99.9), 2),
        "max_us": round(latencies[-1] / 1000.0, 2) if latencies else 0.0,
        "python": sys.executable,
        "version": liftoff.__version__,
        "loop_s": round(loop_seconds, 3),
        "finish_s": round(finish_seconds, 3),
        "empty_call_p50_us": round(empty_call_p50_us(min(calls, 100_000)), 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
