"""Domain names of closed sets reach clients as enum values, never silently UNSPECIFIED."""

from __future__ import annotations

import pytest

from generated.samvaad.v1 import analysis_pb2, interview_pb2, transcription_pb2
from server.api.converters import delivery, named_value
from server.audio.formats import AudioFormat
from server.domain.analysis.delivery import analyse_delivery
from server.domain.analysis.types import Word
from server.domain.questions.types import Category

# Every aspect a finding can have (docs/analysis.md).
ASPECTS = [
    "pace", "pauses", "fillers", "speaking_time", "coverage", "relevance", "depth", "skills",
    "structure",
]  # fmt: skip


@pytest.mark.parametrize("category", list(Category))
def test_every_question_category_has_its_enum_value(category: Category) -> None:
    value = named_value(interview_pb2.QuestionCategory, "QUESTION_CATEGORY", category)
    assert interview_pb2.QuestionCategory.Name(value) == f"QUESTION_CATEGORY_{category.upper()}"


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_every_audio_format_has_its_enum_value(audio_format: AudioFormat) -> None:
    assert named_value(transcription_pb2.AudioFormat, "AUDIO_FORMAT", audio_format) != 0


@pytest.mark.parametrize("aspect", ASPECTS)
def test_every_finding_aspect_has_its_enum_value(aspect: str) -> None:
    assert named_value(analysis_pb2.FindingAspect, "FINDING_ASPECT", aspect) != 0


@pytest.mark.parametrize("engine", ["local", "openai"])
def test_both_engines_have_their_enum_value(engine: str) -> None:
    assert named_value(transcription_pb2.TranscriptionEngine, "TRANSCRIPTION_ENGINE", engine) != 0


def test_a_name_the_contract_does_not_list_is_unspecified() -> None:
    assert named_value(analysis_pb2.FindingAspect, "FINDING_ASPECT", "telepathy") == 0


def test_too_little_speech_is_its_own_pace_not_unset() -> None:
    metrics = delivery(analyse_delivery([Word("hello", 0.0, 0.4)], 1.0))
    assert metrics.pace == analysis_pb2.PACE_NOT_ENOUGH_SPEECH
