"""Word timings, tidied and measured: pace bands, the gaps between words, pace windows.

The rules are in the docstring of `delivery.py`, which puts these measures together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.analysis.types import Pace, PaceWindow, Word

MIN_WORDS = 10
SLOW_BELOW = 110.0
FAST_ABOVE = 170.0
WINDOW_SECONDS = 20.0
WINDOW_STEP_SECONDS = 10.0
PAUSE_SECONDS = 0.5
LONG_PAUSE_SECONDS = 2.0
# Whisper times words to 10 ms; a shorter span measures nothing (and a rate over a
# subnormal one overflows to infinity).
MIN_MEASURABLE_SECONDS = 0.01

PUNCTUATION = ".,;:!?…—–-\"'()[]"


@dataclass(frozen=True)
class TimedWord:
    text: str  # as transcribed, surrounding spaces off
    start: float
    end: float

    @property
    def bare(self) -> str:
        """The word without punctuation around it, for quoting."""
        return self.text.strip(PUNCTUATION) or self.text


def band(words_per_minute: float) -> Pace:
    """The pace band of a rate (without the 10-word rule)."""
    if words_per_minute < SLOW_BELOW:
        return Pace.TOO_SLOW
    if words_per_minute > FAST_ABOVE:
        return Pace.TOO_FAST
    return Pace.GOOD


def finite(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


def tidy(words: Sequence[Word]) -> list[TimedWord]:
    """Words with text, timings finite and non-negative, in order of start.

    A token of punctuation alone joins the word before it (its punctuation
    matters to filler detection); an end before the start is moved to the start.
    """
    timed: list[TimedWord] = []
    for word in sorted(words, key=lambda w: finite(w.start)):
        text = word.text.strip()
        if not text:
            continue
        if not any(c.isalnum() for c in text):
            if timed:
                last = timed[-1]
                timed[-1] = TimedWord(last.text + text, last.start, last.end)
            continue
        start = finite(word.start)
        timed.append(TimedWord(text, start, max(start, finite(word.end))))
    return timed


@dataclass(frozen=True)
class Gap:
    index: int  # of the word after the gap
    start: float  # when the silence starts: the end of the words before it
    seconds: float


def gaps_between(timed: list[TimedWord]) -> list[Gap]:
    """The silence before each word but the first (0 when words overlap)."""
    gaps: list[Gap] = []
    reached = timed[0].end
    for index in range(1, len(timed)):
        gaps.append(Gap(index, reached, max(0.0, timed[index].start - reached)))
        reached = max(reached, timed[index].end)
    return gaps


def pace_windows(
    timed: list[TimedWord], start: float, end: float, enough: bool
) -> list[PaceWindow]:
    bounds: list[tuple[float, float]] = []
    window_start = start
    while True:
        window_end = min(window_start + WINDOW_SECONDS, end)
        bounds.append((window_start, window_end))
        if window_end >= end:
            break
        window_start += WINDOW_STEP_SECONDS
    windows: list[PaceWindow] = []
    for index, (low, high) in enumerate(bounds):
        last = index == len(bounds) - 1
        inside = sum(
            1
            for w in timed
            if low <= (w.start + w.end) / 2 < high or (last and (w.start + w.end) / 2 == high)
        )
        length = high - low
        wpm = per_minute(inside, length)
        windows.append(
            PaceWindow(
                start=round(low, 3),
                end=round(high, 3),
                words_per_minute=round(wpm, 1),
                pace=band(wpm) if enough else Pace.NOT_ENOUGH_SPEECH,
            )
        )
    return windows


def per_minute(count: int, seconds: float) -> float:
    return count / (seconds / 60.0) if seconds >= MIN_MEASURABLE_SECONDS else 0.0
