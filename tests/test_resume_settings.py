"""The resume settings and the choices they make."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.helpers import make_settings


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"RESUME_MAX_BYTES": 8 * 1024 * 1024}, "RESUME_MAX_BYTES"),
        ({"RESUME_PDF_MEMORY_MB": 64}, "RESUME_PDF_MEMORY_MB"),
        ({"SKILL_EXTRACTOR": "openai"}, "SKILL_EXTRACTOR=openai needs OPENAI_API_KEY"),
        ({"SKILL_EXTRACTOR": "llm"}, "SKILL_EXTRACTOR"),
        ({"RESUME_PDF_TIMEOUT_SECONDS": 0}, "RESUME_PDF_TIMEOUT_SECONDS"),
    ],
)
def test_unworkable_resume_settings_are_refused(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        make_settings(**overrides)


@pytest.mark.parametrize(
    ("overrides", "uses_openai"),
    [
        ({}, False),
        ({"OPENAI_API_KEY": "sk-x"}, True),
        ({"OPENAI_API_KEY": "sk-x", "SKILL_EXTRACTOR": "offline"}, False),
        ({"OPENAI_API_KEY": "sk-x", "SKILL_EXTRACTOR": "openai"}, True),
        ({"OPENAI_API_KEY": ""}, False),
    ],
)
def test_the_skill_extractor_follows_the_settings(
    overrides: dict[str, Any], uses_openai: bool
) -> None:
    assert make_settings(**overrides).uses_openai_skills is uses_openai


def test_a_larger_grpc_message_limit_allows_larger_resumes() -> None:
    settings = make_settings(
        RESUME_MAX_BYTES=10 * 1024 * 1024, GRPC_MAX_RECEIVE_MESSAGE_BYTES=11 * 1024 * 1024
    )
    assert settings.resume_max_bytes == 10 * 1024 * 1024
