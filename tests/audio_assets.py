"""The committed audio fixtures (tests/make_audio_fixtures.py makes them) and what they say."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from server.audio import AudioFormat

AUDIO = Path(__file__).parent / "assets" / "audio"
SPEECH_MP3 = AUDIO / "Speech.mp3"
SPEECH_TEXT = (AUDIO / "Speech.txt").read_text()
SPEECH_SECONDS = 57.68  # ffprobe's figure for Speech.mp3

# The same spoken answer in every accepted format, with its container and codec.
FORMAT_FILES: dict[str, tuple[AudioFormat, str]] = {
    "answer.wav": (AudioFormat.WAV, "pcm_s16le"),
    "answer.mp3": (AudioFormat.MP3, "mp3"),
    "answer.m4a": (AudioFormat.M4A, "aac"),
    "answer.flac": (AudioFormat.FLAC, "flac"),
    "answer-opus.ogg": (AudioFormat.OGG, "opus"),
    "answer-vorbis.ogg": (AudioFormat.OGG, "vorbis"),
    "answer-opus.webm": (AudioFormat.WEBM, "opus"),
}
ANSWER_SECONDS = 6.51  # espeak-ng's length for the "tech-deploy" sample


@dataclass(frozen=True)
class Sample:
    name: str
    reference: str
    question: str
    skills: list[str]

    @property
    def path(self) -> Path:
        return AUDIO / "samples" / f"{self.name}.ogg"


def load_samples() -> list[Sample]:
    raw = json.loads((AUDIO / "samples.json").read_text())["samples"]
    return [Sample(s["name"], s["reference"], s["question"], s["skills"]) for s in raw]


SAMPLES = {sample.name: sample for sample in load_samples()}
ANSWER_SAMPLE = SAMPLES["tech-deploy"]  # what the answer.* files say


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
