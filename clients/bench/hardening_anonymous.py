"""What clients without credentials can make the server hold (hardening item 7).

Raw HTTP/2 streams declare 8 MiB gRPC messages and never finish them, the way a
review grew the server by 219 MiB with 40 streams. The figure is the server's RSS
growth against what the streams declared, measured in the same run: the share of
the declared bytes the server ended up holding.
"""

from __future__ import annotations

import asyncio
from statistics import median
from typing import Any

from clients.bench.processes import ServerProcess
from clients.bench.raw_h2 import declare_and_stall
from clients.bench.report import Figure

MiB = 1024 * 1024
DECLARED = 8 * MiB - 64
HOLD_SECONDS = 3.0

TARGETS = {
    # A method that needs a token: refused before its request is read.
    "/samvaad.v1.ResumeService/UploadResume": 0.05,
    # A public method: read under GRPC_UNAUTHENTICATED_RECEIVE_SLOTS (8) x 8 MiB.
    "/samvaad.v1.AuthService/Login": 0.3,
}


async def memory_under_anonymous_streams(
    samvaad: ServerProcess, path: str, streams: int
) -> tuple[list[Figure], dict[str, Any]]:
    """RSS growth of `samvaad` (best fresh) while `streams` anonymous streams stall on `path`."""
    target = TARGETS[path]
    await asyncio.sleep(1.0)  # let start-up work settle
    idle = await _idle_rss(samvaad)
    peak = idle
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, samvaad.rss_bytes())
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        probe = await asyncio.to_thread(
            declare_and_stall,
            samvaad.port,
            path,
            streams=streams,
            declared_bytes=DECLARED,
            seconds=HOLD_SECONDS,
        )
    finally:
        done.set()
        await sampler
    growth = max(0, peak - idle) / MiB
    declared = streams * DECLARED / MiB
    accepted = sum(o.accepted_bytes for o in probe.outcomes) / MiB
    method = path.rsplit("/", 1)[-1]
    figure = Figure(
        f"server RSS growth, {streams} anonymous stalled {method} streams",
        "MiB",
        growth,
        "declared by the streams",
        declared,
        f"ratio ≤ {target}",
        growth / declared <= target,
        note=f"the server accepted {accepted:.1f} MiB of them",
    )
    details = {
        "idle_rss_mib": round(idle / MiB, 1),
        "peak_rss_mib": round(peak / MiB, 1),
        "accepted_mib": round(accepted, 1),
        "statuses": sorted(str(o.grpc_status) for o in probe.outcomes),
    }
    return [figure], details


async def _idle_rss(samvaad: ServerProcess) -> int:
    samples = []
    for _ in range(10):
        samples.append(samvaad.rss_bytes())
        await asyncio.sleep(0.05)
    return int(median(samples))
