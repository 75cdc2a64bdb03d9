"""Measure the local engine's word error rate with and without interview context.

    .venv/bin/python scripts/measure_wer.py [--beam-size 5]

Transcribes the committed fixtures (tests/assets/audio: espeak-ng answers
listed in samples.json, and Speech.mp3, a human reading) three ways:

- bare: faster-whisper with the engine's decoding settings but no prompt at all;
- no context: the engine with an empty TranscriptionContext (filler primer only);
- context: the engine given the sample's question and resume skills.

Prints Markdown tables for docs/transcription.md: WER per sample and on
average, how many skill names came out spelt exactly, how many fillers were
kept, and load and transcription times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faster_whisper import WhisperModel

from server.engines.stt import LocalWhisperEngine, TranscriptionContext
from server.engines.stt.local_whisper import bundled_model
from server.engines.stt.wer import count_fillers, word_error_rate

AUDIO = Path(__file__).resolve().parent.parent / "tests" / "assets" / "audio"
MODES = ("bare", "no context", "context")


@dataclass(frozen=True)
class Sample:
    name: str
    path: Path
    reference: str
    context: TranscriptionContext

    @property
    def technical(self) -> bool:
        return self.name.startswith("tech-")


@dataclass(frozen=True)
class Outcome:
    text: str
    seconds: float


def load_samples() -> list[Sample]:
    raw = json.loads((AUDIO / "samples.json").read_text())["samples"]
    return [
        Sample(
            s["name"],
            AUDIO / "samples" / f"{s['name']}.ogg",
            s["reference"],
            TranscriptionContext(s["question"], s["skills"]),
        )
        for s in raw
    ]


def bare_transcribe(model: Any, path: Path, beam_size: int) -> Outcome:
    started = time.perf_counter()
    # The engine's decoding settings, less its prompt.
    segments, _ = model.transcribe(
        str(path),
        language="en",
        beam_size=beam_size,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=False,
    )
    text = " ".join(segment.text.strip() for segment in segments)
    return Outcome(text, time.perf_counter() - started)


async def engine_transcribe(
    engine: LocalWhisperEngine, path: Path, context: TranscriptionContext
) -> Outcome:
    started = time.perf_counter()
    result = await engine.transcribe(path, language="en", context=context)
    return Outcome(result.text, time.perf_counter() - started)


def terms_right(sample: Sample, text: str) -> tuple[int, int]:
    """Skills said in the answer, and how many of them the transcript spells exactly."""
    said = [skill for skill in sample.context.skills if skill in sample.reference]
    return sum(skill in text for skill in said), len(said)


async def measure(beam_size: int) -> None:
    threads = max(1, os.cpu_count() or 1)
    started = time.perf_counter()
    engine = LocalWhisperEngine(beam_size=beam_size, cpu_threads=threads)
    await engine.load()
    load_seconds = time.perf_counter() - started
    bare = WhisperModel(
        str(bundled_model()[0]), device="cpu", compute_type="int8", cpu_threads=threads
    )
    samples = load_samples()
    outcomes: dict[str, dict[str, Outcome]] = {}
    for sample in samples:
        outcomes[sample.name] = {
            "bare": bare_transcribe(bare, sample.path, beam_size),
            "no context": await engine_transcribe(engine, sample.path, TranscriptionContext()),
            "context": await engine_transcribe(engine, sample.path, sample.context),
        }
    speech_reference = (AUDIO / "Speech.txt").read_text()
    speech_bare = bare_transcribe(bare, AUDIO / "Speech.mp3", beam_size)
    speech = await engine_transcribe(engine, AUDIO / "Speech.mp3", TranscriptionContext())
    await engine.close()

    print(f"model {engine.model}, int8, {threads} CPU threads, beam {beam_size}\n")
    print("| sample | " + " | ".join(f"WER {mode}" for mode in MODES) + " |")
    print("|---|" + "---|" * len(MODES))
    for sample in samples:
        rates = [word_error_rate(sample.reference, outcomes[sample.name][m].text) for m in MODES]
        print(f"| {sample.name} | " + " | ".join(f"{rate:.2f}" for rate in rates) + " |")
    for label, group in (
        ("technical answers", [s for s in samples if s.technical]),
        ("answers with fillers", [s for s in samples if not s.technical]),
    ):
        means = [
            sum(word_error_rate(s.reference, outcomes[s.name][m].text) for s in group) / len(group)
            for m in MODES
        ]
        print(f"| **mean, {label}** | " + " | ".join(f"**{mean:.3f}**" for mean in means) + " |")
    print()
    print("| measure | " + " | ".join(MODES) + " |")
    print("|---|" + "---|" * len(MODES))
    technical = [s for s in samples if s.technical]
    cells = []
    for mode in MODES:
        right = [terms_right(s, outcomes[s.name][mode].text) for s in technical]
        cells.append(f"{sum(r for r, _ in right)}/{sum(n for _, n in right)}")
    print("| skill names spelt exactly | " + " | ".join(cells) + " |")
    fillers = [s for s in samples if not s.technical]
    said = sum(count_fillers(s.reference) for s in fillers)
    kept = [sum(count_fillers(outcomes[s.name][m].text) for s in fillers) for m in MODES]
    print("| fillers kept | " + " | ".join(f"{k}/{said}" for k in kept) + " |")
    print()
    duration = 57.68
    bare_wer = word_error_rate(speech_reference, speech_bare.text)
    engine_wer = word_error_rate(speech_reference, speech.text)
    print(f"load (weights and warm-up): {load_seconds:.2f} s")
    print(
        f"Speech.mp3 ({duration} s): WER bare {bare_wer:.3f}, engine {engine_wer:.3f}; "
        f"transcribed in {speech.seconds:.2f} s, real-time factor {speech.seconds / duration:.3f}"
    )
    print()
    for sample in samples:
        for mode in MODES:
            print(f"- {sample.name} / {mode}: {outcomes[sample.name][mode].text}")
    print(f"- Speech.mp3 / engine: {speech.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beam-size", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.beam_size))


if __name__ == "__main__":
    main()
