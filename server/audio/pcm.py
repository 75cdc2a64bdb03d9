"""Raw 16-bit little-endian mono PCM (StreamAnswer's LINEAR16), stored as a WAV file.

A microphone streams samples with no header. The upload writes a WAV header
first, so that everything after it (the probe, the live decoder, the engines)
reads an ordinary WAV; the header's sizes are set when the stream ends.
"""

from __future__ import annotations

import struct
from typing import IO

from server.audio.formats import AUDIO_FIELD, sniff_format
from server.errors import InvalidArgument

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 48_000
HEADER_BYTES = 44
_STREAMING_SIZE = 0xFFFFFFFF  # "unknown" until the stream ends


def check_sample_rate(sample_rate: int, field: str) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise InvalidArgument.for_field(
            field,
            f"LINEAR16 audio needs its sample rate, {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, "
            f"not {sample_rate}",
            reason="AUDIO_SAMPLE_RATE_INVALID",
        )


def wav_header(sample_rate: int, data_bytes: int = _STREAMING_SIZE) -> bytes:
    riff = _STREAMING_SIZE if data_bytes == _STREAMING_SIZE else 36 + data_bytes
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", riff),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16),
            b"data",
            struct.pack("<I", data_bytes),
        ]
    )


def check_chunk(chunk: bytes, *, first: bool) -> None:
    """Refuses, at once, bytes that cannot be LINEAR16: half a sample, or a file's header."""
    if len(chunk) % 2:
        raise _mismatch(
            f"a LINEAR16 chunk of {len(chunk)} bytes holds half a sample; "
            "send whole 16-bit samples (an even number of bytes)"
        )
    detected = sniff_format(chunk[:64]) if first and len(chunk) >= 64 else None
    if detected is not None:
        raise _mismatch(
            f"the bytes are a {detected.value.upper()} file, not raw LINEAR16 samples; "
            "send it with encoding AUDIO_ENCODING_UNSPECIFIED"
        )


def finish_header(file: IO[bytes], sample_rate: int, data_bytes: int) -> None:
    """Write the true sizes into the header (from a worker thread: it seeks)."""
    file.flush()
    file.seek(0)
    file.write(wav_header(sample_rate, data_bytes))
    file.flush()
    file.seek(0, 2)


def _mismatch(message: str) -> InvalidArgument:
    return InvalidArgument.for_field(AUDIO_FIELD, message, reason="AUDIO_ENCODING_MISMATCH")
