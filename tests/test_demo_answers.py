"""The demo's recorded answers: what clients/assets/demo_answers.json says they are.

The quick tests read the files (Ogg Opus mono, 30 to 90 s, the rambling one with a
long silence, every question in the server's bank); the slow one transcribes each
recording with the server's engine (tiny.en, given the context the server gives it)
and holds the transcript to the answer's text. scripts/make_demo_answers.py makes them.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from clients.demo_answers import DemoAnswer, load_demo_script
from scripts.make_demo_answers import transcription_context
from server.domain.analysis.fillers import find_fillers
from server.domain.questions.bank import load_bank
from server.engines.stt import LocalWhisperEngine
from server.engines.stt.wer import normalise_words, word_error_rate

SCRIPT = load_demo_script()
ANSWERS = {answer.kind: answer for answer in SCRIPT.answers}
MAX_WER = 0.1
# Quieter than this (RMS, full scale 1.0) over a 50 ms frame counts as silence.
SILENCE_RMS = 0.003
FRAME_SECONDS = 0.05


def decode(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples (full scale 1.0) and their rate."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        assert stream.codec_context.channels == 1
        frames = [f for frame in container.decode(stream) for f in resampler.resample(frame)]
        frames += resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]), 16_000


def longest_inner_silence(samples: np.ndarray, rate: int) -> float:
    """Seconds of the longest silent stretch with speech on both sides."""
    size = int(FRAME_SECONDS * rate)
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    loud = np.sqrt((frames**2).mean(axis=1)) >= SILENCE_RMS
    spoken = np.flatnonzero(loud)
    gaps = np.diff(spoken) - 1
    return float(gaps.max()) * FRAME_SECONDS if len(gaps) else 0.0


def test_the_demo_has_a_good_a_rambling_and_an_off_topic_answer() -> None:
    assert [a.kind for a in SCRIPT.answers] == ["good", "rambling", "off_topic"]
    assert len({a.question for a in SCRIPT.answers}) == 3
    assert len({a.recording for a in SCRIPT.answers}) == 3


@pytest.mark.parametrize("answer", SCRIPT.answers, ids=lambda a: a.kind)
def test_each_question_is_a_bank_question_of_the_track(answer: DemoAnswer) -> None:
    bank = load_bank()
    # bank_questions takes the exact text; the demo's track asks it, too.
    assert answer.question in bank.by_text
    assert bank.by_text[answer.question] in bank.questions_for_track(SCRIPT.track)


@pytest.mark.parametrize("answer", SCRIPT.answers, ids=lambda a: a.kind)
def test_each_recording_is_a_real_length_small_ogg_opus_file(answer: DemoAnswer) -> None:
    samples, rate = decode(answer.recording)
    seconds = len(samples) / rate
    assert 30 <= seconds <= 90, seconds
    kbit_per_second = answer.recording.stat().st_size * 8 / seconds / 1000
    assert kbit_per_second <= 36, kbit_per_second
    # Long silences only where the script splices them in.
    spliced = [s for s in answer.segments if not isinstance(s, str)]
    longest = longest_inner_silence(samples, rate)
    if spliced:
        assert longest >= max(spliced) - 0.1, longest
    else:
        assert longest < 1.5, longest


def test_the_rambling_answer_has_fillers_and_a_long_pause() -> None:
    rambling = ANSWERS["rambling"]
    assert any(not isinstance(s, str) and s >= 3 for s in rambling.segments)
    fillers = {hit.filler for hit in find_fillers(rambling.text.split())}
    assert {"um", "uh", "you know"} <= fillers, fillers
    assert not find_fillers(ANSWERS["good"].text.split())


def test_the_off_topic_answer_shares_no_key_concept_with_its_question() -> None:
    off_topic = ANSWERS["off_topic"]
    concepts = load_bank().by_text[off_topic.question].concepts
    said = set(normalise_words(off_topic.text))
    assert not said & {w for c in concepts for w in normalise_words(c)}


@pytest.mark.parametrize("answer", SCRIPT.answers, ids=lambda a: a.kind)
async def test_each_recording_transcribes_to_its_text(
    answer: DemoAnswer, whisper_engine: LocalWhisperEngine
) -> None:
    result = await whisper_engine.transcribe(
        answer.recording, language="en", context=transcription_context(answer)
    )
    wer = word_error_rate(answer.text, result.text)
    assert wer <= MAX_WER, f"WER {wer:.3f} for {answer.recording.name}: heard {result.text!r}"
