"""TranscriptionService: the audio stream in, the stored transcript out."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from generated.samvaad.v1 import transcription_pb2 as pb
from generated.samvaad.v1 import transcription_pb2_grpc
from server.api import converters
from server.api.context import current_user_id
from server.audio import with_idle_timeout
from server.domain.transcriptions import TranscriptionService
from server.errors import InvalidArgument

Context = Any


class TranscriptionServicer(transcription_pb2_grpc.TranscriptionServiceServicer):
    def __init__(self, transcriptions: TranscriptionService, idle_timeout_seconds: float) -> None:
        self._transcriptions = transcriptions
        self._idle_timeout = idle_timeout_seconds

    async def TranscribeAnswer(
        self, request_iterator: AsyncIterable[pb.TranscribeAnswerRequest], context: Context
    ) -> pb.TranscribeAnswerResponse:
        messages = aiter(with_idle_timeout(request_iterator, self._idle_timeout))
        config = converters.answer_config(await _first_config(messages))
        user_id = current_user_id()
        # The attempt is checked before a single audio byte is accepted.
        stored = await self._transcriptions.check_config(user_id, config)
        if stored is None:
            stored = await self._transcriptions.transcribe(user_id, config, _audio(messages))
        return pb.TranscribeAnswerResponse(
            question_attempt_id=stored.question_attempt_id,
            transcription=converters.transcription(stored),
            audio=converters.audio_info(stored),
            processing_time=converters.duration(stored.processing_seconds),
            delivery=converters.delivery(stored.delivery),
        )

    async def GetTranscription(
        self, request: pb.GetTranscriptionRequest, context: Context
    ) -> pb.GetTranscriptionResponse:
        stored = await self._transcriptions.get(current_user_id(), request.question_attempt_id)
        return pb.GetTranscriptionResponse(
            question_attempt_id=stored.question_attempt_id,
            transcription=converters.transcription(stored),
        )


async def _first_config(messages: AsyncIterator[pb.TranscribeAnswerRequest]) -> pb.AudioConfig:
    try:
        first = await anext(messages)
    except StopAsyncIteration:
        raise _config_error("the stream was empty; send an AudioConfig first") from None
    if first.WhichOneof("payload") != "config":
        raise _config_error("the first message must carry `config`, before any audio_content")
    return first.config


async def _audio(messages: AsyncIterator[pb.TranscribeAnswerRequest]) -> AsyncIterator[bytes]:
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
