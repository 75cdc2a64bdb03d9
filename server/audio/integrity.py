"""Is the file all there? Container-level checks FFmpeg does not make.

FFmpeg decodes a cut-off WAV, Ogg, live WebM or constant-bitrate MP3 without
a word: it simply stops early, and the transcript would silently miss the end
of the answer. Each of these containers says how long its pieces are (the
data chunk, the page, the EBML element, the frame), so a piece that runs past
the end of the file shows the upload was cut short. A cut that falls exactly
on a piece boundary cannot be told from a shorter recording, and is harmless.
FLAC and M4A need no walk: FFmpeg fails on them, or their header's duration
gives the cut away (see `probe`).

Each check reads headers only and returns a description of the problem, or None.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable
from pathlib import Path

from server.audio.formats import AudioFormat

_OGG_HEADER = 27
_EBML_UNKNOWN_SIZES = {(1 << (7 * n)) - 1 for n in range(1, 9)}
# Containers whose duration field FFmpeg reads from the header rather than
# estimating from the data, so a decode that falls short of it means truncation.
HEADER_DURATION_FORMATS = frozenset({AudioFormat.FLAC, AudioFormat.M4A, AudioFormat.WEBM})


def truncation_problem(path: Path, audio_format: AudioFormat) -> str | None:
    check = _CHECKS.get(audio_format)
    if check is None or path.stat().st_size == 0:
        return None
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return check(data)


def _wav(data: mmap.mmap) -> str | None:
    """The data chunk must fit in the file (unless a streaming writer left its size open)."""
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF: written by recorders that could not seek back (or RF64).
            if size in (0, 0xFFFFFFFF) or body + size <= len(data):
                return None
            return f"the WAV data chunk declares {size} bytes but only {len(data) - body} arrived"
        offset = body + size + (size & 1)
    return "the WAV file has no complete data chunk"


def _ogg(data: mmap.mmap) -> str | None:
    """Every page, the last one included, must be complete."""
    offset = 0
    while offset < len(data):
        if data[offset : offset + 4] != b"OggS":
            return f"no Ogg page starts at byte {offset}"
        if offset + _OGG_HEADER > len(data):
            return "the last Ogg page header is cut off"
        segment_count = data[offset + 26]
        table_end = offset + _OGG_HEADER + segment_count
        if table_end > len(data):
            return "the last Ogg page header is cut off"
        page_end = table_end + sum(data[offset + _OGG_HEADER : table_end])
        if page_end > len(data):
            return "the last Ogg page is cut off"
        offset = page_end
    return None


def _webm(data: mmap.mmap) -> str | None:
    """Walk the EBML elements: each one must fit in the file.

    Elements of known size are skipped whole; those of unknown size (a live
    recorder's Segment and Clusters) are entered, so the blocks inside them
    are checked one by one.
    """
    offset = 0
    while offset < len(data):
        element_id_length = _vint_length(data, offset)
        size_at = offset + element_id_length
        if element_id_length == 0 or size_at >= len(data):
            return f"a WebM element header is cut off at byte {offset}"
        size_length = _vint_length(data, size_at)
        body = size_at + size_length
        if size_length == 0 or body > len(data):
            return f"a WebM element header is cut off at byte {offset}"
        size = _vint_value(data, size_at, size_length)
        if size in _EBML_UNKNOWN_SIZES:
            offset = body
            continue
        if body + size > len(data):
            return f"a WebM element at byte {offset} runs past the end of the file"
        offset = body + size
    return None


def _vint_length(data: mmap.mmap, offset: int) -> int:
    """Length of the EBML variable-size integer at `offset` (0: invalid)."""
    first = data[offset]
    for length in range(1, 9):
        if first & (0x80 >> (length - 1)):
            return length
    return 0


def _vint_value(data: mmap.mmap, offset: int, length: int) -> int:
    value = data[offset] & (0xFF >> length)
    for byte in data[offset + 1 : offset + length]:
        value = (value << 8) | byte
    return value


def mp3_has_length_header(path: Path) -> bool:
    """Whether the first frame carries a Xing/Info/VBRI header with the true length.

    Without one, FFmpeg estimates the duration from the file size, and the
    estimate of a cut file matches the cut.
    """
    with path.open("rb") as file:
        head = file.read(10)
        file.seek(_id3_tag_size(head))
        first_frame = file.read(256)
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


def _id3_tag_size(head: bytes) -> int:
    """Bytes taken by a leading ID3v2 tag: a 10-byte header plus a size of four 7-bit bytes."""
    if not head.startswith(b"ID3") or len(head) < 10:
        return 0
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size


# Layer III bitrates in kbit/s by bitrate index, for MPEG-1 and for MPEG-2/2.5.
_MP3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Sample rates by the header's version bits (0b11 MPEG-1, 0b10 MPEG-2, 0b00 MPEG-2.5).
_MP3_SAMPLE_RATES = {
    0b11: (44100, 48000, 32000),
    0b10: (22050, 24000, 16000),
    0b00: (11025, 12000, 8000),
}
# Tags that may follow the last frame.
_MP3_TRAILERS = (b"TAG", b"APETAGEX", b"LYRICS")


def _mp3(data: mmap.mmap) -> str | None:
    """Walk the frames: the last one must be complete.

    Gives up without a verdict on anything it does not follow (free-format
    bitrates, layers other than III, junk between frames): the decoder still
    judges those.
    """
    offset = _id3_tag_size(data[:10])
    while offset + 4 <= len(data):
        if data[offset : offset + 3] in (b"TAG", b"APE", b"LYR"):
            return None
        frame_length = _mp3_frame_length(data[offset : offset + 4])
        if frame_length is None:
            return None
        if offset + frame_length > len(data):
            return "the last MP3 frame is cut off"
        offset += frame_length
    if offset < len(data) and not data[offset:].startswith(_MP3_TRAILERS):
        return "the last MP3 frame header is cut off"
    return None


def _mp3_frame_length(header: bytes) -> int | None:
    if header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 0b11
    layer = (header[1] >> 1) & 0b11
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0b11
    if layer != 0b01 or version not in _MP3_SAMPLE_RATES or rate_index == 3:
        return None
    if bitrate_index in (0, 15):
        return None  # free format or invalid: the length is not in the header
    bitrate = _MP3_BITRATES[1 if version == 0b11 else 2][bitrate_index] * 1000
    sample_rate = _MP3_SAMPLE_RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    # A Layer III frame holds 1152 samples (MPEG-1) or 576 (MPEG-2/2.5): bytes = samples/8 * rate.
    coefficient = 144 if version == 0b11 else 72
    return coefficient * bitrate // sample_rate + padding


_CHECKS: dict[AudioFormat, Callable[[mmap.mmap], str | None]] = {
    AudioFormat.WAV: _wav,
    AudioFormat.MP3: _mp3,
    AudioFormat.OGG: _ogg,
    AudioFormat.WEBM: _webm,
}
