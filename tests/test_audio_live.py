"""Decoding an upload while it arrives (server/audio/live.py): every streamable format
yields the samples faster-whisper's own decoder gives, before the upload ends; M4A
keeps the batch path; a discarded upload stops its decoder and leaves no file."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from faster_whisper.audio import decode_audio

from server.audio import UPLOAD_PREFIX, AudioFormat, AudioIntake, UploadLimits
from server.audio.live import STREAMABLE_FORMATS
from server.errors import InvalidArgument
from tests.audio_assets import AUDIO, FORMAT_FILES

LIMITS = UploadLimits(
    max_chunk_bytes=64 * 1024,
    max_total_bytes=4 * 1024 * 1024,
    max_duration_seconds=60.0,
    idle_timeout_seconds=5.0,
)


class RecordingSink:
    """Keeps what it is fed; notes when the first samples came and whether it was ended."""

    def __init__(self) -> None:
        self.parts: list[npt.NDArray[np.float32]] = []
        self.ended = False
        self.first = threading.Event()

    def feed(self, samples: npt.NDArray[np.float32]) -> None:
        assert samples.dtype == np.float32
        self.parts.append(samples)
        self.first.set()

    def end(self) -> None:
        self.ended = True

    @property
    def samples(self) -> npt.NDArray[np.float32]:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)


@pytest.fixture
def upload_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "uploads"
    yield directory
    assert sorted(directory.glob(f"{UPLOAD_PREFIX}*")) == []


@pytest.fixture
def intake(upload_dir: Path) -> Iterator[AudioIntake]:
    audio_intake = AudioIntake(LIMITS, temp_dir=upload_dir)
    yield audio_intake
    audio_intake.close()


async def _paced(data: bytes, size: int, sink: RecordingSink) -> AsyncIterator[bytes]:
    """The chunks; the last one only once the sink has had samples (so: while arriving)."""
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    for chunk in chunks[:-1]:
        yield chunk
    assert await asyncio.to_thread(sink.first.wait, 10.0), "nothing decoded before the end"
    yield chunks[-1]


@pytest.mark.parametrize(
    "filename", [f for f, (fmt, _) in FORMAT_FILES.items() if fmt in STREAMABLE_FORMATS]
)
async def test_streamable_formats_are_decoded_while_they_arrive(
    intake: AudioIntake, filename: str
) -> None:
    data = (AUDIO / filename).read_bytes()
    sink = RecordingSink()
    formats: list[AudioFormat] = []

    def start(audio_format: AudioFormat) -> RecordingSink:
        formats.append(audio_format)
        return sink

    async with intake.upload(filename=filename) as upload:
        received = await upload.receive(_paced(data, 4096, sink), live=start)
    assert received.live
    assert sink.ended
    assert formats == [FORMAT_FILES[filename][0]]
    expected = decode_audio(str(AUDIO / filename), sampling_rate=16_000)
    # The batch decoder groups frames before resampling: a few samples may differ at the end.
    assert abs(len(sink.samples) - len(expected)) <= 512
    same = min(len(expected), len(sink.samples)) - 512
    assert np.abs(sink.samples[:same] - expected[:same]).max() < 0.01


async def test_m4a_keeps_the_batch_path(intake: AudioIntake) -> None:
    data = (AUDIO / "answer.m4a").read_bytes()
    called: list[AudioFormat] = []

    def start(audio_format: AudioFormat) -> RecordingSink:
        called.append(audio_format)
        return RecordingSink()

    async with intake.upload(filename="answer.m4a") as upload:
        received = await upload.receive(_chunks(data, 4096), live=start)
    assert called == []
    assert not received.live


async def test_no_sink_means_no_live_decoding(intake: AudioIntake) -> None:
    data = (AUDIO / "answer.mp3").read_bytes()
    async with intake.upload(filename="answer.mp3") as upload:
        received = await upload.receive(_chunks(data, 4096), live=lambda _: None)
    assert not received.live


async def test_a_cancelled_upload_stops_its_decoder_and_leaves_no_file(
    intake: AudioIntake, upload_dir: Path
) -> None:
    data = (AUDIO / "answer.wav").read_bytes()
    sink = RecordingSink()
    stalled = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        for start in range(0, len(data) // 2, 4096):
            yield data[start : start + 4096]
        stalled.set()
        await asyncio.sleep(3600)
        yield b""

    async def upload() -> None:
        async with intake.upload(filename="answer.wav") as live_upload:
            await live_upload.receive(stalls(), live=lambda _: sink)

    task = asyncio.create_task(upload())
    await stalled.wait()
    assert await asyncio.to_thread(sink.first.wait, 10.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(upload_dir.glob(f"{UPLOAD_PREFIX}*")) == []
    # The decoder thread stops without ending the sink: no partial transcript.
    await asyncio.sleep(0.2)
    assert not sink.ended
    assert not any(t.name.startswith("audio-live") and t.is_alive() for t in _busy_threads())


async def test_a_corrupt_upload_is_refused_as_before(intake: AudioIntake) -> None:
    data = (AUDIO / "answer.mp3").read_bytes()
    cut = data[: len(data) // 2]  # a cut-off MP3: decoded live until it stops, refused by the probe
    sink = RecordingSink()
    with pytest.raises(InvalidArgument):
        async with intake.upload(filename="answer.mp3") as upload:
            await upload.receive(_chunks(cut + b"\xff" * 300, 4096), live=lambda _: sink)


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _busy_threads() -> list[threading.Thread]:
    """Live-decoder threads still inside a decode (idle pool threads wait in the queue)."""
    import sys

    busy = []
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        while frame is not None:
            if frame.f_code.co_name == "_decode":
                busy.append(thread)
                break
            frame = frame.f_back
    return busy
