"""Assemble a streamed recording into a temporary file, checking it as it arrives.

Chunks go straight to disk, so an answer is never held in memory whole. The
limits bite while the bytes arrive: a chunk over the per-chunk size, or the
byte that crosses the total, is refused before it is written, and bytes that
are not audio are refused as soon as the first 64 have come in. When the
stream ends the file is decoded once (`probe_audio`) for its true duration.

The temporary file lives exactly as long as the `AudioUpload` context: it is
removed on success, on error and on cancellation (a client that hangs up, a
deadline, server shutdown) alike.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar

from server import text
from server.audio import pcm
from server.audio.formats import (
    AUDIO_FIELD,
    FORMATS,
    SNIFF_BYTES,
    SUPPORTED_FORMATS_TEXT,
    AudioFormat,
    MimeClaim,
    check_claimed_codec,
    check_claimed_format,
    parse_mime_type,
    sniff_format,
)
from server.audio.limits import StreamLimits, TempBudget, UploadLimits, with_idle_timeout
from server.audio.live import LiveDecoder, LiveSinkFactory
from server.audio.probe import probe_audio
from server.config import Settings
from server.errors import InvalidArgument, ResourceExhausted, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

UPLOAD_PREFIX = "samvaad-upload-"
MAX_FILENAME_CHARS = 255
# Writes are short (a chunk into the page cache); a few threads keep many
# uploads moving even when one disk write stalls.
WRITE_THREADS = 4
# Chunks are gathered up to this size before a writer thread takes them: a thread
# hop per 64 KiB chunk cost more than the write itself. At most this much of an
# answer is in memory at once.
WRITE_BATCH_BYTES = 512 * 1024
# Decoding is CPU work: no more at once than this 2-core machine can take
# next to Whisper.
PROBE_THREADS = 2


@dataclass(frozen=True)
class AudioInfo:
    """The recording as the server saw it (AudioInfo in the API)."""

    format: AudioFormat
    size_bytes: int
    duration: float  # seconds, measured by decoding
    filename: str
    mime_type: str  # of the detected format, not the declared one
    codec: str  # FFmpeg codec name, for logs: "opus", "aac", "pcm_s16le"...


@dataclass(frozen=True)
class ReceivedAudio:
    """A complete, decodable recording on disk; `path` lives as long as its upload context."""

    path: Path
    info: AudioInfo
    # The whole recording went through the live sink given to `receive` (and it was ended).
    live: bool = False


class AudioIntake:
    """Limits, temporary directory and worker threads shared by all uploads.

    Build one at start-up; `close()` at shutdown.
    """

    def __init__(
        self,
        limits: UploadLimits,
        *,
        temp_dir: Path | None = None,
        streams: StreamLimits | None = None,
    ) -> None:
        self.limits = limits
        self.streams = streams or StreamLimits()
        self.budget = TempBudget(self.streams.temp_budget_bytes)
        self.temp_dir = Path(temp_dir) if temp_dir else Path(tempfile.gettempdir())
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self._write_pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="audio-write")
        self._probe_pool = ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="audio-probe")
        # One thread per live upload for its whole life (mostly waiting for bytes):
        # as many as streams may be admitted at once.
        self._live_pool = ThreadPoolExecutor(
            max(1, self.streams.max_active), thread_name_prefix="audio-live"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AudioIntake:
        return cls(
            UploadLimits.from_settings(settings),
            temp_dir=settings.audio_temp_dir,
            streams=StreamLimits.from_settings(settings),
        )

    def upload(
        self, *, filename: str = "", mime_type: str = "", pcm_sample_rate: int = 0
    ) -> AudioUpload:
        """A new upload. Refuses a declared MIME type we cannot accept before any byte arrives.

        `pcm_sample_rate`: the bytes are raw LINEAR16 at this rate (`server.audio.pcm`).
        """
        claim = parse_mime_type(mime_type)
        return AudioUpload(
            self.limits,
            self.temp_dir,
            clean_filename(filename),
            claim,
            write_pool=self._write_pool,
            probe_pool=self._probe_pool,
            live_pool=self._live_pool,
            budget=self.budget,
            pcm_sample_rate=pcm_sample_rate,
        )

    def remove_stale_uploads(self, older_than_seconds: float = 3600.0) -> int:
        """Delete upload files a killed process left behind; returns how many.

        Only files older than any upload can last, so a second worker process
        sharing the directory keeps its live ones.
        """
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self.temp_dir.glob(f"{UPLOAD_PREFIX}*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def close(self) -> None:
        self._write_pool.shutdown(wait=False, cancel_futures=True)
        self._probe_pool.shutdown(wait=False, cancel_futures=True)
        self._live_pool.shutdown(wait=False, cancel_futures=True)


class AudioUpload:
    """One recording being received. Use as `async with intake.upload(...) as upload:`."""

    def __init__(
        self,
        limits: UploadLimits,
        temp_dir: Path,
        filename: str,
        claim: MimeClaim | None,
        *,
        write_pool: ThreadPoolExecutor,
        probe_pool: ThreadPoolExecutor,
        live_pool: ThreadPoolExecutor | None = None,
        budget: TempBudget | None = None,
        pcm_sample_rate: int = 0,
    ) -> None:
        self._limits = limits
        self._budget = budget or TempBudget(0)
        self._reserved = 0
        self._messages = 0
        self._short_chunk: int | None = None  # size of a chunk under the minimum, if one came
        self._temp_dir = temp_dir
        self._write_pool = write_pool
        self._probe_pool = probe_pool
        self._live_pool = live_pool
        self._live_factory: LiveSinkFactory | None = None
        self._live: LiveDecoder | None = None
        self._written = 0  # bytes handed to the file
        self._pcm_rate = pcm_sample_rate
        self._filename = filename
        self._claim = claim
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._pending_write: Future[int] | None = None
        self._buffer = bytearray()
        self._head = b""
        self._format: AudioFormat | None = None
        self._size = 0
        self._finished = False

    @property
    def received_bytes(self) -> int:
        return self._size

    @property
    def path(self) -> Path | None:
        return self._path

    async def __aenter__(self) -> Self:
        # mkstemp is one quick syscall: not worth a thread hop.
        fd, name = tempfile.mkstemp(prefix=UPLOAD_PREFIX, dir=self._temp_dir)
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._discard()

    async def receive(
        self,
        chunks: AsyncIterable[bytes],
        *,
        timed: bool = True,
        live: LiveSinkFactory | None = None,
    ) -> ReceivedAudio:
        """Write every chunk, then `finish()`.

        `timed`: each chunk must arrive within the idle timeout. A caller that
        already times its stream (the servicer) passes False: one timer a message.
        `live`: for a format that can be decoded as it arrives, where to decode it
        while it arrives (see `server.audio.live`).
        """
        self._live_factory = live
        source = with_idle_timeout(chunks, self._limits.idle_timeout_seconds) if timed else chunks
        async for chunk in source:
            await self.write(chunk)
        return await self.finish()

    async def write(self, chunk: bytes) -> None:
        file = self._require_open()
        self._check_message(len(chunk))
        if self._size + len(chunk) > self._limits.max_total_bytes:
            raise ResourceExhausted(
                f"the audio is larger than the limit of {_mib(self._limits.max_total_bytes)}",
                reason="AUDIO_TOO_LARGE",
            )
        if not chunk:
            return
        if self._pcm_rate:
            pcm.check_chunk(chunk, first=self._format is None)
        self._budget.reserve(len(chunk))
        self._reserved += len(chunk)
        if self._format is None:
            if self._pcm_rate:  # raw samples: stored behind a WAV header
                self._format = AudioFormat.WAV
                self._buffer += pcm.wav_header(self._pcm_rate)
            else:
                self._sniff(chunk, final=False)
            if self._format is not None:
                factory, self._live_factory = self._live_factory, None
                self._live = LiveDecoder.start(
                    factory, self._path, self._format, self._live_pool, self._limits
                )
        self._buffer += chunk
        self._size += len(chunk)
        # A live decoder reads what is on disk: every chunk goes there at once.
        if len(self._buffer) >= WRITE_BATCH_BYTES or self._live is not None:
            await self._flush(file)

    def _check_message(self, size: int) -> None:
        """One chunk is one message: its size and the count, checked before anything else.

        Each message costs the server the same whatever it carries, so chunks
        under the minimum are refused, except the last: a short chunk is only
        known not to be the last when another one follows it.
        """
        limits = self._limits
        if size > limits.max_chunk_bytes:
            raise ResourceExhausted(
                f"an audio chunk of {size} bytes is over the limit of "
                f"{limits.max_chunk_bytes} bytes per message",
                reason="AUDIO_CHUNK_TOO_LARGE",
            )
        self._messages += 1
        if limits.max_messages and self._messages > limits.max_messages:
            raise ResourceExhausted(
                f"the audio came in more than {limits.max_messages} messages; "
                f"send it in fewer, larger chunks (at most {limits.max_chunk_bytes} bytes each)",
                reason="AUDIO_TOO_MANY_MESSAGES",
            )
        if self._short_chunk is not None:
            raise InvalidArgument.for_field(
                AUDIO_FIELD,
                f"a chunk of {self._short_chunk} bytes was followed by more audio; every "
                f"chunk but the last must carry at least {limits.min_chunk_bytes} bytes",
                reason="AUDIO_CHUNK_TOO_SMALL",
            )
        if size < limits.min_chunk_bytes:
            self._short_chunk = size

    async def _flush(self, file: IO[bytes]) -> None:
        """Hand the buffered bytes to a writer thread: one hop per batch, not per chunk."""
        if not self._buffer:
            return
        # The buffer itself goes to the thread: no copy of the batch on the event loop.
        batch, self._buffer = self._buffer, bytearray()
        self._pending_write = self._write_pool.submit(_write, file, batch)
        try:
            await asyncio.wrap_future(self._pending_write)
        except OSError as exc:
            raise _storage_failed(exc) from exc
        self._written += len(batch)
        if self._live is not None:
            self._live.extend(self._written)

    async def finish(self) -> ReceivedAudio:
        """Close the file, decode it once, and describe it. Refuses what is not sound audio."""
        file = self._require_open()
        await self._flush(file)
        self._finished = True
        if self._size == 0:
            raise InvalidArgument.for_field(
                AUDIO_FIELD, "no audio was received", reason="AUDIO_EMPTY"
            )
        if self._format is None:  # fewer bytes than a full sniff: judge what there is
            self._sniff(b"", final=True)
        path, audio_format = self._path, self._format
        assert path is not None
        assert audio_format is not None
        loop = asyncio.get_running_loop()
        try:
            if self._pcm_rate:
                await loop.run_in_executor(
                    self._write_pool, pcm.finish_header, file, self._pcm_rate, self._size
                )
            await loop.run_in_executor(self._write_pool, file.close)
        except OSError as exc:
            raise _storage_failed(exc) from exc
        if self._live is not None:
            self._live.complete()  # the live decoder reads to the end meanwhile
        probe = await loop.run_in_executor(
            self._probe_pool,
            partial(
                probe_audio, path, audio_format, max_duration=self._limits.max_duration_seconds
            ),
        )
        check_claimed_codec(self._claim, probe.codec)
        live = await self._live.result() if self._live is not None else False
        info = AudioInfo(
            format=audio_format,
            size_bytes=self._size,
            duration=probe.duration,
            filename=self._filename,
            mime_type=FORMATS[audio_format].mime_type,
            codec=probe.codec,
        )
        return ReceivedAudio(path, info, live=live)

    def _sniff(self, chunk: bytes, *, final: bool) -> None:
        self._head += chunk[: SNIFF_BYTES - len(self._head)]
        if len(self._head) < SNIFF_BYTES and not final:
            return
        detected = sniff_format(self._head)
        if detected is None:
            raise InvalidArgument.for_field(
                AUDIO_FIELD,
                f"the bytes are not a supported recording; send {SUPPORTED_FORMATS_TEXT}",
                reason="AUDIO_FORMAT_UNSUPPORTED",
            )
        check_claimed_format(self._claim, detected)
        self._format = detected

    def _require_open(self) -> IO[bytes]:
        if self._file is None:
            raise RuntimeError("use the upload as `async with intake.upload(...) as upload`")
        if self._finished:
            raise RuntimeError("the upload is already finished")
        return self._file

    def _discard(self) -> None:
        """Remove the file now; close it once any write still running in a thread is done.

        Unlinking first means nothing is left on disk even if that write is
        slow; closing from the write's completion never blocks the event loop
        and never yanks the file from under a running write.
        """
        if self._path is not None:
            self._path.unlink(missing_ok=True)
        if self._live is not None:
            self._live.abort()
        self._budget.release(self._reserved)
        self._reserved = 0
        file, self._file = self._file, None
        if file is None:
            return
        pending = self._pending_write
        if pending is not None and not pending.done():
            pending.add_done_callback(lambda _: _close_quietly(file))
        else:
            _close_quietly(file)


def clean_filename(raw: str) -> str:
    """The name to show: its last path component, nothing invisible, not absurdly long."""
    return text.clean_filename(raw, max_chars=MAX_FILENAME_CHARS, fallback="")


def _storage_failed(exc: OSError) -> Unavailable:
    log.error("could not store an upload", exc_info=exc)
    return Unavailable("the server could not store the audio; try again", reason="AUDIO_STORAGE")


def _write(file: IO[bytes], batch: bytearray) -> int:
    """Write and flush: a live decoder reads the file through its own handle."""
    written = file.write(batch)
    file.flush()
    return written


def _close_quietly(file: IO[bytes]) -> None:
    try:
        file.close()
    except OSError:
        log.warning("could not close a discarded upload", exc_info=True)


def _mib(size: int) -> str:
    """26214400 -> "25 MiB (26214400 bytes)": the unit a person reads, the exact figure too."""
    return f"{size / (1024 * 1024):.3g} MiB ({size} bytes)"
