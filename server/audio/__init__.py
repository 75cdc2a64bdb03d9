"""Recorded answers: receiving, recognising and checking audio before any engine runs."""

from server.audio.formats import FORMATS, AudioFormat, sniff_format
from server.audio.limits import StreamLimits, TempBudget, UploadLimits, with_idle_timeout
from server.audio.probe import ProbeResult, probe_audio
from server.audio.upload import (
    UPLOAD_PREFIX,
    AudioInfo,
    AudioIntake,
    AudioUpload,
    ReceivedAudio,
)

__all__ = [
    "FORMATS",
    "UPLOAD_PREFIX",
    "AudioFormat",
    "AudioInfo",
    "AudioIntake",
    "AudioUpload",
    "ProbeResult",
    "ReceivedAudio",
    "StreamLimits",
    "TempBudget",
    "UploadLimits",
    "probe_audio",
    "sniff_format",
    "with_idle_timeout",
]
