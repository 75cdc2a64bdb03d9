"""Hostile uploads: what one account can make the server hold, and what tiny chunks cost.

Two measurements, each on a fresh server and each against a baseline from the same run:

* temp disk held while hostile streams sit on their uploads (one account with many
  streams, then many accounts with one each), against the temp-disk budget;
* server CPU for a stream of one-byte chunks against the same bytes in 64 KiB chunks,
  and GetMe p99 while such streams run against GetMe p99 idle.

Run the same module against an older server to get its "before" figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psutil

from clients.bench.processes import ServerProcess, start_samvaad, wait_until_serving
from clients.bench.report import Figure
from clients.bench.scenarios import CALL_TIMEOUT_SECONDS, MiB, open_attempts, sign_up
from clients.bench.stats import Budget, LoadResult, closed_loop
from generated.samvaad.v1 import auth_pb2, auth_pb2_grpc, transcription_pb2_grpc
from generated.samvaad.v1 import transcription_pb2 as tpb
from server.config import Settings

Measurement = Callable[[], Awaitable[tuple[list[Figure], dict[str, Any]]]]
MeasureOne = Callable[[str, str, Measurement], Awaitable[None]]
KiB = 1024
NORMAL_CHUNK = 64 * KiB
TRICKLE_BYTES = 1024  # what a holding stream sends now and then (the minimum chunk)


@dataclass(frozen=True)
class HostileSizes:
    streams: int  # hostile streams (the figure: 30)
    stream_bytes: int  # sent by each before it starts to trickle (the issue's: 20 MiB)
    hold_seconds: float  # disk sampled this long once every stream has sent or been refused
    tiny_bytes: int  # one-byte messages in the tiny-chunk stream (the issue's: 150,000)
    tiny_runs: int  # tiny-chunk streams measured (averaged)
    probe: Budget  # GetMe calls idle, and the bound while tiny streams run


FULL = HostileSizes(30, 20 * MiB, 3.0, 150_000, 1, Budget(max_calls=1500, max_seconds=10))
QUICK_SERVER_SETTINGS = {"AUDIO_TEMP_BUDGET_BYTES": str(3 * MiB), "AUDIO_MAX_BYTES": str(2 * MiB)}
QUICK = HostileSizes(4, 1 * MiB, 0.5, 4_000, 3, Budget(max_calls=50, max_seconds=3))


async def measure_hostile_uploads(
    measure: MeasureOne,
    workdir: Path,
    database_url: str | None,
    server_settings: dict[str, str],
    quick: bool,
) -> None:
    sizes = QUICK if quick else FULL
    if quick:  # a budget the few small quick streams can reach
        server_settings = {**QUICK_SERVER_SETTINGS, **server_settings}
    server = start_samvaad(workdir / "hostile", database_url, server_settings)
    try:
        await wait_until_serving(server)
        # A server from before the budget existed is measured against today's default.
        known = Settings.model_fields.get("audio_temp_budget_bytes")
        default = known.default if known is not None else 256 * MiB
        budget = int(server_settings.get("AUDIO_TEMP_BUDGET_BYTES", default))
        await measure(
            "hostile_disk",
            f"Temp disk held by {sizes.streams} hostile streams of "
            f"{sizes.stream_bytes / MiB:.0f} MiB",
            lambda: temp_disk_under_hostile_streams(server, workdir / "hostile", sizes, budget),
        )
        await measure(
            "tiny_chunks",
            f"Server CPU and GetMe p99 for {sizes.tiny_bytes} one-byte chunks",
            lambda: cost_of_tiny_chunks(server, sizes),
        )
    finally:
        server.stop()


# --- temp disk ---------------------------------------------------------------------------


def _held(upload_dir: Path) -> tuple[int, int]:
    """Bytes and number of the upload files on disk."""
    total = files = 0
    for path in upload_dir.glob("samvaad-upload-*"):
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
            files += 1
    return total, files


def _wav_head() -> bytes:
    """A WAV header whose data chunk is open-ended, as a live recorder writes it."""
    fmt = struct.pack("<HHIIHH", 1, 1, 16_000, 32_000, 2, 16)
    return b"RIFF\xff\xff\xff\xffWAVEfmt " + struct.pack("<I", 16) + fmt + b"data\xff\xff\xff\xff"


async def _hold_streams(
    server: ServerProcess,
    calls: list[tuple[tpb.AudioConfig, tuple[tuple[str, str], ...]]],
    sizes: HostileSizes,
) -> tuple[tuple[int, int], list[str]]:
    """Open every stream at once; the peak of temp disk while they hold; their outcomes."""
    upload_dir = server.log_path.parent / "uploads"
    recording = _wav_head() + bytes(sizes.stream_bytes - len(_wav_head()))
    stop = asyncio.Event()
    settled = [asyncio.Event() for _ in calls]

    async def one(
        config: tpb.AudioConfig, metadata: tuple[tuple[str, str], ...], sent_all: asyncio.Event
    ) -> str:

        async def messages() -> AsyncIterator[tpb.TranscribeAnswerRequest]:
            yield tpb.TranscribeAnswerRequest(config=config)
            for start in range(0, len(recording), NORMAL_CHUNK):
                chunk = recording[start : start + NORMAL_CHUNK]
                yield tpb.TranscribeAnswerRequest(audio_content=chunk)
            sent_all.set()
            while not stop.is_set():  # trickle: well within the idle timeout
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                yield tpb.TranscribeAnswerRequest(audio_content=bytes(TRICKLE_BYTES))

        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
            call = stub.TranscribeAnswer(messages(), metadata=metadata, timeout=600)
            try:
                await call
            except grpc.aio.AioRpcError as error:
                return f"{error.code().name} {error.details()}"
            finally:
                sent_all.set()
            return "OK"

    tasks = [
        asyncio.ensure_future(one(config, metadata, event))
        for (config, metadata), event in zip(calls, settled, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in settled)), 300)
    peak = (0, 0)
    deadline = time.monotonic() + sizes.hold_seconds
    while time.monotonic() < deadline:
        peak = max(peak, _held(upload_dir))
        await asyncio.sleep(0.05)
    stop.set()
    for task in tasks:
        task.cancel()
    outcomes = []
    for task in tasks:
        try:
            outcomes.append(await task)
        except asyncio.CancelledError:
            outcomes.append("no status before the bench hung up")
    return peak, outcomes


async def temp_disk_under_hostile_streams(
    server: ServerProcess, workdir: Path, sizes: HostileSizes, budget: int
) -> tuple[list[Figure], dict[str, Any]]:
    """Hostile streams send `stream_bytes` each, then 1 KiB a second for as long as they like.

    First one account opens all of them, then as many accounts open one each. The
    figure is the peak of the upload files on disk while they hold, against the
    temp-disk budget (AUDIO_TEMP_BUDGET_BYTES; a server without one has no bound).
    """
    async with grpc.aio.insecure_channel(server.address) as channel:
        one_account = await sign_up(channel)
        attempts: list[Any] = []
        while len(attempts) < sizes.streams:  # at most 20 questions an interview
            batch = min(20, sizes.streams - len(attempts))
            attempts += await open_attempts(channel, one_account, batch)
        same = [(tpb.AudioConfig(question_attempt_id=a.id), one_account.metadata) for a in attempts]
        many = []
        for _ in range(sizes.streams):
            account = await sign_up(channel)
            [attempt] = await open_attempts(channel, account, 1)
            many.append((tpb.AudioConfig(question_attempt_id=attempt.id), account.metadata))
    (one_peak, one_files), one_outcomes = await _hold_streams(server, same, sizes)
    (many_peak, many_files), many_outcomes = await _hold_streams(server, many, sizes)
    sent = sizes.streams * sizes.stream_bytes / MiB
    figures = [
        Figure(
            f"temp disk held by one account's {sizes.streams} streams ({sent:.0f} MiB sent)",
            "MiB",
            one_peak / MiB,
            "temp-disk budget",
            budget / MiB,
            "ratio ≤ 1",
            one_peak <= budget,
            note=f"{one_files} upload files at the peak",
        ),
        Figure(
            f"temp disk held by {sizes.streams} accounts' streams ({sent:.0f} MiB sent)",
            "MiB",
            many_peak / MiB,
            "temp-disk budget",
            budget / MiB,
            "ratio ≤ 1",
            many_peak <= budget,
            note=f"{many_files} upload files at the peak",
        ),
    ]
    details = {
        "one_account": _tally(one_outcomes),
        "many_accounts": _tally(many_outcomes),
        "peak_mib": {"one_account": one_peak / MiB, "many_accounts": many_peak / MiB},
        "files_at_peak": {"one_account": one_files, "many_accounts": many_files},
    }
    return figures, details


def _tally(outcomes: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        key = outcome[:80]
        counts[key] = counts.get(key, 0) + 1
    return counts


# --- tiny chunks -------------------------------------------------------------------------


def _cut_wav(total: int) -> bytes:
    """A WAV whose data chunk claims more than it holds: refused as truncated once it has
    all arrived, before any engine runs, so its cost is the stream's alone."""
    fmt = struct.pack("<HHIIHH", 1, 1, 16_000, 32_000, 2, 16)
    head = b"RIFF" + struct.pack("<I", 10 * total) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
    head += b"data" + struct.pack("<I", 10 * total)
    return head + bytes(total - len(head))


def _cpu_seconds(server: ServerProcess) -> float:
    times = psutil.Process(server.process.pid).cpu_times()
    return float(times.user + times.system)


async def _send(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    attempt_id: int,
    data: bytes,
    chunk: int,
) -> str:
    async def messages() -> AsyncIterator[tpb.TranscribeAnswerRequest]:
        yield tpb.TranscribeAnswerRequest(config=tpb.AudioConfig(question_attempt_id=attempt_id))
        for start in range(0, len(data), chunk):
            yield tpb.TranscribeAnswerRequest(audio_content=data[start : start + chunk])

    stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
    try:
        await stub.TranscribeAnswer(messages(), metadata=metadata, timeout=600)
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name} {error.details()}"
    return "OK"


async def cost_of_tiny_chunks(
    server: ServerProcess, sizes: HostileSizes
) -> tuple[list[Figure], dict[str, Any]]:
    data = _cut_wav(sizes.tiny_bytes)
    async with grpc.aio.insecure_channel(server.address) as channel:
        account = await sign_up(channel)
        prober = await sign_up(channel)
        [attempt] = await open_attempts(channel, account, 1)
        cpu: dict[str, float] = {}
        outcomes: dict[str, str] = {}
        # CPU time comes in 10 ms ticks: a cheap stream is measured over many runs.
        runs = (("normal", NORMAL_CHUNK, 20), ("tiny", 1, sizes.tiny_runs))
        for name, chunk, count in runs:
            before = _cpu_seconds(server)
            for _ in range(count):
                outcomes[name] = await _send(channel, account.metadata, attempt.id, data, chunk)
            await asyncio.sleep(0.2)  # let the handler finish unwinding
            cpu[name] = (_cpu_seconds(server) - before) / count

        auth = auth_pb2_grpc.AuthServiceStub(channel)

        async def get_me() -> object:
            return await auth.GetMe(
                auth_pb2.GetMeRequest(), metadata=prober.metadata, timeout=CALL_TIMEOUT_SECONDS
            )

        await closed_loop(get_me, concurrency=1, budget=Budget(20, 5))
        idle = await closed_loop(get_me, concurrency=1, budget=sizes.probe)
        flood_over = threading.Event()
        # The flood runs in a process of its own, so that building its messages does
        # not slow the prober's event loop: only the server is shared.
        flooding = asyncio.ensure_future(
            asyncio.to_thread(
                _run_flood, server.address, account.metadata, attempt.id, data, flood_over
            )
        )
        during: LoadResult = await closed_loop(
            get_me,
            concurrency=1,
            budget=Budget(10 * sizes.probe.max_calls, sizes.probe.max_seconds),
        )
        flood_over.set()
        floods = await flooding
    baseline = cpu["normal"]
    figures = [
        Figure(
            f"server CPU for {sizes.tiny_bytes // 1000} kB in 1-byte chunks",
            "ms",
            cpu["tiny"] * 1000,
            "the same bytes in 64 KiB chunks",
            max(baseline, 0.001) * 1000,
            "",
            None,
            note=outcomes["tiny"][:60],
        ),
        Figure(
            "GetMe p99 while 1-byte-chunk streams run",
            "ms",
            during.percentile(0.99) * 1000,
            "GetMe p99 idle",
            idle.percentile(0.99) * 1000,
            "ratio ≤ 2",
            during.percentile(0.99) <= 2 * idle.percentile(0.99),
            note=f"{floods} streams, {during.calls} calls",
        ),
    ]
    details = {
        "cpu_seconds": {name: round(value, 4) for name, value in cpu.items()},
        "outcomes": outcomes,
        "get_me_idle_p99_ms": round(idle.percentile(0.99) * 1000, 3),
        "get_me_during_p99_ms": round(during.percentile(0.99) * 1000, 3),
        "flood_streams": floods,
    }
    return figures, details


def _run_flood(
    address: str,
    metadata: tuple[tuple[str, str], ...],
    attempt_id: int,
    data: bytes,
    over: threading.Event,
) -> int:
    """Streams of one-byte chunks, one after another in a child process, until `over`."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    count = context.Value("i", 0)
    child = context.Process(
        target=_flood_process, args=(address, metadata, attempt_id, data, stop, count)
    )
    child.start()
    over.wait()
    stop.set()
    child.join(timeout=600)
    if child.is_alive():
        child.kill()
        child.join()
    return int(count.value)


def _flood_process(
    address: str,
    metadata: tuple[tuple[str, str], ...],
    attempt_id: int,
    data: bytes,
    stop: Any,
    count: Any,
) -> None:
    async def flood() -> None:
        async with grpc.aio.insecure_channel(address) as channel:
            while not stop.is_set():
                await _send(channel, metadata, attempt_id, data, 1)
                with count.get_lock():
                    count.value += 1

    asyncio.run(flood())
