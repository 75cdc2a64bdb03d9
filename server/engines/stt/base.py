"""What every speech-to-text engine takes and gives. Knows nothing of gRPC."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from server.errors import InvalidArgument

LANGUAGE_FIELD = "config.language"
DEFAULT_LANGUAGE = "en"
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class TranscriptionContext:
    """What the candidate is likely to say: the question, and the skills on their resume.

    Engines use it to spell technical terms right ("scikit-learn", not "sicket learn").
    """

    question: str = ""
    skills: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class TranscribedWord:
    word: str  # without surrounding spaces
    start: float  # seconds from the start of the audio
    end: float
    probability: float  # 0 to 1; 0 also when the engine gives none (OpenAI without segments)


@dataclass(frozen=True)
class TranscriptResult:
    text: str
    words: list[TranscribedWord]
    language: str  # ISO 639-1
    duration: float  # seconds of audio the engine heard
    engine: str  # "local" or "openai"
    model: str  # "tiny.en", "whisper-1"...


class TranscriptionEngine(Protocol):
    """A speech-to-text engine. `load()` once at start-up, `close()` at shutdown."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    async def load(self) -> None:
        """Get ready to answer at once (load weights, open connections)."""
        ...

    async def transcribe(
        self, path: Path, *, language: str, context: TranscriptionContext
    ) -> TranscriptResult:
        """The transcript of the recording at `path`, with word timings.

        InvalidArgument for a language the engine cannot do; ResourceExhausted
        when it is too busy to take more; Unavailable when it fails.
        """
        ...

    async def close(self) -> None: ...


class LiveTranscription(Protocol):
    """An answer transcribed while it arrives (see `server.engines.stt.live`).

    `feed` and `end` are called from the thread that decodes the audio;
    `result` is awaited once `end` was called; `close` always, last.
    """

    def feed(self, samples: npt.NDArray[np.float32]) -> None: ...

    def end(self) -> None: ...

    async def result(self) -> TranscriptResult: ...

    def close(self) -> None: ...


@runtime_checkable
class LiveEngine(Protocol):
    """An engine that can also transcribe an answer while it is being recorded."""

    def live(
        self,
        *,
        language: str,
        context: TranscriptionContext,
        listener: Any = None,
        interim: bool = False,
    ) -> LiveTranscription | None:
        """A session, or None when the engine has no room for one (the caller then waits
        for the whole recording and calls `transcribe`). Cheap: no I/O.

        `listener` (a `server.engines.stt.live.LiveListener`) hears the stable words,
        interim text (with `interim`) and progress as they come."""
        ...


def normalise_language(raw: str) -> str:
    """An ISO 639-1 (or 639-3) code in lower case; empty means English."""
    code = raw.strip().lower() or DEFAULT_LANGUAGE
    if not _LANGUAGE_CODE.match(code):
        raise InvalidArgument.for_field(
            LANGUAGE_FIELD,
            f"language {raw!r} is not an ISO 639-1 code such as 'en' or 'hi'",
            reason="LANGUAGE_INVALID",
        )
    return code


def tidy_words(
    raw: Iterable[tuple[str, float, float, float]], duration: float
) -> list[TranscribedWord]:
    """Words in order with timings the API can promise, from (word, start, end, probability).

    Engines glitch: a word may start before the previous one ends, end
    before it starts, or run past the end of the audio (Whisper pads to 30 s
    windows). Each word is moved to start no earlier than the previous end,
    and everything is clamped inside [0, duration]. Empty words are dropped.
    """
    words: list[TranscribedWord] = []
    previous_end = 0.0
    for text, start, end, probability in raw:
        word = text.strip()
        if not word:
            continue
        start = _clamp(_finite(start), previous_end, duration)
        end = _clamp(_finite(end), start, duration)
        words.append(
            TranscribedWord(
                word=word,
                start=start,
                end=end,
                probability=_clamp(_finite(probability), 0.0, 1.0),
            )
        )
        previous_end = end
    return words


def join_text(parts: Iterable[str]) -> str:
    """Segment texts as one string, with single spaces."""
    return " ".join(" ".join(parts).split())


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), max(low, high))
