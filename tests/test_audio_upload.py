"""Assembling a streamed answer on disk: limits while bytes arrive, cleanup in every outcome."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.audio import UPLOAD_PREFIX, AudioFormat, AudioIntake, UploadLimits, with_idle_timeout
from server.audio.upload import WRITE_BATCH_BYTES, clean_filename
from server.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted
from tests.audio_assets import ANSWER_SECONDS, AUDIO, FORMAT_FILES, chunks_of
from tests.helpers import make_settings

MiB = 1024 * 1024
LIMITS = UploadLimits(
    max_chunk_bytes=64 * 1024,
    max_total_bytes=2 * MiB,
    max_duration_seconds=60.0,
    idle_timeout_seconds=2.0,
)


CANONICAL_MIME_TYPES = {
    AudioFormat.WAV: "audio/wav",
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.M4A: "audio/mp4",
    AudioFormat.FLAC: "audio/flac",
    AudioFormat.OGG: "audio/ogg",
    AudioFormat.WEBM: "audio/webm",
}


@pytest.fixture
def upload_dir(tmp_path: Path) -> Iterator[Path]:
    """The temporary directory uploads use; every test must leave it empty."""
    directory = tmp_path / "uploads"
    yield directory
    assert _leftovers(directory) == []


@pytest.fixture
def intake(upload_dir: Path) -> Iterator[AudioIntake]:
    audio_intake = AudioIntake(LIMITS, temp_dir=upload_dir)
    yield audio_intake
    audio_intake.close()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(f"{UPLOAD_PREFIX}*"))


@pytest.mark.parametrize(("filename", "expected"), FORMAT_FILES.items())
async def test_every_format_is_assembled_and_described(
    intake: AudioIntake, upload_dir: Path, filename: str, expected: tuple[AudioFormat, str]
) -> None:
    data = (AUDIO / filename).read_bytes()
    async with intake.upload(filename=f"recordings/{filename}", mime_type="") as upload:
        audio = await upload.receive(chunks_of(data, 7000))
        assert audio.path.read_bytes() == data
        assert audio.path.parent == upload_dir
        assert audio.path.name.startswith(UPLOAD_PREFIX)
    info = audio.info
    assert (info.format, info.codec) == expected
    assert info.size_bytes == len(data)
    assert info.duration == pytest.approx(ANSWER_SECONDS, abs=0.05)
    assert info.filename == filename
    assert info.mime_type == CANONICAL_MIME_TYPES[info.format]
    assert not audio.path.exists()


@pytest.mark.parametrize(
    ("filename", "mime_type", "reported"),
    [
        ("answer.wav", "audio/x-wav", "audio/wav"),
        ("answer.mp3", "audio/mp3", "audio/mpeg"),
        ("answer.m4a", "audio/x-m4a", "audio/mp4"),
        ("answer.flac", "audio/flac", "audio/flac"),
        ("answer-opus.ogg", "audio/ogg; codecs=opus", "audio/ogg"),
        ("answer-vorbis.ogg", "audio/ogg", "audio/ogg"),
        ("answer-opus.webm", "video/webm;codecs=opus", "audio/webm"),
    ],
)
async def test_a_matching_mime_type_is_accepted_and_the_canonical_one_reported(
    intake: AudioIntake, filename: str, mime_type: str, reported: str
) -> None:
    async with intake.upload(filename=filename, mime_type=mime_type) as upload:
        audio = await upload.receive(chunks_of((AUDIO / filename).read_bytes(), 32 * 1024))
    assert audio.info.mime_type == reported


async def test_a_contradicting_mime_type_is_refused_at_the_first_bytes(
    intake: AudioIntake,
) -> None:
    data = (AUDIO / "answer-opus.ogg").read_bytes()
    async with intake.upload(filename="answer.mp3", mime_type="audio/mpeg") as upload:
        with pytest.raises(InvalidArgument) as caught:
            await upload.write(data[:4096])
        assert upload.received_bytes == 0
    assert caught.value.reason == "AUDIO_MIME_TYPE_MISMATCH"
    assert [v.field for v in caught.value.violations] == ["config.mime_type"]


async def test_a_mime_type_naming_another_codec_is_refused_after_decoding(
    intake: AudioIntake,
) -> None:
    data = (AUDIO / "answer-vorbis.ogg").read_bytes()
    async with intake.upload(mime_type="audio/ogg; codecs=opus") as upload:
        with pytest.raises(InvalidArgument) as caught:
            await upload.receive(chunks_of(data, 8192))
    assert caught.value.reason == "AUDIO_MIME_TYPE_MISMATCH"
    assert "vorbis" in caught.value.message


def test_an_unsupported_mime_type_is_refused_before_any_file_exists(
    intake: AudioIntake, upload_dir: Path
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        intake.upload(filename="answer.wma", mime_type="audio/x-ms-wma")
    assert caught.value.reason == "AUDIO_FORMAT_UNSUPPORTED"


@pytest.mark.parametrize("chunk_size", [16, 4096])
async def test_garbage_named_mp3_is_refused_as_soon_as_64_bytes_are_in(
    intake: AudioIntake, chunk_size: int
) -> None:
    garbage = b"this is a text file that someone renamed to answer.mp3. " * 100
    writes = 0

    async def send_all() -> None:
        nonlocal writes
        async for chunk in chunks_of(garbage, chunk_size):
            await upload.write(chunk)
            writes += 1

    async with intake.upload(filename="answer.mp3", mime_type="audio/mpeg") as upload:
        with pytest.raises(InvalidArgument) as caught:
            await send_all()
    assert caught.value.reason == "AUDIO_FORMAT_UNSUPPORTED"
    # The write that completed the first 64 bytes is the one refused.
    assert writes == max(0, 64 // chunk_size - 1)


@pytest.mark.parametrize("filename", ["answer.wav", "answer-opus.ogg", "answer-opus.webm"])
async def test_a_truncated_upload_is_refused(intake: AudioIntake, filename: str) -> None:
    data = (AUDIO / filename).read_bytes()
    async with intake.upload(filename=filename) as upload:
        with pytest.raises(InvalidArgument) as caught:
            await upload.receive(chunks_of(data[: len(data) * 3 // 4], 4096))
    assert caught.value.reason in ("AUDIO_TRUNCATED", "AUDIO_CORRUPT")


async def test_an_oversized_stream_is_refused_when_the_limit_is_crossed(
    upload_dir: Path,
) -> None:
    limits = UploadLimits(
        max_chunk_bytes=10_000,
        max_total_bytes=50_000,
        max_duration_seconds=60,
        idle_timeout_seconds=2,
    )
    intake = AudioIntake(limits, temp_dir=upload_dir)
    data = (AUDIO / "answer.wav").read_bytes()  # about 200 kB
    offered = 0

    async def send_all() -> None:
        nonlocal offered
        async for chunk in chunks_of(data, 10_000):
            offered += len(chunk)
            await upload.write(chunk)

    try:
        async with intake.upload(filename="answer.wav") as upload:
            with pytest.raises(ResourceExhausted) as caught:
                await send_all()
            assert upload.path is not None
            assert upload.path.stat().st_size <= 50_000
            assert upload.received_bytes == 50_000
    finally:
        intake.close()
    assert caught.value.reason == "AUDIO_TOO_LARGE"
    # Refused with the chunk that crossed the limit, not after the whole stream.
    assert offered == 60_000


async def test_a_chunk_over_the_per_chunk_limit_is_refused(intake: AudioIntake) -> None:
    data = (AUDIO / "answer.wav").read_bytes()
    async with intake.upload(filename="answer.wav") as upload:
        await upload.write(data[: LIMITS.max_chunk_bytes])
        with pytest.raises(ResourceExhausted) as caught:
            await upload.write(data[: LIMITS.max_chunk_bytes + 1])
        assert upload.received_bytes == LIMITS.max_chunk_bytes
    assert caught.value.reason == "AUDIO_CHUNK_TOO_LARGE"


async def test_audio_longer_than_the_limit_is_refused(upload_dir: Path) -> None:
    limits = UploadLimits(
        max_chunk_bytes=64 * 1024,
        max_total_bytes=2 * MiB,
        max_duration_seconds=5.0,
        idle_timeout_seconds=2,
    )
    intake = AudioIntake(limits, temp_dir=upload_dir)
    try:
        async with intake.upload(filename="answer.flac") as upload:
            with pytest.raises(ResourceExhausted) as caught:
                await upload.receive(chunks_of((AUDIO / "answer.flac").read_bytes(), 32 * 1024))
    finally:
        intake.close()
    assert caught.value.reason == "AUDIO_TOO_LONG"


async def test_an_empty_upload_is_refused(intake: AudioIntake) -> None:
    async with intake.upload(filename="answer.wav") as upload:
        with pytest.raises(InvalidArgument) as caught:
            await upload.receive(chunks_of(b"", 1024))
    assert caught.value.reason == "AUDIO_EMPTY"


async def test_a_tiny_upload_is_judged_on_the_bytes_it_has(intake: AudioIntake) -> None:
    async with intake.upload(filename="answer.ogg") as upload:
        with pytest.raises(InvalidArgument) as caught:
            await upload.receive(chunks_of(b"OggS", 2))
    assert caught.value.reason == "AUDIO_FORMAT_UNSUPPORTED"


async def test_chunks_reach_the_disk_as_they_arrive(intake: AudioIntake) -> None:
    # A 2 MiB stream (the limit here): a real WAV's first bytes, then more of its samples.
    wav = (AUDIO / "answer.wav").read_bytes()
    data = (wav * (LIMITS.max_total_bytes // len(wav) + 1))[: LIMITS.max_total_bytes]
    chunk = 64 * 1024
    async with intake.upload(filename="answer.wav") as upload:
        assert upload.path is not None
        for sent in range(chunk, len(data) + 1, chunk):
            await upload.write(data[sent - chunk : sent])
            # At most one batch (and the file object's 8 KiB buffer) is held in
            # memory; everything older is already in the file.
            assert upload.path.stat().st_size >= sent - WRITE_BATCH_BYTES - 8192
        assert upload.path.stat().st_size > len(data) - WRITE_BATCH_BYTES - 8192


async def test_cancellation_halfway_removes_the_file(intake: AudioIntake, upload_dir: Path) -> None:
    data = (AUDIO / "answer.wav").read_bytes()
    halfway = asyncio.Event()

    async def client_that_stalls() -> AsyncIterator[bytes]:
        yield data[:50_000]
        yield data[50_000:100_000]
        halfway.set()
        await asyncio.Event().wait()  # never sends the rest
        yield b""

    async def handle() -> None:
        async with intake.upload(filename="answer.wav") as upload:
            await upload.receive(client_that_stalls())

    task = asyncio.create_task(handle())
    await asyncio.wait_for(halfway.wait(), 5)
    await asyncio.sleep(0.05)
    assert len(_leftovers(upload_dir)) == 1  # the file really was there
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _leftovers(upload_dir) == []


async def test_cancellation_during_a_disk_write_removes_the_file(upload_dir: Path) -> None:
    roomy = UploadLimits(
        max_chunk_bytes=MiB,
        max_total_bytes=1024 * MiB,
        max_duration_seconds=60,
        idle_timeout_seconds=2,
    )
    intake = AudioIntake(roomy, temp_dir=upload_dir)
    wav = (AUDIO / "answer.wav").read_bytes()
    chunk = (wav * (MiB // len(wav) + 1))[:MiB]
    writes_done = 0
    three_written = asyncio.Event()

    async def handle() -> None:
        nonlocal writes_done
        async with intake.upload(filename="answer.wav") as upload:
            while True:
                await upload.write(chunk)  # the cancellation lands in one of these
                writes_done += 1
                if writes_done == 3:
                    three_written.set()

    task = asyncio.create_task(handle())
    try:
        await asyncio.wait_for(three_written.wait(), 10)
        assert len(_leftovers(upload_dir)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _leftovers(upload_dir) == []
    finally:
        intake.close()


async def test_an_idle_client_times_out_and_leaves_nothing(upload_dir: Path) -> None:
    limits = UploadLimits(
        max_chunk_bytes=64 * 1024,
        max_total_bytes=2 * MiB,
        max_duration_seconds=60,
        idle_timeout_seconds=0.2,
    )
    intake = AudioIntake(limits, temp_dir=upload_dir)
    data = (AUDIO / "answer.wav").read_bytes()

    async def slow_client() -> AsyncIterator[bytes]:
        yield data[:40_000]
        await asyncio.sleep(5)
        yield data[40_000:]

    started = time.monotonic()
    try:
        async with intake.upload(filename="answer.wav") as upload:
            with pytest.raises(DeadlineExceeded) as caught:
                await upload.receive(slow_client())
    finally:
        intake.close()
    assert caught.value.reason == "AUDIO_IDLE_TIMEOUT"
    assert time.monotonic() - started < 2


async def test_with_idle_timeout_passes_items_that_arrive_in_time() -> None:
    async def steady() -> AsyncIterator[int]:
        for number in range(5):
            await asyncio.sleep(0.01)
            yield number

    assert [n async for n in with_idle_timeout(steady(), 0.5)] == [0, 1, 2, 3, 4]


async def test_with_idle_timeout_measures_each_gap_not_the_total() -> None:
    async def slow_then_stuck() -> AsyncIterator[int]:
        for number in range(4):
            await asyncio.sleep(0.05)  # 0.2 s in all, more than the timeout
            yield number
        await asyncio.sleep(1)
        yield 99

    received = []

    async def collect() -> None:
        async for number in with_idle_timeout(slow_then_stuck(), 0.15):
            received.append(number)

    with pytest.raises(DeadlineExceeded):
        await collect()
    assert received == [0, 1, 2, 3]


async def test_the_file_is_removed_after_success_too(intake: AudioIntake, upload_dir: Path) -> None:
    async with intake.upload(filename="answer.mp3") as upload:
        audio = await upload.receive(chunks_of((AUDIO / "answer.mp3").read_bytes(), 8192))
        assert audio.path.exists()
    assert not audio.path.exists()
    assert _leftovers(upload_dir) == []


def test_stale_uploads_of_a_killed_process_are_removed(
    intake: AudioIntake, upload_dir: Path
) -> None:
    old = upload_dir / f"{UPLOAD_PREFIX}old"
    fresh = upload_dir / f"{UPLOAD_PREFIX}fresh"
    unrelated = upload_dir / "someone-else.tmp"
    for path in (old, fresh, unrelated):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert intake.remove_stale_uploads(older_than_seconds=3600) == 1
    assert not old.exists()
    assert fresh.exists()
    assert unrelated.exists()
    fresh.unlink()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("answer.ogg", "answer.ogg"),
        ("/storage/emulated/0/Recordings/answer.m4a", "answer.m4a"),
        ("C:\\Users\\asha\\answer.wav", "answer.wav"),
        ("bad\x00name.mp3", "badname.mp3"),
        ("bad\nname.mp3", "bad name.mp3"),  # a line break separates, as everywhere (server.text)
        ("", ""),
        ("a" * 300 + ".webm", "a" * 255),
    ],
)
def test_filenames_are_cleaned_for_display(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_limits_and_directory_come_from_the_settings(tmp_path: Path) -> None:
    settings = make_settings(
        AUDIO_MAX_CHUNK_BYTES=2048,
        AUDIO_MAX_BYTES=4096,
        AUDIO_MAX_DURATION_SECONDS=30,
        AUDIO_IDLE_TIMEOUT_SECONDS=5,
        AUDIO_TEMP_DIR=str(tmp_path / "audio-temp"),
    )
    intake = AudioIntake.from_settings(settings)
    try:
        assert intake.limits == UploadLimits(2048, 4096, 30.0, 5.0, 1024, 12_000)
        assert intake.temp_dir == tmp_path / "audio-temp"
        assert intake.temp_dir.is_dir()
    finally:
        intake.close()


def test_default_limits_match_the_issue() -> None:
    limits = UploadLimits.from_settings(make_settings())
    assert limits.max_total_bytes == 25 * MiB
    assert limits.max_duration_seconds == 600
    assert limits.max_chunk_bytes == MiB


async def test_with_idle_timeout_caps_the_total_time_too() -> None:
    received = 0

    async def trickle() -> AsyncIterator[int]:
        for number in range(10_000):
            await asyncio.sleep(0.01)
            yield number

    async def consume() -> None:
        nonlocal received
        async for _ in with_idle_timeout(trickle(), 5.0, total_seconds=0.2):
            received += 1

    with pytest.raises(DeadlineExceeded) as caught:
        await consume()
    assert caught.value.reason == "AUDIO_STREAM_TIME_LIMIT"
    assert received < 10_000


async def test_the_temp_budget_is_shared_by_uploads_and_given_back(upload_dir: Path) -> None:
    from server.audio import StreamLimits

    intake = AudioIntake(
        LIMITS, temp_dir=upload_dir, streams=StreamLimits(temp_budget_bytes=100_000)
    )
    data = (AUDIO / "answer.wav").read_bytes()
    try:
        async with intake.upload(filename="a.wav") as first:
            await first.write(data[:60_000])
            async with intake.upload(filename="b.wav") as second:
                await second.write(data[:30_000])
                with pytest.raises(ResourceExhausted) as caught:
                    await second.write(data[30_000:50_000])
                assert intake.budget.used_bytes == 90_000
            assert intake.budget.used_bytes == 60_000
    finally:
        intake.close()
    assert caught.value.reason == "AUDIO_TEMP_BUDGET_EXHAUSTED"
    assert caught.value.retry_after_seconds
    assert intake.budget.used_bytes == 0
    assert intake.budget.peak_bytes == 90_000


async def test_a_chunk_under_the_minimum_may_only_be_the_last(upload_dir: Path) -> None:
    limits = UploadLimits(64 * 1024, 2 * MiB, 60.0, 2.0, min_chunk_bytes=1024, max_messages=250)
    intake = AudioIntake(limits, temp_dir=upload_dir)
    data = (AUDIO / "answer.wav").read_bytes()
    try:
        async with intake.upload(filename="answer.wav") as upload:
            audio = await upload.receive(chunks_of(data, 1024))  # the last is 610 bytes
        assert audio.info.size_bytes == len(data)
        async with intake.upload(filename="answer.wav") as upload:
            await upload.write(data[:1024])
            await upload.write(data[1024:1100])
            with pytest.raises(InvalidArgument) as short:
                await upload.write(data[1100:3000])
        async with intake.upload(filename="answer.wav") as upload:
            with pytest.raises(ResourceExhausted) as many:
                await upload.receive(chunks_of(data * 2, 1024))  # 408 chunks
            assert upload.received_bytes == 250 * 1024
    finally:
        intake.close()
    assert short.value.reason == "AUDIO_CHUNK_TOO_SMALL"
    assert many.value.reason == "AUDIO_TOO_MANY_MESSAGES"
