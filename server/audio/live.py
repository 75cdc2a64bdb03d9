"""Decode a recording while it is still arriving, for live transcription.

The upload writes chunks to its temporary file as before; a `LiveDecoder`
reads that file from a worker thread as it grows (a read at the end waits
for the next write), decodes it with PyAV, resamples to 16 kHz mono exactly
as faster-whisper's `decode_audio` does, and hands the samples to a
`PcmSink` (the engine's live session). Formats whose container can be read
front to back qualify; M4A/MP4 (its index may come last) keeps the batch path.

Nothing here decides whether the recording is acceptable: the probe still
decodes the complete file and refuses it with the same errors as before. A
recording this decoder cannot read is simply not handed over in full
(`LiveDecoder.result()` is False), and the caller falls back to the batch path.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Protocol

import av
import av.logging
import numpy as np
import numpy.typing as npt

from server.audio.formats import FORMATS, AudioFormat
from server.audio.limits import UploadLimits

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# The formats decoded as they arrive. ADTS AAC is refused at upload; M4A's index
# (moov) may come after the audio, so it cannot be read until it is complete.
STREAMABLE_FORMATS = frozenset(
    {AudioFormat.WAV, AudioFormat.MP3, AudioFormat.OGG, AudioFormat.WEBM, AudioFormat.FLAC}
)
# Samples handed to the sink at once: half a second.
FEED_SAMPLES = SAMPLE_RATE // 2
# Read as little as a format allows before the first frame: the default probe
# waits for 5 MB or 5 s of audio, which a live stream takes seconds to send.
_OPEN_OPTIONS = {"probesize": "32", "analyzeduration": "0"}


class PcmSink(Protocol):
    """Where decoded audio goes: 16 kHz mono float32 samples, in order, from one thread."""

    def feed(self, samples: npt.NDArray[np.float32]) -> None: ...

    def end(self) -> None: ...


# Called once an upload's format is known, for a format decodable as it arrives: the
# sink to decode into, or None for none.
LiveSinkFactory = Callable[[AudioFormat], PcmSink | None]


class _Aborted(Exception):
    """The upload was discarded while its decoder was reading."""


class GrowingFile:
    """A read-only view of a file still being written: a read at its end waits for more.

    `extend` and `complete` come from the writer (the event loop), `read` from the
    decoding thread. `abort` makes a waiting or later read fail.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None
        self._available = 0
        self._position = 0
        self._complete = False
        self._aborted = False
        self._changed = threading.Condition()

    def extend(self, size: int) -> None:
        with self._changed:
            self._available = size
            self._changed.notify_all()

    def complete(self) -> None:
        with self._changed:
            self._complete = True
            self._changed.notify_all()

    def abort(self) -> None:
        with self._changed:
            self._aborted = True
            self._changed.notify_all()

    def read(self, size: int = -1) -> bytes:
        with self._changed:
            self._changed.wait_for(
                lambda: self._aborted or self._complete or self._available > self._position
            )
            if self._aborted:
                raise _Aborted
            end = self._available
        if size < 0:
            size = end - self._position
        size = min(size, end - self._position)
        if self._file is None:
            self._file = self._path.open("rb")
        data = self._file.read(size)
        self._position += len(data)
        return data

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LiveDecoder:
    """Decodes one upload into a sink from a worker thread, as the file grows."""

    def __init__(
        self,
        path: Path,
        audio_format: AudioFormat,
        sink: PcmSink,
        *,
        pool: ThreadPoolExecutor,
        max_seconds: float,
    ) -> None:
        self.reader = GrowingFile(path)
        self._future: Future[bool] = pool.submit(
            _decode, self.reader, FORMATS[audio_format].demuxer, sink, max_seconds
        )

    @classmethod
    def start(
        cls,
        factory: LiveSinkFactory | None,
        path: Path | None,
        audio_format: AudioFormat,
        pool: ThreadPoolExecutor | None,
        limits: UploadLimits,
    ) -> LiveDecoder | None:
        """A decoder for an upload whose format was just recognised, if it should have one."""
        if factory is None or path is None or pool is None:
            return None
        if audio_format not in STREAMABLE_FORMATS:
            return None
        sink = factory(audio_format)
        if sink is None:
            return None
        return cls(path, audio_format, sink, pool=pool, max_seconds=limits.max_duration_seconds)

    def extend(self, size: int) -> None:
        """`size` bytes of the file are written and may be read."""
        self.reader.extend(size)

    def complete(self) -> None:
        """The file is whole: decode to its end."""
        self.reader.complete()

    def abort(self) -> None:
        self.reader.abort()

    async def result(self) -> bool:
        """Whether the whole recording was decoded and handed over (and the sink ended)."""
        return await asyncio.wrap_future(self._future)


def _decode(reader: GrowingFile, demuxer: str, sink: PcmSink, max_seconds: float) -> bool:
    try:
        # FFmpeg's complaints about a damaged upload are the probe's to report.
        with av.logging.Capture(local=True):
            complete = _decode_into(reader, demuxer, sink, max_seconds)
    except _Aborted:
        return False
    except Exception as exc:  # bytes this decoder cannot read: the batch path decides
        log.info("live decoding stopped", extra={"error": type(exc).__name__})
        return False
    finally:
        reader.close()
    if complete:
        sink.end()
    return complete


def _decode_into(reader: GrowingFile, demuxer: str, sink: PcmSink, max_seconds: float) -> bool:
    limit = int(max_seconds * SAMPLE_RATE)
    total = 0
    pending: list[npt.NDArray[np.int16]] = []
    held = 0
    with av.open(reader, mode="r", format=demuxer, options=_OPEN_OPTIONS) as container:
        if not container.streams.audio:
            return False
        stream = container.streams.audio[0]
        # What faster_whisper.audio.decode_audio does, so the samples are the batch path's.
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in _frames(container, stream, resampler):
            samples = frame.to_ndarray().reshape(-1)
            pending.append(samples)
            held += len(samples)
            total += len(samples)
            if total > limit:
                return False  # too long: the probe refuses it
            if held >= FEED_SAMPLES:
                sink.feed(_as_float(pending))
                pending, held = [], 0
    if pending:
        sink.feed(_as_float(pending))
    return True


def _frames(container: Any, stream: Any, resampler: Any) -> Iterator[Any]:
    for frame in container.decode(stream):
        frame.pts = None
        yield from resampler.resample(frame)
    yield from resampler.resample(None)


def _as_float(parts: list[npt.NDArray[np.int16]]) -> npt.NDArray[np.float32]:
    return (np.concatenate(parts).astype(np.float32) / 32768.0).astype(np.float32)
