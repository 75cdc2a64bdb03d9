"""StreamAnswer under load (issue 14): how many live answers one server on this machine
carries, with and without interim results, and what interim results cost.

Every stream sends Speech.mp3 at real-time pace; N streams start spread over its length.
Per stream: the time from its last chunk to its result, and for interim streams the lag
from when a word was spoken (its end offset, on the stream's own clock) to when it arrived
as stable. The baseline of each figure is measured in the same run: the batch path's time
for the same answer (clients/bench/live.py) and one stream without interim results.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from clients.bench.live import SPEECH, SPEECH_TEXT, TIMEOUT_SECONDS, _duration
from clients.bench.processes import ServerProcess, start_samvaad, wait_until_serving
from clients.bench.report import Figure
from clients.bench.scenarios import open_attempts, sign_up
from generated.samvaad.v1 import transcription_pb2 as tpb
from generated.samvaad.v1 import transcription_pb2_grpc
from server.engines.stt.wer import word_error_rate

CHUNK_SECONDS = 0.25


@dataclass(frozen=True)
class Stream:
    after_last_chunk: float
    wer: float
    interim_messages: int
    stable_lags: list[float]  # seconds from a word's end in the audio to its arrival as stable


async def _stream(server: ServerProcess, path: Path, seconds: float, interim: bool) -> Stream:
    data = await asyncio.to_thread(path.read_bytes)
    size = max(1024, int(len(data) / seconds * CHUNK_SECONDS))
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    clock = {"start": 0.0, "last": 0.0}
    async with grpc.aio.insecure_channel(server.address) as channel:
        account = await sign_up(channel)
        (attempt,) = await open_attempts(channel, account, 1)

        async def requests() -> AsyncIterator[tpb.StreamAnswerRequest]:
            yield tpb.StreamAnswerRequest(
                config=tpb.StreamAnswerConfig(
                    audio=tpb.AudioConfig(question_attempt_id=attempt.id, filename=path.name),
                    interim_results=interim,
                )
            )
            clock["start"] = time.perf_counter()
            for index, chunk in enumerate(chunks):
                due = clock["start"] + (index + 1) * seconds / len(chunks)
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                yield tpb.StreamAnswerRequest(audio_content=chunk)
            clock["last"] = time.perf_counter()

        stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
        lags: list[float] = []
        interims = 0
        result: tpb.TranscribeAnswerResponse | None = None
        call = stub.StreamAnswer(requests(), metadata=account.metadata, timeout=TIMEOUT_SECONDS)
        async for response in call:
            now = time.perf_counter()
            kind = response.WhichOneof("event")
            if kind == "interim":
                interims += 1
                for word in response.interim.stable_words:
                    spoken = clock["start"] + word.end_offset.ToTimedelta().total_seconds()
                    lags.append(now - spoken)
            elif kind == "result":
                result = response.result
        done = time.perf_counter()
    if result is None:
        raise RuntimeError("StreamAnswer ended without a result")
    return Stream(
        after_last_chunk=done - clock["last"],
        wer=word_error_rate(SPEECH_TEXT, result.transcription.text),
        interim_messages=interims,
        stable_lags=lags,
    )


async def _together(
    server: ServerProcess, count: int, interim: bool, seconds: float
) -> tuple[list[Stream], float]:
    """`count` streams at once, their starts spread over one answer's length (candidates do
    not start speaking in step: in step, every stream cuts its windows at the same moment
    and they all queue for the engine together); and the server's CPU seconds per audio
    second per stream."""

    async def one(index: int) -> Stream:
        await asyncio.sleep(index * seconds / count)
        return await _stream(server, SPEECH, seconds, interim)

    before = server.cpu_seconds()
    streams = await asyncio.gather(*(one(index) for index in range(count)))
    cpu = server.cpu_seconds() - before
    return list(streams), cpu / (seconds * count)


async def capacity(
    workdir: Path, database_url: str | None, settings: dict[str, str], batch_seconds: float
) -> tuple[list[Figure], dict[str, Any]]:
    """One stream without and one with interim results (the multiplier), then 6 without
    and 2 with at once; `batch_seconds`: the batch path's time for Speech.mp3, same run."""
    seconds = await asyncio.to_thread(_duration, SPEECH)
    server = start_samvaad(workdir / "capacity", database_url, settings)
    try:
        await wait_until_serving(server)
        (plain,), plain_cpu = await _together(server, 1, False, seconds)
        (one,), interim_cpu = await _together(server, 1, True, seconds)
        six, six_cpu = await _together(server, 6, False, seconds)
        two, two_cpu = await _together(server, 2, True, seconds)
    finally:
        server.stop()
    lags = one.stable_lags + [lag for s in two for lag in s.stable_lags]
    worst_six = max(s.after_last_chunk for s in six)
    worst_two = max(s.after_last_chunk for s in two)
    figures = [
        Figure(
            "StreamAnswer server CPU per audio second, with interim results",
            "s",
            interim_cpu,
            "one stream without interim results",
            plain_cpu,
            "",
            None,
            note=f"{one.interim_messages} interim messages in {seconds:.0f} s",
        ),
        Figure(
            "StreamAnswer, 6 streams at once without interim: slowest last chunk to result",
            "s",
            worst_six,
            "batch path, one answer alone",
            batch_seconds,
            "ratio ≤ 0.5",
            worst_six <= 0.5 * batch_seconds,
            note=f"CPU per audio second per stream {six_cpu:.3f} s",
        ),
        Figure(
            "StreamAnswer, 2 streams at once with interim: slowest last chunk to result",
            "s",
            worst_two,
            "batch path, one answer alone",
            batch_seconds,
            "ratio ≤ 0.5",
            worst_two <= 0.5 * batch_seconds,
            note=f"CPU per audio second per stream {two_cpu:.3f} s",
        ),
        Figure(
            "StreamAnswer interim: median lag from a spoken word to it arriving as stable",
            "s",
            statistics.median(lags) if lags else float("nan"),
            "the issue's target",
            3.0,
            "≤ 3 s",
            bool(lags) and statistics.median(lags) <= 3.0,
            note="stable words are those of finished ~20-28 s windows",
        ),
        Figure(
            "StreamAnswer word error rate, one stream with interim results",
            "",
            one.wer,
            "one stream without interim results",
            plain.wer,
            "at most +0.02",
            one.wer <= plain.wer + 0.02,
        ),
    ]
    details = {
        "plain": vars(plain) | {"stable_lags": len(plain.stable_lags)},
        "interim": vars(one) | {"stable_lags": len(one.stable_lags)},
        "six_without_interim": [s.after_last_chunk for s in six],
        "two_with_interim": [s.after_last_chunk for s in two],
        "cpu_per_audio_second": {
            "plain": plain_cpu,
            "interim": interim_cpu,
            "six": six_cpu,
            "two": two_cpu,
        },
    }
    return figures, details
