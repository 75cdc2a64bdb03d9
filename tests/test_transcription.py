"""TranscriptionService end to end: a real server, the real offline model, real databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from generated.samvaad.v1 import auth_pb2
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import resume_pb2 as rpb
from generated.samvaad.v1 import transcription_pb2 as pb
from server.audio import UPLOAD_PREFIX
from server.engines.stt import LocalWhisperEngine, TranscriptionEngine
from server.engines.stt.wer import word_error_rate
from tests.audio_assets import ANSWER_SAMPLE, AUDIO, FORMAT_FILES, SPEECH_MP3, SPEECH_TEXT
from tests.fake_openai import TRANSCRIPTIONS, FakeOpenAI, Reply, error_body, transcription_verbose
from tests.helpers import (
    Account,
    RunningServer,
    Stubs,
    expect_status,
    make_settings,
    openai_settings,
    reason,
    register,
    start_server,
    stop_server,
)

CHUNK = 32 * 1024
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def server_stt_engine(whisper_engine: LocalWhisperEngine) -> TranscriptionEngine:
    return whisper_engine


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def settings_overrides(upload_dir: Path) -> dict[str, Any]:
    return {"AUDIO_TEMP_DIR": str(upload_dir)}


async def open_attempt(stubs: Stubs, account: Account, track: str = "ml_engineering") -> int:
    interview = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track=track), metadata=account.metadata
    )
    await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=2),
        metadata=account.metadata,
    )
    attempts = await stubs.interview.ListQuestionAttempts(
        ipb.ListQuestionAttemptsRequest(interview_id=interview.interview.id),
        metadata=account.metadata,
    )
    return int(attempts.question_attempts[0].id)


def config_message(attempt_id: int, **fields: Any) -> pb.TranscribeAnswerRequest:
    return pb.TranscribeAnswerRequest(
        config=pb.AudioConfig(question_attempt_id=attempt_id, **fields)
    )


async def messages(
    first: Iterable[pb.TranscribeAnswerRequest], data: bytes, size: int = CHUNK
) -> AsyncIterator[pb.TranscribeAnswerRequest]:
    for message in first:
        yield message
    for start in range(0, len(data), size):
        yield pb.TranscribeAnswerRequest(audio_content=data[start : start + size])


async def send_file(
    stubs: Stubs, account: Account, attempt_id: int, path: Path, **config: Any
) -> pb.TranscribeAnswerResponse:
    config.setdefault("filename", path.name)
    return await stubs.transcription.TranscribeAnswer(
        messages([config_message(attempt_id, **config)], path.read_bytes()),
        metadata=account.metadata,
    )


def leftovers(upload_dir: Path) -> list[Path]:
    return list(upload_dir.glob(f"{UPLOAD_PREFIX}*")) if upload_dir.exists() else []


async def has_transcription(stubs: Stubs, account: Account, attempt_id: int) -> bool:
    try:
        await stubs.transcription.GetTranscription(
            pb.GetTranscriptionRequest(question_attempt_id=attempt_id), metadata=account.metadata
        )
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return False
    return True


def check_words(transcription: pb.Transcription) -> None:
    duration = transcription.duration.ToTimedelta().total_seconds()
    previous_end = 0.0
    for word in transcription.words:
        start = word.start_offset.ToTimedelta().total_seconds()
        end = word.end_offset.ToTimedelta().total_seconds()
        assert previous_end <= start <= end <= duration
        assert 0.0 <= word.probability <= 1.0
        assert word.word == word.word.strip()
        previous_end = end


async def test_speech_mp3_streams_through_and_is_stored(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    reply = await send_file(stubs, account, attempt_id, SPEECH_MP3, mime_type="audio/mpeg")
    transcription = reply.transcription
    assert reply.question_attempt_id == attempt_id
    assert word_error_rate(SPEECH_TEXT, transcription.text) < 0.3
    assert (transcription.engine, transcription.model) == ("local", "tiny.en")
    assert transcription.language == "en"
    assert len(transcription.words) > 100
    check_words(transcription)
    # The reading ends with "hourglass" a few seconds before the recording does.
    assert transcription.words[-1].word.strip(".").lower() == "hourglass"
    assert 45 < transcription.words[-1].end_offset.ToTimedelta().total_seconds() < 57.7
    audio = reply.audio
    assert (audio.format, audio.mime_type, audio.filename) == ("mp3", "audio/mpeg", "Speech.mp3")
    assert audio.size_bytes == SPEECH_MP3.stat().st_size
    assert abs(audio.duration.ToTimedelta().total_seconds() - 57.68) < 0.2
    assert reply.processing_time.ToTimedelta().total_seconds() > 0
    assert leftovers(upload_dir) == []
    stored = await stubs.transcription.GetTranscription(
        pb.GetTranscriptionRequest(question_attempt_id=attempt_id), metadata=account.metadata
    )
    assert stored.transcription == transcription
    attempts = await stubs.interview.ListQuestionAttempts(
        ipb.ListQuestionAttemptsRequest(interview_id=0 or await _interview_of(stubs, account)),
        metadata=account.metadata,
    )
    assert attempts.question_attempts[0].has_transcription


async def _interview_of(stubs: Stubs, account: Account) -> int:
    listed = await stubs.interview.ListInterviews(
        ipb.ListInterviewsRequest(), metadata=account.metadata
    )
    return int(listed.interviews[0].id)


@pytest.mark.parametrize("name", sorted(FORMAT_FILES))
async def test_every_format_is_transcribed(stubs: Stubs, account: Account, name: str) -> None:
    attempt_id = await open_attempt(stubs, account)
    reply = await send_file(stubs, account, attempt_id, AUDIO / name)
    assert reply.audio.format == FORMAT_FILES[name][0].value
    # Without resume context tiny.en mangles the product names, not the plain words.
    text = reply.transcription.text.lower()
    for phrase in ("trained the model", "deployed it on", "the store"):
        assert phrase in text
    check_words(reply.transcription)


async def test_resume_skills_help_the_engine_spell_technical_terms(
    stubs: Stubs, account: Account
) -> None:
    resume = (
        "Asha Rao - ML engineer\nSkills: scikit-learn, Kubernetes, PostgreSQL, Python, Docker\n"
        "Experience: Acme Corp, ML Engineer, Jan 2019 - Present\n"
    )
    await stubs.resume.UploadResume(
        rpb.UploadResumeRequest(
            filename="cv.txt", content_type="text/plain", content=resume.encode()
        ),
        metadata=account.metadata,
    )
    attempt_id = await open_attempt(stubs, account)
    reply = await send_file(stubs, account, attempt_id, AUDIO / "answer.wav")
    text = reply.transcription.text
    assert word_error_rate(ANSWER_SAMPLE.reference, text) < 0.3, text
    for term in ("scikit-learn", "Kubernetes", "PostgreSQL"):
        assert term in text


async def test_a_health_check_answers_promptly_while_transcribing(
    stubs: Stubs, account: Account
) -> None:
    attempt_id = await open_attempt(stubs, account)
    upload = asyncio.create_task(send_file(stubs, account, attempt_id, SPEECH_MP3))
    health = health_pb2_grpc.HealthStub(stubs.channel)
    await asyncio.sleep(1.0)  # the upload is in, the model is working
    assert not upload.done()
    for _ in range(5):
        reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5.0)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata, timeout=5.0)
    assert not upload.done(), "the checks should have run while the model worked"
    await upload


# --- idempotency and retries ----------------------------------------------------------


async def test_a_retry_with_the_same_request_id_returns_the_stored_result(
    stubs: Stubs, account: Account
) -> None:
    attempt_id = await open_attempt(stubs, account)
    path = AUDIO / "answer-opus.ogg"
    first = await send_file(stubs, account, attempt_id, path, request_id="upload-1")
    again = await send_file(stubs, account, attempt_id, path, request_id="upload-1")
    assert again == first
    error = await expect_status(
        send_file(stubs, account, attempt_id, path, request_id="upload-2"),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason(error) == "ATTEMPT_ALREADY_ANSWERED"
    assert "CreateQuestionAttempt" in (error.details() or "")
    retry = await stubs.interview.CreateQuestionAttempt(
        ipb.CreateQuestionAttemptRequest(
            question_id=await _question_of(stubs, account, attempt_id)
        ),
        metadata=account.metadata,
    )
    redone = await send_file(stubs, account, retry.question_attempt.id, path, request_id="upload-2")
    assert redone.question_attempt_id == retry.question_attempt.id


async def _question_of(stubs: Stubs, account: Account, attempt_id: int) -> int:
    attempts = await stubs.interview.ListQuestionAttempts(
        ipb.ListQuestionAttemptsRequest(interview_id=await _interview_of(stubs, account)),
        metadata=account.metadata,
    )
    return next(a.question_id for a in attempts.question_attempts if a.id == attempt_id)


# --- bad input: each with its status and nothing left behind --------------------------


async def _expect_refused(
    stubs: Stubs,
    account: Account,
    attempt_id: int,
    upload_dir: Path,
    stream: AsyncIterator[pb.TranscribeAnswerRequest],
    code: grpc.StatusCode,
    metadata: Any = None,
) -> grpc.aio.AioRpcError:
    error = await expect_status(
        stubs.transcription.TranscribeAnswer(stream, metadata=metadata or account.metadata), code
    )
    assert leftovers(upload_dir) == []
    assert not await has_transcription(stubs, account, attempt_id)
    return error


async def test_an_empty_stream_is_invalid(stubs: Stubs, account: Account, upload_dir: Path) -> None:
    attempt_id = await open_attempt(stubs, account)
    error = await _expect_refused(
        stubs, account, attempt_id, upload_dir, messages([], b""), INVALID
    )
    assert reason(error) == "STREAM_ORDER"


async def test_audio_before_config_is_invalid(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    stream = messages([], (AUDIO / "answer.wav").read_bytes())
    error = await _expect_refused(stubs, account, attempt_id, upload_dir, stream, INVALID)
    assert reason(error) == "STREAM_ORDER"


async def test_a_second_config_is_invalid(stubs: Stubs, account: Account, upload_dir: Path) -> None:
    attempt_id = await open_attempt(stubs, account)

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        data = (AUDIO / "answer.wav").read_bytes()
        yield config_message(attempt_id)
        yield pb.TranscribeAnswerRequest(audio_content=data[:CHUNK])
        yield config_message(attempt_id)
        yield pb.TranscribeAnswerRequest(audio_content=data[CHUNK:])

    error = await _expect_refused(stubs, account, attempt_id, upload_dir, stream(), INVALID)
    assert reason(error) == "STREAM_ORDER"


async def test_garbage_named_mp3_is_invalid(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    garbage = bytes(range(256)) * 200
    stream = messages(
        [config_message(attempt_id, filename="answer.mp3", mime_type="audio/mpeg")], garbage
    )
    await _expect_refused(stubs, account, attempt_id, upload_dir, stream, INVALID)


async def test_a_truncated_file_is_invalid(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    data = (AUDIO / "answer.m4a").read_bytes()
    stream = messages([config_message(attempt_id)], data[: len(data) // 2])
    await _expect_refused(stubs, account, attempt_id, upload_dir, stream, INVALID)


async def test_a_contradicting_mime_type_is_invalid(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    stream = messages(
        [config_message(attempt_id, mime_type="audio/webm")], (AUDIO / "answer.wav").read_bytes()
    )
    await _expect_refused(stubs, account, attempt_id, upload_dir, stream, INVALID)


async def test_another_users_attempt_is_not_found_before_any_audio(
    running: RunningServer, stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    intruder = await register(stubs)
    sent = 0

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        nonlocal sent
        yield config_message(attempt_id)
        for _ in range(100):
            await asyncio.sleep(0.01)
            sent += 1
            yield pb.TranscribeAnswerRequest(audio_content=b"\0" * 1024)

    await _expect_refused(
        stubs,
        account,
        attempt_id,
        upload_dir,
        stream(),
        grpc.StatusCode.NOT_FOUND,
        metadata=intruder.metadata,
    )
    # The rest of the stream is read and discarded, so that every client sees the
    # status (grpc/grpc#36066), but not one byte of it was accepted as audio.
    assert running.app.audio_intake.budget.peak_bytes == 0, "refused before any audio"
    assert sent == 100, "the refused stream is drained to its end"


async def test_a_completed_interview_takes_no_answers(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    await stubs.interview.CompleteInterview(
        ipb.CompleteInterviewRequest(interview_id=await _interview_of(stubs, account)),
        metadata=account.metadata,
    )
    stream = messages([config_message(attempt_id)], (AUDIO / "answer.wav").read_bytes())
    error = await expect_status(
        stubs.transcription.TranscribeAnswer(stream, metadata=account.metadata),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert reason(error) == "INTERVIEW_COMPLETED"
    assert leftovers(upload_dir) == []


@pytest.mark.parametrize("language", ["english", "e", "en-US!"])
async def test_a_bad_language_is_invalid(
    stubs: Stubs, account: Account, upload_dir: Path, language: str
) -> None:
    attempt_id = await open_attempt(stubs, account)
    stream = messages(
        [config_message(attempt_id, language=language)], (AUDIO / "answer.wav").read_bytes()
    )
    await _expect_refused(stubs, account, attempt_id, upload_dir, stream, INVALID)


async def test_a_cancelled_upload_leaves_nothing(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)
    data = SPEECH_MP3.read_bytes()
    halfway = asyncio.Event()

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield config_message(attempt_id)
        for index, start in enumerate(range(0, len(data), CHUNK)):
            if index == 10:
                halfway.set()
                await asyncio.sleep(30)  # the client hangs up while "recording"
            yield pb.TranscribeAnswerRequest(audio_content=data[start : start + CHUNK])

    call = stubs.transcription.TranscribeAnswer(stream(), metadata=account.metadata)
    await halfway.wait()
    await asyncio.sleep(0.3)
    assert len(leftovers(upload_dir)) == 1, "the upload is being assembled on disk"
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(50):
        if not leftovers(upload_dir):
            break
        await asyncio.sleep(0.1)
    assert leftovers(upload_dir) == []
    assert not await has_transcription(stubs, account, attempt_id)


async def test_a_deadline_mid_upload_leaves_nothing(
    stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempt_id = await open_attempt(stubs, account)

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield config_message(attempt_id)
        yield pb.TranscribeAnswerRequest(audio_content=SPEECH_MP3.read_bytes()[:CHUNK])
        await asyncio.sleep(30)

    await expect_status(
        stubs.transcription.TranscribeAnswer(stream(), metadata=account.metadata, timeout=1.0),
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
    for _ in range(50):
        if not leftovers(upload_dir):
            break
        await asyncio.sleep(0.1)
    assert leftovers(upload_dir) == []
    assert not await has_transcription(stubs, account, attempt_id)


# --- limits, on a server with small ones -------------------------------------------


@pytest.fixture
async def strict(
    database_url: str, upload_dir: Path, whisper_engine: LocalWhisperEngine
) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        database_url,
        AUDIO_TEMP_DIR=str(upload_dir),
        AUDIO_MAX_BYTES=200_000,
        AUDIO_MAX_CHUNK_BYTES=64 * 1024,
        AUDIO_MAX_DURATION_SECONDS=3,
        AUDIO_IDLE_TIMEOUT_SECONDS=0.5,
    )
    server = await start_server(settings, stt_engine=whisper_engine)
    yield server
    await stop_server(server)


async def test_an_oversized_stream_is_refused_while_it_arrives(
    strict: RunningServer, upload_dir: Path
) -> None:
    account = await register(strict.stubs)
    attempt_id = await open_attempt(strict.stubs, account)
    sent = 0

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        nonlocal sent
        data = SPEECH_MP3.read_bytes()  # 1.1 MB, far over 200 kB
        yield config_message(attempt_id)
        for start in range(0, len(data), CHUNK):
            sent += CHUNK
            yield pb.TranscribeAnswerRequest(audio_content=data[start : start + CHUNK])
            await asyncio.sleep(0.005)

    error = await _expect_refused(
        strict.stubs, account, attempt_id, upload_dir, stream(), grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert reason(error) == "AUDIO_TOO_LARGE"
    # Refused with the byte that crossed the limit: the rest was drained, never kept.
    assert strict.app.audio_intake.budget.peak_bytes <= 200_000
    assert sent >= 1_000_000, "the refused stream is drained to its end"


async def test_an_oversized_chunk_is_refused(strict: RunningServer, upload_dir: Path) -> None:
    account = await register(strict.stubs)
    attempt_id = await open_attempt(strict.stubs, account)
    stream = messages(
        [config_message(attempt_id)], (AUDIO / "answer.wav").read_bytes(), size=100_000
    )
    error = await _expect_refused(
        strict.stubs, account, attempt_id, upload_dir, stream, grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert reason(error) == "AUDIO_CHUNK_TOO_LARGE"


async def test_audio_longer_than_the_limit_is_refused(
    strict: RunningServer, upload_dir: Path
) -> None:
    account = await register(strict.stubs)
    attempt_id = await open_attempt(strict.stubs, account)
    stream = messages([config_message(attempt_id)], (AUDIO / "answer-opus.ogg").read_bytes())
    error = await _expect_refused(
        strict.stubs, account, attempt_id, upload_dir, stream, grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert reason(error) == "AUDIO_TOO_LONG"


async def test_an_idle_client_is_cut_off(strict: RunningServer, upload_dir: Path) -> None:
    account = await register(strict.stubs)
    attempt_id = await open_attempt(strict.stubs, account)

    async def stream() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield config_message(attempt_id)
        yield pb.TranscribeAnswerRequest(audio_content=(AUDIO / "answer.wav").read_bytes()[:CHUNK])
        await asyncio.sleep(5)

    error = await _expect_refused(
        strict.stubs, account, attempt_id, upload_dir, stream(), grpc.StatusCode.DEADLINE_EXCEEDED
    )
    assert reason(error) == "AUDIO_IDLE_TIMEOUT"


# --- the OpenAI engine, against a local OpenAI-compatible server ----------------------


@pytest.fixture
async def via_openai(
    database_url: str, upload_dir: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        database_url,
        AUDIO_TEMP_DIR=str(upload_dir),
        **openai_settings(fake_openai, TRANSCRIPTION_ENGINE="openai", OPENAI_MAX_RETRIES=1),
    )
    server = await start_server(settings)
    await server.app.start()
    yield server
    await stop_server(server)


OPENAI_WORDS = [("I", 0.1, 0.2), ("trained", 0.2, 0.6), ("the", 0.6, 0.7), ("model", 0.7, 1.0)]


async def test_the_openai_engine_transcribes_and_a_retry_does_not_call_it_again(
    via_openai: RunningServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.on(
        TRANSCRIPTIONS,
        lambda _: Reply(200, transcription_verbose(OPENAI_WORDS, duration=6.5)),
    )
    account = await register(via_openai.stubs)
    attempt_id = await open_attempt(via_openai.stubs, account)
    path = AUDIO / "answer-opus.webm"
    first = await send_file(via_openai.stubs, account, attempt_id, path, request_id="r-1")
    assert first.transcription.text == "I trained the model"
    assert (first.transcription.engine, first.transcription.model) == ("openai", "whisper-1")
    assert [w.word for w in first.transcription.words] == ["I", "trained", "the", "model"]
    sent = fake_openai.requests_to(TRANSCRIPTIONS)[0].form()
    assert sent["model"] == "whisper-1"
    assert sent["response_format"] == "verbose_json"
    again = await send_file(via_openai.stubs, account, attempt_id, path, request_id="r-1")
    assert again == first
    assert len(fake_openai.requests_to(TRANSCRIPTIONS)) == 1


@pytest.mark.parametrize(
    "reply", [Reply(500, error_body("down")), Reply(200, {}, delay=3.0)], ids=["500", "timeout"]
)
async def test_an_openai_failure_is_unavailable_and_saves_nothing(
    via_openai: RunningServer, fake_openai: FakeOpenAI, upload_dir: Path, reply: Reply
) -> None:
    fake_openai.on(TRANSCRIPTIONS, lambda _: reply)
    account = await register(via_openai.stubs)
    attempt_id = await open_attempt(via_openai.stubs, account)
    stream = messages([config_message(attempt_id)], (AUDIO / "answer.mp3").read_bytes())
    await _expect_refused(
        via_openai.stubs, account, attempt_id, upload_dir, stream, grpc.StatusCode.UNAVAILABLE
    )
