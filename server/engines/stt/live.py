"""Transcribing an answer while it is being recorded: windows cut at pauses.

Whisper encodes a full 30-second window whatever it holds, so the cost of a
transcription is roughly its number of windows. Transcribing each utterance
on its own, or re-transcribing a growing buffer, multiplies that cost
(measured in docs/transcription.md). So the session waits for a window's
worth of speech, close to 30 s, and cuts it at a pause: the window is
transcribed while the candidate goes on speaking, and when the stream ends
only the audio since the last cut is left to transcribe.

A pause is found with Silero VAD (it ships inside faster-whisper), run on
each new 32 ms frame once, as the audio arrives. A window is cut:

- at a pause of PAUSE_SECONDS once it holds TARGET_SECONDS of audio;
- at a pause of LONG_PAUSE_SECONDS once it holds MIN_SECONDS (the candidate
  may have finished: the end of the answer is then transcribed while they
  reach for the stop button);
- at its quietest moment when it reaches MAX_SECONDS without such a pause.

A window without one frame of speech is never transcribed: Whisper's own
VAD would find nothing in it either.

`feed` and `end` run in the thread that decodes the audio; the windows run
in the engine's worker threads; `result` is awaited on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import get_vad_model

from server.engines.stt.base import TranscribedWord, TranscriptResult, join_text, tidy_words
from server.errors import Unavailable

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

SAMPLE_RATE = 16_000
FRAME = 512  # samples per VAD frame (32 ms), as Silero takes them
SPEECH_THRESHOLD = 0.5  # faster-whisper's VadOptions defaults
SILENCE_THRESHOLD = 0.35
PAUSE_SECONDS = 0.5
LONG_PAUSE_SECONDS = 1.5
MIN_SECONDS = 8.0
TARGET_SECONDS = 20.0
MAX_SECONDS = 28.0  # under Whisper's 30 s, so a window is one encoder pass
CUT_INTO_PAUSE_SECONDS = 0.3  # the cut falls this far into the pause
LEAD_IN_SECONDS = 1.0  # silence kept before a window's first speech
# Windows of one stream queued or running at once; `feed` waits beyond this, so a
# client sending faster than real time holds at most this many windows of audio.
MAX_OUTSTANDING_WINDOWS = 2


@dataclass(frozen=True)
class WindowWords:
    """What a window yielded: its segment texts and words, times from the window's start."""

    texts: list[str]
    words: list[tuple[str, float, float, float]]


# Transcribe one window: (audio, prompt or None, seconds of speech it holds) -> words.
SubmitWindow = Callable[[FloatArray, str | None, float, threading.Event], "Future[WindowWords]"]
# A quick, throwaway transcript of the audio since the last cut: (audio, prompt) -> text.
SubmitInterim = Callable[[FloatArray, str | None], "Future[str]"]
# Audio between two interim transcripts, at most; fewer when the engine is busy.
INTERIM_EVERY_SECONDS = 2.0


class LiveListener(Protocol):
    """What a live session tells as it goes; called from worker threads, must not block."""

    def heard(self, seconds: float, speech_end: float) -> None:
        """Audio judged so far, and where the last speech in it ended (seconds)."""

    def stable(self, words: list[TranscribedWord]) -> None:
        """Words that will not change any more, in order, after those told before."""

    def tentative(self, text: str) -> None:
        """What the audio after the stable words sounds like so far."""


@dataclass(frozen=True)
class Interim:
    """Interim transcripts: how to get one, and whether the engine has room for it now."""

    submit: SubmitInterim
    idle: Callable[[], bool]


@dataclass(frozen=True)
class _Window:
    start: int  # sample offset in the answer
    future: Future[WindowWords]


class Pauses:
    """Silero VAD over a stream, one frame at a time, and where to cut it into windows."""

    def __init__(self) -> None:
        self._model = get_vad_model()
        self._previous = np.zeros(FRAME, dtype=np.float32)
        self.window_start = 0  # sample where the current window begins
        self.frames = 0  # frames judged so far
        self._silence_start: int | None = None
        self._in_speech = False
        self._speech_start = 0  # sample of the window's first speech frame
        self.speech_end = -1  # sample after the window's last speech frame; -1: none yet
        self._quietest: tuple[float, int] = (2.0, 0)  # (probability, sample) past MIN_SECONDS

    def push(self, audio: FloatArray) -> list[tuple[int, int]]:
        """Judge the whole frames of `audio`, which continues the last push (keep the rest
        for the next). The cuts made: (sample, end of the speech before it, or -1: none)."""
        count = len(audio) // FRAME
        if count == 0:
            return []
        frames = np.concatenate([self._previous, audio[: count * FRAME]])
        # The previous frame goes first so that the first new one has its real context.
        probabilities = self._model(frames)[1:]
        self._previous = frames[-FRAME:].copy()
        cuts: list[tuple[int, int]] = []
        for probability in probabilities.reshape(-1):
            cut = self._judge(float(probability))
            if cut is not None:
                spoken = self.speech_end > self.window_start
                cuts.append((cut, min(self.speech_end, cut) if spoken else -1))
                self._start_window(cut)
        return cuts

    def _judge(self, probability: float) -> int | None:
        start = self.frames * FRAME
        self.frames += 1
        end = start + FRAME
        spoken = self.speech_end > self.window_start
        if probability >= SPEECH_THRESHOLD:
            if not spoken:
                self._speech_start = start
            self._in_speech = True
            self._silence_start = None
            self.speech_end = end
            spoken = True
        elif probability < SILENCE_THRESHOLD or not self._in_speech:
            if self._silence_start is None:
                self._silence_start = start
            if end - self._silence_start >= PAUSE_SECONDS * SAMPLE_RATE:
                self._in_speech = False
        if not spoken:
            # Silence before any speech: dropped as it comes, but for a short lead-in.
            if end - self.window_start >= 2 * LEAD_IN_SECONDS * SAMPLE_RATE:
                return end - int(LEAD_IN_SECONDS * SAMPLE_RATE)
            return None
        length = end - self.window_start
        ready = end - self._speech_start >= MIN_SECONDS * SAMPLE_RATE
        if ready and probability < self._quietest[0]:
            self._quietest = (probability, start + FRAME // 2)
        if self._silence_start is not None:
            pause = end - self._silence_start
            held = self._silence_start - self._speech_start
            if (pause >= PAUSE_SECONDS * SAMPLE_RATE and held >= TARGET_SECONDS * SAMPLE_RATE) or (
                pause >= LONG_PAUSE_SECONDS * SAMPLE_RATE and held >= MIN_SECONDS * SAMPLE_RATE
            ):
                return self._silence_start + int(CUT_INTO_PAUSE_SECONDS * SAMPLE_RATE)
        if length >= MAX_SECONDS * SAMPLE_RATE:
            return self._quietest[1] if self._quietest[0] <= 1.0 else end
        return None

    def _start_window(self, cut: int) -> None:
        self.window_start = cut
        self._quietest = (2.0, 0)
        self._speech_start = max(self._speech_start, cut)
        if self._silence_start is not None and self._silence_start < cut:
            self._silence_start = cut


class LiveSession:
    """One answer transcribed as it arrives. `close()` always, whatever happened."""

    def __init__(
        self,
        submit: SubmitWindow,
        *,
        prompt: str,
        language: str,
        engine: str,
        model: str,
        release: Callable[[], None],
        listener: LiveListener | None = None,
        interim: Interim | None = None,
    ) -> None:
        self._submit = submit
        self._listener = listener
        self._interim = interim
        self._interim_at = 0  # samples heard when the last interim transcript was asked for
        self._interim_running = False
        self._told = 0  # windows whose words the listener has had
        self._first_prompt = prompt
        self._prompt: str | None = prompt
        self._language = language
        self._engine = engine
        self._model = model
        self._release = release
        self._pauses = Pauses()
        self._chunks: list[FloatArray] = []  # audio from the current window's start
        self._buffer_start = 0  # the sample where it begins
        self._unjudged = np.zeros(0, dtype=np.float32)  # under a frame, left for the next feed
        self._samples = 0  # fed in all
        self._windows: list[_Window] = []
        self._lock = threading.Condition()
        self._abandoned = threading.Event()
        self._ended = False
        self._closed = False

    @property
    def windows_submitted(self) -> int:
        return len(self._windows)

    @property
    def windows_done(self) -> int:
        return sum(1 for w in self._windows if w.future.done())

    def feed(self, samples: FloatArray) -> None:
        """16 kHz mono samples that follow the previous ones. Waits while too much is queued."""
        with self._lock:
            self._lock.wait_for(
                lambda: self._abandoned.is_set() or self._outstanding() < MAX_OUTSTANDING_WINDOWS
            )
        if self._abandoned.is_set() or self._ended or len(samples) == 0:
            return
        self._chunks.append(samples)
        self._samples += len(samples)
        unjudged = np.concatenate([self._unjudged, samples])
        whole = len(unjudged) // FRAME * FRAME
        self._unjudged = unjudged[whole:]
        for cut, speech_end in self._pauses.push(unjudged[:whole]):
            self._cut(cut, speech_end)
        if self._listener is not None:
            spoken_until = max(self._pauses.speech_end, 0) / SAMPLE_RATE
            self._listener.heard(self._samples / SAMPLE_RATE, spoken_until)
            self._maybe_interim()

    def _maybe_interim(self) -> None:
        """Ask for an interim transcript of the audio since the last cut, when it is due and
        the engine has nothing else to do: under load the cadence drops, windows never wait."""
        interim = self._interim
        if (
            interim is None
            or self._interim_running
            or self._samples - self._interim_at < INTERIM_EVERY_SECONDS * SAMPLE_RATE
            or self._pauses.speech_end <= self._buffer_start
            or not interim.idle()
        ):
            return
        self._interim_at = self._samples
        audio = np.concatenate(self._chunks)
        prompt = self._first_prompt if self._buffer_start == 0 else None
        try:
            future = interim.submit(audio, prompt)
        except RuntimeError:
            return
        self._interim_running = True
        future.add_done_callback(self._interim_done)

    def _interim_done(self, future: Future[str]) -> None:
        self._interim_running = False
        if future.cancelled() or future.exception() is not None or self._abandoned.is_set():
            return
        if self._listener is not None:
            self._listener.tentative(future.result())

    def end(self) -> None:
        """Every sample has been fed: what is left after the last cut becomes the last window."""
        if self._abandoned.is_set() or self._ended:
            return
        pauses = self._pauses
        spoken = pauses.speech_end > pauses.window_start
        self._cut(self._samples, self._samples if spoken else -1)
        self._ended = True

    async def result(self) -> TranscriptResult:
        """The whole answer's transcript, once `end()` has been called and every window is done."""
        if not self._ended:
            raise RuntimeError("LiveSession.result() before end()")
        texts: list[str] = []
        raw: list[tuple[str, float, float, float]] = []
        for window in self._windows:
            try:
                if window.future.cancelled():
                    raise RuntimeError("cancelled by the engine's shutdown")
                found = await asyncio.wrap_future(window.future)
            except RuntimeError as exc:  # the engine's pool shut down: the server is stopping
                raise Unavailable("the transcription engine is shutting down") from exc
            except Exception as exc:
                log.exception("live transcription failed", extra={"model": self._model})
                raise Unavailable(
                    "the transcription engine failed; try again", reason="TRANSCRIPTION_FAILED"
                ) from exc
            offset = window.start / SAMPLE_RATE
            texts.extend(found.texts)
            raw.extend((w, s + offset, e + offset, p) for w, s, e, p in found.words)
        duration = self._samples / SAMPLE_RATE
        return TranscriptResult(
            text=join_text(texts),
            words=tidy_words(raw, duration),
            language=self._language,
            duration=duration,
            engine=self._engine,
            model=self._model,
        )

    def close(self) -> None:
        """Stop: windows not started are dropped, a running one stops at its next segment.

        The engine's slot is given back once no window of this answer is running.
        """
        if self._closed:
            return
        self._closed = True
        self._abandoned.set()
        with self._lock:
            self._lock.notify_all()
        running = [w.future for w in self._windows if not w.future.done()]
        if not running:
            self._release()
            return
        left = [len(running)]
        left_lock = threading.Lock()

        def done(_: Future[WindowWords]) -> None:
            with left_lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                self._release()

        for future in running:
            future.add_done_callback(done)

    def _cut(self, cut: int, speech_end: int) -> None:
        """Audio up to sample `cut` is a window: transcribed if it holds speech, else dropped."""
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        start = self._buffer_start
        keep = audio[cut - start :]
        self._chunks = [keep.copy()] if len(keep) else []
        self._buffer_start = cut
        window = audio[: cut - start]
        if speech_end < 0 or len(window) == 0:
            return
        prompt, self._prompt = self._prompt, None  # the context steers the first window only
        try:
            speech = (speech_end - start) / SAMPLE_RATE
            future = self._submit(window, prompt, speech, self._abandoned)
        except RuntimeError:  # the pool is shut down
            future = Future()
            future.set_exception(RuntimeError("the engine's pool is shut down"))
        self._windows.append(_Window(start, future))
        future.add_done_callback(lambda _: self._notify())

    def _outstanding(self) -> int:
        return sum(1 for w in self._windows if not w.future.done())

    def _notify(self) -> None:
        with self._lock:
            self._lock.notify_all()
            told = self._told
            ready: list[_Window] = []
            for window in self._windows[told:]:
                if not window.future.done():
                    break
                ready.append(window)
            self._told += len(ready)
        listener = self._listener
        if listener is None or not ready or self._abandoned.is_set():
            return
        for window in ready:
            if window.future.cancelled() or window.future.exception() is not None:
                return
            offset = window.start / SAMPLE_RATE
            found = window.future.result()
            listener.stable(
                tidy_words(((w, s + offset, e + offset, p) for w, s, e, p in found.words), 1e9)
            )
