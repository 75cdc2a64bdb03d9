"""Regenerates the spoken fixtures in tests/assets/audio/ with espeak-ng and ffmpeg.

Run from the repository root (Debian: apt-get install espeak-ng ffmpeg):

    .venv/bin/python tests/make_audio_fixtures.py

The outputs are committed, so tests and CI never need these tools. What each
sample says, and the context an interview would give, is in samples.json.
Output varies slightly between espeak-ng and ffmpeg versions; the tests only
rely on what is spoken, not on exact bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

AUDIO = Path(__file__).parent / "assets" / "audio"
SAMPLES = AUDIO / "samples"
FORMAT_SAMPLE = "tech-deploy"

# Common flags: no metadata, no encoder version strings, so reruns are stable.
QUIET = ["-hide_banner", "-loglevel", "error", "-y"]
STABLE = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]

# One recording in every accepted format, each with the settings a real
# recorder of that kind would plausibly use (rates and channels vary on purpose).
FORMATS: dict[str, list[str]] = {
    "answer.wav": ["-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le"],
    "answer.mp3": ["-ar", "22050", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "32k"],
    "answer.m4a": ["-ar", "44100", "-ac", "2", "-c:a", "aac", "-b:a", "48k"],
    "answer.flac": ["-ar", "16000", "-ac", "1", "-c:a", "flac"],
    "answer-opus.ogg": ["-ac", "1", "-c:a", "libopus", "-b:a", "24k", "-f", "ogg"],
    "answer-vorbis.ogg": ["-ar", "22050", "-ac", "1", "-c:a", "libvorbis", "-q:a", "0"],
    "answer-opus.webm": ["-ac", "1", "-c:a", "libopus", "-b:a", "24k", "-f", "webm"],
}
# The other samples only feed the WER measurement: Opus in Ogg, as phones send.
SAMPLE_CODEC = ["-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-f", "ogg"]


def speak(text: str, wav: Path) -> None:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)


def encode(source: Path, target: Path, codec_args: list[str]) -> None:
    subprocess.run(
        ["ffmpeg", *QUIET, "-i", str(source), *STABLE, *codec_args, str(target)], check=True
    )


def main() -> int:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install espeak-ng ffmpeg", file=sys.stderr)
            return 1
    samples = json.loads((AUDIO / "samples.json").read_text())["samples"]
    SAMPLES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for sample in samples:
            wav = Path(scratch) / f"{sample['name']}.wav"
            speak(sample["spoken"], wav)
            encode(wav, SAMPLES / f"{sample['name']}.ogg", SAMPLE_CODEC)
            if sample["name"] == FORMAT_SAMPLE:
                for filename, codec_args in FORMATS.items():
                    encode(wav, AUDIO / filename, codec_args)
    print(f"wrote {len(samples)} samples and {len(FORMATS)} formats under {AUDIO}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
