"""Engine-independent pieces: word timing repair, the prompt, language codes, WER."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.engines.stt.base import TranscriptionContext, normalise_language, tidy_words
from server.engines.stt.prompt import MAX_QUESTION_CHARS, MAX_SKILLS, build_prompt
from server.engines.stt.wer import count_fillers, normalise_words, word_error_rate
from server.errors import InvalidArgument

any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
raw_words = st.lists(st.tuples(st.text(max_size=8), any_float, any_float, any_float), max_size=30)


@given(raw_words, st.floats(min_value=0, max_value=3600))
def test_tidy_words_are_ordered_inside_the_audio_whatever_the_engine_says(
    raw: list[tuple[str, float, float, float]], duration: float
) -> None:
    words = tidy_words(raw, duration)
    assert [w.word for w in words] == [t.strip() for t, *_ in raw if t.strip()]
    previous_end = 0.0
    for word in words:
        assert previous_end <= word.start <= word.end <= duration
        assert 0.0 <= word.probability <= 1.0
        previous_end = word.end


def test_tidy_words_leaves_good_timings_alone() -> None:
    raw = [(" Hello", 0.0, 0.4, 0.9), (" world.", 0.5, 0.9, 0.8)]
    words = tidy_words(raw, 1.0)
    assert [(w.word, w.start, w.end, w.probability) for w in words] == [
        ("Hello", 0.0, 0.4, 0.9),
        ("world.", 0.5, 0.9, 0.8),
    ]


def test_tidy_words_repairs_each_kind_of_glitch() -> None:
    raw = [
        ("a", 0.5, 0.3, 1.2),  # ends before it starts; probability over 1
        ("b", 0.1, 0.6, -0.1),  # starts before the previous end; negative probability
        ("", 0.7, 0.8, 0.5),  # empty: dropped
        ("c", math.nan, math.inf, math.nan),  # not numbers at all
        ("d", 2.5, 3.0, 0.5),  # past the end of a 2-second clip
    ]
    words = tidy_words(raw, 2.0)
    assert [(w.word, w.start, w.end, w.probability) for w in words] == [
        ("a", 0.5, 0.5, 1.0),
        ("b", 0.5, 0.6, 0.0),
        ("c", 0.6, 0.6, 0.0),
        ("d", 2.0, 2.0, 0.5),
    ]


def test_prompt_carries_the_question_the_skills_and_fillers() -> None:
    prompt = build_prompt(
        TranscriptionContext(
            question="How did you  deploy\nthe model?",
            skills=["scikit-learn", "Kubernetes", "kubernetes", " PostgreSQL "],
        )
    )
    assert prompt.startswith("How did you deploy the model? ")
    assert "scikit-learn, Kubernetes, PostgreSQL" in prompt
    assert prompt.count("Kubernetes") + prompt.count("kubernetes") == 1
    assert "Umm" in prompt
    assert "uh," in prompt


def test_prompt_without_context_still_primes_fillers() -> None:
    prompt = build_prompt(TranscriptionContext())
    assert prompt == "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."


def test_prompt_stays_inside_whispers_budget() -> None:
    long_question = "Explain " + "why the design matters " * 100
    many_skills = [f"Skill{n}" for n in range(100)] + ["x" * 200]
    prompt = build_prompt(TranscriptionContext(question=long_question, skills=many_skills))
    # Whisper keeps 223 tokens; English runs about 4 characters a token.
    assert len(prompt) < 223 * 4
    assert f"Skill{MAX_SKILLS - 1}" in prompt
    assert f"Skill{MAX_SKILLS}," not in prompt
    assert "x" * 200 not in prompt
    assert len(prompt.split(" Umm")[0]) <= MAX_QUESTION_CHARS


def test_a_skills_string_is_one_skill_not_its_letters() -> None:
    prompt = build_prompt(TranscriptionContext(skills="Kubernetes"))
    assert "used Kubernetes," in prompt


@pytest.mark.parametrize(("raw", "code"), [("en", "en"), (" EN ", "en"), ("", "en"), ("hi", "hi")])
def test_language_codes_are_normalised(raw: str, code: str) -> None:
    assert normalise_language(raw) == code


@pytest.mark.parametrize("raw", ["english", "en-US", "e", "12"])
def test_language_that_is_not_a_code_is_refused(raw: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        normalise_language(raw)
    assert caught.value.reason == "LANGUAGE_INVALID"


def test_word_error_rate_counts_substitutions_deletions_and_insertions() -> None:
    reference = "the quick brown fox jumps"
    assert word_error_rate(reference, "the quick brown fox jumps") == 0
    assert word_error_rate(reference, "the quick brown dog jumps") == pytest.approx(1 / 5)
    assert word_error_rate(reference, "the brown fox jumps") == pytest.approx(1 / 5)
    assert word_error_rate(reference, "the quick brown fox jumps high up") == pytest.approx(2 / 5)
    assert word_error_rate(reference, "") == 1
    with pytest.raises(ValueError, match="no words"):
        word_error_rate("...", "anything")


def test_normalisation_ignores_case_punctuation_and_hyphens_but_not_spelling() -> None:
    assert normalise_words("Your hands lie open in the long-fresh grass,") == normalise_words(
        "your hands lie open in the long fresh grass"
    )
    assert normalise_words("'Tis visible silence; Next.js") == [
        "tis",
        "visible",
        "silence",
        "next",
        "js",
    ]
    # Hyphens split words: "scikit-learn" is two words, and "sicket" one error.
    assert word_error_rate("I used scikit-learn", "I used sicket learn") == pytest.approx(1 / 4)


def test_fillers_are_counted() -> None:
    assert count_fillers("Um, I think, uh, the main reason is, umm, latency.") == 3
    assert count_fillers("The umbrella was under the bed.") == 0
