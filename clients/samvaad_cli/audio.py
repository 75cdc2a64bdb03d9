"""Streaming a recorded answer: one config message, then the file in 64 KiB chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from generated.samvaad.v1 import transcription_pb2

# Well under the server's per-chunk limit (1 MiB) and in the 16-256 KiB range
# that gRPC recommends for streamed payloads.
CHUNK_BYTES = 64 * 1024

# The formats the server accepts, by extension. Anything else is sent without
# a MIME type, which makes no claim: the server recognises the bytes.
MIME_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".aac": "audio/mp4",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
}


def guess_mime_type(path: Path) -> str:
    return MIME_TYPES.get(path.suffix.lower(), "")


def answer_requests(
    config: transcription_pb2.AudioConfig,
    path: Path,
    chunk_bytes: int = CHUNK_BYTES,
    on_chunk: Callable[[int], None] | None = None,
    on_done: Callable[[], None] | None = None,
) -> Iterator[transcription_pb2.TranscribeAnswerRequest]:
    """The TranscribeAnswer stream. `on_chunk(size)` runs as each chunk is handed to gRPC;
    `on_done()` when gRPC asks for the message after the last, which it does only once the
    last one is sent: from then on the server is transcribing, not receiving."""
    yield transcription_pb2.TranscribeAnswerRequest(config=config)
    with path.open("rb") as file:
        while chunk := file.read(chunk_bytes):
            yield transcription_pb2.TranscribeAnswerRequest(audio_content=chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    if on_done is not None:
        on_done()


# `answer --live` sends this much audio a message, at the pace it was recorded.
LIVE_CHUNK_SECONDS = 0.25
MIN_CHUNK_BYTES = 1024  # the server's minimum for every chunk but the last


def duration_seconds(path: Path) -> float:
    """The recording's length, decoded (headers lie); 0 when it cannot be read."""
    import av  # the same decoder the server uses; only `answer --live` needs it

    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            return sum(frame.samples / frame.sample_rate for frame in container.decode(stream))
    except (av.FFmpegError, IndexError, ZeroDivisionError):
        return 0.0


def live_requests(
    config: transcription_pb2.StreamAnswerConfig,
    path: Path,
    seconds: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Iterator[transcription_pb2.StreamAnswerRequest]:
    """The StreamAnswer stream: the file in quarter-second chunks, each sent once the audio
    it carries would have been recorded, as if the candidate were speaking now."""
    yield transcription_pb2.StreamAnswerRequest(config=config)
    data = path.read_bytes()
    rate = len(data) / seconds if seconds > 0 else float("inf")
    size = max(MIN_CHUNK_BYTES, int(rate * LIVE_CHUNK_SECONDS)) if seconds > 0 else CHUNK_BYTES
    started = clock()
    for offset in range(0, len(data), size):
        chunk = data[offset : offset + size]
        due = started + (offset + len(chunk)) / rate
        sleep(max(0.0, due - clock()))
        yield transcription_pb2.StreamAnswerRequest(audio_content=chunk)
