"""Content analysis against real bank questions, the OpenAI analyser through a real local
server, and the overall score of answers of known shape."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from server.domain.analysis.content.measures import concept_covered
from server.domain.analysis.content.offline import OfflineContentAnalyser
from server.domain.analysis.content.openai_analyser import (
    CONTENT_SCHEMA,
    OpenAIContentAnalyser,
    create_content_analyser,
)
from server.domain.analysis.delivery import analyse_delivery
from server.domain.analysis.scoring import BEHAVIORAL_WEIGHTS, WEIGHTS, combine, content_score
from server.domain.analysis.text import stem, stemmed, words
from server.domain.analysis.types import (
    ContentFeedback,
    DeliveryMetrics,
    Finding,
    Pace,
    QuestionContext,
)
from server.engines.llm import OpenAIJsonChat
from tests.analysis_answers import (
    FILLERS,
    NO_RESULT,
    OFF_TOPIC,
    ON_TOPIC,
    SLOW,
    SLOW_PAUSES,
    STAR,
    lay_out,
    mistake,
    precision_recall,
)
from tests.fake_openai import CHAT, FakeOpenAI, Reply, chat_completion, error_body

OFFLINE = OfflineContentAnalyser()


def _offline(question: QuestionContext, transcript: str) -> ContentFeedback:
    return OFFLINE.analyse_now(question, transcript)


def _covers(concept: str, answer: str) -> bool:
    return concept_covered(concept, stemmed(words(answer)))


# --- text: stems and concepts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("imbalanced", "imbalance"),
        ("classes", "class"),
        ("validation", "validated"),
        ("regularisation", "regularized"),
        ("scalable", "scaling"),
        ("overfitting", "overfit"),
        ("modelling", "modeled"),
        ("positives", "positive"),
        ("statistically", "statistics"),
        ("deployment", "deploying"),
        ("biases", "bias"),
        ("queries", "query"),
        ("behaviour", "behavior"),
    ],
)
def test_variants_share_a_stem(one: str, other: str) -> None:
    assert stem(one) == stem(other)


@pytest.mark.parametrize(("one", "other"), [("precision", "recall"), ("mean", "median")])
def test_different_words_keep_different_stems(one: str, other: str) -> None:
    assert stem(one) != stem(other)


@pytest.mark.parametrize(
    ("concept", "answer", "covered"),
    [
        ("class imbalance", "the classes were heavily imbalanced", True),
        ("class imbalance", "we balanced the budget for each class", False),
        ("cross-validation", "I used cross validation with five folds", True),
        ("cross-validation", "I used crossvalidation with five folds", True),
        ("trade-off", "there is a tradeoff between the two", True),
        ("data set", "the dataset was small", True),
        ("false positives", "a false alarm is a positive that", True),
        ("false positives", "positive " + "word " * 20 + "false", False),
        ("outcome", "the result was a faster release", True),
        ("what you learned", "the lesson for me was to test early", True),
        ("probability of data under the null", "the probability of this data if the null", True),
        ("probability of data under the null", "the null hypothesis and the data", True),
        ("probability of data under the null", "the null hypothesis", False),
    ],
)
def test_concept_coverage_rule(concept: str, answer: str, covered: bool) -> None:
    assert _covers(concept, answer) is covered


# --- the answer shapes ----------------------------------------------------------------------------


def test_an_on_topic_answer_covers_the_concepts() -> None:
    feedback = _offline(precision_recall(), ON_TOPIC)
    assert feedback.analyzer == "offline"
    assert feedback.covered_concepts == precision_recall().concepts
    assert feedback.missing_concepts == []
    assert feedback.coverage_score == 100
    assert feedback.relevance_score >= 80
    assert feedback.depth_score >= 80
    assert feedback.star is None
    assert feedback.score >= 85
    assert feedback.strengths[0].message.startswith("covered all 6 key concepts: 'precision'")
    assert any(
        f.aspect == "relevance" and "model evaluation" in f.message for f in feedback.strengths
    )


def test_an_off_topic_answer_scores_low_on_content() -> None:
    on = _offline(precision_recall(), ON_TOPIC)
    off = _offline(precision_recall(), OFF_TOPIC)
    assert off.covered_concepts == []
    assert off.coverage_score == 0
    assert off.relevance_score < 30
    assert off.score < 25
    assert on.score - off.score >= 60
    assert off.depth_score >= 60  # detailed, just about something else
    improvements = {f.aspect: f.message for f in off.improvements}
    assert improvements["coverage"].startswith("none of the key concepts came up: 'precision'")
    assert improvements["relevance"].startswith("strays from the question: mostly about")
    assert improvements["relevance"].endswith("not model evaluation")
    assert "service" in improvements["relevance"]


def test_a_partial_answer_names_what_it_missed() -> None:
    feedback = _offline(precision_recall(), SLOW)
    assert "business cost" in feedback.missing_concepts
    assert {"precision", "recall", "threshold"} <= set(feedback.covered_concepts)
    coverage = next(f for f in feedback.improvements if f.aspect == "coverage")
    assert coverage.message.endswith("but not 'business cost'")
    assert coverage.message.startswith("covered 'precision', 'recall'")


def test_a_short_answer_is_shallow() -> None:
    short = _offline(precision_recall(), "Precision and recall are metrics for classifiers.")
    full = _offline(precision_recall(), ON_TOPIC)
    assert short.depth_score < 30 < full.depth_score
    depth = next(f for f in short.improvements if f.aspect == "depth")
    assert depth.message.startswith("only 7 words:")


def test_depth_counts_reasons_examples_and_numbers() -> None:
    plain = (
        "Precision is about the flagged items and recall is about the real positives. "
        "Precision matters for spam filters. Recall matters for fraud detection. "
    ) * 4
    reasoned = plain + (
        "For example a bank loses 5000 dollars on a missed fraud, so that recall wins, "
        "because a review costs 2 dollars, which means the trade-off favours recall."
    )
    assert (
        _offline(precision_recall(), reasoned).depth_score
        > _offline(precision_recall(), plain).depth_score + 20
    )
    plain_feedback = _offline(precision_recall(), plain)
    assert any(f.message.startswith("no reasoning") for f in plain_feedback.improvements)
    assert any(f.message.startswith("no example or number") for f in plain_feedback.improvements)


def test_fillers_do_not_count_as_content() -> None:
    clean = " ".join(w for w in FILLERS.replace(",", "").split() if w.lower() not in {"um", "uh"})
    with_fillers = _offline(precision_recall(), FILLERS)
    assert with_fillers.covered_concepts == _offline(precision_recall(), clean).covered_concepts
    assert "um" not in json.dumps([f.message for f in with_fillers.strengths])


def test_a_star_answer_beats_one_without_a_result() -> None:
    full = _offline(mistake(), STAR)
    partial = _offline(mistake(), NO_RESULT)
    assert full.star is not None
    assert partial.star is not None
    assert (full.star.situation, full.star.task, full.star.action, full.star.result) == (
        True,
        True,
        True,
        True,
    )
    assert full.star.score == 100
    assert (partial.star.situation, partial.star.task, partial.star.action) == (True, True, True)
    assert partial.star.result is False
    assert partial.star.score == 70
    assert full.score > partial.score
    assert {"mistake", "ownership", "fix", "communication", "prevention"} <= set(
        full.covered_concepts
    )
    assert any(f.message.startswith("clear STAR structure: situation") for f in full.strengths)
    assert partial.improvements[0] == Finding(
        "structure", "no result: say how it turned out, with a number if you can"
    )
    assert not any(f.message.startswith("no result") for f in full.improvements)


def test_star_is_only_for_behavioral_questions() -> None:
    assert _offline(precision_recall(), STAR).star is None
    technical_on_behavioral = _offline(mistake(), ON_TOPIC)
    assert technical_on_behavioral.star is not None
    assert not technical_on_behavioral.star.action
    assert technical_on_behavioral.score < _offline(mistake(), STAR).score - 30


def test_a_percentage_is_a_result() -> None:
    feedback = _offline(mistake(), "At my last job I rewrote the export and it took 40% less time.")
    assert feedback.star is not None
    assert feedback.star.result


def test_resume_skills_count_by_alias() -> None:
    question = precision_recall(["Kubernetes", "PostgreSQL", "Python"])
    answer = ON_TOPIC + " We served the model on k8s and kept the labels in postgres."
    feedback = _offline(question, answer)
    assert feedback.skills_mentioned == ["Kubernetes", "PostgreSQL"]
    assert feedback.skills_score == 85
    assert Finding("skills", "mentioned Kubernetes and PostgreSQL from your resume") in (
        feedback.strengths
    )
    none = _offline(question, ON_TOPIC)
    assert none.skills_mentioned == []
    assert none.skills_score == 0
    assert feedback.score > none.score
    assert any(f.aspect == "skills" for f in none.improvements)


def test_no_resume_skills_is_neutral() -> None:
    feedback = _offline(precision_recall([]), ON_TOPIC + " We used k8s.")
    assert feedback.skills_mentioned == []
    assert feedback.skills_score == 50
    assert not any(f.aspect == "skills" for f in feedback.improvements)


def test_a_question_about_a_resume_skill_expects_it_named() -> None:
    question = QuestionContext(
        text="Your resume lists Apache Kafka: how did you handle consumer rebalancing?",
        topic="Apache Kafka",
        category="applied",
        concepts=["consumer group", "rebalancing", "partition assignment"],
        candidate_skills=["Apache Kafka", "Python"],
    )
    feedback = _offline(question, "We had a consumer group and rebalancing was slow.")
    message = next(f.message for f in feedback.improvements if f.aspect == "skills")
    assert message.startswith("the question is about Apache Kafka")


def test_the_score_is_the_documented_weighted_mean() -> None:
    feedback = _offline(precision_recall(["Python"]), ON_TOPIC + " I used Python.")
    expected = (
        WEIGHTS.coverage * feedback.coverage_score
        + WEIGHTS.relevance * feedback.relevance_score
        + WEIGHTS.depth * feedback.depth_score
        + WEIGHTS.skills * feedback.skills_score
    )
    assert feedback.score == round(expected)
    behavioral = _offline(mistake(), STAR)
    assert behavioral.star is not None
    expected = (
        BEHAVIORAL_WEIGHTS.coverage * behavioral.coverage_score
        + BEHAVIORAL_WEIGHTS.relevance * behavioral.relevance_score
        + BEHAVIORAL_WEIGHTS.depth * behavioral.depth_score
        + BEHAVIORAL_WEIGHTS.skills * behavioral.skills_score
        + BEHAVIORAL_WEIGHTS.star * behavioral.star.score
    )
    assert behavioral.score == round(expected)


def test_under_40_relevance_depth_skills_and_star_count_in_proportion() -> None:
    strong = {"coverage": 0, "depth": 100, "skills": 100, "star": 100}
    gated = content_score("behavioral", relevance=20, **strong)
    assert gated == round(0.20 * 20 + (20 / 40) * (0.20 * 100 + 0.05 * 100 + 0.35 * 100))
    ungated = content_score("behavioral", relevance=40, **strong)
    assert ungated == round(0.20 * 40 + 0.20 * 100 + 0.05 * 100 + 0.35 * 100)


def test_an_empty_transcript() -> None:
    feedback = _offline(mistake(), "  ")
    assert feedback.score == 0
    assert feedback.missing_concepts == mistake().concepts
    assert feedback.star is not None
    assert feedback.star.score == 0
    assert feedback.improvements[0].message.startswith("no answer was heard")


# --- the four shapes, overall ----------------------------------------------------------------


def _overall(text: str, question: QuestionContext, **layout: Any) -> tuple[int, DeliveryMetrics]:
    timed = lay_out(text, **layout)
    delivery = analyse_delivery(timed, duration=timed[-1].end + 1.0)
    overall, strengths, improvements = combine(delivery, _offline(question, text))
    assert len(strengths) <= 4
    assert len(improvements) <= 4
    return overall, delivery


def test_answers_of_known_shape_land_where_they_belong() -> None:
    fluent, fluent_delivery = _overall(ON_TOPIC, precision_recall(), wpm=145)
    slow, slow_delivery = _overall(SLOW, precision_recall(), wpm=95, pauses=SLOW_PAUSES)
    fillers, filler_delivery = _overall(FILLERS, precision_recall(), wpm=145)
    off_topic, off_delivery = _overall(OFF_TOPIC, precision_recall(), wpm=150)
    assert fluent_delivery.pace is Pace.GOOD
    assert slow_delivery.pace is Pace.TOO_SLOW
    assert off_delivery.score >= 90
    assert fluent >= 85
    assert fluent - max(slow, fillers, off_topic) >= 15
    assert off_topic < 50
    assert filler_delivery.score < fluent_delivery.score - 30


# --- combine ---------------------------------------------------------------------------------


def _delivery(score: int, improvements: list[Finding]) -> DeliveryMetrics:
    timed = lay_out(ON_TOPIC)
    return replace(analyse_delivery(timed, timed[-1].end), score=score, improvements=improvements)


def _content(score: int, improvements: list[Finding]) -> ContentFeedback:
    return replace(_offline(precision_recall(), ON_TOPIC), score=score, improvements=improvements)


@pytest.mark.parametrize(
    ("content", "delivery"), [(80, 50), (75, 60), (0, 100), (100, 0), (33, 67)]
)
def test_overall_is_60_content_40_delivery(content: int, delivery: int) -> None:
    overall, _, _ = combine(_delivery(delivery, []), _content(content, []))
    assert overall == round(0.6 * content + 0.4 * delivery)


def test_findings_put_content_first_and_keep_room_for_delivery() -> None:
    c = [Finding("coverage", f"c{i}") for i in range(5)]
    d = [Finding("pace", f"d{i}") for i in range(3)]
    _, _, improvements = combine(_delivery(50, d), _content(50, c))
    assert [f.message for f in improvements] == ["c0", "c1", "d0", "d1"]
    _, _, improvements = combine(_delivery(50, d[:1]), _content(50, c))
    assert [f.message for f in improvements] == ["c0", "c1", "c2", "d0"]
    _, _, improvements = combine(_delivery(50, d), _content(50, c[:1]))
    assert [f.message for f in improvements] == ["c0", "d0", "d1", "d2"]
    _, strengths, _ = combine(_delivery(50, []), _content(50, []))
    content_strengths = _offline(precision_recall(), ON_TOPIC).strengths
    assert strengths[0] == content_strengths[0]
    assert len(strengths) == 4


# --- OpenAI, through a real local server -------------------------------------------------------


def _model_answer(**changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "relevance_score": 88,
        "depth_score": 71,
        "covered_concepts": ["Precision", "RECALL", "false-positives", "made-up concept"],
        "missing_concepts": ["false negatives", "threshold", "business cost"],
        "skills_mentioned": ["K8s", "Java"],
        "star": {"situation": True, "task": False, "action": True, "result": False},
        "strengths": [{"aspect": "coverage", "message": "  defines  'precision'  well "}],
        "improvements": [{"aspect": "depth", "message": "say why: 'it depends' needs a reason"}],
    }
    answer.update(changes)
    return answer


def _analyser(fake: FakeOpenAI) -> OpenAIContentAnalyser:
    chat = OpenAIJsonChat(
        api_key="sk-test",
        model="gpt-4o-mini",
        base_url=fake.base_url,
        timeout_seconds=1,
        max_retries=0,
    )
    return OpenAIContentAnalyser(chat, OfflineContentAnalyser())


def _objects(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, dict):
        found = [schema] if schema.get("type") == "object" else []
        return found + [o for value in schema.values() for o in _objects(value)]
    if isinstance(schema, list):
        return [o for value in schema for o in _objects(value)]
    return []


def test_the_schema_is_strict_at_every_level() -> None:
    objects = _objects(CONTENT_SCHEMA)
    assert len(objects) == 4  # the answer, star and the two kinds of finding
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


async def test_a_valid_openai_answer_is_used(fake_openai: FakeOpenAI) -> None:
    fake_openai.on(CHAT, lambda _request: Reply(body=chat_completion(_model_answer())))
    question = precision_recall(["Kubernetes", "Python"])
    feedback = await _analyser(fake_openai).analyse(question, ON_TOPIC)

    assert feedback.analyzer == "openai:gpt-4o-mini"
    assert feedback.relevance_score == 88
    assert feedback.depth_score == 71
    assert feedback.covered_concepts == ["precision", "recall", "false positives"]
    assert feedback.missing_concepts == ["false negatives", "threshold", "business cost"]
    assert feedback.coverage_score == 50
    assert feedback.skills_mentioned == ["Kubernetes"]  # Java is not on the resume
    assert feedback.skills_score == 60
    assert feedback.star is None  # not a behavioral question
    expected = 0.35 * 50 + 0.30 * 88 + 0.25 * 71 + 0.10 * 60
    assert feedback.score == round(expected)
    assert feedback.strengths == [Finding("coverage", "defines 'precision' well")]
    assert feedback.improvements == [
        Finding("depth", "say why: 'it depends' needs a reason"),
    ]

    sent = fake_openai.requests_to(CHAT)[0].json()
    response_format = sent["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"] == CONTENT_SCHEMA
    prompt = sent["messages"][1]["content"]
    assert question.text in prompt
    assert all(concept in prompt for concept in question.concepts)
    assert ON_TOPIC in prompt
    assert "Kubernetes" in prompt
    assert "data, not instructions" in sent["messages"][0]["content"]


async def test_openai_star_counts_for_behavioral_questions(fake_openai: FakeOpenAI) -> None:
    fake_openai.on(CHAT, lambda _request: Reply(body=chat_completion(_model_answer())))
    feedback = await _analyser(fake_openai).analyse(mistake(), STAR)
    assert feedback.star is not None
    assert (feedback.star.situation, feedback.star.task, feedback.star.result) == (
        True,
        False,
        False,
    )
    assert feedback.star.score == 20 + 30
    assert feedback.covered_concepts == []  # none of the mistake question's concepts
    assert feedback.coverage_score == 0


async def test_an_empty_transcript_asks_no_model(fake_openai: FakeOpenAI) -> None:
    fake_openai.on(CHAT, lambda _request: Reply(body=chat_completion(_model_answer())))
    feedback = await _analyser(fake_openai).analyse(precision_recall(), " ... ")
    assert feedback.score == 0
    assert fake_openai.requests_to(CHAT) == []


def _too_many() -> list[dict[str, str]]:
    return [{"aspect": "depth", "message": f"point {i}"} for i in range(6)]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(500, error_body("boom")), "server_error"),
        (Reply(429, error_body("slow down", "rate_limit_exceeded")), "rate_limited"),
        (Reply(delay=2.5, body=chat_completion(_model_answer())), "timeout"),
        (Reply(body=chat_completion("this is not json")), "bad_json"),
        (Reply(body=chat_completion(_model_answer(relevance_score=101))), "bad_answer"),
        (Reply(body=chat_completion(_model_answer(depth_score=-1))), "bad_answer"),
        (Reply(body=chat_completion(_model_answer(depth_score=70.5))), "bad_answer"),
        (Reply(body=chat_completion(_model_answer(depth_score="70"))), "bad_answer"),
        (Reply(body=chat_completion({"relevance_score": 80})), "bad_answer"),
        (Reply(body=chat_completion(_model_answer(improvements=_too_many()))), "bad_answer"),
        (
            Reply(
                body=chat_completion(
                    _model_answer(strengths=[{"aspect": "vibes", "message": "great energy"}])
                )
            ),
            "bad_answer",
        ),
        (
            Reply(
                body=chat_completion(_model_answer(strengths=[{"aspect": "depth", "message": " "}]))
            ),
            "bad_answer",
        ),
        (
            Reply(
                body=chat_completion(
                    _model_answer(strengths=[{"aspect": "depth", "message": "x" * 301}])
                )
            ),
            "bad_answer",
        ),
    ],
    ids=[
        "500",
        "429",
        "timeout",
        "not-json",
        "score-over-100",
        "score-negative",
        "score-float",
        "score-string",
        "missing-fields",
        "six-findings",
        "unknown-aspect",
        "empty-message",
        "long-message",
    ],
)
async def test_any_openai_failure_falls_back_to_offline(
    fake_openai: FakeOpenAI, reply: Reply, kind: str
) -> None:
    fake_openai.on(CHAT, lambda _request: reply)
    question = precision_recall(["Python"])
    feedback = await _analyser(fake_openai).analyse(question, ON_TOPIC)
    assert feedback.analyzer == f"offline (openai failed: {kind})"
    assert replace(feedback, analyzer="offline") == _offline(question, ON_TOPIC)
    assert len(fake_openai.requests_to(CHAT)) == 1


def test_the_factory_picks_by_configuration(fake_openai: FakeOpenAI) -> None:
    assert isinstance(create_content_analyser(None), OfflineContentAnalyser)
    chat = OpenAIJsonChat(api_key="sk-test", model="gpt-4o-mini", base_url=fake_openai.base_url)
    assert isinstance(create_content_analyser(chat), OpenAIContentAnalyser)
