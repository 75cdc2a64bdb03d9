"""StreamAnswer with tiny.en: interim messages while the answer arrives, the result last and
as stored, and a cancellation at any point leaves no file, no transcript, no engine place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faster_whisper.audio import decode_audio

from generated.samvaad.v1 import transcription_pb2 as pb
from server.engines.stt import LocalWhisperEngine, TranscriptionEngine
from server.engines.stt.wer import word_error_rate
from tests.audio_assets import SPEECH_MP3, SPEECH_TEXT
from tests.helpers import Account, Stubs
from tests.test_transcription import has_transcription, leftovers, open_attempt

pytestmark = pytest.mark.slow
CHUNK = 8000  # a quarter of a second of 16 kHz LINEAR16


@pytest.fixture(scope="module")
def pcm() -> bytes:
    samples = decode_audio(str(SPEECH_MP3), sampling_rate=16_000)
    return bytes((samples * 32767).astype("<i2").tobytes())


@pytest.fixture
def server_stt_engine(whisper_engine: LocalWhisperEngine) -> TranscriptionEngine:
    return whisper_engine


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def settings_overrides(upload_dir: Path) -> dict[str, Any]:
    return {"AUDIO_TEMP_DIR": str(upload_dir)}


def first(attempt_id: int, interim: bool = True) -> pb.StreamAnswerRequest:
    return pb.StreamAnswerRequest(
        config=pb.StreamAnswerConfig(
            audio=pb.AudioConfig(question_attempt_id=attempt_id),
            interim_results=interim,
            encoding=pb.AUDIO_ENCODING_LINEAR16,
            sample_rate_hertz=16_000,
        )
    )


async def _wait_for(condition: Any, seconds: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "the server never got there"
        await asyncio.sleep(0.05)


async def test_interim_messages_come_before_the_end_and_the_result_is_what_was_stored(
    stubs: Stubs, account: Account, pcm: bytes
) -> None:
    attempt_id = await open_attempt(stubs, account)
    chunks = [pcm[i : i + CHUNK] for i in range(0, len(pcm), CHUNK)]
    seen: list[pb.StreamAnswerResponse] = []
    last_sent = asyncio.Event()

    async def requests() -> AsyncIterator[pb.StreamAnswerRequest]:
        yield first(attempt_id)
        for chunk in chunks[:-1]:
            yield pb.StreamAnswerRequest(audio_content=chunk)
            await asyncio.sleep(0.01)  # faster than real time, yet not all at once
        # The last chunk waits for an interim transcript with stable words.
        await _wait_for(lambda: any(r.interim.stable_words for r in seen))
        yield pb.StreamAnswerRequest(audio_content=chunks[-1])
        last_sent.set()

    call = stubs.transcription.StreamAnswer(requests(), metadata=account.metadata)
    async for response in call:
        assert not seen or seen[-1].WhichOneof("event") != "result", "nothing after the result"
        seen.append(response)
    kinds = [r.WhichOneof("event") for r in seen]
    assert kinds[-1] == "result"
    assert kinds.count("result") == 1
    assert "interim" in kinds[:-1]
    assert "delivery" in kinds[:-1]
    result = seen[-1].result
    assert word_error_rate(SPEECH_TEXT, result.transcription.text) < 0.3
    # The stable words sent along the way are the result's own first words.
    stable = [w for r in seen[:-1] for w in r.interim.stable_words]
    assert stable
    assert [w.word for w in stable] == [w.word for w in result.transcription.words[: len(stable)]]
    heard = [
        r.delivery.audio_heard.ToTimedelta().total_seconds() for r in seen if r.delivery.ByteSize()
    ]
    assert heard == sorted(heard)
    stored = await stubs.transcription.GetTranscription(
        pb.GetTranscriptionRequest(question_attempt_id=attempt_id), metadata=account.metadata
    )
    assert stored.transcription == result.transcription


@pytest.mark.parametrize("when", ["after-config", "mid-audio", "after-last-chunk"])
async def test_a_cancelled_stream_leaves_nothing(
    stubs: Stubs,
    account: Account,
    pcm: bytes,
    upload_dir: Path,
    whisper_engine: LocalWhisperEngine,
    when: str,
) -> None:
    attempt_id = await open_attempt(stubs, account)
    chunks = [pcm[i : i + CHUNK] for i in range(0, len(pcm), CHUNK)]
    reached = asyncio.Event()

    async def requests() -> AsyncIterator[pb.StreamAnswerRequest]:
        yield first(attempt_id)
        if when == "after-config":
            reached.set()
            await asyncio.sleep(60)
        for index, chunk in enumerate(chunks):
            yield pb.StreamAnswerRequest(audio_content=chunk)
            if when == "mid-audio" and index == len(chunks) // 2:
                reached.set()
                await asyncio.sleep(60)
        reached.set()  # the final result is being computed when the client hangs up

    call = stubs.transcription.StreamAnswer(requests(), metadata=account.metadata)
    consumer = asyncio.ensure_future(_drain(call))
    await reached.wait()
    if when == "mid-audio":
        await _wait_for(lambda: whisper_engine._queued > 0 or whisper_engine._pending > 0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await _wait_for(lambda: not leftovers(upload_dir))
    await _wait_for(lambda: whisper_engine._pending == 0)
    if when != "after-last-chunk":
        assert not await has_transcription(stubs, account, attempt_id)
    elif await has_transcription(stubs, account, attempt_id):
        # The hang-up came after the result was stored: then it is the whole answer.
        stored = await stubs.transcription.GetTranscription(
            pb.GetTranscriptionRequest(question_attempt_id=attempt_id), metadata=account.metadata
        )
        assert word_error_rate(SPEECH_TEXT, stored.transcription.text) < 0.3


async def _drain(call: Any) -> None:
    async for _ in call:
        pass
