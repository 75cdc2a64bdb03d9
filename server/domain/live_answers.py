"""StreamAnswer: an answer transcribed while it is recorded, with what is heard so far.

The answer goes through `TranscriptionService.transcribe`, exactly as a
TranscribeAnswer upload does (same checks, limits, engine, storage and
idempotency); the live session's listener turns what the engine hears into
events. Events are coalesced, not queued: when the client or the engine is
slow, the next event carries everything new since the last one, so interim
messages thin out under load while the result is never dropped.

Knows nothing of gRPC: the servicer turns the events into messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Coroutine
from dataclasses import dataclass
from typing import Any

from server.audio import pcm
from server.domain.analysis.types import DeliveryMetrics
from server.domain.transcriptions import AnswerConfig, StoredTranscription, TranscriptionService
from server.engines.stt import TranscribedWord
from server.engines.stt.wer import count_fillers
from server.errors import InvalidArgument

# LiveDelivery at most this often (seconds of wall time).
DELIVERY_EVERY_SECONDS = 1.0
PACE_WINDOW_SECONDS = 20.0


@dataclass(frozen=True)
class LiveAnswerConfig:
    answer: AnswerConfig
    interim_results: bool = False
    linear16: bool = False  # raw 16-bit mono PCM; else a container, sniffed
    sample_rate_hertz: int = 0


@dataclass(frozen=True)
class InterimEvent:
    stable_words: list[TranscribedWord]  # new since the previous interim event
    tentative_text: str
    audio_heard: float


@dataclass(frozen=True)
class DeliveryEvent:
    words_so_far: int
    words_per_minute: float
    fillers_so_far: int
    current_silence: float
    audio_heard: float


@dataclass(frozen=True)
class ResultEvent:
    stored: StoredTranscription
    delivery: DeliveryMetrics


LiveEvent = InterimEvent | DeliveryEvent | ResultEvent


class _Heard:
    """What the live session has told so far; written from worker threads, read on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interim: bool) -> None:
        self._loop = loop
        self._interim = interim
        self._lock = threading.Lock()
        self.changed = asyncio.Event()
        self.words: list[TranscribedWord] = []
        self.sent_words = 0
        self.pending_text = ""
        self.sent_tentative = ""
        self.seconds = 0.0
        self.speech_end = 0.0

    def heard(self, seconds: float, speech_end: float) -> None:
        with self._lock:
            self.seconds, self.speech_end = seconds, speech_end
        self._wake()

    def stable(self, words: list[TranscribedWord]) -> None:
        with self._lock:
            self.words.extend(words)
            self.pending_text = ""  # it described audio these words now cover
        self._wake()

    def tentative(self, text: str) -> None:
        with self._lock:
            self.pending_text = text
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            self._loop.call_soon_threadsafe(self.changed.set)

    def interim(self) -> InterimEvent | None:
        with self._lock:
            new = self.words[self.sent_words :]
            if not self._interim or (not new and self.pending_text == self.sent_tentative):
                return None
            self.sent_words = len(self.words)
            self.sent_tentative = self.pending_text
            return InterimEvent(new, self.pending_text, self.seconds)

    def delivery(self) -> DeliveryEvent:
        with self._lock:
            words, tentative, seconds = list(self.words), self.pending_text, self.seconds
            silence = max(0.0, seconds - self.speech_end)
        spoken = tentative.split()
        since = seconds - PACE_WINDOW_SECONDS
        recent = sum(1 for w in words if w.end >= since) + len(spoken)
        span = min(PACE_WINDOW_SECONDS, seconds)
        text = " ".join([*(w.word for w in words), tentative])
        return DeliveryEvent(
            words_so_far=len(words) + len(spoken),
            words_per_minute=recent * 60.0 / span if span > 0 else 0.0,
            fillers_so_far=count_fillers(text),
            current_silence=silence,
            audio_heard=seconds,
        )


class LiveAnswers:
    def __init__(self, transcriptions: TranscriptionService) -> None:
        self._transcriptions = transcriptions

    def validate(self, config: LiveAnswerConfig) -> None:
        """Every config field, before any I/O or admission."""
        self._transcriptions.validate(config.answer)
        if config.linear16:
            pcm.check_sample_rate(config.sample_rate_hertz, "config.sample_rate_hertz")
            if config.answer.mime_type:
                raise InvalidArgument.for_field(
                    "config.audio.mime_type",
                    "LINEAR16 audio has no container: leave mime_type empty",
                    reason="AUDIO_ENCODING_MISMATCH",
                )

    async def stream(
        self, user_id: int, config: LiveAnswerConfig, chunks: AsyncIterable[bytes]
    ) -> AsyncGenerator[LiveEvent, None]:
        """Events while the audio arrives, then the result, last. Every refusal that needs no
        audio (a bad field, a foreign or closed attempt, no room) comes before `chunks` is read.
        """
        service = self._transcriptions
        self.validate(config)
        service.check_language(config.answer.language)
        admission = service.admission
        with admission.stream(user_id), admission.live(config.interim_results):
            stored = await service.check_config(user_id, config.answer)
            if stored is None:
                with admission.transcription():
                    heard = _Heard(asyncio.get_running_loop(), config.interim_results)
                    job = service.transcribe(
                        user_id,
                        config.answer,
                        chunks,
                        timed=False,
                        listener=heard,
                        interim=config.interim_results,
                        pcm_sample_rate=config.sample_rate_hertz if config.linear16 else 0,
                    )
                    # Closed with this generator, so the transcription stops with the call.
                    async with contextlib.aclosing(_events(job, heard)) as events:
                        async for event in events:
                            if isinstance(event, StoredTranscription):
                                stored = event
                            else:
                                yield event
        assert stored is not None
        final = stored
        delivery = await asyncio.to_thread(lambda: final.delivery)
        yield ResultEvent(final, delivery)


async def _events(
    job: Coroutine[Any, Any, StoredTranscription], heard: _Heard
) -> AsyncGenerator[InterimEvent | DeliveryEvent | StoredTranscription, None]:
    """The listener's news while `job` runs, then its result. Cancelling stops `job`."""
    task = asyncio.ensure_future(job)
    loop = asyncio.get_running_loop()
    last_delivery = 0.0
    try:
        while not task.done():
            changed = asyncio.ensure_future(heard.changed.wait())
            await asyncio.wait({task, changed}, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            heard.changed.clear()
            if task.done():
                break
            interim = heard.interim()
            if interim is not None:
                yield interim
            if loop.time() - last_delivery >= DELIVERY_EVERY_SECONDS:
                last_delivery = loop.time()
                yield heard.delivery()
        yield task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
