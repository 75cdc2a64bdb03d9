"""StreamAnswer: config checks and live admission before any audio, LINEAR16, the result
(once, last, stored like TranscribeAnswer's). The engine here is a stand-in; the tests
with tiny.en (interim messages, cancellation at every point) are in
tests/test_stream_answer_live.py."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from generated.samvaad.v1 import transcription_pb2 as pb
from server.engines.stt import TranscriptionEngine
from tests.helpers import Account, RunningServer, Stubs, reason, register, violated_fields
from tests.test_transcription_hardening import (
    EXHAUSTED,
    INVALID,
    WAV,
    StandInEngine,
    eventually,
    failure,
    leftovers,
    open_attempts,
    retry_delay,
    service,
)

KiB = 1024
CALL_TIMEOUT = 20.0
PCM = WAV[44:]  # answer.wav's samples: 16 kHz 16-bit mono


@pytest.fixture
def engine() -> StandInEngine:
    return StandInEngine()


@pytest.fixture
def server_stt_engine(engine: StandInEngine) -> TranscriptionEngine:
    return engine


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def settings_overrides(upload_dir: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    extra: dict[str, Any] = getattr(request, "param", None) or {}
    return {"AUDIO_TEMP_DIR": str(upload_dir), "AUDIO_DRAIN_SECONDS": 1, **extra}


def limits(**settings: Any) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("settings_overrides", [settings], indirect=True, ids=["limits"])


def live_config(attempt_id: int, **fields: Any) -> pb.StreamAnswerRequest:
    audio = {k: fields.pop(k) for k in ("request_id", "mime_type", "language") if k in fields}
    return pb.StreamAnswerRequest(
        config=pb.StreamAnswerConfig(
            audio=pb.AudioConfig(question_attempt_id=attempt_id, **audio), **fields
        )
    )


async def stream_of(
    first: pb.StreamAnswerRequest, data: bytes, size: int = 16 * KiB
) -> AsyncIterator[pb.StreamAnswerRequest]:
    yield first
    for start in range(0, len(data), size):
        yield pb.StreamAnswerRequest(audio_content=data[start : start + size])


async def config_then_wait(
    first: pb.StreamAnswerRequest, sent: list[int]
) -> AsyncIterator[pb.StreamAnswerRequest]:
    yield first
    sent.append(1)
    await asyncio.Event().wait()


async def responses(call: Any) -> list[pb.StreamAnswerResponse]:
    return [response async for response in call]


async def test_a_container_answer_ends_with_one_result_stored_like_transcribe_answers(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account, 1)
    first = live_config(attempt_id, request_id="take-1")
    got = await responses(
        stubs.transcription.StreamAnswer(stream_of(first, WAV), metadata=account.metadata)
    )
    assert [r.WhichOneof("event") for r in got][-1] == "result"
    assert sum(r.WhichOneof("event") == "result" for r in got) == 1
    result = got[-1].result
    assert result.question_attempt_id == attempt_id
    assert result.transcription.text == "I deployed"
    assert result.audio.size_bytes == len(WAV)
    assert result.audio.format == "wav"
    stored = await stubs.transcription.GetTranscription(
        pb.GetTranscriptionRequest(question_attempt_id=attempt_id), metadata=account.metadata
    )
    assert stored.transcription == result.transcription
    assert leftovers(upload_dir) == []
    # The same request_id again: the stored result, as TranscribeAnswer gives it.
    again = await responses(
        stubs.transcription.StreamAnswer(stream_of(first, WAV), metadata=account.metadata)
    )
    assert [r.WhichOneof("event") for r in again] == ["result"]
    assert again[0].result.transcription == result.transcription


async def test_a_repeated_request_id_reaches_an_asyncio_client_still_sending(
    stubs: Stubs, account: Account
) -> None:
    """The stored result is answered without reading the audio, to a client that is
    still sending it. (The server then reads on until the client has sent everything,
    as it does before a refusal: a grpc.aio client still writing when a call ends can
    see INTERNAL "Internal error from Core" instead of the reply. That race was seen
    once in a full run of the test above; this test does not reproduce it reliably.)"""
    [attempt_id, *_] = await open_attempts(stubs, account, 1)
    first = live_config(attempt_id, request_id="take-1")
    done = await responses(
        stubs.transcription.StreamAnswer(stream_of(first, WAV), metadata=account.metadata)
    )

    async def slowly() -> AsyncIterator[pb.StreamAnswerRequest]:
        async for request in stream_of(first, WAV, size=2 * KiB):
            yield request
            await asyncio.sleep(0.02)  # still sending long after the server has answered

    again = await responses(stubs.transcription.StreamAnswer(slowly(), metadata=account.metadata))
    assert [r.WhichOneof("event") for r in again] == ["result"]
    assert again[0].result.transcription == done[-1].result.transcription


async def test_linear16_is_stored_as_a_wav_of_the_declared_rate(
    stubs: Stubs, account: Account
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account, 1)
    first = live_config(attempt_id, encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16_000)
    got = await responses(
        stubs.transcription.StreamAnswer(stream_of(first, PCM, 3200), metadata=account.metadata)
    )
    result = got[-1].result
    assert result.audio.format == "wav"
    assert result.audio.size_bytes == len(PCM)
    assert abs(result.audio.duration.ToTimedelta().total_seconds() - len(PCM) / 32_000) < 0.01


@pytest.mark.parametrize(
    ("fields", "data", "field", "why"),
    [
        (
            {"encoding": pb.AUDIO_ENCODING_LINEAR16},
            PCM,
            "config.sample_rate_hertz",
            "AUDIO_SAMPLE_RATE_INVALID",
        ),
        (
            {"encoding": pb.AUDIO_ENCODING_LINEAR16, "sample_rate_hertz": 1_000_000},
            PCM,
            "config.sample_rate_hertz",
            "AUDIO_SAMPLE_RATE_INVALID",
        ),
        (
            {
                "encoding": pb.AUDIO_ENCODING_LINEAR16,
                "sample_rate_hertz": 16_000,
                "mime_type": "audio/wav",
            },
            PCM,
            "config.audio.mime_type",
            "AUDIO_ENCODING_MISMATCH",
        ),
        (
            {"encoding": pb.AUDIO_ENCODING_LINEAR16, "sample_rate_hertz": 16_000},
            WAV,
            "audio_content",
            "AUDIO_ENCODING_MISMATCH",
        ),
        (
            {"encoding": pb.AUDIO_ENCODING_LINEAR16, "sample_rate_hertz": 16_000},
            PCM[:4001],
            "audio_content",
            "AUDIO_ENCODING_MISMATCH",
        ),
        ({}, b"not audio at all, " * 100, "audio_content", "AUDIO_FORMAT_UNSUPPORTED"),
    ],
    ids=["no-rate", "absurd-rate", "mime-type", "a-wav-file", "half-a-sample", "not-audio"],
)
async def test_what_cannot_fit_the_declared_encoding_is_invalid_at_once(
    stubs: Stubs,
    account: Account,
    upload_dir: Path,
    engine: StandInEngine,
    fields: dict[str, Any],
    data: bytes,
    field: str,
    why: str,
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account, 1)
    error = await failure(
        responses(
            stubs.transcription.StreamAnswer(
                stream_of(live_config(attempt_id, **fields), data, 8000),
                metadata=account.metadata,
                timeout=CALL_TIMEOUT,
            )
        )
    )
    assert error.code() == INVALID, f"{error.code()}: {error.details()}"
    assert reason(error) == why
    assert field in violated_fields(error)
    assert engine.calls == 0
    assert leftovers(upload_dir) == []


@limits(TRANSCRIPTION_MAX_LIVE_STREAMS=1, AUDIO_MAX_STREAMS_PER_USER=5)
async def test_a_stream_beyond_capacity_is_refused_at_its_config(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    attempts = await open_attempts(stubs, account, 3)
    held_sent: list[int] = []
    held = stubs.transcription.StreamAnswer(
        config_then_wait(live_config(attempts[0]), held_sent), metadata=account.metadata
    )
    held_task = asyncio.ensure_future(responses(held))
    await eventually(lambda: service(running).admission.active == 1, "the first stream admitted")
    other = await register(stubs)
    [other_attempt, *_] = await open_attempts(stubs, other, 1)
    sent: list[int] = []
    error = await failure(
        responses(
            stubs.transcription.StreamAnswer(
                config_then_wait(live_config(other_attempt), sent),
                metadata=other.metadata,
                timeout=CALL_TIMEOUT,
            )
        )
    )
    assert error.code() == EXHAUSTED, f"{error.code()}: {error.details()}"
    assert reason(error) == "LIVE_STREAMS_BUSY"
    assert retry_delay(error) > 0
    assert sent == [1]  # decided on the config alone
    # TranscribeAnswer is not a live stream: it still gets in.
    reply = await stubs.transcription.TranscribeAnswer(
        _transcribe_answer(attempts[1]), metadata=account.metadata
    )
    assert reply.audio.size_bytes == len(WAV)
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held_task
    await eventually(lambda: service(running).admission.active == 0, "the held stream let go")


@limits(TRANSCRIPTION_MAX_INTERIM_STREAMS=0)
async def test_interim_results_have_their_own_capacity(stubs: Stubs, account: Account) -> None:
    attempts = await open_attempts(stubs, account, 2)
    error = await failure(
        responses(
            stubs.transcription.StreamAnswer(
                stream_of(live_config(attempts[0], interim_results=True), WAV),
                metadata=account.metadata,
                timeout=CALL_TIMEOUT,
            )
        )
    )
    assert error.code() == EXHAUSTED
    assert reason(error) == "LIVE_STREAMS_BUSY"
    got = await responses(
        stubs.transcription.StreamAnswer(
            stream_of(live_config(attempts[1]), WAV), metadata=account.metadata
        )
    )
    assert got[-1].WhichOneof("event") == "result"


async def test_config_must_come_first_and_only_once(stubs: Stubs, account: Account) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account, 1)

    async def twice() -> AsyncIterator[pb.StreamAnswerRequest]:
        yield live_config(attempt_id)
        yield live_config(attempt_id)

    error = await failure(
        responses(stubs.transcription.StreamAnswer(twice(), metadata=account.metadata))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(error) == "STREAM_ORDER"


async def _transcribe_answer(attempt_id: int) -> AsyncIterator[pb.TranscribeAnswerRequest]:
    yield pb.TranscribeAnswerRequest(config=pb.AudioConfig(question_attempt_id=attempt_id))
    for start in range(0, len(WAV), 32 * KiB):
        yield pb.TranscribeAnswerRequest(audio_content=WAV[start : start + 32 * KiB])


async def test_clients_that_hang_up_once_they_have_the_result_do_not_harm_the_server(
    stubs: Stubs, account: Account
) -> None:
    """A client that stops reading at the result cancels the call, and the server's stream
    is closed after the call is gone (reading the call's peer then crashed a separate server
    process under `make demo`; in process the crash does not reproduce, this checks the rest)."""
    attempts = await open_attempts(stubs, account, 3)
    for attempt_id in attempts[:2]:
        call = stubs.transcription.StreamAnswer(
            stream_of(live_config(attempt_id), WAV), metadata=account.metadata
        )
        first = await call.read()
        assert first.WhichOneof("event") == "result"
        call.cancel()
        await asyncio.sleep(0.2)
        gc.collect()
    await asyncio.sleep(0.5)
    got = await responses(
        stubs.transcription.StreamAnswer(
            stream_of(live_config(attempts[2]), WAV), metadata=account.metadata
        )
    )
    assert got[-1].WhichOneof("event") == "result"
