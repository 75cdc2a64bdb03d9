"""SIGTERM while answers are being uploaded, to a real server process.

Health must turn NOT_SERVING first, so load balancers stop sending; calls in flight
finish within the grace period; and whatever the shutdown cut short leaves nothing
half-written: no upload files in AUDIO_TEMP_DIR, and every attempt either has a whole
transcription or none at all.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import select

from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import transcription_pb2 as pb
from server.audio import UPLOAD_PREFIX
from server.db.engine import create_engine
from server.db.models import QuestionAttempt
from tests.audio_assets import AUDIO, SPEECH_MP3
from tests.helpers import Account, Stubs, register, stubs_for

CHUNK = 16 * 1024
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING
START_TIMEOUT_SECONDS = 90.0
SIGNAL_TIMEOUT_SECONDS = 10.0


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    upload_dir: Path
    log_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spawn(tmp_path: Path, database_url: str, grace_seconds: float) -> ServerProcess:
    port = _free_port()
    upload_dir = tmp_path / "uploads"
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=database_url,
        MIGRATE_ON_START="false",  # the fixture database is migrated already
        BACKEND_SERVER_PORT=str(port),
        AUDIO_TEMP_DIR=str(upload_dir),
        AUDIO_MAX_STREAMS_PER_USER="3",  # the tests hold three uploads of one account
        PASSWORD_HASH_PROFILE="test_only_cheap",
        SERVER_GRACE_PERIOD_SECONDS=str(grace_seconds),
        LOG_FORMAT="json",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    return ServerProcess(process, port, upload_dir, log_path)


async def _wait_until_serving(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    async with grpc.aio.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert server.process.poll() is None, f"the server exited:\n{server.log()}"
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == SERVING:
                    return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)
    raise AssertionError(f"the server did not become healthy:\n{server.log()}")


@pytest.fixture
def server_factory(tmp_path: Path, database_url: str) -> Iterator[list[ServerProcess]]:
    """Started servers, killed at the end should a test leave one running."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


async def start(
    server_factory: list[ServerProcess], tmp_path: Path, database_url: str, grace: float
) -> ServerProcess:
    server = _spawn(tmp_path, database_url, grace)
    server_factory.append(server)
    await _wait_until_serving(server)
    return server


async def open_attempts(stubs: Stubs, account: Account, count: int) -> list[int]:
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


class HeldUpload:
    """An upload that sends its first half, then waits to be released before the rest."""

    def __init__(self, stubs: Stubs, account: Account, attempt_id: int, audio: bytes) -> None:
        self.halfway = asyncio.Event()
        self.all_sent = asyncio.Event()
        self.release = asyncio.Event()
        self._chunks = [audio[i : i + CHUNK] for i in range(0, len(audio), CHUNK)]
        self.call = stubs.transcription.TranscribeAnswer(
            self._messages(attempt_id), metadata=account.metadata, timeout=120
        )

    async def _messages(self, attempt_id: int) -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield pb.TranscribeAnswerRequest(config=pb.AudioConfig(question_attempt_id=attempt_id))
        half = len(self._chunks) // 2
        for index, chunk in enumerate(self._chunks):
            if index == half:
                self.halfway.set()
                await self.release.wait()
            yield pb.TranscribeAnswerRequest(audio_content=chunk)
        self.all_sent.set()

    async def outcome(self) -> grpc.StatusCode:
        try:
            await self.call
        except grpc.aio.AioRpcError as error:
            return error.code()
        except asyncio.CancelledError:
            return grpc.StatusCode.CANCELLED
        return grpc.StatusCode.OK


def upload_files(server: ServerProcess) -> list[Path]:
    if not server.upload_dir.exists():
        return []
    return list(server.upload_dir.glob(f"{UPLOAD_PREFIX}*"))


async def wait_for_files(server: ServerProcess, count: int) -> None:
    for _ in range(600):  # 30 s
        if len(upload_files(server)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} uploads being assembled on disk")


async def watch_until_not_serving(stubs: Stubs, serving: asyncio.Event) -> None:
    """Follow the server's health; return once it says NOT_SERVING."""
    watch = health_pb2_grpc.HealthStub(stubs.channel).Watch(health_pb2.HealthCheckRequest())
    try:
        async for reply in watch:
            if reply.status == SERVING:
                serving.set()
            if reply.status == NOT_SERVING:
                return
    finally:
        # An open Watch is a call in flight too: it would hold shutdown for the whole grace.
        watch.cancel()


async def stop_with_sigterm(server: ServerProcess, within_seconds: float) -> None:
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + within_seconds
    while server.process.poll() is None:
        assert time.monotonic() < deadline, (
            f"still running after {within_seconds} s:\n{server.log()}"
        )
        await asyncio.sleep(0.1)
    assert server.process.returncode == 0, server.log()


@dataclass(frozen=True)
class AttemptRow:
    id: int
    transcribed: bool
    complete: bool  # every transcription and audio column filled in
    blank: bool  # none of them filled in


async def attempt_rows(database_url: str, attempt_ids: list[int]) -> dict[int, AttemptRow]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(QuestionAttempt).where(QuestionAttempt.id.in_(attempt_ids))
                )
            ).all()
    finally:
        await engine.dispose()
    result = {}
    for row in rows:
        written = [
            row.transcribed_at,
            row.transcript_text,
            row.transcript_words,
            row.transcript_engine,
            row.audio_format,
            row.audio_size_bytes,
            row.audio_duration_seconds,
        ]
        result[row.id] = AttemptRow(
            row.id,
            row.transcribed_at is not None,
            all(value is not None for value in written) and bool(row.transcript_text),
            all(value is None for value in written),
        )
    return result


def assert_nothing_half_written(rows: dict[int, AttemptRow]) -> None:
    for row in rows.values():
        assert row.complete or row.blank, f"attempt {row.id} is half-written"


async def test_sigterm_drains_uploads_in_flight_after_health_turns_not_serving(
    tmp_path: Path, database_url: str, server_factory: list[ServerProcess]
) -> None:
    server = await start(server_factory, tmp_path, database_url, grace=60)
    async with grpc.aio.insecure_channel(server.address) as channel:
        stubs = stubs_for(channel)
        account = await register(stubs)
        attempt_ids = await open_attempts(stubs, account, 3)
        serving = asyncio.Event()
        watcher = asyncio.create_task(watch_until_not_serving(stubs, serving))
        await asyncio.wait_for(serving.wait(), SIGNAL_TIMEOUT_SECONDS)
        audio = (AUDIO / "answer.wav").read_bytes()
        uploads = [HeldUpload(stubs, account, attempt_id, audio) for attempt_id in attempt_ids]
        outcomes = [asyncio.create_task(upload.outcome()) for upload in uploads]
        await asyncio.wait_for(
            asyncio.gather(*(u.halfway.wait() for u in uploads)), SIGNAL_TIMEOUT_SECONDS
        )
        await wait_for_files(server, len(uploads))

        server.process.send_signal(signal.SIGTERM)
        # The uploads are held until health has said NOT_SERVING: if it never does,
        # the wait fails the test.
        await asyncio.wait_for(watcher, SIGNAL_TIMEOUT_SECONDS)
        assert not any(task.done() for task in outcomes)
        for upload in uploads:
            upload.release.set()
        codes = await asyncio.gather(*outcomes)
    assert codes == [grpc.StatusCode.OK] * len(uploads), server.log()
    await stop_with_sigterm(server, within_seconds=30)
    assert upload_files(server) == []
    rows = await attempt_rows(database_url, attempt_ids)
    assert all(rows[attempt_id].complete for attempt_id in attempt_ids)


@pytest.mark.parametrize("cut", ["mid-upload", "mid-transcription"])
async def test_sigterm_with_a_short_grace_cuts_calls_off_cleanly(
    tmp_path: Path, database_url: str, server_factory: list[ServerProcess], cut: str
) -> None:
    grace = 1.0
    server = await start(server_factory, tmp_path, database_url, grace=grace)
    async with grpc.aio.insecure_channel(server.address) as channel:
        stubs = stubs_for(channel)
        account = await register(stubs)
        attempt_ids = await open_attempts(stubs, account, 3)
        # Speech.mp3 takes the model seconds: longer than the grace period.
        uploads = [
            HeldUpload(stubs, account, attempt_id, SPEECH_MP3.read_bytes())
            for attempt_id in attempt_ids
        ]
        outcomes = [asyncio.create_task(upload.outcome()) for upload in uploads]
        await asyncio.wait_for(
            asyncio.gather(*(u.halfway.wait() for u in uploads)), SIGNAL_TIMEOUT_SECONDS
        )
        if cut == "mid-transcription":
            for upload in uploads:
                upload.release.set()
            await asyncio.wait_for(
                asyncio.gather(*(u.all_sent.wait() for u in uploads)), SIGNAL_TIMEOUT_SECONDS
            )
            await asyncio.sleep(0.5)  # the first is being transcribed, the others wait
        else:
            await wait_for_files(server, len(uploads))
        await stop_with_sigterm(server, within_seconds=grace + 30)
        codes = await asyncio.gather(*outcomes)
        for upload in uploads:
            upload.release.set()  # let the held request streams end
    # Cut off: retryable, never INTERNAL or UNKNOWN.
    cut_off = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
    allowed = cut_off | ({grpc.StatusCode.OK} if cut == "mid-transcription" else set())
    assert set(codes) <= allowed, codes
    assert upload_files(server) == []
    rows = await attempt_rows(database_url, attempt_ids)
    assert_nothing_half_written(rows)
    for attempt_id, code in zip(attempt_ids, codes, strict=True):
        if code == grpc.StatusCode.OK:
            assert rows[attempt_id].complete
