"""The OpenAI engine against tests/fake_openai.py, a real local HTTP server."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from server.engines.stt import OpenAIWhisperEngine, TranscriptionContext, create_engine
from server.errors import Unavailable
from tests.audio_assets import ANSWER_SAMPLE, AUDIO
from tests.fake_openai import TRANSCRIPTIONS, FakeOpenAI, Reply, error_body, transcription_verbose
from tests.helpers import make_settings, openai_settings

CONTEXT = TranscriptionContext(question=ANSWER_SAMPLE.question, skills=ANSWER_SAMPLE.skills)
ANSWER = AUDIO / "answer-opus.ogg"
WORDS = [
    ("I", 0.10, 0.22),
    ("trained", 0.22, 0.61),
    ("the", 0.61, 0.70),
    ("model", 0.70, 1.05),
    ("with", 1.05, 1.20),
    ("scikit-learn", 1.20, 2.02),
]
FAST_RETRY = {"retry-after-ms": "10"}  # the client honours it: keeps retry tests quick


def engine_for(fake: FakeOpenAI, **overrides: Any) -> OpenAIWhisperEngine:
    settings = make_settings(
        **openai_settings(fake, TRANSCRIPTION_ENGINE="openai", **overrides),
    )
    engine = create_engine(settings)
    assert isinstance(engine, OpenAIWhisperEngine)
    return engine


def ok_reply() -> Reply:
    return Reply(
        200,
        transcription_verbose(WORDS, duration=6.52, segments=[(0.0, 2.5, math.log(0.8))]),
    )


async def test_verbose_json_with_words_is_parsed(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue(TRANSCRIPTIONS, ok_reply())
    engine = engine_for(fake_openai)
    try:
        result = await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()
    assert result.text == "I trained the model with scikit-learn"
    assert [(w.word, w.start, w.end) for w in result.words] == WORDS
    assert all(w.probability == pytest.approx(0.8) for w in result.words)
    assert (result.language, result.duration) == ("en", 6.52)
    assert (result.engine, result.model) == ("openai", "whisper-1")


async def test_the_request_carries_model_format_granularity_prompt_and_audio(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # Uploads have no extension; the API needs one to tell the format.
    upload = tmp_path / "samvaad-upload-abc123"
    shutil.copy(ANSWER, upload)
    fake_openai.queue(TRANSCRIPTIONS, ok_reply())
    engine = engine_for(fake_openai, OPENAI_TRANSCRIPTION_MODEL="whisper-large-test")
    try:
        await engine.transcribe(upload, language="en", context=CONTEXT)
    finally:
        await engine.close()
    (request,) = fake_openai.requests_to(TRANSCRIPTIONS)
    assert request.headers["authorization"] == "Bearer sk-test"
    form = request.form()
    assert form["model"] == "whisper-large-test"
    assert form["response_format"] == "verbose_json"
    assert "word" in form["timestamp_granularities[]"]
    assert form["language"] == "en"
    assert ANSWER_SAMPLE.question in form["prompt"]
    for skill in ANSWER_SAMPLE.skills:
        assert skill in form["prompt"]
    assert "Umm" in form["prompt"]  # the filler primer
    assert form["file"] == ANSWER.read_bytes()
    assert form["file.filename"] == "answer.ogg"


async def test_a_server_error_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue(
        TRANSCRIPTIONS, Reply(500, error_body("boom"), headers=FAST_RETRY), ok_reply()
    )
    engine = engine_for(fake_openai, OPENAI_MAX_RETRIES=2)
    try:
        result = await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()
    assert len(result.words) == len(WORDS)
    assert len(fake_openai.requests_to(TRANSCRIPTIONS)) == 2


async def test_a_rate_limit_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue(
        TRANSCRIPTIONS,
        Reply(429, error_body("slow down", "rate_limit_error"), headers=FAST_RETRY),
        ok_reply(),
    )
    engine = engine_for(fake_openai, OPENAI_MAX_RETRIES=2)
    try:
        result = await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()
    assert result.words
    assert len(fake_openai.requests_to(TRANSCRIPTIONS)) == 2


async def test_a_persistent_server_error_is_unavailable(fake_openai: FakeOpenAI) -> None:
    fake_openai.on(TRANSCRIPTIONS, lambda _: Reply(500, error_body("down"), headers=FAST_RETRY))
    engine = engine_for(fake_openai, OPENAI_MAX_RETRIES=2)
    try:
        with pytest.raises(Unavailable) as caught:
            await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()
    assert "HTTP 500" in caught.value.message
    assert caught.value.reason == "TRANSCRIPTION_UNAVAILABLE"
    assert len(fake_openai.requests_to(TRANSCRIPTIONS)) == 3  # the first try and 2 retries


async def test_a_timeout_is_unavailable(fake_openai: FakeOpenAI) -> None:
    fake_openai.on(TRANSCRIPTIONS, lambda _: Reply(200, ok_reply().body, delay=2.0))
    engine = engine_for(fake_openai, OPENAI_TIMEOUT_SECONDS=0.3, OPENAI_MAX_RETRIES=0)
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable) as caught:
            await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()
    assert "timed out" in caught.value.message
    assert time.monotonic() - started < 1.5


async def test_an_unreachable_service_is_unavailable() -> None:
    fake = FakeOpenAI().start()
    fake.stop()  # nothing listens on its port any more
    engine = engine_for(fake, OPENAI_MAX_RETRIES=0)
    try:
        with pytest.raises(Unavailable) as caught:
            await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()
    assert "could not connect" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"unexpected": True},
        "not json at all",
        {"text": "hi", "duration": 1.0, "words": [{"word": "hi"}]},
        {"text": "hi", "duration": 1.0, "words": [{"word": "hi", "start": "soon", "end": 1}]},
    ],
    ids=["no-text", "not-json", "word-without-times", "times-not-numbers"],
)
async def test_an_answer_that_is_not_a_transcript_is_unavailable(
    fake_openai: FakeOpenAI, body: Any
) -> None:
    fake_openai.queue(TRANSCRIPTIONS, Reply(200, body))
    engine = engine_for(fake_openai)
    try:
        with pytest.raises(Unavailable):
            await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()


async def test_glitched_word_timings_are_put_in_order_inside_the_audio(
    fake_openai: FakeOpenAI,
) -> None:
    glitched = [
        ("so", -0.2, 0.3),  # before the start
        ("I", 0.25, 0.2),  # ends before it starts, overlaps the previous word
        ("used", 0.5, 0.9),
        ("Kafka", 0.7, 7.9),  # overlaps, runs past the 2-second audio
        ("there", 8.0, 8.4),  # wholly past the end
    ]
    fake_openai.queue(TRANSCRIPTIONS, Reply(200, transcription_verbose(glitched, duration=2.0)))
    engine = engine_for(fake_openai)
    try:
        result = await engine.transcribe(ANSWER, language="en", context=CONTEXT)
    finally:
        await engine.close()
    timings = [(w.word, w.start, w.end) for w in result.words]
    assert timings == [
        ("so", 0.0, 0.3),
        ("I", 0.3, 0.3),
        ("used", 0.5, 0.9),
        ("Kafka", 0.9, 2.0),
        ("there", 2.0, 2.0),
    ]
    assert all(w.probability == 0.0 for w in result.words)  # no segments: no confidence


def test_the_openai_engine_needs_an_api_key() -> None:
    with pytest.raises(ValidationError, match="OPENAI_API_KEY"):
        make_settings(TRANSCRIPTION_ENGINE="openai")


def test_the_openai_engine_defaults_to_whisper_1(fake_openai: FakeOpenAI) -> None:
    engine = engine_for(fake_openai)
    assert (engine.name, engine.model) == ("openai", "whisper-1")
