"""TranscriptionService: the audio stream in, the stored transcript out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from generated.samvaad.v1 import transcription_pb2 as pb
from generated.samvaad.v1 import transcription_pb2_grpc
from server.api import converters, live_converters
from server.api.context import current_user_id
from server.audio import StreamLimits, with_idle_timeout
from server.domain.analysis.types import DeliveryMetrics
from server.domain.live_answers import LiveAnswers
from server.domain.transcriptions import StoredTranscription, TranscriptionService
from server.errors import DeadlineExceeded, DomainError, InvalidArgument

log = logging.getLogger(__name__)

Context = Any

# Messages a refused stream is read for at most, whatever their size: each costs
# the same to receive. 1,024 chunks of 64 KiB (the CLI's) cover a 25 MiB upload.
DRAIN_MAX_MESSAGES = 1024
# Refused streams drained at once; beyond this the status is sent straight away.
MAX_CONCURRENT_DRAINS = 16
# Refusals of a stream's per-message cost: reading on would cost what they prevent.
UNDRAINED_REASONS = frozenset({"AUDIO_CHUNK_TOO_SMALL", "AUDIO_TOO_MANY_MESSAGES"})


class TranscriptionServicer(transcription_pb2_grpc.TranscriptionServiceServicer):
    def __init__(self, transcriptions: TranscriptionService, idle_timeout_seconds: float) -> None:
        self._transcriptions = transcriptions
        self._live = LiveAnswers(transcriptions)
        self._idle_timeout = idle_timeout_seconds
        self._limits: StreamLimits = transcriptions.intake.streams
        self._draining = 0

    async def TranscribeAnswer(
        self, request_iterator: AsyncIterable[pb.TranscribeAnswerRequest], context: Context
    ) -> pb.TranscribeAnswerResponse:
        stream = _RequestStream(request_iterator)
        timed = with_idle_timeout(
            stream, self._idle_timeout, total_seconds=self._limits.max_stream_seconds
        )
        messages = aiter(timed)
        try:
            config = converters.answer_config(await _first_config(messages))
            stored, delivery = await self._transcriptions.answer(
                current_user_id(), config, _audio(messages)
            )
        except DomainError as error:
            # Every reservation (stream slot, transcription slot, temp disk) is
            # released by now: the drain holds nothing but this task.
            if _drainable(stream, error):
                await self._drain(stream)
            raise
        if not stream.ended:
            # A repeated request_id is answered from storage without reading the audio:
            # read what the client is still sending, so that it sees the reply.
            await self._drain(stream)
        # A message of every word: built off the event loop.
        return await asyncio.to_thread(_response, stored, delivery)

    async def StreamAnswer(
        self, request_iterator: AsyncIterable[pb.StreamAnswerRequest], context: Context
    ) -> AsyncIterator[pb.StreamAnswerResponse]:
        stream = _RequestStream(request_iterator)
        timed = with_idle_timeout(
            stream, self._idle_timeout, total_seconds=self._limits.max_stream_seconds
        )
        messages = aiter(timed)
        try:
            config = live_converters.live_config(await _first_config(messages))
            events = self._live.stream(current_user_id(), config, _audio(messages))
            # Closed however the call ends (a hang-up cancels us at a `yield`): that stops
            # the transcription at once, not when the generator is collected.
            async with contextlib.aclosing(events):
                async for event in events:
                    # The result carries every word: built off the event loop.
                    yield await asyncio.to_thread(live_converters.event, event, _response)
            if not stream.ended:
                # A repeated request_id is answered from storage without reading the
                # audio: read what the client is still sending, so that it sees the end.
                await self._drain(stream)
        except DomainError as error:
            if _drainable(stream, error):
                await self._drain(stream)
            raise

    async def GetTranscription(
        self, request: pb.GetTranscriptionRequest, context: Context
    ) -> pb.GetTranscriptionResponse:
        stored = await self._transcriptions.get(current_user_id(), request.question_attempt_id)
        return await asyncio.to_thread(
            lambda: pb.GetTranscriptionResponse(
                question_attempt_id=stored.question_attempt_id,
                transcription=converters.transcription(stored),
            )
        )

    async def _drain(self, stream: _RequestStream) -> None:
        """Read and discard what the client is still sending, within bounds, before the status.

        A grpc.aio (or sync) Python client that is still writing when the status
        arrives reports `INTERNAL: Internal error from Core` instead of it
        (grpc/grpc#36066). Reading on until the client half-closes lets it see
        the real status. Bounded in bytes, messages and time, and in how many
        run at once; the bytes go nowhere. See `_drainable` for what is not drained.
        """
        limits = self._limits
        if self._draining >= MAX_CONCURRENT_DRAINS or limits.drain_seconds <= 0:
            return
        self._draining += 1
        try:
            async with asyncio.timeout(limits.drain_seconds):
                await stream.discard(limits.drain_max_bytes, DRAIN_MAX_MESSAGES)
        except (TimeoutError, DomainError):
            pass  # out of time, or a malformed message: send the status now
        finally:
            self._draining -= 1


def _drainable(stream: _RequestStream, error: DomainError) -> bool:
    """Whether a client may still be sending, and reading on is worth it.

    Timeouts are not drained (the client is not sending, or has had its time),
    nor refusals of tiny or too many messages (draining would cost what they prevent).
    """
    return (
        not stream.ended
        and not isinstance(error, DeadlineExceeded)
        and error.reason not in UNDRAINED_REASONS
    )


class _RequestStream:
    """The request messages, noting whether the client has finished sending."""

    def __init__(self, source: AsyncIterable[Any]) -> None:
        self._source = aiter(source)
        self.ended = False

    def __aiter__(self) -> _RequestStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await anext(self._source)
        except StopAsyncIteration:
            self.ended = True
            raise

    async def discard(self, max_bytes: int, max_messages: int) -> None:
        discarded = messages = 0
        async for message in self:
            messages += 1
            discarded += len(message.audio_content)
            if discarded > max_bytes or messages > max_messages:
                return


def _response(
    stored: StoredTranscription, delivery: DeliveryMetrics
) -> pb.TranscribeAnswerResponse:
    return pb.TranscribeAnswerResponse(
        question_attempt_id=stored.question_attempt_id,
        transcription=converters.transcription(stored),
        audio=converters.audio_info(stored),
        processing_time=converters.duration(stored.processing_seconds),
        delivery=converters.delivery(delivery),
    )


async def _first_config(messages: AsyncIterator[Any]) -> Any:
    """The first message's config (an AudioConfig, or a StreamAnswerConfig)."""
    try:
        first = await anext(messages)
    except StopAsyncIteration:
        raise _config_error("the stream was empty; send the config first") from None
    if first.WhichOneof("payload") != "config":
        raise _config_error("the first message must carry `config`, before any audio_content")
    return first.config


async def _audio(messages: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for message in messages:
        kind = message.WhichOneof("payload")
        if kind == "config":
            raise _config_error("`config` may be sent only once, in the first message")
        if kind != "audio_content":
            raise InvalidArgument.for_field(
                "audio_content", "every message after the first must carry audio_content"
            )
        yield message.audio_content


def _config_error(description: str) -> InvalidArgument:
    return InvalidArgument.for_field("config", description, reason="STREAM_ORDER")
