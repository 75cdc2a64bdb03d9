"""What one upload, one stream and this process may hold, and the timer that ends a
stream that stalls or trickles (docs/api.md, "Limits of a TranscribeAnswer stream")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

from server.config import Settings
from server.errors import DeadlineExceeded, ResourceExhausted

T = TypeVar("T")

# How long a client refused for want of room should wait before trying again.
RETRY_AFTER_SECONDS = 10.0


@dataclass(frozen=True)
class UploadLimits:
    max_chunk_bytes: int
    max_total_bytes: int
    max_duration_seconds: float
    idle_timeout_seconds: float
    # Every chunk but the last must be at least this large; 0: no minimum.
    min_chunk_bytes: int = 0
    # Chunks (audio_content messages) one upload may take; 0: no bound.
    max_messages: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(
            max_chunk_bytes=settings.audio_max_chunk_bytes,
            max_total_bytes=settings.audio_max_bytes,
            max_duration_seconds=settings.audio_max_duration_seconds,
            idle_timeout_seconds=settings.audio_idle_timeout_seconds,
            min_chunk_bytes=settings.audio_min_chunk_bytes,
            max_messages=settings.audio_max_messages_per_stream,
        )


@dataclass(frozen=True)
class StreamLimits:
    """What one TranscribeAnswer stream and one account may hold, in this process."""

    max_streams_per_user: int = 2
    max_active: int = 8  # streams admitted at once, from config to stored transcript
    max_stream_seconds: float = 900.0  # from the stream's start to its last audio byte
    temp_budget_bytes: int = 0  # bytes all uploads may hold at once; 0: no budget
    drain_max_bytes: int = 32 * 1024 * 1024
    drain_seconds: float = 5.0
    max_live_streams: int = 6  # StreamAnswer streams at once (docs/transcription.md)
    max_interim_streams: int = 2  # of which with interim results

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamLimits:
        return cls(
            max_streams_per_user=settings.audio_max_streams_per_user,
            max_active=settings.transcription_max_pending,
            max_stream_seconds=settings.audio_max_stream_seconds,
            temp_budget_bytes=settings.audio_temp_budget_bytes,
            drain_max_bytes=settings.audio_drain_max_bytes,
            drain_seconds=settings.audio_drain_seconds,
            max_live_streams=settings.transcription_max_live_streams,
            max_interim_streams=settings.transcription_max_interim_streams,
        )


class TempBudget:
    """Bytes of audio every upload of this process holds (buffered or on disk), bounded.

    An upload reserves each chunk before it is buffered and gives all of it back
    when its file is removed. Used from the event loop only: a reservation is a
    check and an increment with no await between them, so two uploads cannot
    both take the last bytes. Per process: N workers may hold N budgets.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes  # 0: unbounded (still counted)
        self.used_bytes = 0
        self.peak_bytes = 0

    def reserve(self, size: int) -> None:
        if self.limit_bytes and self.used_bytes + size > self.limit_bytes:
            raise ResourceExhausted(
                "the server is holding as much uploaded audio as it can; try again shortly",
                reason="AUDIO_TEMP_BUDGET_EXHAUSTED",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        self.used_bytes += size
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)

    def release(self, size: int) -> None:
        self.used_bytes -= size


async def with_idle_timeout(
    source: AsyncIterable[T], seconds: float, *, total_seconds: float | None = None
) -> AsyncIterator[T]:
    """Items of `source`, each of which must arrive within `seconds` of the previous one,
    and (with `total_seconds`) all of them within `total_seconds` of the first request.

    DeadlineExceeded otherwise: a client that stops sending mid-upload, or one
    that trickles a byte now and then, must not hold a temporary file and a
    server task forever.
    """
    iterator = aiter(source)
    loop = asyncio.get_running_loop()
    deadline = None if total_seconds is None else loop.time() + total_seconds
    while True:
        wait = seconds if deadline is None else min(seconds, deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            if wait < seconds:
                raise DeadlineExceeded(
                    f"the stream took longer than the limit of {total_seconds:g} seconds "
                    "from its start to its last audio byte; the upload was abandoned",
                    reason="AUDIO_STREAM_TIME_LIMIT",
                ) from None
            raise DeadlineExceeded(
                f"no audio arrived for {seconds:g} seconds; the upload was abandoned",
                reason="AUDIO_IDLE_TIMEOUT",
            ) from None
        yield item
