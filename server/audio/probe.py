"""Decode a recording once, before any engine runs, to learn its true length
and to refuse what is corrupt, cut short or too long.

Headers lie (a live WebM has no duration at all, an MP3's is an estimate),
so the duration is the sum of the decoded samples. Decoding is CPU work:
`probe_audio` is synchronous and is meant to run in a worker thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import av
import av.logging

from server.audio.formats import (
    AUDIO_FIELD,
    FORMATS,
    SUPPORTED_FORMATS_TEXT,
    AudioFormat,
    codec_family,
)
from server.audio.integrity import (
    HEADER_DURATION_FORMATS,
    mp3_has_length_header,
    truncation_problem,
)
from server.errors import DomainError, InvalidArgument, ResourceExhausted

# Decoders add or drop a few milliseconds (Opus pre-skip, AAC priming), and
# some muxers round; a shortfall beyond this means the end is missing.
TRUNCATION_TOLERANCE_SECONDS = 0.25
TRUNCATION_TOLERANCE_RATIO = 0.01

log = logging.getLogger(__name__)
_logging_lock = threading.Lock()


@dataclass(frozen=True)
class ProbeResult:
    duration: float  # seconds of decoded audio
    codec: str  # FFmpeg codec name, such as "opus" or "pcm_s16le"
    sample_rate: int
    channels: int


def probe_audio(path: Path, audio_format: AudioFormat, *, max_duration: float) -> ProbeResult:
    """Decode `path` as `audio_format` end to end.

    InvalidArgument when it is corrupt, cut short, empty, undecodable or not the
    codec its container should hold; ResourceExhausted as soon as it exceeds
    `max_duration`. Never anything else for what a client sent.
    """
    try:
        return _probe(path, audio_format, max_duration)
    except DomainError:
        raise
    except Exception as exc:
        # Hostile headers reach corners of PyAV and of our own header walks that fail
        # with plain Python errors (a stream without a decoder, a frame with no sample
        # rate): whatever the cause, these bytes cannot be decoded, and the client
        # should hear so.
        log.warning(
            "audio the decoder could not read",
            extra={"format": audio_format.value},
            exc_info=exc,
        )
        raise _undecodable(audio_format, f"the decoder failed ({type(exc).__name__})") from None


def _probe(path: Path, audio_format: AudioFormat, max_duration: float) -> ProbeResult:
    if problem := truncation_problem(path, audio_format):
        raise _corrupt(f"the audio is truncated: {problem}", reason="AUDIO_TRUNCATED")
    _capture_ffmpeg_errors()
    with av.logging.Capture(local=True) as ffmpeg_logs:
        try:
            result, declared = _decode(path, audio_format, max_duration)
        except av.FFmpegError as exc:
            raise _corrupt(f"the audio could not be decoded: {exc.strerror}") from None
    errors = [message.strip() for level, _, message in ffmpeg_logs if level <= av.logging.ERROR]
    if errors:
        raise _corrupt(f"the audio could not be decoded cleanly: {errors[0]}")
    if result.duration <= 0:
        raise _corrupt("the audio contains no sound to decode", reason="AUDIO_EMPTY")
    if declared is not None and _trust_declared_duration(path, audio_format):
        shortfall = declared - result.duration
        if shortfall > TRUNCATION_TOLERANCE_SECONDS + TRUNCATION_TOLERANCE_RATIO * declared:
            raise _corrupt(
                f"the audio is truncated: its header says {declared:.2f} s "
                f"but only {result.duration:.2f} s could be decoded",
                reason="AUDIO_TRUNCATED",
            )
    return result


def _decode(
    path: Path, audio_format: AudioFormat, max_duration: float
) -> tuple[ProbeResult, float | None]:
    spec = FORMATS[audio_format]
    with av.open(str(path), format=spec.demuxer) as container:
        if not container.streams.audio:
            raise _corrupt("the file holds no audio stream", reason="AUDIO_EMPTY")
        stream = container.streams.audio[0]
        context = stream.codec_context
        # No decoder for what the header names: a WAV format tag FFmpeg does not
        # know, or a tag it knows with fields no decoder accepts (0 bits per sample).
        if context is None or context.codec is None:
            raise _undecodable(audio_format, "no decoder here reads the codec its header names")
        # The codec's canonical name: the decoder's own name may differ (mp3float).
        codec = context.codec.canonical_name
        if codec_family(codec) not in spec.codecs:
            raise InvalidArgument.for_field(
                AUDIO_FIELD,
                f"{audio_format.value.upper()} with {codec} audio is not supported; "
                f"send {SUPPORTED_FORMATS_TEXT}",
                reason="AUDIO_FORMAT_UNSUPPORTED",
            )
        declared = container.duration / av.time_base if container.duration else None
        duration = 0.0
        for frame in container.decode(stream):
            if frame.sample_rate <= 0:
                raise _undecodable(audio_format, "a decoded frame has no sample rate")
            duration += frame.samples / frame.sample_rate
            if duration > max_duration:
                raise ResourceExhausted(
                    f"the audio is longer than the limit of {max_duration:g} seconds",
                    reason="AUDIO_TOO_LONG",
                )
        result = ProbeResult(
            duration=duration,
            codec=codec,
            sample_rate=stream.codec_context.sample_rate,
            channels=stream.codec_context.channels,
        )
    return result, declared


def _trust_declared_duration(path: Path, audio_format: AudioFormat) -> bool:
    if audio_format is AudioFormat.MP3:
        return mp3_has_length_header(path)
    return audio_format in HEADER_DURATION_FORMATS


def _capture_ffmpeg_errors() -> None:
    """Route FFmpeg's error messages to PyAV, where `Capture` can see them.

    PyAV leaves FFmpeg's logging off by default. This turns on errors only,
    process-wide (uncaptured ones reach the `libav` Python logger), and stops
    PyAV from dropping a message identical to the previous one, which would
    hide the second of two uploads cut short in the same way.
    """
    with _logging_lock:
        level = av.logging.get_level()
        if level is None or level < av.logging.ERROR:
            av.logging.set_level(av.logging.ERROR)
        av.logging.set_skip_repeated(False)


def _undecodable(audio_format: AudioFormat, problem: str) -> InvalidArgument:
    return InvalidArgument.for_field(
        AUDIO_FIELD,
        f"the {audio_format.value.upper()} audio cannot be decoded: {problem}; "
        f"send {SUPPORTED_FORMATS_TEXT} with an ordinary encoding (e.g. 16-bit PCM WAV)",
        reason="AUDIO_UNDECODABLE",
    )


def _corrupt(message: str, *, reason: str = "AUDIO_CORRUPT") -> InvalidArgument:
    return InvalidArgument.for_field(AUDIO_FIELD, message, reason=reason)
