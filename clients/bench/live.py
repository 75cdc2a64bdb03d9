"""Live answers (issue 14): answers sent at real-time pace, as if recorded now, to a server
that transcribes while they arrive (WHISPER_LIVE=true, the default) and to one that waits
for the whole answer (WHISPER_LIVE=false), one after the other, in the same run.

Per answer: the time from the last chunk to the result, the server's CPU seconds per
second of audio (its whole process: upload, decoding, VAD and Whisper) and the word
error rate. The one-minute answer is Speech.mp3; the three-minute one is Speech.mp3
three times over (real speech, with the reading's own pauses between), as 16 kHz WAV.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from faster_whisper.audio import decode_audio

from clients.bench.processes import REPO, ServerProcess, start_samvaad, wait_until_serving
from clients.bench.report import Figure
from clients.bench.scenarios import open_attempts, sign_up
from generated.samvaad.v1 import transcription_pb2 as tpb
from generated.samvaad.v1 import transcription_pb2_grpc
from server.engines.stt.wer import word_error_rate

AUDIO = REPO / "tests" / "assets" / "audio"
SPEECH = AUDIO / "Speech.mp3"
SPEECH_TEXT = (AUDIO / "Speech.txt").read_text()
CHUNK_SECONDS = 0.25  # what a recorder sends at a time
TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Answer:
    name: str
    path: Path
    reference: str


@dataclass(frozen=True)
class Run:
    after_last_chunk: float  # seconds from the last chunk to the result
    cpu_per_audio_second: float  # the server process's, over the whole call
    wer: float
    audio_seconds: float


def answers(workdir: Path, quick: bool) -> list[Answer]:
    if quick:
        short = AUDIO / "answer.wav"
        reference = "I trained the model with scikit-learn and deployed it on Kubernetes"
        return [Answer("answer.wav (6.5 s)", short, reference + " with PostgreSQL as the store.")]
    speech = decode_audio(str(SPEECH), sampling_rate=16_000)
    three = _wav(workdir / "three-minutes.wav", np.concatenate([speech] * 3))
    # The reading ends at 52.4 s; a recording stopped right there leaves no silence in
    # which to finish: the last window is transcribed after the last chunk.
    cut = _wav(workdir / "stopped-as-speech-ends.wav", speech[: int(52.6 * 16_000)])
    return [
        Answer("Speech.mp3 (57.7 s)", SPEECH, SPEECH_TEXT),
        Answer("three minutes of speech (173 s, WAV)", three, " ".join([SPEECH_TEXT] * 3)),
        Answer("Speech.mp3 stopped as the reading ends (52.6 s, WAV)", cut, SPEECH_TEXT),
    ]


def _wav(path: Path, samples: Any) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


async def live_against_batch(
    workdir: Path, database_url: str | None, settings: dict[str, str], quick: bool
) -> tuple[list[Figure], dict[str, Any]]:
    chosen = await asyncio.to_thread(answers, workdir, quick)
    runs: dict[str, dict[str, Run]] = {a.name: {} for a in chosen}
    for mode, live in (("batch", "false"), ("live", "true")):
        server = start_samvaad(workdir / mode, database_url, {**settings, "WHISPER_LIVE": live})
        try:
            await wait_until_serving(server)
            for answer in chosen:
                runs[answer.name][mode] = await _paced_answer(server, answer)
        finally:
            server.stop()
    return _figures(chosen, runs), {
        name: {mode: vars(run) for mode, run in by_mode.items()} for name, by_mode in runs.items()
    }


async def _paced_answer(server: ServerProcess, answer: Answer) -> Run:
    data = await asyncio.to_thread(answer.path.read_bytes)
    seconds = _duration(answer.path)
    size = max(1024, int(len(data) / seconds * CHUNK_SECONDS))
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    last_sent = [0.0]
    async with grpc.aio.insecure_channel(server.address) as channel:
        account = await sign_up(channel)
        (attempt,) = await open_attempts(channel, account, 1)

        async def messages() -> AsyncIterator[tpb.TranscribeAnswerRequest]:
            yield tpb.TranscribeAnswerRequest(
                config=tpb.AudioConfig(question_attempt_id=attempt.id, filename=answer.path.name)
            )
            started = time.perf_counter()
            for index, chunk in enumerate(chunks):
                # Chunk n leaves once the audio it carries has been "recorded".
                due = started + (index + 1) * seconds / len(chunks)
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                yield tpb.TranscribeAnswerRequest(audio_content=chunk)
            last_sent[0] = time.perf_counter()

        stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
        cpu_before = server.cpu_seconds()
        reply = await stub.TranscribeAnswer(
            messages(), metadata=account.metadata, timeout=TIMEOUT_SECONDS
        )
        done = time.perf_counter()
        cpu = server.cpu_seconds() - cpu_before
    return Run(
        after_last_chunk=done - last_sent[0],
        cpu_per_audio_second=cpu / seconds,
        wer=word_error_rate(answer.reference, reply.transcription.text),
        audio_seconds=seconds,
    )


def _duration(path: Path) -> float:
    return float(len(decode_audio(str(path), sampling_rate=16_000)) / 16_000)


def _figures(chosen: list[Answer], runs: dict[str, dict[str, Run]]) -> list[Figure]:
    figures: list[Figure] = []
    for answer in chosen:
        live, batch = runs[answer.name]["live"], runs[answer.name]["batch"]
        # The targets: half of batch for one minute, a quarter for three.
        latency_target = 0.25 if "three" in answer.name else 0.5
        figures += [
            Figure(
                f"live TranscribeAnswer, last chunk to result, {answer.name}",
                "s",
                live.after_last_chunk,
                "WHISPER_LIVE=false, same answer, same pace",
                batch.after_last_chunk,
                f"ratio ≤ {latency_target}",
                live.after_last_chunk <= latency_target * batch.after_last_chunk,
            ),
            Figure(
                f"live server CPU per audio second, {answer.name}",
                "s",
                live.cpu_per_audio_second,
                "WHISPER_LIVE=false",
                batch.cpu_per_audio_second,
                "ratio ≤ 1.5",
                live.cpu_per_audio_second <= 1.5 * batch.cpu_per_audio_second,
                note="the whole server process: upload, decoding, VAD, Whisper",
            ),
            Figure(
                f"live word error rate, {answer.name}",
                "",
                live.wer,
                "WHISPER_LIVE=false",
                batch.wer,
                "at most +0.02",
                live.wer <= batch.wer + 0.02,
                note=f"difference {live.wer - batch.wer:+.3f}",
            ),
        ]
    return figures
