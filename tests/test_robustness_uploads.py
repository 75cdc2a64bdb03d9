"""Fifty answers uploaded at once, a random share of them cancelled at random moments.

The engine is the OpenAI one against tests/fake_openai.py (a real local HTTP server)
with random answer delays, so cancellations land before the config, mid-upload, while
the audio is checked, and while the engine works. Afterwards no upload file is left,
every attempt has either a whole transcription or none, and each call that succeeded
is stored exactly as it was answered.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from generated.samvaad.v1 import auth_pb2
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import transcription_pb2 as pb
from server.audio import UPLOAD_PREFIX
from server.db.models import QuestionAttempt
from tests.audio_assets import AUDIO
from tests.fake_openai import TRANSCRIPTIONS, FakeOpenAI, RecordedRequest, Reply
from tests.fake_openai import transcription_verbose as verbose
from tests.helpers import (
    Account,
    RunningServer,
    make_settings,
    openai_settings,
    register,
    start_server,
    stop_server,
)

USERS = 5
ATTEMPTS_PER_USER = 10  # 50 uploads
CHUNK = 2 * 1024
WORDS = [("I", 0.1, 0.2), ("deployed", 0.2, 0.7), ("it", 0.7, 0.8), ("there", 0.8, 1.1)]
PLANS = ["complete", "cancel-at-once", "cancel-mid-upload", "cancel-after-upload"]
WEIGHTS = [4, 1, 3, 3]


@dataclass(frozen=True)
class Plan:
    kind: str
    after_chunks: int  # cancel-mid-upload: cancel once this many chunks are sent
    delay: float  # cancel-after-upload: cancel this long after the last chunk


@dataclass(frozen=True)
class Outcome:
    attempt_id: int
    plan: Plan
    code: grpc.StatusCode
    reply: pb.TranscribeAnswerResponse | None


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
async def via_openai(
    database_url: str, upload_dir: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        database_url,
        AUDIO_TEMP_DIR=str(upload_dir),
        # Every upload at once: the per-account and per-process bounds are not under test.
        AUDIO_MAX_STREAMS_PER_USER=ATTEMPTS_PER_USER,
        TRANSCRIPTION_MAX_PENDING=USERS * ATTEMPTS_PER_USER,
        **openai_settings(fake_openai, TRANSCRIPTION_ENGINE="openai", OPENAI_TIMEOUT_SECONDS=10),
    )
    server = await start_server(settings)
    await server.app.start()
    yield server
    await stop_server(server)


def slow_transcriptions(seed: int) -> object:
    """Answers after a random 0-300 ms, so some calls are cancelled while the engine works."""
    delays = random.Random(seed)

    def reply(_request: RecordedRequest) -> Reply:
        return Reply(200, verbose(WORDS, duration=6.5), delay=delays.uniform(0.0, 0.3))

    return reply


async def open_attempts(running: RunningServer, account: Account) -> list[int]:
    stubs = running.stubs
    interview = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track="backend"), metadata=account.metadata
    )
    await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=ATTEMPTS_PER_USER),
        metadata=account.metadata,
    )
    listed = await stubs.interview.ListQuestionAttempts(
        ipb.ListQuestionAttemptsRequest(interview_id=interview.interview.id),
        metadata=account.metadata,
    )
    return [attempt.id for attempt in listed.question_attempts]


def draw_plan(rng: random.Random, chunk_count: int) -> Plan:
    kind = rng.choices(PLANS, WEIGHTS)[0]
    return Plan(kind, rng.randint(1, chunk_count - 1), rng.uniform(0.0, 0.4))


async def upload(
    running: RunningServer, account: Account, attempt_id: int, audio: bytes, plan: Plan
) -> Outcome:
    chunks = [audio[i : i + CHUNK] for i in range(0, len(audio), CHUNK)]
    reached = asyncio.Event()
    all_sent = asyncio.Event()

    async def messages() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield pb.TranscribeAnswerRequest(config=pb.AudioConfig(question_attempt_id=attempt_id))
        for index, chunk in enumerate(chunks):
            if index == plan.after_chunks:
                reached.set()
            yield pb.TranscribeAnswerRequest(audio_content=chunk)
            await asyncio.sleep(0)  # let the other uploads interleave
        all_sent.set()

    call = running.stubs.transcription.TranscribeAnswer(
        messages(), metadata=account.metadata, timeout=60
    )
    answered = asyncio.ensure_future(call)
    if plan.kind != "complete":
        trigger = {
            "cancel-at-once": None,
            "cancel-mid-upload": reached,
            "cancel-after-upload": all_sent,
        }[plan.kind]
        if trigger is not None:
            waiting = asyncio.ensure_future(trigger.wait())
            await asyncio.wait([waiting, answered], return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
        if plan.kind == "cancel-after-upload":
            await asyncio.sleep(plan.delay)
        call.cancel()
    try:
        reply = await answered
    except asyncio.CancelledError:
        return Outcome(attempt_id, plan, grpc.StatusCode.CANCELLED, None)
    except grpc.aio.AioRpcError as error:
        return Outcome(attempt_id, plan, error.code(), None)
    return Outcome(attempt_id, plan, grpc.StatusCode.OK, reply)


async def no_upload_files_left(upload_dir: Path) -> list[Path]:
    """Cancelled handlers clean up as they unwind: give them a moment."""
    left: list[Path] = []
    for _ in range(100):
        left = list(upload_dir.glob(f"{UPLOAD_PREFIX}*")) if upload_dir.exists() else []
        if not left:
            break
        await asyncio.sleep(0.1)
    return left


@pytest.mark.parametrize("seed", [1, 2])
async def test_fifty_uploads_with_random_cancellations_leave_nothing_behind(
    via_openai: RunningServer, fake_openai: FakeOpenAI, upload_dir: Path, seed: int
) -> None:
    fake_openai.on(TRANSCRIPTIONS, slow_transcriptions(seed))  # type: ignore[arg-type]
    rng = random.Random(seed)
    audio = (AUDIO / "answer-opus.ogg").read_bytes()
    chunk_count = -(-len(audio) // CHUNK)
    jobs = []
    accounts = [await register(via_openai.stubs) for _ in range(USERS)]
    for account in accounts:
        for attempt_id in await open_attempts(via_openai, account):
            jobs.append((account, attempt_id, draw_plan(rng, chunk_count)))

    outcomes = await asyncio.gather(
        *(
            upload(via_openai, account, attempt_id, audio, plan)
            for account, attempt_id, plan in jobs
        )
    )

    codes = {outcome.code for outcome in outcomes}
    assert codes <= {grpc.StatusCode.OK, grpc.StatusCode.CANCELLED}, codes
    assert {grpc.StatusCode.OK, grpc.StatusCode.CANCELLED} <= codes, "both should happen"
    assert await no_upload_files_left(upload_dir) == []
    async with via_openai.app.database.transaction() as uow:
        rows = {
            row.id: row
            for row in (await uow.session.execute(select(QuestionAttempt))).scalars().all()
        }
    for outcome in outcomes:
        row = rows[outcome.attempt_id]
        stored = [row.transcript_text, row.transcript_words, row.audio_size_bytes, row.request_id]
        if row.transcribed_at is None:
            assert stored[:3] == [None, None, None], f"attempt {row.id} is half-written"
            assert outcome.code != grpc.StatusCode.OK, f"attempt {row.id} lost its answer"
        else:
            assert row.transcript_text == "I deployed it there"
            assert row.audio_size_bytes == len(audio)
            assert len(row.transcript_words or []) == len(WORDS)
        if outcome.reply is not None:
            assert outcome.reply.transcription.text == row.transcript_text
    # The server is still healthy and serving.
    me = await via_openai.stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=accounts[0].metadata)
    assert me.user.id == accounts[0].user.id
