"""Hostile audio headers through the real server: random WAV fmt chunks, Ogg page headers
and MP3 frame headers, built on the real fixtures so the decoder gets past the magic.

Whatever the header says, the answer is a status chosen on purpose (never INTERNAL,
UNKNOWN, or a hang), and the server keeps serving. The engine is a stand-in, so a
header the decoder accepts costs nothing to "transcribe".
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generated.samvaad.v1 import auth_pb2
from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import transcription_pb2 as pb
from server.audio import UPLOAD_PREFIX
from server.audio.integrity import _id3_tag_size, _mp3_frame_length
from tests.audio_assets import AUDIO
from tests.helpers import Account, Stubs
from tests.test_transcription_hardening import StandInEngine

BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED}
CALL_TIMEOUT = 30.0
CHUNK = 16 * 1024
WAV_SAMPLES = (AUDIO / "answer.wav").read_bytes()[44:]
OGG_FILES = [(AUDIO / "answer-opus.ogg").read_bytes(), (AUDIO / "answer-vorbis.ogg").read_bytes()]
MP3 = (AUDIO / "answer.mp3").read_bytes()

FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    # The server is started once per test and deliberately shared by its examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def server_stt_engine() -> StandInEngine:
    return StandInEngine()


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def settings_overrides(upload_dir: Path) -> dict[str, Any]:
    # A sample rate of 1 Hz makes 200 KB of PCM last days: refused fast, as too long.
    return {"AUDIO_TEMP_DIR": str(upload_dir), "AUDIO_MAX_DURATION_SECONDS": 120}


class Attempts:
    """Fresh attempts on demand: an answered one would refuse the audio before decoding."""

    def __init__(self, stubs: Stubs, account: Account) -> None:
        self._stubs = stubs
        self._account = account
        self._free: list[int] = []

    async def take(self) -> int:
        if not self._free:
            interview = await self._stubs.interview.CreateInterview(
                ipb.CreateInterviewRequest(track="backend"), metadata=self._account.metadata
            )
            await self._stubs.interview.GenerateQuestions(
                ipb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=10),
                metadata=self._account.metadata,
            )
            listed = await self._stubs.interview.ListQuestionAttempts(
                ipb.ListQuestionAttemptsRequest(interview_id=interview.interview.id),
                metadata=self._account.metadata,
            )
            self._free = [attempt.id for attempt in listed.question_attempts]
        return self._free.pop()


@pytest.fixture
def attempts(stubs: Stubs, account: Account) -> Attempts:
    return Attempts(stubs, account)


async def send(stubs: Stubs, account: Account, attempt_id: int, data: bytes) -> grpc.StatusCode:
    async def messages() -> AsyncIterator[pb.TranscribeAnswerRequest]:
        yield pb.TranscribeAnswerRequest(config=pb.AudioConfig(question_attempt_id=attempt_id))
        for start in range(0, len(data), CHUNK):
            yield pb.TranscribeAnswerRequest(audio_content=data[start : start + CHUNK])

    try:
        await stubs.transcription.TranscribeAnswer(
            messages(), metadata=account.metadata, timeout=CALL_TIMEOUT
        )
    except grpc.aio.AioRpcError as error:
        code, details = error.code(), error.details()
    else:
        return grpc.StatusCode.OK
    assert code not in BROKEN, f"{code}: {details}"
    return code


async def still_serving(stubs: Stubs, account: Account, upload_dir: Path) -> None:
    me = await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)
    assert me.user.id == account.user.id
    if upload_dir.exists():
        assert list(upload_dir.glob(f"{UPLOAD_PREFIX}*")) == []


# --- WAV: every field of the fmt chunk, and the chunk sizes ---------------------------------

# Tags FFmpeg decodes, tags it knows but cannot decode as such, and nonsense.
FORMAT_TAGS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 6, 7, 0x11, 0x16, 0x31, 0x55, 0x161, 0x1234, 0xFFFE, 0xFFFF]),
    st.integers(0, 0xFFFF),
)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFF_FFFF)


@st.composite
def wav_files(draw: st.DrawFn) -> bytes:
    tag = draw(FORMAT_TAGS)
    channels = draw(st.one_of(st.sampled_from([0, 1, 2, 6, 8, 64, 0xFFFF]), U16))
    rate = draw(st.one_of(st.sampled_from([0, 1, 8000, 16_000, 44_100, 0xFFFF_FFFF]), U32))
    bits = draw(st.one_of(st.sampled_from([0, 1, 4, 8, 12, 16, 24, 32, 64, 0xFFFF]), U16))
    block_align = draw(st.one_of(st.just(max(1, channels * bits // 8) & 0xFFFF), U16))
    byte_rate = draw(st.one_of(st.just(rate * block_align & 0xFFFF_FFFF), U32))
    fmt = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, block_align, bits)
    if draw(st.booleans()):  # WAVE_FORMAT_EXTENSIBLE's extra fields, with a random sub-format
        fmt += struct.pack("<HHI", 22, bits, draw(U32)) + draw(st.binary(min_size=16, max_size=16))
    fmt_size = draw(st.one_of(st.just(len(fmt)), st.sampled_from([0, 14, 16, 18, 40]), U32))
    payload = draw(
        st.one_of(
            st.integers(0, len(WAV_SAMPLES)).map(lambda n: WAV_SAMPLES[:n]),
            st.binary(max_size=4096),
        )
    )
    data_size = draw(st.one_of(st.just(len(payload)), st.sampled_from([0, 0xFFFF_FFFF]), U32))
    body = b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt
    body += b"data" + struct.pack("<I", data_size) + payload
    riff_size = draw(st.one_of(st.just(len(body)), U32))
    return b"RIFF" + struct.pack("<I", riff_size) + body


@given(data=st.data())
@FUZZ_SETTINGS
async def test_random_wav_headers_get_a_deliberate_answer(
    stubs: Stubs, account: Account, attempts: Attempts, upload_dir: Path, data: st.DataObject
) -> None:
    wav = data.draw(wav_files())
    await send(stubs, account, await attempts.take(), wav)
    await still_serving(stubs, account, upload_dir)


@pytest.mark.parametrize(("tag", "bits"), [(0x1234, 16), (1, 0), (2, 0), (0xFFFE, 16), (0, 8)])
async def test_the_wav_class_no_decoder_reads_is_invalid_argument(
    stubs: Stubs, account: Account, attempts: Attempts, tag: int, bits: int
) -> None:
    fmt = struct.pack("<HHIIHH", tag, 1, 16_000, 32_000, 2, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(WAV_SAMPLES)) + WAV_SAMPLES
    wav = b"RIFF" + struct.pack("<I", len(body)) + body
    assert await send(stubs, account, await attempts.take(), wav) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


# --- Ogg: the fields of one page header, with or without a correct checksum ------------------


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x8000_0000 else crc << 1
            crc &= 0xFFFF_FFFF
    return crc


def _ogg_pages(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every page."""
    pages, offset = [], 0
    while offset + 27 <= len(data) and data[offset : offset + 4] == b"OggS":
        count = data[offset + 26]
        end = offset + 27 + count + sum(data[offset + 27 : offset + 27 + count])
        pages.append((offset, end))
        offset = end
    return pages


@st.composite
def ogg_files(draw: st.DrawFn) -> bytes:
    original = draw(st.sampled_from(OGG_FILES))
    pages = _ogg_pages(original)
    start, end = pages[draw(st.integers(0, len(pages) - 1))]
    page = bytearray(original[start:end])
    count = page[26]
    if draw(st.booleans()):
        page[4] = draw(st.integers(0, 255))  # stream structure version
    if draw(st.booleans()):
        page[5] = draw(st.integers(0, 255))  # header type: continued, first, last
    if draw(st.booleans()):
        page[6:14] = struct.pack("<Q", draw(st.integers(0, 2**64 - 1)))  # granule position
    if draw(st.booleans()):
        page[14:18] = struct.pack("<I", draw(U32))  # serial number
    if draw(st.booleans()):
        page[18:22] = struct.pack("<I", draw(U32))  # sequence number
    if count and draw(st.booleans()):
        at = 27 + draw(st.integers(0, count - 1))
        page[at] = draw(st.integers(0, 255))  # one lacing value
    if draw(st.booleans()):
        page[26] = draw(st.integers(0, 255))  # segment count
    if draw(st.booleans()):
        page[27 + count :] = draw(st.binary(max_size=len(page) - 27 - count))  # the packet data
    page[22:26] = b"\0\0\0\0"
    checksum = _ogg_crc(bytes(page)) if draw(st.booleans()) else draw(U32)
    page[22:26] = struct.pack("<I", checksum)
    return original[:start] + bytes(page) + original[end:]


@given(data=st.data())
@FUZZ_SETTINGS
async def test_random_ogg_page_headers_get_a_deliberate_answer(
    stubs: Stubs, account: Account, attempts: Attempts, upload_dir: Path, data: st.DataObject
) -> None:
    await send(stubs, account, await attempts.take(), data.draw(ogg_files()))
    await still_serving(stubs, account, upload_dir)


# --- MP3: the fields of frame headers --------------------------------------------------------


def _mp3_frames() -> list[int]:
    """Offsets of the first frames' headers, after the ID3 tag."""
    at = _id3_tag_size(MP3[:10])
    offsets: list[int] = []
    while len(offsets) < 20 and (length := _mp3_frame_length(MP3[at : at + 4])):
        offsets.append(at)
        at += length
    assert len(offsets) == 20
    return offsets


MP3_FRAMES = _mp3_frames()


@st.composite
def mp3_files(draw: st.DrawFn) -> bytes:
    data = bytearray(MP3)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(MP3_FRAMES))
        header = int.from_bytes(data[at : at + 4], "big")
        # Sync (11 bits) kept or not; then version, layer, protection, bitrate, rate,
        # padding, private, channel mode, mode extension, copyright, original, emphasis.
        fields = [(19, 2), (17, 2), (16, 1), (12, 4), (10, 2), (9, 1), (8, 1), (6, 2), (4, 2)]
        for shift, width in fields:
            if draw(st.booleans()):
                mask = ((1 << width) - 1) << shift
                header = (header & ~mask) | (draw(st.integers(0, (1 << width) - 1)) << shift)
        if draw(st.integers(0, 9)) == 0:
            header = draw(U32)
        data[at : at + 4] = header.to_bytes(4, "big")
    if draw(st.booleans()):
        data = data[: draw(st.integers(4, len(data)))]
    return bytes(data)


@given(data=st.data())
@FUZZ_SETTINGS
async def test_random_mp3_frame_headers_get_a_deliberate_answer(
    stubs: Stubs, account: Account, attempts: Attempts, upload_dir: Path, data: st.DataObject
) -> None:
    await send(stubs, account, await attempts.take(), data.draw(mp3_files()))
    await still_serving(stubs, account, upload_dir)


async def test_the_unmodified_fixtures_are_accepted(
    stubs: Stubs, account: Account, attempts: Attempts
) -> None:
    """The fuzzers start from audio the server takes, so their mutations are what it refuses."""
    wav = (AUDIO / "answer.wav").read_bytes()
    for data in [wav, *OGG_FILES, MP3]:
        assert await send(stubs, account, await attempts.take(), data) == grpc.StatusCode.OK
    # The fuzzer's "correct checksum" branch really is correct: it matches every real page.
    for data in OGG_FILES:
        for start, end in _ogg_pages(data):
            page = bytearray(data[start:end])
            stored = struct.unpack("<I", page[22:26])[0]
            page[22:26] = b"\0\0\0\0"
            assert _ogg_crc(bytes(page)) == stored
