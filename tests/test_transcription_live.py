"""TranscribeAnswer on the live path: a streamable answer is transcribed while it
arrives, the result is stored as before, and a cancelled stream leaves nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from generated.samvaad.v1 import transcription_pb2 as pb
from server.engines.stt import LiveTranscription, LocalWhisperEngine, TranscriptionEngine
from server.engines.stt.live import LiveSession
from server.engines.stt.wer import word_error_rate
from tests.audio_assets import AUDIO, SPEECH_MP3, SPEECH_TEXT
from tests.helpers import Account, Stubs
from tests.test_transcription import config_message, has_transcription, leftovers, open_attempt

CHUNK = 32 * 1024
pytestmark = pytest.mark.slow


class Spy:
    """The sessions the engine opened for the server."""

    def __init__(self) -> None:
        self.sessions: list[LiveSession] = []


@pytest.fixture
def spy(whisper_engine: LocalWhisperEngine, monkeypatch: pytest.MonkeyPatch) -> Spy:
    found = Spy()
    opened = whisper_engine.live

    def live(**kwargs: Any) -> LiveTranscription | None:
        session = opened(**kwargs)
        if isinstance(session, LiveSession):
            found.sessions.append(session)
        return session

    monkeypatch.setattr(whisper_engine, "live", live)
    return found


@pytest.fixture
def server_stt_engine(whisper_engine: LocalWhisperEngine, spy: Spy) -> TranscriptionEngine:
    return whisper_engine


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def settings_overrides(upload_dir: Path) -> dict[str, Any]:
    return {"AUDIO_TEMP_DIR": str(upload_dir)}


async def _wait_for(condition: Any, seconds: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "the server never got there"
        await asyncio.sleep(0.05)


async def test_an_answer_is_transcribed_while_it_arrives_and_stored_as_before(
    stubs: Stubs, account: Account, spy: Spy, whisper_engine: LocalWhisperEngine
) -> None:
    attempt_id = await open_attempt(stubs, account)
    data = SPEECH_MP3.read_bytes()
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield config_message(attempt_id, filename="Speech.mp3", request_id="live-1")
        for chunk in chunks[:-1]:
            yield pb.TranscribeAnswerRequest(audio_content=chunk)
        # The last chunk waits until a window of the answer has been transcribed.
        await _wait_for(lambda: spy.sessions and spy.sessions[0].windows_done >= 1)
        yield pb.TranscribeAnswerRequest(audio_content=chunks[-1])

    reply = await stubs.transcription.TranscribeAnswer(stream(), metadata=account.metadata)
    assert len(spy.sessions) == 1
    assert word_error_rate(SPEECH_TEXT, reply.transcription.text) < 0.3
    words = reply.transcription.words
    starts = [w.start_offset.ToTimedelta().total_seconds() for w in words]
    assert starts == sorted(starts)
    assert 45 < words[-1].end_offset.ToTimedelta().total_seconds() < 57.7
    stored = await stubs.transcription.GetTranscription(
        pb.GetTranscriptionRequest(question_attempt_id=attempt_id), metadata=account.metadata
    )
    assert stored.transcription == reply.transcription
    # A retry with the same request_id gets the stored result without a new session.
    again = await stubs.transcription.TranscribeAnswer(
        _whole(attempt_id, data, "live-1"), metadata=account.metadata
    )
    assert again.transcription == reply.transcription
    assert len(spy.sessions) == 1
    await _wait_for(lambda: whisper_engine._pending == 0)


async def test_m4a_is_transcribed_when_complete(stubs: Stubs, account: Account, spy: Spy) -> None:
    attempt_id = await open_attempt(stubs, account)
    data = (AUDIO / "answer.m4a").read_bytes()
    reply = await stubs.transcription.TranscribeAnswer(
        _whole(attempt_id, data, ""), metadata=account.metadata
    )
    assert "deployed it on" in reply.transcription.text.lower()
    assert spy.sessions == []


async def test_a_stream_cancelled_while_windows_run_leaves_nothing(
    stubs: Stubs, account: Account, spy: Spy, upload_dir: Path, whisper_engine: LocalWhisperEngine
) -> None:
    attempt_id = await open_attempt(stubs, account)
    data = SPEECH_MP3.read_bytes()
    hung = asyncio.Event()

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield config_message(attempt_id)
        for start in range(0, len(data) * 3 // 4, CHUNK):
            yield pb.TranscribeAnswerRequest(audio_content=data[start : start + CHUNK])
        await _wait_for(lambda: spy.sessions and spy.sessions[0].windows_submitted >= 1)
        hung.set()
        await asyncio.sleep(60)  # the client hangs up while a window is being transcribed

    call = stubs.transcription.TranscribeAnswer(stream(), metadata=account.metadata)
    await hung.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await _wait_for(lambda: not leftovers(upload_dir))
    # The engine's place comes back once the running window stops; nothing is stored.
    await _wait_for(lambda: whisper_engine._pending == 0)
    assert not await has_transcription(stubs, account, attempt_id)


async def _whole(
    attempt_id: int, data: bytes, request_id: str
) -> AsyncIterator[pb.TranscribeAnswerRequest]:
    yield config_message(attempt_id, request_id=request_id)
    for start in range(0, len(data), CHUNK):
        yield pb.TranscribeAnswerRequest(audio_content=data[start : start + CHUNK])
