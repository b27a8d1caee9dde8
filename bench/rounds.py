"""What every benchmark script shares: contenders timed in interleaved rounds, their median
per-round ratio, and how a time is written.

Rounds interleave the contenders (a, b, a, b, ...) so that a machine slowing down or speeding up
during a run moves both sides of a ratio alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

ROUNDS = 5


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_time(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def per_op(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of `fn`, over `n` calls timed as one loop."""
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def rounds(contenders: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Runs every contender once per round, interleaved; returns each one's per-round times."""
    out: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(ROUNDS):
        for name, run in contenders.items():
            out[name].append(run())
    return out


def ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of time(a) / time(b)."""
    return median([x / y for x, y in zip(times[a], times[b])])
