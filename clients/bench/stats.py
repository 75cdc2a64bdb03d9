"""Closed-loop load with a bound on calls and time, and the statistics of its latencies."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Budget:
    """Whichever comes first ends a loop: this many calls, or this many seconds."""

    max_calls: int
    max_seconds: float


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, one per completed call
    elapsed: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.calls / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of the values at or below."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


async def closed_loop(
    call: Callable[[], Awaitable[object]],
    *,
    concurrency: int,
    budget: Budget,
    stop: asyncio.Event | None = None,
) -> LoadResult:
    """`concurrency` callers, each starting its next call as soon as the last one answered.

    Ends at the budget or when `stop` is set; calls already started finish first.
    """
    result = LoadResult()
    started = 0
    began = time.perf_counter()
    deadline = began + budget.max_seconds

    def may_start() -> bool:
        return (
            started < budget.max_calls
            and time.perf_counter() < deadline
            and not (stop is not None and stop.is_set())
        )

    async def caller() -> None:
        nonlocal started
        while may_start():
            started += 1
            sent = time.perf_counter()
            await call()
            result.latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - began
    return result
