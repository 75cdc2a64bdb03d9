"""StreamAnswer's messages <-> the domain's live answers."""

from __future__ import annotations

from collections.abc import Callable

from generated.samvaad.v1 import transcription_pb2 as pb
from server.api import converters
from server.domain.analysis.types import DeliveryMetrics
from server.domain.live_answers import (
    DeliveryEvent,
    InterimEvent,
    LiveAnswerConfig,
    LiveEvent,
)
from server.domain.transcriptions import StoredTranscription

ResultBuilder = Callable[[StoredTranscription, DeliveryMetrics], pb.TranscribeAnswerResponse]


def live_config(config: pb.StreamAnswerConfig) -> LiveAnswerConfig:
    return LiveAnswerConfig(
        answer=converters.answer_config(config.audio),
        interim_results=config.interim_results,
        linear16=config.encoding == pb.AUDIO_ENCODING_LINEAR16,
        sample_rate_hertz=config.sample_rate_hertz,
    )


def event(item: LiveEvent, result: ResultBuilder) -> pb.StreamAnswerResponse:
    if isinstance(item, InterimEvent):
        return pb.StreamAnswerResponse(
            interim=pb.InterimTranscript(
                stable_words=[
                    pb.Word(
                        word=w.word,
                        start_offset=converters.duration(w.start),
                        end_offset=converters.duration(w.end),
                        probability=w.probability,
                    )
                    for w in item.stable_words
                ],
                tentative_text=item.tentative_text,
                audio_heard=converters.duration(item.audio_heard),
            )
        )
    if isinstance(item, DeliveryEvent):
        return pb.StreamAnswerResponse(
            delivery=pb.LiveDelivery(
                words_so_far=item.words_so_far,
                words_per_minute=item.words_per_minute,
                fillers_so_far=item.fillers_so_far,
                current_silence=converters.duration(item.current_silence),
                audio_heard=converters.duration(item.audio_heard),
            )
        )
    return pb.StreamAnswerResponse(result=result(item.stored, item.delivery))
