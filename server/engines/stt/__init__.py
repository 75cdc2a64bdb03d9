"""Speech to text: one interface, two engines (local faster-whisper, OpenAI), chosen by config."""

from __future__ import annotations

from server.config import Settings
from server.engines.stt.base import (
    LiveEngine,
    LiveTranscription,
    TranscribedWord,
    TranscriptionContext,
    TranscriptionEngine,
    TranscriptResult,
    normalise_language,
)
from server.engines.stt.local_whisper import LocalWhisperEngine
from server.engines.stt.models import ModelUnavailable, shipped_model_directory
from server.engines.stt.openai_whisper import OpenAIWhisperEngine

__all__ = [
    "LiveEngine",
    "LiveTranscription",
    "LocalWhisperEngine",
    "ModelUnavailable",
    "OpenAIWhisperEngine",
    "TranscribedWord",
    "TranscriptResult",
    "TranscriptionContext",
    "TranscriptionEngine",
    "create_engine",
    "normalise_language",
]


def create_engine(settings: Settings) -> TranscriptionEngine:
    """The engine TRANSCRIPTION_ENGINE names, not yet loaded: `await engine.load()` at start-up."""
    if settings.transcription_engine == "openai":
        if settings.openai_api_key is None or not settings.openai_enabled:
            raise ValueError("TRANSCRIPTION_ENGINE=openai needs OPENAI_API_KEY")
        return OpenAIWhisperEngine(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            model=settings.openai_transcription_model,
            timeout_seconds=settings.openai_timeout_seconds,
            max_retries=settings.openai_max_retries,
        )
    model = settings.whisper_model or str(
        shipped_model_directory(settings.stt_model, settings.stt_model_dir)
    )
    return LocalWhisperEngine(
        model,
        compute_type=settings.whisper_compute_type,
        workers=settings.whisper_workers,
        cpu_threads=settings.whisper_cpu_threads,
        beam_size=settings.whisper_beam_size,
        max_pending=settings.transcription_max_pending,
        live=settings.whisper_live,
    )
