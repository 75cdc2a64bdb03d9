"""The calls every screen makes, against the bare server's empty handlers at their paths.

ListInterviews of a full page (20) and GetInterview, at the GetMe benchmark's
concurrency, best of `rounds` alternating runs (a ceiling, as for GetMe); and
UploadResume of the normal 3 KB text resume, with the server's CPU time per upload
(psutil, every thread of the server process) against the bare server's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from clients.bench.hardening_resume import NORMAL_RESUME
from clients.bench.processes import ServerProcess
from clients.bench.report import Figure
from clients.bench.scenarios import CALL_TIMEOUT_SECONDS, Account, Sizes, _summary
from clients.bench.stats import Budget, LoadResult, closed_loop
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import interview_pb2_grpc as ipb_grpc
from generated.samvaad.v1 import resume_pb2, resume_pb2_grpc

PAGE = 20
TARGET = 0.15
UPLOAD_TARGET = 0.1
UPLOAD_CPU_TARGET_MS = 5.0


async def prepare(channel: grpc.aio.Channel, account: Account) -> int:
    """PAGE interviews on the account (completed, so each CreateInterview makes a new
    one); the id of the last one."""
    stub = ipb_grpc.InterviewServiceStub(channel)
    last = 0
    for _ in range(PAGE):
        reply = await stub.CreateInterview(
            ipb.CreateInterviewRequest(track="backend"),
            metadata=account.metadata,
            timeout=CALL_TIMEOUT_SECONDS,
        )
        last = reply.interview.id
        await stub.CompleteInterview(
            ipb.CompleteInterviewRequest(interview_id=last),
            metadata=account.metadata,
            timeout=CALL_TIMEOUT_SECONDS,
        )
    return last


Call = Callable[[ipb_grpc.InterviewServiceStub], Awaitable[object]]


async def _run(address: str, call: Call, sizes: Sizes) -> LoadResult:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = ipb_grpc.InterviewServiceStub(channel)
        warmup = Budget(sizes.warmup_calls, sizes.latency.max_seconds)
        await closed_loop(lambda: call(stub), concurrency=4, budget=warmup)
        return await closed_loop(
            lambda: call(stub), concurrency=sizes.throughput_concurrency, budget=sizes.throughput
        )


async def reads_against_bare(
    samvaad: ServerProcess, bare: ServerProcess, account: Account, interview_id: int, sizes: Sizes
) -> tuple[list[Figure], dict[str, Any]]:
    def list_page(stub: ipb_grpc.InterviewServiceStub) -> Awaitable[object]:
        return stub.ListInterviews(  # type: ignore[no-any-return]
            ipb.ListInterviewsRequest(page_size=PAGE),
            metadata=account.metadata,
            timeout=CALL_TIMEOUT_SECONDS,
        )

    def get_one(stub: ipb_grpc.InterviewServiceStub) -> Awaitable[object]:
        return stub.GetInterview(  # type: ignore[no-any-return]
            ipb.GetInterviewRequest(interview_id=interview_id),
            metadata=account.metadata,
            timeout=CALL_TIMEOUT_SECONDS,
        )

    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for name, call in ((f"ListInterviews of {PAGE}", list_page), ("GetInterview", get_one)):
        runs: dict[str, list[LoadResult]] = {"samvaad": [], "bare": []}
        for _ in range(sizes.rounds):
            runs["bare"].append(await _run(bare.address, call, sizes))
            runs["samvaad"].append(await _run(samvaad.address, call, sizes))
        value = max(r.throughput for r in runs["samvaad"])
        baseline = max(r.throughput for r in runs["bare"])
        figures.append(
            Figure(
                f"{name} throughput, {sizes.throughput_concurrency} calls in flight",
                "calls/s",
                value,
                "bare grpc.aio, empty handler",
                baseline,
                f"ratio ≥ {TARGET}",
                value / baseline >= TARGET,
            )
        )
        details[name] = {k: [_summary(r) for r in v] for k, v in runs.items()}
    return figures, details


async def _uploads(
    server: ServerProcess, account: Account, sizes: Sizes
) -> tuple[LoadResult, float]:
    """Concurrent uploads (throughput) and the server's CPU milliseconds per upload."""
    request = resume_pb2.UploadResumeRequest(
        filename="resume.txt", content_type="text/plain", content=NORMAL_RESUME.encode()
    )
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = resume_pb2_grpc.ResumeServiceStub(channel)

        def upload() -> Awaitable[object]:
            return stub.UploadResume(  # type: ignore[no-any-return]
                request, metadata=account.metadata, timeout=CALL_TIMEOUT_SECONDS
            )

        warmup = Budget(min(sizes.warmup_calls, 50), sizes.latency.max_seconds)
        await closed_loop(upload, concurrency=2, budget=warmup)
        before = server.cpu_seconds()
        result = await closed_loop(
            upload, concurrency=sizes.throughput_concurrency, budget=sizes.latency
        )
        cpu_ms = (server.cpu_seconds() - before) * 1000 / max(result.calls, 1)
    return result, cpu_ms


async def upload_against_bare(
    samvaad: ServerProcess, bare: ServerProcess, account: Account, sizes: Sizes
) -> tuple[list[Figure], dict[str, Any]]:
    runs: dict[str, list[tuple[LoadResult, float]]] = {"samvaad": [], "bare": []}
    for _ in range(sizes.rounds):
        runs["bare"].append(await _uploads(bare, account, sizes))
        runs["samvaad"].append(await _uploads(samvaad, account, sizes))
    value = max(r.throughput for r, _ in runs["samvaad"])
    baseline = max(r.throughput for r, _ in runs["bare"])
    cpu = min(ms for _, ms in runs["samvaad"])
    bare_cpu = min(ms for _, ms in runs["bare"])
    concurrency = sizes.throughput_concurrency
    figures = [
        Figure(
            f"UploadResume throughput, 3 KB text, {concurrency} calls in flight",
            "calls/s",
            value,
            "bare grpc.aio, empty handler",
            baseline,
            f"ratio ≥ {UPLOAD_TARGET}",
            value / baseline >= UPLOAD_TARGET,
        ),
        Figure(
            "UploadResume server CPU per upload, 3 KB text",
            "ms",
            cpu,
            "bare grpc.aio, empty handler",
            max(bare_cpu, 0.001),
            f"≤ {UPLOAD_CPU_TARGET_MS:g} ms",
            cpu <= UPLOAD_CPU_TARGET_MS,
        ),
    ]
    details = {
        name: [{**_summary(r), "server_cpu_ms_per_call": round(ms, 3)} for r, ms in rounds]
        for name, rounds in runs.items()
    }
    return figures, details
