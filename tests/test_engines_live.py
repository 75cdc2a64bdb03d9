"""Live transcription (server/engines/stt/live.py): windows cut at pauses while the
audio arrives, words placed from the start of the answer, every place given back.

The first tests use a stand-in for Whisper (windows are recorded, not decoded) and
the real Silero VAD; the last ones run tiny.en on Speech.mp3 (slow).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from faster_whisper.audio import decode_audio

from server.engines.stt import LocalWhisperEngine, TranscriptionContext
from server.engines.stt.live import MAX_SECONDS, SAMPLE_RATE, LiveSession, WindowWords
from server.engines.stt.wer import word_error_rate
from tests.audio_assets import SPEECH_MP3, SPEECH_TEXT

FloatArray = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def speech() -> FloatArray:
    audio: FloatArray = decode_audio(str(SPEECH_MP3), sampling_rate=SAMPLE_RATE)
    return audio


class StandIn:
    """Records each window and answers with one word at its first second."""

    def __init__(self, *, gate: threading.Event | None = None) -> None:
        self.windows: list[tuple[int, str | None, float]] = []
        self.gate = gate
        self.released = 0

    def submit(
        self, audio: FloatArray, prompt: str | None, speech: float, abandoned: threading.Event
    ) -> Future[WindowWords]:
        future: Future[WindowWords] = Future()
        self.windows.append((len(audio), prompt, speech))
        number = len(self.windows)

        def run() -> None:
            if self.gate is not None:
                self.gate.wait(10)
            if abandoned.is_set():
                future.set_result(WindowWords([], []))
            else:
                future.set_result(WindowWords([f"w{number}"], [(f"w{number}", 1.0, 1.5, 0.9)]))

        threading.Thread(target=run, daemon=True).start()
        return future

    def release(self) -> None:
        self.released += 1


def _session(stand_in: StandIn) -> LiveSession:
    return LiveSession(
        stand_in.submit,
        prompt="the question",
        language="en",
        engine="local",
        model="stand-in",
        release=stand_in.release,
    )


def _feed(session: LiveSession, audio: FloatArray, step: int = SAMPLE_RATE // 2) -> None:
    for start in range(0, len(audio), step):
        session.feed(audio[start : start + step])


async def test_windows_are_cut_at_pauses_and_words_placed_from_the_start(
    speech: FloatArray,
) -> None:
    stand_in = StandIn()
    session = _session(stand_in)
    _feed(session, speech)
    submitted_before_end = len(stand_in.windows)
    session.end()
    result = await session.result()
    session.close()
    # Windows were transcribed while the audio arrived: at least one before the end.
    assert submitted_before_end >= 1
    lengths = [length / SAMPLE_RATE for length, _, _ in stand_in.windows]
    assert all(length <= MAX_SECONDS + 0.01 for length in lengths)
    assert len(stand_in.windows) <= 3  # 58 s of speech: about two 30 s windows, not one a phrase
    # Only the first window carries the context, as in the batch path.
    assert [prompt for _, prompt, _ in stand_in.windows][:2] == ["the question", None]
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    assert starts[0] == pytest.approx(1.0)
    assert starts[1] > 20.0  # the second window's word, moved by where that window began
    assert result.duration == pytest.approx(len(speech) / SAMPLE_RATE)
    assert stand_in.released == 1


async def test_silence_is_never_sent_to_the_engine() -> None:
    stand_in = StandIn()
    session = _session(stand_in)
    _feed(session, np.zeros(70 * SAMPLE_RATE, dtype=np.float32))
    session.end()
    result = await session.result()
    session.close()
    assert stand_in.windows == []
    assert result.text == ""
    assert result.words == []


async def test_leading_silence_does_not_move_the_words(speech: FloatArray) -> None:
    stand_in = StandIn()
    session = _session(stand_in)
    silence = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    _feed(session, np.concatenate([silence, speech[: 12 * SAMPLE_RATE]]))
    session.end()
    result = await session.result()
    session.close()
    # The stand-in's word sits 1 s into its window, which starts shortly before the speech.
    assert 9.0 < result.words[0].start < 10.5


def test_a_sender_faster_than_the_engine_waits(speech: FloatArray) -> None:
    gate = threading.Event()
    stand_in = StandIn(gate=gate)
    session = _session(stand_in)
    feeder = threading.Thread(target=_feed, args=(session, np.concatenate([speech] * 3)))
    feeder.start()
    time.sleep(1.0)
    # Two windows queued and none done: the feeder waits instead of piling up audio.
    assert feeder.is_alive()
    assert len(stand_in.windows) == 2
    gate.set()
    feeder.join(30)
    assert not feeder.is_alive()
    session.close()


def test_close_drops_what_is_queued_and_gives_the_place_back_once(speech: FloatArray) -> None:
    gate = threading.Event()
    stand_in = StandIn(gate=gate)
    session = _session(stand_in)
    feeder = threading.Thread(target=_feed, args=(session, np.concatenate([speech] * 3)))
    feeder.start()
    time.sleep(1.0)
    session.close()  # the feeder, waiting, is let go
    feeder.join(10)
    assert not feeder.is_alive()
    assert stand_in.released == 0  # windows still running hold the place
    gate.set()
    deadline = time.monotonic() + 10
    while stand_in.released == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stand_in.released == 1
    session.close()
    assert stand_in.released == 1


@pytest.mark.slow
async def test_speech_mp3_live_matches_the_batch_path(
    whisper_engine: LocalWhisperEngine, speech: FloatArray, tmp_path: Path
) -> None:
    batch = await whisper_engine.transcribe(
        SPEECH_MP3, language="en", context=TranscriptionContext()
    )
    session = whisper_engine.live(language="en", context=TranscriptionContext())
    assert session is not None
    try:
        _feed(session, speech)
        session.end()
        live = await session.result()
    finally:
        session.close()
    batch_wer = word_error_rate(SPEECH_TEXT, batch.text)
    live_wer = word_error_rate(SPEECH_TEXT, live.text)
    assert live_wer <= batch_wer + 0.02, (live_wer, batch_wer)
    assert len(live.words) == pytest.approx(len(batch.words), abs=5)
    # The same words at the same moments of the answer, whichever window they came from.
    assert live.words[-1].end == pytest.approx(batch.words[-1].end, abs=0.5)
    assert live.words[70].start == pytest.approx(batch.words[70].start, abs=1.5)
    assert (live.engine, live.model, live.language) == (batch.engine, batch.model, "en")
