"""Hostile streams against the real server: what one account may hold, what a stream may
cost, config checks before any audio, and early refusals every Python client can read.

The engine is a stand-in that answers at once (or when a test lets it), so these tests
exercise the stream, its limits and its refusals, not Whisper.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from clients.samvaad_cli import api
from clients.samvaad_cli.credentials import CredentialStore
from clients.samvaad_cli.errors import describe
from clients.samvaad_cli.session import ServerOptions, Session
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import transcription_pb2 as pb
from generated.samvaad.v1 import transcription_pb2_grpc
from server.api.transcription_servicer import DRAIN_MAX_MESSAGES
from server.audio import UPLOAD_PREFIX
from server.domain import transcriptions as transcriptions_module
from server.domain.analysis.delivery import analyse_delivery
from server.domain.transcriptions import AnswerConfig, TranscriptionService
from server.engines.stt import TranscribedWord, TranscriptionContext, TranscriptResult
from server.errors import InvalidArgument
from tests.audio_assets import AUDIO
from tests.helpers import (
    Account,
    RunningServer,
    Stubs,
    detail,
    make_settings,
    reason,
    register,
    start_server,
    stop_server,
    violated_fields,
)

KiB = 1024
MiB = 1024 * KiB
WAV = (AUDIO / "answer.wav").read_bytes()  # 208 KB of 16 kHz PCM
INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
CALL_TIMEOUT = 20.0
METHOD = "/samvaad.v1.TranscriptionService/TranscribeAnswer"


class StandInEngine:
    """Answers at once, or once `gate` is set; counts its calls."""

    name = "local"
    model = "stand-in"

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def load(self) -> None:
        return None

    async def transcribe(
        self, path: Path, *, language: str, context: TranscriptionContext
    ) -> TranscriptResult:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        words = [TranscribedWord("I", 0.1, 0.2, 0.9), TranscribedWord("deployed", 0.2, 0.7, 0.9)]
        return TranscriptResult("I deployed", words, language, 6.5, self.name, self.model)

    async def close(self) -> None:
        return None


@pytest.fixture
def engine() -> StandInEngine:
    return StandInEngine()


@pytest.fixture
def server_stt_engine(engine: StandInEngine) -> StandInEngine:
    return engine


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def settings_overrides(upload_dir: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    extra: dict[str, Any] = getattr(request, "param", None) or {}
    # A short drain: the tests whose client never half-closes wait it out.
    return {"AUDIO_TEMP_DIR": str(upload_dir), "AUDIO_DRAIN_SECONDS": 1, **extra}


def limits(**settings: Any) -> pytest.MarkDecorator:
    """Server settings for one test."""
    return pytest.mark.parametrize("settings_overrides", [settings], indirect=True, ids=["limits"])


async def open_attempts(stubs: Stubs, account: Account, count: int = 3) -> list[int]:
    interview = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track="backend"), metadata=account.metadata
    )
    await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=count),
        metadata=account.metadata,
    )
    listed = await stubs.interview.ListQuestionAttempts(
        ipb.ListQuestionAttemptsRequest(interview_id=interview.interview.id),
        metadata=account.metadata,
    )
    return [attempt.id for attempt in listed.question_attempts]


def config_message(attempt_id: int, **fields: Any) -> pb.TranscribeAnswerRequest:
    return pb.TranscribeAnswerRequest(
        config=pb.AudioConfig(question_attempt_id=attempt_id, **fields)
    )


def audio_message(chunk: bytes) -> pb.TranscribeAnswerRequest:
    return pb.TranscribeAnswerRequest(audio_content=chunk)


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


async def whole_file(
    attempt_id: int, data: bytes = WAV, size: int = 32 * KiB, **config: Any
) -> AsyncIterator[pb.TranscribeAnswerRequest]:
    yield config_message(attempt_id, **config)
    for chunk in pieces(data, size):
        yield audio_message(chunk)


async def config_then_wait(
    attempt_id: int, sent: list[int] | None = None, **config: str
) -> AsyncIterator[pb.TranscribeAnswerRequest]:
    """The config, then nothing: whatever the server answers, it decided without audio."""
    yield config_message(attempt_id, **config)
    if sent is not None:
        sent.append(1)
    await asyncio.Event().wait()


async def failure(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def retry_delay(error: grpc.aio.AioRpcError) -> float:
    return float(detail(error, error_details_pb2.RetryInfo).retry_delay.ToTimedelta().seconds)


def leftovers(upload_dir: Path) -> list[Path]:
    return list(upload_dir.glob(f"{UPLOAD_PREFIX}*")) if upload_dir.exists() else []


async def eventually(condition: Any, what: str) -> None:
    """Wait (by polling, not by timing) until the server reaches a state."""
    for _ in range(3000):  # generous: only a broken server runs out (30 s)
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


class HeldStream:
    """An upload that sends its config and a first chunk, then waits to be released."""

    def __init__(self, stubs: Stubs, account: Account, attempt_id: int, head: int = 4 * KiB):
        self.release = asyncio.Event()
        self.cancel = False

        async def messages() -> AsyncIterator[pb.TranscribeAnswerRequest]:
            yield config_message(attempt_id)
            for chunk in pieces(WAV[:head], 32 * KiB):
                yield audio_message(chunk)
            await self.release.wait()
            if self.cancel:
                return
            for chunk in pieces(WAV[head:], 32 * KiB):
                yield audio_message(chunk)

        self.call = stubs.transcription.TranscribeAnswer(
            messages(), metadata=account.metadata, timeout=CALL_TIMEOUT
        )
        self.task = asyncio.ensure_future(self.call)

    async def finish(self) -> pb.TranscribeAnswerResponse:
        self.release.set()
        return await self.task

    async def hang_up(self) -> None:
        self.call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


def service(running: RunningServer) -> TranscriptionService:
    return running.app.transcriptions


# --- config fields are checked when the config arrives (4c) -------------------------------

HOSTILE_FIELDS = [
    ("request_id", "retry\x00-1"),
    ("request_id", "\x1b[31mred"),
    ("request_id", "next\u0085line"),  # a C1 control
    ("request_id", "right\u202eto-left"),  # an invisible format character, in a key
    ("language", "en\x00"),
    ("filename", "answer\x00.wav"),
    ("filename", "\x07bell.wav"),
    ("mime_type", "audio/wav\x00"),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE_FIELDS)
async def test_control_characters_in_any_config_field_are_refused_before_any_audio(
    stubs: Stubs,
    account: Account,
    engine: StandInEngine,
    upload_dir: Path,
    field: str,
    value: str,
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account)
    error = await failure(
        stubs.transcription.TranscribeAnswer(
            config_then_wait(attempt_id, None, **{field: value}),
            metadata=account.metadata,
            timeout=CALL_TIMEOUT,
        )
    )
    assert error.code() == INVALID, f"{error.code()}: {error.details()}"
    assert violated_fields(error) == {f"config.{field}"}
    if field != "language":
        assert reason(error) == "CONFIG_FIELD_INVALID_CHARACTER"
    assert engine.calls == 0
    assert leftovers(upload_dir) == []


@pytest.mark.parametrize(
    ("field", "length"), [("language", 10_000), ("mime_type", 100_000), ("filename", 50_000)]
)
async def test_overlong_config_fields_are_refused_with_a_short_answer(
    stubs: Stubs, account: Account, field: str, length: int
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account)
    error = await failure(
        stubs.transcription.TranscribeAnswer(
            config_then_wait(attempt_id, None, **{field: "a" * length}),
            metadata=account.metadata,
            timeout=CALL_TIMEOUT,
        )
    )
    assert error.code() == INVALID, f"{error.code()}: {error.details()}"
    assert reason(error) == "CONFIG_FIELD_TOO_LONG"
    assert len(error.details() or "") < 500


def _utf8_field(number: int, raw: bytes) -> bytes:
    return bytes([(number << 3) | 2, len(raw)]) + raw


@pytest.mark.parametrize("field_number", [2, 3, 4, 5])  # language, filename, mime_type, request_id
async def test_a_lone_surrogate_in_any_config_string_is_invalid_argument(
    stubs: Stubs, account: Account, running: RunningServer, field_number: int
) -> None:
    """A surrogate encoded as UTF-8 (CESU style) is not UTF-8: the message is malformed."""
    [attempt_id, *_] = await open_attempts(stubs, account)
    config = (
        bytes([0x08]) + _encode_varint(attempt_id) + _utf8_field(field_number, b"a\xed\xa0\x80")
    )
    first = _utf8_field(1, config)
    call = running.stubs.channel.stream_unary(METHOD)

    async def raw() -> AsyncIterator[bytes]:
        yield first
        await asyncio.Event().wait()

    error = await failure(call(raw(), metadata=account.metadata, timeout=CALL_TIMEOUT))
    assert error.code() == INVALID, f"{error.code()}: {error.details()}"


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@pytest.mark.parametrize("field", ["request_id", "language", "filename", "mime_type"])
def test_the_domain_refuses_lone_surrogates_in_every_field(field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        transcriptions_module._validate(AnswerConfig(question_attempt_id=1, **{field: "a\ud800b"}))
    assert caught.value.violations[0].field == f"config.{field}"


class EnglishOnlyEngine(StandInEngine):
    def check_language(self, raw: str) -> str:
        if raw not in ("", "en"):
            raise InvalidArgument.for_field(
                "config.language", "English only", reason="LANGUAGE_UNSUPPORTED"
            )
        return "en"


async def test_a_language_the_engine_cannot_do_is_refused_before_any_audio(
    database_url: str, upload_dir: Path
) -> None:
    engine = EnglishOnlyEngine()
    server = await start_server(
        make_settings(database_url, AUDIO_TEMP_DIR=str(upload_dir), AUDIO_DRAIN_SECONDS=1),
        stt_engine=engine,
    )
    try:
        account = await register(server.stubs)
        [attempt_id, *_] = await open_attempts(server.stubs, account)
        error = await failure(
            server.stubs.transcription.TranscribeAnswer(
                config_then_wait(attempt_id, None, language="hi"),
                metadata=account.metadata,
                timeout=CALL_TIMEOUT,
            )
        )
    finally:
        await stop_server(server)
    assert error.code() == INVALID, f"{error.code()}: {error.details()}"
    assert reason(error) == "LANGUAGE_UNSUPPORTED"
    assert engine.calls == 0


# --- a WAV no decoder reads (4b) -------------------------------------------------------------


def wav_with(format_tag: int = 1, bits: int = 16, channels: int = 1, rate: int = 16_000) -> bytes:
    block_align = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block_align, block_align, bits)
    data = WAV[44:]
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


@pytest.mark.parametrize(
    "header",
    [{"format_tag": 0x1234}, {"format_tag": 0x0002, "bits": 0}, {"bits": 0}, {"format_tag": 0}],
    ids=["unknown-format-tag", "adpcm-0-bits", "pcm-0-bits", "format-tag-0"],
)
async def test_a_wav_no_decoder_reads_is_invalid_argument(
    stubs: Stubs, account: Account, engine: StandInEngine, header: dict[str, int]
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account)
    error = await failure(
        stubs.transcription.TranscribeAnswer(
            whole_file(attempt_id, wav_with(**header)), metadata=account.metadata
        )
    )
    assert error.code() == INVALID, f"{error.code()}: {error.details()}"
    assert reason(error) in {"AUDIO_UNDECODABLE", "AUDIO_CORRUPT", "AUDIO_FORMAT_UNSUPPORTED"}
    assert engine.calls == 0
    # The server is fine: the real file goes through.
    reply = await stubs.transcription.TranscribeAnswer(
        whole_file(attempt_id), metadata=account.metadata
    )
    assert reply.transcription.text == "I deployed"


async def test_a_wav_whose_format_tag_has_no_decoder_names_the_reason(
    stubs: Stubs, account: Account
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account)
    error = await failure(
        stubs.transcription.TranscribeAnswer(
            whole_file(attempt_id, wav_with(format_tag=0x1234)), metadata=account.metadata
        )
    )
    assert error.code() == INVALID
    assert reason(error) == "AUDIO_UNDECODABLE"


# --- what one account and one process may hold (5) -------------------------------------------


@limits(AUDIO_MAX_STREAMS_PER_USER=2)
async def test_a_third_stream_of_one_user_is_refused_at_its_config(
    running: RunningServer, stubs: Stubs, account: Account, engine: StandInEngine
) -> None:
    attempts = await open_attempts(stubs, account, 4)
    held = [HeldStream(stubs, account, attempt_id) for attempt_id in attempts[:2]]
    await eventually(
        lambda: service(running).admission.streams_of(account.user.id) == 2, "two streams held"
    )
    sent: list[int] = []
    error = await failure(
        stubs.transcription.TranscribeAnswer(
            config_then_wait(attempts[2], sent), metadata=account.metadata, timeout=CALL_TIMEOUT
        )
    )
    assert error.code() == EXHAUSTED, f"{error.code()}: {error.details()}"
    assert reason(error) == "TOO_MANY_AUDIO_STREAMS"
    assert retry_delay(error) > 0
    assert sent == [1]  # only the config was ever offered
    # Another account is not affected.
    other = await register(stubs)
    [other_attempt, *_] = await open_attempts(stubs, other, 1)
    reply = await stubs.transcription.TranscribeAnswer(
        whole_file(other_attempt), metadata=other.metadata
    )
    assert reply.audio.size_bytes == len(WAV)
    # Once the held streams end, the user may stream again.
    for stream in held:
        assert (await stream.finish()).audio.size_bytes == len(WAV)
    assert service(running).admission.streams_of(account.user.id) == 0
    reply = await stubs.transcription.TranscribeAnswer(
        whole_file(attempts[2]), metadata=account.metadata
    )
    assert reply.audio.size_bytes == len(WAV)


@limits(TRANSCRIPTION_MAX_PENDING=2, AUDIO_MAX_STREAMS_PER_USER=5)
async def test_busy_is_decided_at_the_config_and_held_until_the_result(
    running: RunningServer, stubs: Stubs, account: Account, engine: StandInEngine
) -> None:
    engine.gate = asyncio.Event()
    attempts = await open_attempts(stubs, account, 4)
    # One stream still uploading, one whose transcription is running.
    uploading = HeldStream(stubs, account, attempts[0])
    transcribing = asyncio.ensure_future(
        stubs.transcription.TranscribeAnswer(
            whole_file(attempts[1]), metadata=account.metadata, timeout=CALL_TIMEOUT
        )
    )
    await eventually(lambda: engine.calls == 1, "the engine is working on one answer")
    # The held stream's config may be admitted after the other's upload finished.
    await eventually(lambda: service(running).admission.active == 2, "both streams admitted")
    other = await register(stubs)
    [other_attempt, *_] = await open_attempts(stubs, other, 1)
    sent: list[int] = []
    error = await failure(
        stubs.transcription.TranscribeAnswer(
            config_then_wait(other_attempt, sent), metadata=other.metadata, timeout=CALL_TIMEOUT
        )
    )
    assert error.code() == EXHAUSTED, f"{error.code()}: {error.details()}"
    assert reason(error) == "TRANSCRIPTION_BUSY"
    assert retry_delay(error) > 0
    assert sent == [1]
    engine.gate.set()
    assert (await transcribing).transcription.text == "I deployed"
    assert (await uploading.finish()).transcription.text == "I deployed"
    assert service(running).admission.active == 0
    reply = await stubs.transcription.TranscribeAnswer(
        whole_file(other_attempt), metadata=other.metadata
    )
    assert reply.transcription.text == "I deployed"


@limits(AUDIO_MAX_STREAM_SECONDS=1, AUDIO_IDLE_TIMEOUT_SECONDS=30)
async def test_a_trickling_stream_is_cut_off_at_the_wall_time_cap(
    running: RunningServer, stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account)
    sent = 0

    async def trickle() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        nonlocal sent
        yield config_message(attempt_id)
        for chunk in pieces(WAV, KiB):  # 200 messages, each well within the idle timeout
            sent += 1
            yield audio_message(chunk)
            await asyncio.sleep(0.05)

    error = await failure(
        stubs.transcription.TranscribeAnswer(
            trickle(), metadata=account.metadata, timeout=CALL_TIMEOUT
        )
    )
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
    assert reason(error) == "AUDIO_STREAM_TIME_LIMIT"
    assert sent < len(pieces(WAV, KiB))
    await eventually(lambda: leftovers(upload_dir) == [], "the upload file is removed")
    assert service(running).admission.active == 0
    assert running.app.audio_intake.budget.used_bytes == 0


@limits(
    AUDIO_MAX_BYTES=200 * KiB,
    AUDIO_MAX_CHUNK_BYTES=64 * KiB,
    AUDIO_TEMP_BUDGET_BYTES=300 * KiB,
    AUDIO_MAX_STREAMS_PER_USER=5,
)
async def test_uploads_beyond_the_temp_disk_budget_are_refused_and_removed(
    running: RunningServer, stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    attempts = await open_attempts(stubs, account, 3)
    held = HeldStream(stubs, account, attempts[0], head=160 * KiB)
    budget = running.app.audio_intake.budget
    await eventually(lambda: budget.used_bytes == 160 * KiB, "the first upload holds 160 KiB")

    async def second() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield config_message(attempts[1])
        for chunk in pieces(WAV[: 190 * KiB], 10 * KiB):
            yield audio_message(chunk)

    error = await failure(
        stubs.transcription.TranscribeAnswer(
            second(), metadata=account.metadata, timeout=CALL_TIMEOUT
        )
    )
    assert error.code() == EXHAUSTED, f"{error.code()}: {error.details()}"
    assert reason(error) == "AUDIO_TEMP_BUDGET_EXHAUSTED"
    assert retry_delay(error) > 0
    # Only the held upload's file is left, and only its bytes are counted.
    assert len(leftovers(upload_dir)) == 1
    assert budget.used_bytes == 160 * KiB
    assert budget.peak_bytes <= 300 * KiB
    await held.hang_up()
    await eventually(lambda: budget.used_bytes == 0, "the budget is given back")
    await eventually(lambda: leftovers(upload_dir) == [], "no upload file is left")


# --- what one stream may cost (6) ----------------------------------------------------------


async def test_one_byte_chunks_are_refused_at_the_second_one(
    stubs: Stubs, account: Account, engine: StandInEngine
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account)
    offered = 0

    async def tiny() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        nonlocal offered
        yield config_message(attempt_id)
        for byte in WAV[:100_000]:
            offered += 1
            yield audio_message(bytes([byte]))

    error = await failure(stubs.transcription.TranscribeAnswer(tiny(), metadata=account.metadata))
    assert error.code() == INVALID, f"{error.code()}: {error.details()}"
    assert reason(error) == "AUDIO_CHUNK_TOO_SMALL"
    assert engine.calls == 0


async def test_chunks_of_the_minimum_with_a_short_last_one_are_accepted(
    stubs: Stubs, account: Account
) -> None:
    """And live PCM's shape: 100 ms frames of 16 kHz 16-bit audio (3,200 bytes)."""
    attempts = await open_attempts(stubs, account, 2)
    assert len(WAV) % KiB != 0  # so the last chunk is short
    for attempt_id, size in zip(attempts, (KiB, 3200), strict=True):
        reply = await stubs.transcription.TranscribeAnswer(
            whole_file(attempt_id, size=size), metadata=account.metadata
        )
        assert reply.audio.size_bytes == len(WAV)


@limits(AUDIO_MAX_MESSAGES_PER_STREAM=50)
async def test_a_stream_of_more_messages_than_the_cap_is_refused(
    stubs: Stubs, account: Account, engine: StandInEngine
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account)
    error = await failure(
        stubs.transcription.TranscribeAnswer(
            whole_file(attempt_id, size=2 * KiB), metadata=account.metadata
        )
    )
    assert error.code() == EXHAUSTED, f"{error.code()}: {error.details()}"
    assert reason(error) == "AUDIO_TOO_MANY_MESSAGES"
    assert engine.calls == 0


# --- early refusals reach every Python client (13) ------------------------------------------

# Sent after the point of refusal, so the client is still writing when it comes.
TAIL = pieces(bytes(4 * MiB), 64 * KiB)


def refused_case_settings() -> dict[str, Any]:
    # A drain long enough for the whole tail on a busy machine: these clients half-close.
    return {
        "AUDIO_MAX_BYTES": 512 * KiB,
        "AUDIO_MAX_CHUNK_BYTES": 128 * KiB,
        "AUDIO_DRAIN_SECONDS": 20,
    }


EARLY_REFUSALS = [
    "attempt-not-found",
    "already-answered",
    "bad-request-id",
    "too-large",
    "chunk-too-large",
    "not-audio",
    "too-many-streams",
]


async def early_refusal(
    case: str, running: RunningServer, stubs: Stubs, account: Account
) -> tuple[Account, list[pb.TranscribeAnswerRequest], grpc.StatusCode, str, list[HeldStream]]:
    """The messages a client sends, the status it must get, and streams held for it."""
    attempts = await open_attempts(stubs, account, 4)
    tail = [audio_message(chunk) for chunk in TAIL]
    wav = [audio_message(chunk) for chunk in pieces(WAV, 64 * KiB)]
    held: list[HeldStream] = []
    if case == "attempt-not-found":
        stranger = await register(stubs)
        first = [config_message(attempts[0])]
        return stranger, [*first, *wav, *tail], grpc.StatusCode.NOT_FOUND, "ATTEMPT_NOT_FOUND", []
    if case == "already-answered":
        await stubs.transcription.TranscribeAnswer(
            whole_file(attempts[0], request_id="first"), metadata=account.metadata
        )
        first = [config_message(attempts[0], request_id="second")]
        return (
            account,
            [*first, *wav, *tail],
            grpc.StatusCode.FAILED_PRECONDITION,
            "ATTEMPT_ALREADY_ANSWERED",
            [],
        )
    if case == "bad-request-id":
        first = [config_message(attempts[0], request_id="a\x00b")]
        return account, [*first, *wav, *tail], INVALID, "CONFIG_FIELD_INVALID_CHARACTER", []
    if case == "too-large":
        return account, [config_message(attempts[0]), *wav, *tail], EXHAUSTED, "AUDIO_TOO_LARGE", []
    if case == "chunk-too-large":
        big = [audio_message(WAV[: 200 * KiB])]
        return (
            account,
            [config_message(attempts[0]), *big, *tail],
            EXHAUSTED,
            "AUDIO_CHUNK_TOO_LARGE",
            [],
        )
    if case == "not-audio":
        junk = [audio_message(b"this is not audio " * 100)]
        return (
            account,
            [config_message(attempts[0]), *junk, *tail],
            INVALID,
            "AUDIO_FORMAT_UNSUPPORTED",
            [],
        )
    assert case == "too-many-streams"
    held = [HeldStream(stubs, account, attempt_id) for attempt_id in attempts[1:3]]
    await eventually(
        lambda: service(running).admission.streams_of(account.user.id) == 2, "two streams held"
    )
    messages = [config_message(attempts[0]), *wav, *tail]
    return account, messages, EXHAUSTED, "TOO_MANY_AUDIO_STREAMS", held


@pytest.mark.parametrize("case", EARLY_REFUSALS)
@limits(**refused_case_settings())
async def test_an_asyncio_client_with_a_request_iterator_gets_the_real_status(
    running: RunningServer, stubs: Stubs, account: Account, case: str
) -> None:
    caller, messages, code, why, held = await early_refusal(case, running, stubs, account)

    async def requests() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        for message in messages:
            yield message

    # A channel of its own, as a separate client process would have.
    async with grpc.aio.insecure_channel(running.address) as channel:
        stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
        error = await failure(
            stub.TranscribeAnswer(requests(), metadata=caller.metadata, timeout=CALL_TIMEOUT)
        )
    assert error.code() == code, f"{error.code()}: {error.details()}"
    assert reason(error) == why
    for stream in held:
        await stream.hang_up()


@pytest.mark.parametrize("case", EARLY_REFUSALS)
@limits(**refused_case_settings())
async def test_a_sync_client_with_a_generator_gets_the_real_status(
    running: RunningServer, stubs: Stubs, account: Account, case: str
) -> None:
    caller, messages, code, why, held = await early_refusal(case, running, stubs, account)

    def call() -> grpc.RpcError:
        with grpc.insecure_channel(running.address) as channel:
            stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
            try:
                stub.TranscribeAnswer(
                    iter(messages), metadata=caller.metadata, timeout=CALL_TIMEOUT
                )
            except grpc.RpcError as error:
                return error
        raise AssertionError("the call succeeded")

    error: Any = await asyncio.to_thread(call)
    assert error.code() == code, f"{error.code()}: {error.details()}"
    assert describe(error).reason == why
    for stream in held:
        await stream.hang_up()


@limits(**refused_case_settings())
async def test_the_cli_shows_the_real_reason_of_an_early_refusal(
    running: RunningServer, stubs: Stubs, account: Account, tmp_path: Path
) -> None:
    """`samvaad transcribe` of a file over the size limit: the CLI's own upload code."""
    [attempt_id, *_] = await open_attempts(stubs, account, 1)
    big = tmp_path / "long.wav"
    big.write_bytes(WAV * 12)  # 2.4 MB, over the 512 KiB limit

    def transcribe() -> grpc.RpcError:
        store = CredentialStore(tmp_path / "cli")
        with Session(ServerOptions(address=running.address), store) as session:
            session.login(account.user.email, account.password)
            try:
                api.transcribe(session, attempt_id, big)
            except grpc.RpcError as error:
                return error
        raise AssertionError("the call succeeded")

    error = await asyncio.to_thread(transcribe)
    failure_seen = describe(error)
    assert failure_seen.code == "RESOURCE_EXHAUSTED", failure_seen.lines()
    assert failure_seen.reason == "AUDIO_TOO_LARGE"


@limits(AUDIO_MAX_BYTES=512 * KiB, AUDIO_MAX_CHUNK_BYTES=128 * KiB, AUDIO_DRAIN_MAX_BYTES=64 * KiB)
async def test_the_drain_is_bounded_and_holds_nothing(
    running: RunningServer, stubs: Stubs, account: Account, upload_dir: Path
) -> None:
    """A refused client that keeps sending is read no further than the drain's bounds."""
    [attempt_id, *_] = await open_attempts(stubs, account, 1)
    stranger = await register(stubs)
    offered = 0
    states: list[tuple[int, int, int]] = []

    async def endless() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        nonlocal offered
        yield config_message(attempt_id)
        while offered < 64 * MiB:
            offered += 64 * KiB
            states.append(
                (
                    service(running).admission.streams_of(stranger.user.id),
                    service(running).admission.active,
                    running.app.audio_intake.budget.used_bytes,
                )
            )
            yield audio_message(bytes(64 * KiB))

    with pytest.raises(grpc.aio.AioRpcError):
        await stranger_call(stubs, stranger, endless())
    # The server stopped reading long before the client would have stopped sending.
    assert offered < 64 * MiB
    assert leftovers(upload_dir) == []
    # The refused stream never held disk, and it was counted only until its refusal,
    # never while it was drained: the counts rose at most once and fell back for good.
    # (The client's samples cannot tell the drain from the check before it, so the
    # shape is what is asserted, not the last few samples.)
    assert states and all(used == 0 for _, _, used in states)
    runs = [held for held, _ in itertools.groupby(state != (0, 0, 0) for state in states)]
    assert runs in ([False], [True], [False, True], [True, False], [False, True, False]), states
    assert (
        service(running).admission.streams_of(stranger.user.id),
        service(running).admission.active,
        running.app.audio_intake.budget.used_bytes,
    ) == (0, 0, 0)


async def stranger_call(
    stubs: Stubs, account: Account, messages: AsyncIterator[pb.TranscribeAnswerRequest]
) -> pb.TranscribeAnswerResponse:
    return await stubs.transcription.TranscribeAnswer(
        messages, metadata=account.metadata, timeout=CALL_TIMEOUT
    )


def test_the_drain_message_bound_covers_a_whole_upload_in_the_cli_chunks() -> None:
    from clients.samvaad_cli.audio import CHUNK_BYTES

    assert 25 * MiB <= DRAIN_MAX_MESSAGES * CHUNK_BYTES


# --- no work proportional to the input on the event loop (3) -------------------------------


async def test_delivery_analysis_and_the_reply_are_built_off_the_event_loop(
    stubs: Stubs, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    [attempt_id, *_] = await open_attempts(stubs, account, 1)
    threads: list[str] = []
    real = analyse_delivery

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(transcriptions_module, "analyse_delivery", recording)
    loop_thread = threading.current_thread().name
    reply = await stubs.transcription.TranscribeAnswer(
        whole_file(attempt_id), metadata=account.metadata
    )
    assert reply.delivery.word_count == 2
    assert threads and loop_thread not in threads
