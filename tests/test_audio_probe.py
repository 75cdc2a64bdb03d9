"""Decoding each recording once: true duration, and refusal of corrupt, cut or long audio."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from server.audio.formats import AudioFormat
from server.audio.probe import probe_audio
from server.errors import InvalidArgument, ResourceExhausted
from tests.audio_assets import ANSWER_SECONDS, AUDIO, FORMAT_FILES, SPEECH_MP3, SPEECH_SECONDS

TEN_MINUTES = 600.0


@pytest.mark.parametrize(("filename", "expected"), FORMAT_FILES.items())
def test_every_format_decodes_to_its_true_duration(
    filename: str, expected: tuple[AudioFormat, str]
) -> None:
    audio_format, codec = expected
    result = probe_audio(AUDIO / filename, audio_format, max_duration=TEN_MINUTES)
    assert result.codec == codec
    assert result.duration == pytest.approx(ANSWER_SECONDS, abs=0.05)
    assert result.sample_rate > 0
    assert result.channels >= 1


def test_real_speech_mp3_decodes_to_its_length() -> None:
    result = probe_audio(SPEECH_MP3, AudioFormat.MP3, max_duration=TEN_MINUTES)
    assert result.duration == pytest.approx(SPEECH_SECONDS, abs=0.05)
    assert (result.sample_rate, result.channels) == (44100, 2)


@pytest.mark.parametrize("fraction", [0.5, 0.93])
@pytest.mark.parametrize("filename", [*FORMAT_FILES, "Speech.mp3"])
def test_a_truncated_file_is_refused(filename: str, fraction: float, tmp_path: Path) -> None:
    data = (AUDIO / filename).read_bytes()
    cut = tmp_path / filename
    cut.write_bytes(data[: int(len(data) * fraction)])
    audio_format = FORMAT_FILES.get(filename, (AudioFormat.MP3, ""))[0]
    with pytest.raises(InvalidArgument) as caught:
        probe_audio(cut, audio_format, max_duration=TEN_MINUTES)
    assert caught.value.reason in ("AUDIO_TRUNCATED", "AUDIO_CORRUPT")
    assert [v.field for v in caught.value.violations] == ["audio_content"]


def test_a_live_recorders_webm_without_sizes_is_accepted_whole_and_refused_cut(
    tmp_path: Path,
) -> None:
    # Browsers' MediaRecorder writes the Segment and Clusters with unknown sizes.
    live = tmp_path / "live.webm"
    _encode(live, "webm", "libopus", 48000, container_options={"live": "1"})
    assert b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" in live.read_bytes()[:64]
    assert probe_audio(live, AudioFormat.WEBM, max_duration=TEN_MINUTES).duration > 1.9
    data = live.read_bytes()
    live.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InvalidArgument) as caught:
        probe_audio(live, AudioFormat.WEBM, max_duration=TEN_MINUTES)
    assert caught.value.reason == "AUDIO_TRUNCATED"


def test_garbage_read_as_mp3_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "answer.mp3"
    garbage.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"not audio " * 2000)
    with pytest.raises(InvalidArgument) as caught:
        probe_audio(garbage, AudioFormat.MP3, max_duration=TEN_MINUTES)
    assert caught.value.reason in ("AUDIO_CORRUPT", "AUDIO_EMPTY")


def test_corrupted_middle_is_refused(tmp_path: Path) -> None:
    data = bytearray((AUDIO / "answer.flac").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = bytes(2000)
    damaged = tmp_path / "answer.flac"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InvalidArgument) as caught:
        probe_audio(damaged, AudioFormat.FLAC, max_duration=TEN_MINUTES)
    assert caught.value.reason == "AUDIO_CORRUPT"


@pytest.mark.parametrize("filename", ["answer.wav", "answer-opus.webm", "answer.m4a"])
def test_audio_longer_than_the_limit_is_refused(filename: str) -> None:
    audio_format = FORMAT_FILES[filename][0]
    with pytest.raises(ResourceExhausted) as caught:
        probe_audio(AUDIO / filename, audio_format, max_duration=3.0)
    assert caught.value.reason == "AUDIO_TOO_LONG"
    # Just over the true length is fine.
    probe_audio(AUDIO / filename, audio_format, max_duration=ANSWER_SECONDS + 0.1)


def test_a_container_holding_a_codec_we_do_not_take_is_refused(tmp_path: Path) -> None:
    ac3 = tmp_path / "answer.m4a"
    _encode(ac3, "mp4", "ac3", 48000)
    with pytest.raises(InvalidArgument) as caught:
        probe_audio(ac3, AudioFormat.M4A, max_duration=TEN_MINUTES)
    assert caught.value.reason == "AUDIO_FORMAT_UNSUPPORTED"
    assert "ac3" in caught.value.message


def test_a_file_with_no_sound_is_refused(tmp_path: Path) -> None:
    header_only = tmp_path / "empty.wav"
    # A valid WAV header whose data chunk is empty.
    header_only.write_bytes(
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
        b"\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"
    )
    with pytest.raises(InvalidArgument) as caught:
        probe_audio(header_only, AudioFormat.WAV, max_duration=TEN_MINUTES)
    assert caught.value.reason in ("AUDIO_EMPTY", "AUDIO_CORRUPT")


def _encode(
    path: Path,
    container_format: str,
    codec: str,
    rate: int,
    *,
    seconds: float = 2.0,
    container_options: dict[str, str] | None = None,
) -> None:
    """A tone encoded with PyAV, for containers and codecs the committed fixtures lack."""
    with av.open(
        str(path), "w", format=container_format, container_options=container_options or {}
    ) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        frame_size = stream.codec_context.frame_size or 1024
        total = int(seconds * rate)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)).astype(np.float32)
        format_name = stream.codec_context.format.name
        for start in range(0, total - frame_size + 1, frame_size):
            samples = tone[start : start + frame_size]
            frame = av.AudioFrame.from_ndarray(
                _as_format(samples, format_name), format=format_name, layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _as_format(samples: np.ndarray, format_name: str) -> np.ndarray:
    row = samples.reshape(1, -1)
    if format_name.startswith("s16"):
        return (row * 32767).astype(np.int16)
    return row
