"""Whisper through the OpenAI audio API (whisper-1 by default).

The openai client retries 408, 409, 429 and 5xx answers and connection
errors itself, with exponential backoff and jitter, honouring Retry-After;
`max_retries` and `timeout` come from the settings. Whatever still fails
becomes Unavailable: the client may retry, and nothing is saved.

Asks for verbose_json with word and segment timestamps: words carry the
timings, segments the confidence (the API gives words none of their own).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import openai
from openai.types.audio import TranscriptionSegment, TranscriptionVerbose, TranscriptionWord

from server.audio.formats import FORMATS, SNIFF_BYTES, sniff_format
from server.engines.stt.base import (
    TranscriptionContext,
    TranscriptResult,
    normalise_language,
    tidy_words,
)
from server.engines.stt.prompt import build_prompt
from server.errors import Unavailable

log = logging.getLogger(__name__)

DEFAULT_MODEL = "whisper-1"


class OpenAIWhisperEngine:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_seconds: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self._model = model
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=max_retries
        )

    @property
    def name(self) -> str:
        return "openai"

    @property
    def model(self) -> str:
        return self._model

    async def load(self) -> None:
        """Nothing to load; the first request opens the connection."""

    async def transcribe(
        self, path: Path, *, language: str, context: TranscriptionContext
    ) -> TranscriptResult:
        language = normalise_language(language)
        audio = await asyncio.to_thread(path.read_bytes)
        try:
            response = await self._client.audio.transcriptions.create(
                model=self._model,
                file=_named_upload(path, audio),
                language=language,
                prompt=build_prompt(context),
                response_format="verbose_json",
                timestamp_granularities=["word", "segment"],
            )
        except openai.OpenAIError as exc:
            log.warning("openai transcription failed", extra={"error": _describe(exc)})
            raise Unavailable(
                f"the OpenAI transcription service failed: {_describe(exc)}",
                reason="TRANSCRIPTION_UNAVAILABLE",
            ) from exc
        # Every word, checked and tidied: not on the event loop.
        return await asyncio.to_thread(self._result, response, language)

    async def close(self) -> None:
        await self._client.close()

    def _result(self, response: TranscriptionVerbose, language: str) -> TranscriptResult:
        # The client builds the response without validating it: check what we use.
        try:
            if not isinstance(response, TranscriptionVerbose) or not isinstance(response.text, str):
                raise TypeError(f"got {type(response).__name__} without a text")
            words = response.words or []
            duration = _duration(response, words)
            tidy = tidy_words(_with_confidence(words, response.segments or []), duration)
        except (AttributeError, TypeError, ValueError) as exc:
            log.warning("openai sent an unexpected transcription", extra={"error": str(exc)})
            raise Unavailable(
                "the OpenAI transcription service sent an answer that is not a transcript",
                reason="TRANSCRIPTION_UNAVAILABLE",
            ) from exc
        return TranscriptResult(
            text=" ".join(response.text.split()),
            words=tidy,
            # The API names the language ("english"); we asked for this code.
            language=language,
            duration=duration,
            engine=self.name,
            model=self._model,
        )


def _named_upload(path: Path, audio: bytes) -> tuple[str, bytes, str]:
    """The API tells formats by file name; upload files have none, so name it from its bytes."""
    detected = sniff_format(audio[:SNIFF_BYTES])
    if detected is None:
        return path.name, audio, "application/octet-stream"
    spec = FORMATS[detected]
    return f"answer.{spec.extension}", audio, spec.mime_type


def _duration(response: TranscriptionVerbose, words: Sequence[TranscriptionWord]) -> float:
    duration = response.duration
    if isinstance(duration, int | float) and math.isfinite(duration) and duration > 0:
        return float(duration)
    return max((word.end for word in words), default=0.0)


def _with_confidence(
    words: Sequence[TranscriptionWord], segments: Sequence[TranscriptionSegment]
) -> list[tuple[str, float, float, float]]:
    """(word, start, end, probability), the probability being its segment's mean token one."""
    ordered = sorted(segments, key=lambda segment: segment.start)
    result = []
    index = 0
    for word in words:
        middle = (word.start + word.end) / 2
        while index < len(ordered) - 1 and ordered[index].end < middle:
            index += 1
        probability = 0.0
        if ordered and ordered[index].start <= middle <= ordered[index].end:
            probability = math.exp(ordered[index].avg_logprob)
        result.append((word.word, word.start, word.end, probability))
    return result


def _describe(exc: openai.OpenAIError) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "could not connect"
    return type(exc).__name__
