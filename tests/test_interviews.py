"""InterviewService end to end, on every database backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from sqlalchemy import select, update

from generated.samvaad.v1 import interview_pb2 as pb
from server.db.models import Interview, QuestionAttempt
from tests.helpers import (
    Account,
    RunningServer,
    Stubs,
    expect_status,
    reason,
    register,
    violated_fields,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


async def create(
    stubs: Stubs, account: Account, track: str = "backend", difficulty: int = pb.DIFFICULTY_MEDIUM
) -> pb.CreateInterviewResponse:
    request = pb.CreateInterviewRequest(track=track)
    request.difficulty = difficulty  # type: ignore[assignment]  # unknown numbers on purpose
    return await stubs.interview.CreateInterview(request, metadata=account.metadata)


async def generate(
    stubs: Stubs, account: Account, interview_id: int = 0, count: int = 0, use_resume: bool = False
) -> pb.GenerateQuestionsResponse:
    return await stubs.interview.GenerateQuestions(
        pb.GenerateQuestionsRequest(interview_id=interview_id, count=count, use_resume=use_resume),
        metadata=account.metadata,
    )


# --- CreateInterview ---------------------------------------------------------------


async def test_create_interview(stubs: Stubs, account: Account) -> None:
    reply = await create(stubs, account, "data_science", pb.DIFFICULTY_HARD)
    interview = reply.interview
    assert not reply.resumed
    assert interview.id > 0
    assert interview.track == "data_science"
    assert interview.difficulty == pb.DIFFICULTY_HARD
    assert interview.status == pb.INTERVIEW_STATUS_ACTIVE
    assert interview.create_time.seconds > 0
    assert not interview.HasField("complete_time")
    assert (interview.question_count, interview.answered_count) == (0, 0)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Data Science", "data_science"),
        ("  ML-Engineering ", "ml_engineering"),
        ("full stack", "full_stack"),
        ("Site Reliability", "devops"),
        ("Quantum Computing!", "quantum_computing"),
        ("Développeur Web", "developpeur_web"),
    ],
)
async def test_tracks_are_normalised(
    stubs: Stubs, account: Account, given: str, stored: str
) -> None:
    assert (await create(stubs, account, given)).interview.track == stored


@pytest.mark.parametrize("track", ["", "   ", "!!!", "x" * 65])
async def test_bad_tracks_are_invalid(stubs: Stubs, account: Account, track: str) -> None:
    error = await expect_status(create(stubs, account, track), INVALID)
    assert violated_fields(error) == {"track"}


async def test_unspecified_difficulty_means_medium(stubs: Stubs, account: Account) -> None:
    reply = await create(stubs, account, difficulty=pb.DIFFICULTY_UNSPECIFIED)
    assert reply.interview.difficulty == pb.DIFFICULTY_MEDIUM


async def test_unknown_difficulty_is_invalid(stubs: Stubs, account: Account) -> None:
    error = await expect_status(create(stubs, account, difficulty=42), INVALID)
    assert violated_fields(error) == {"difficulty"}


async def test_an_active_interview_on_the_track_is_resumed(stubs: Stubs, account: Account) -> None:
    first = await create(stubs, account, "backend")
    again = await create(stubs, account, "Backend", pb.DIFFICULTY_EASY)
    assert again.resumed
    assert again.interview.id == first.interview.id
    other_track = await create(stubs, account, "frontend")
    assert not other_track.resumed and other_track.interview.id != first.interview.id
    someone_else = await create(stubs, await register(stubs), "backend")
    assert not someone_else.resumed


async def test_a_completed_interview_is_not_resumed(stubs: Stubs, account: Account) -> None:
    first = await create(stubs, account)
    await stubs.interview.CompleteInterview(
        pb.CompleteInterviewRequest(interview_id=first.interview.id), metadata=account.metadata
    )
    second = await create(stubs, account)
    assert not second.resumed and second.interview.id != first.interview.id


async def test_concurrent_creates_never_open_two_active_interviews(
    stubs: Stubs, account: Account
) -> None:
    replies = await asyncio.gather(*(create(stubs, account, "devops") for _ in range(8)))
    assert len({r.interview.id for r in replies}) == 1
    assert sum(not r.resumed for r in replies) == 1


# --- GenerateQuestions -------------------------------------------------------------


async def test_generate_questions_defaults_to_five(stubs: Stubs, account: Account) -> None:
    interview = (await create(stubs, account, "ml_engineering")).interview
    reply = await generate(stubs, account, interview.id)
    assert reply.interview_id == interview.id
    assert len(reply.questions) == 5
    assert not reply.cached
    assert reply.generator == "offline"
    assert [q.position for q in reply.questions] == [1, 2, 3, 4, 5]
    assert len({q.text for q in reply.questions}) == 5
    for question in reply.questions:
        assert question.interview_id == interview.id
        assert question.text.strip() and question.topic
        assert question.category in {"technical", "applied", "system_design", "behavioral"}
        assert question.difficulty == pb.DIFFICULTY_MEDIUM
    got = await stubs.interview.GetInterview(
        pb.GetInterviewRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert got.interview.question_count == 5


async def test_zero_means_the_latest_active_interview(stubs: Stubs, account: Account) -> None:
    await create(stubs, account, "backend")
    latest = (await create(stubs, account, "frontend")).interview
    assert (await generate(stubs, account, 0, 3)).interview_id == latest.id


async def test_no_active_interview_is_failed_precondition(stubs: Stubs, account: Account) -> None:
    error = await expect_status(generate(stubs, account), PRECONDITION)
    assert reason(error) == "NO_ACTIVE_INTERVIEW"


@pytest.mark.parametrize("count", [1, 20])
async def test_count_limits_are_inclusive(stubs: Stubs, account: Account, count: int) -> None:
    interview = (await create(stubs, account, "backend")).interview
    assert len((await generate(stubs, account, interview.id, count)).questions) == count


@pytest.mark.parametrize("count", [-1, 21, 1000])
async def test_count_out_of_range_is_invalid(stubs: Stubs, account: Account, count: int) -> None:
    interview = (await create(stubs, account)).interview
    error = await expect_status(generate(stubs, account, interview.id, count), INVALID)
    assert violated_fields(error) == {"count"}


async def test_generating_again_returns_the_same_questions(stubs: Stubs, account: Account) -> None:
    interview = (await create(stubs, account)).interview
    first = await generate(stubs, account, interview.id, 6)
    second = await generate(stubs, account, interview.id, 3)
    assert second.cached and not first.cached
    assert [q.id for q in second.questions] == [q.id for q in first.questions]
    assert second.generator == first.generator


async def test_concurrent_generation_creates_one_set(stubs: Stubs, account: Account) -> None:
    interview = (await create(stubs, account)).interview
    replies = await asyncio.gather(*(generate(stubs, account, interview.id) for _ in range(5)))
    assert len({tuple(q.id for q in r.questions) for r in replies}) == 1
    assert sum(not r.cached for r in replies) == 1
    listed = await stubs.interview.ListQuestions(
        pb.ListQuestionsRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert len(listed.questions) == 5


async def test_two_interviews_on_one_track_differ(stubs: Stubs) -> None:
    sets = []
    for _ in range(2):
        account = await register(stubs)
        interview = (await create(stubs, account, "data_science")).interview
        sets.append({q.text for q in (await generate(stubs, account, interview.id, 8)).questions})
    assert sets[0] != sets[1]


async def test_each_question_gets_one_attempt(stubs: Stubs, account: Account) -> None:
    interview = (await create(stubs, account)).interview
    questions = (await generate(stubs, account, interview.id, 4)).questions
    attempts = await stubs.interview.ListQuestionAttempts(
        pb.ListQuestionAttemptsRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert [a.question_id for a in attempts.question_attempts] == [q.id for q in questions]
    assert [a.question_text for a in attempts.question_attempts] == [q.text for q in questions]
    assert not any(a.has_transcription for a in attempts.question_attempts)


async def test_generate_returns_the_first_attempt_of_each_question(
    stubs: Stubs, account: Account
) -> None:
    """question_attempts[i] is questions[i]'s first attempt, so a client can answer with no
    ListQuestionAttempts; a cached set returns the same first attempts, not later retries."""
    interview = (await create(stubs, account)).interview
    generated = await generate(stubs, account, interview.id, 3)
    listed = await stubs.interview.ListQuestionAttempts(
        pb.ListQuestionAttemptsRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert list(generated.question_attempts) == list(listed.question_attempts)
    assert [a.question_id for a in generated.question_attempts] == [
        q.id for q in generated.questions
    ]

    await stubs.interview.CreateQuestionAttempt(
        pb.CreateQuestionAttemptRequest(question_id=generated.questions[1].id),
        metadata=account.metadata,
    )
    cached = await generate(stubs, account, interview.id)
    assert cached.cached
    assert list(cached.question_attempts) == list(generated.question_attempts)


async def test_a_completed_interview_without_questions_cannot_get_them(
    stubs: Stubs, account: Account
) -> None:
    interview = (await create(stubs, account)).interview
    await stubs.interview.CompleteInterview(
        pb.CompleteInterviewRequest(interview_id=interview.id), metadata=account.metadata
    )
    await expect_status(generate(stubs, account, interview.id), PRECONDITION)


# --- CompleteInterview, attempts, counts -------------------------------------------


async def test_complete_interview_is_idempotent(stubs: Stubs, account: Account) -> None:
    interview = (await create(stubs, account)).interview
    done = await stubs.interview.CompleteInterview(
        pb.CompleteInterviewRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert done.interview.status == pb.INTERVIEW_STATUS_COMPLETED
    assert done.interview.HasField("complete_time")
    again = await stubs.interview.CompleteInterview(
        pb.CompleteInterviewRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert again.interview == done.interview


async def test_a_completed_interview_accepts_no_new_attempts(
    stubs: Stubs, account: Account
) -> None:
    interview = (await create(stubs, account)).interview
    question = (await generate(stubs, account, interview.id, 2)).questions[0]
    await stubs.interview.CompleteInterview(
        pb.CompleteInterviewRequest(interview_id=interview.id), metadata=account.metadata
    )
    error = await expect_status(
        stubs.interview.CreateQuestionAttempt(
            pb.CreateQuestionAttemptRequest(question_id=question.id), metadata=account.metadata
        ),
        PRECONDITION,
    )
    assert reason(error) == "INTERVIEW_COMPLETED"


async def test_an_attempt_opened_while_the_interview_completes_is_refused(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    """The check that the interview is active and the insert are one atomic step:
    completing it in between (here, a transaction that holds the interview row)
    must not leave an attempt in a completed interview."""
    interview = (await create(stubs, account)).interview
    question = (await generate(stubs, account, interview.id, 2)).questions[0]
    async with running.app.database.transaction() as uow:
        await uow.session.execute(
            select(Interview).where(Interview.id == interview.id).with_for_update()
        )
        opening = asyncio.ensure_future(
            stubs.interview.CreateQuestionAttempt(
                pb.CreateQuestionAttemptRequest(question_id=question.id),
                metadata=account.metadata,
            )
        )
        await asyncio.sleep(0.5)  # the call now waits for the interview row (or SQLite's lock)
        await uow.interviews.complete(interview.id, datetime.now(UTC))
    error = await expect_status(opening, PRECONDITION)
    assert reason(error) == "INTERVIEW_COMPLETED"
    async with running.app.database.transaction() as uow:
        attempts = await uow.session.scalars(
            select(QuestionAttempt.id).where(QuestionAttempt.question_id == question.id)
        )
        assert len(attempts.all()) == 1  # the first attempt, made with the question


async def _mark_transcribed(running: RunningServer, attempt_id: int) -> None:
    async with running.app.database.transaction() as uow:
        await uow.session.execute(
            update(QuestionAttempt)
            .where(QuestionAttempt.id == attempt_id)
            .values(transcribed_at=datetime.now(UTC))
        )


async def test_the_latest_attempt_of_a_question_counts(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    interview = (await create(stubs, account)).interview
    questions = (await generate(stubs, account, interview.id, 3)).questions
    attempts = (
        await stubs.interview.ListQuestionAttempts(
            pb.ListQuestionAttemptsRequest(interview_id=interview.id), metadata=account.metadata
        )
    ).question_attempts
    await _mark_transcribed(running, attempts[0].id)
    await _mark_transcribed(running, attempts[1].id)

    async def answered() -> int:
        reply = await stubs.interview.GetInterview(
            pb.GetInterviewRequest(interview_id=interview.id), metadata=account.metadata
        )
        return reply.interview.answered_count

    assert await answered() == 2
    retry = await stubs.interview.CreateQuestionAttempt(
        pb.CreateQuestionAttemptRequest(question_id=questions[0].id), metadata=account.metadata
    )
    attempt = retry.question_attempt
    assert (attempt.question_id, attempt.interview_id) == (questions[0].id, interview.id)
    assert attempt.question_text == questions[0].text and not attempt.has_transcription
    assert await answered() == 1  # the retry has no answer yet, so question 1 is open again
    await _mark_transcribed(running, attempt.id)
    assert await answered() == 2
    listed = await stubs.interview.ListQuestionAttempts(
        pb.ListQuestionAttemptsRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert [a.question_id for a in listed.question_attempts] == [
        questions[0].id, questions[0].id, questions[1].id, questions[2].id,
    ]  # fmt: skip
    assert listed.question_attempts[1].id == attempt.id


# --- isolation -------------------------------------------------------------------


async def test_another_users_things_are_not_found_everywhere(
    stubs: Stubs, account: Account
) -> None:
    interview = (await create(stubs, account)).interview
    question = (await generate(stubs, account, interview.id, 2)).questions[0]
    intruder = await register(stubs)
    md = intruder.metadata
    calls = [
        stubs.interview.GetInterview(
            pb.GetInterviewRequest(interview_id=interview.id), metadata=md
        ),
        stubs.interview.CompleteInterview(
            pb.CompleteInterviewRequest(interview_id=interview.id), metadata=md
        ),
        stubs.interview.GenerateQuestions(
            pb.GenerateQuestionsRequest(interview_id=interview.id), metadata=md
        ),
        stubs.interview.ListQuestions(
            pb.ListQuestionsRequest(interview_id=interview.id), metadata=md
        ),
        stubs.interview.ListQuestionAttempts(
            pb.ListQuestionAttemptsRequest(interview_id=interview.id), metadata=md
        ),
        stubs.interview.CreateQuestionAttempt(
            pb.CreateQuestionAttemptRequest(question_id=question.id), metadata=md
        ),
    ]
    for call in calls:
        error = await expect_status(call, NOT_FOUND)
        assert str(interview.id) not in (error.details() or "") or "not found" in (
            error.details() or ""
        )
    # ...and exactly what a missing id gets, so existence is not revealed.
    missing = await expect_status(
        stubs.interview.GetInterview(pb.GetInterviewRequest(interview_id=999_999), metadata=md),
        NOT_FOUND,
    )
    assert reason(missing) == "INTERVIEW_NOT_FOUND"
    # The owner's interview is untouched.
    mine = await stubs.interview.GetInterview(
        pb.GetInterviewRequest(interview_id=interview.id), metadata=account.metadata
    )
    assert mine.interview.status == pb.INTERVIEW_STATUS_ACTIVE
    assert (await intruder_list(stubs, intruder)) == []


async def intruder_list(stubs: Stubs, account: Account) -> list[int]:
    reply = await stubs.interview.ListInterviews(
        pb.ListInterviewsRequest(), metadata=account.metadata
    )
    return [i.id for i in reply.interviews]


@pytest.mark.parametrize("interview_id", [0, -5])
async def test_get_needs_a_positive_id(stubs: Stubs, account: Account, interview_id: int) -> None:
    error = await expect_status(
        stubs.interview.GetInterview(
            pb.GetInterviewRequest(interview_id=interview_id), metadata=account.metadata
        ),
        INVALID,
    )
    assert violated_fields(error) == {"interview_id"}


# --- questions from the resume ---------------------------------------------------


async def _upload_text_resume(stubs: Stubs, account: Account, text: str) -> None:
    from generated.samvaad.v1 import resume_pb2

    await stubs.resume.UploadResume(
        resume_pb2.UploadResumeRequest(
            filename="resume.txt", content_type="text/plain", content=text.encode()
        ),
        metadata=account.metadata,
    )


SENIOR_RESUME = """Ravi Kumar, Staff Backend Engineer
Skills: Kafka, PostgreSQL, Kubernetes, Go, Redis
Experience
Principal Engineer, Streamline Inc. (Jan 2016 - Present)
Senior Engineer, Datacorp (Mar 2011 - Dec 2015)
"""
FRESHER_RESUME = """Meera Shah, Graduate
Skills: Python, pandas, scikit-learn
Experience
Data Science Intern, Acme Analytics (Jun 2025 - Aug 2025)
Education
B.Tech Computer Science, 2021 - 2025
"""


async def test_use_resume_asks_about_the_candidates_own_skills(
    stubs: Stubs, account: Account
) -> None:
    await _upload_text_resume(stubs, account, SENIOR_RESUME)
    interview = (await create(stubs, account, "backend", pb.DIFFICULTY_HARD)).interview
    reply = await generate(stubs, account, interview.id, 8, use_resume=True)
    skills = {"Kafka", "PostgreSQL", "Kubernetes", "Go", "Redis"}
    tailored = [q for q in reply.questions if q.topic in skills and q.topic in q.text]
    assert len(tailored) >= 2, [q.text for q in reply.questions]


async def test_use_resume_without_a_resume_is_failed_precondition(
    stubs: Stubs, account: Account
) -> None:
    interview = (await create(stubs, account)).interview
    error = await expect_status(
        generate(stubs, account, interview.id, use_resume=True), PRECONDITION
    )
    assert reason(error) == "RESUME_REQUIRED"


async def test_a_fresher_gets_fewer_design_questions_than_a_senior(stubs: Stubs) -> None:
    design = {}
    for label, resume in (("fresher", FRESHER_RESUME), ("senior", SENIOR_RESUME)):
        account = await register(stubs)
        await _upload_text_resume(stubs, account, resume)
        interview = (await create(stubs, account, "backend", pb.DIFFICULTY_MEDIUM)).interview
        reply = await generate(stubs, account, interview.id, 12, use_resume=True)
        design[label] = sum(q.category == "system_design" for q in reply.questions)
    assert design["fresher"] < design["senior"]


# --- GenerateQuestions with bank_questions --------------------------------------------

BANK_TEXTS = [
    "Explain optimistic versus pessimistic locking and when each is appropriate.",
    "Describe a project you are proud of. What exactly was your contribution?",
    "How would you implement retries for calls to a flaky downstream service without making "
    "an outage worse?",
]


async def bank_generate(
    stubs: Stubs, account: Account, texts: list[str], **fields: object
) -> pb.GenerateQuestionsResponse:
    return await stubs.interview.GenerateQuestions(
        pb.GenerateQuestionsRequest(bank_questions=texts, **fields),  # type: ignore[arg-type]
        metadata=account.metadata,
    )


async def test_bank_questions_are_asked_as_named_in_order(stubs: Stubs, account: Account) -> None:
    interview = (await create(stubs, account, "backend", pb.DIFFICULTY_HARD)).interview
    # use_resume is ignored: the caller chose the questions (and this account has no resume).
    reply = await bank_generate(stubs, account, BANK_TEXTS, use_resume=True)
    assert reply.generator == "bank"
    assert [q.text for q in reply.questions] == BANK_TEXTS
    assert [q.position for q in reply.questions] == [1, 2, 3]
    assert [q.topic for q in reply.questions] == ["concurrency control", "ownership", "resilience"]
    assert [q.question_category for q in reply.questions] == [
        pb.QUESTION_CATEGORY_TECHNICAL,
        pb.QUESTION_CATEGORY_BEHAVIORAL,
        pb.QUESTION_CATEGORY_TECHNICAL,
    ]
    assert {q.difficulty for q in reply.questions} == {pb.DIFFICULTY_HARD}
    assert len(reply.question_attempts) == 3
    assert all(q.interview_id == interview.id for q in reply.questions)
    again = await generate(stubs, account, interview.id)
    assert again.cached and [q.text for q in again.questions] == BANK_TEXTS


async def test_the_same_bank_questions_give_every_interview_the_same_set(stubs: Stubs) -> None:
    texts = []
    for name in ("a", "b"):
        account = await register(stubs, f"{name}-bank@example.com")
        await create(stubs, account)
        texts.append([q.text for q in (await bank_generate(stubs, account, BANK_TEXTS)).questions])
    assert texts[0] == texts[1] == BANK_TEXTS


async def test_a_question_not_in_the_bank_is_invalid_and_named(
    stubs: Stubs, account: Account
) -> None:
    await create(stubs, account)
    error = await expect_status(
        bank_generate(stubs, account, [BANK_TEXTS[0], "What is your favourite colour?"]), INVALID
    )
    assert violated_fields(error) == {"bank_questions[1]"}
    # Nearly right is not right: the exact text, not a paraphrase or another case.
    error = await expect_status(bank_generate(stubs, account, [BANK_TEXTS[0].upper()]), INVALID)
    assert violated_fields(error) == {"bank_questions[0]"}
    # A template of the bank ("{skill}") is no question as written.
    error = await expect_status(
        bank_generate(
            stubs,
            account,
            [
                "Your resume lists {skill}: explain its core concepts as you would to a new "
                "teammate on their first day."
            ],
        ),
        INVALID,
    )
    assert violated_fields(error) == {"bank_questions[0]"}
    # Nothing was stored: the interview can still get its questions.
    assert len((await generate(stubs, account)).questions) == 5


async def test_bank_questions_are_asked_once_and_count_must_agree(
    stubs: Stubs, account: Account
) -> None:
    await create(stubs, account)
    error = await expect_status(
        bank_generate(stubs, account, [BANK_TEXTS[0], BANK_TEXTS[0]]), INVALID
    )
    assert violated_fields(error) == {"bank_questions[1]"}
    error = await expect_status(bank_generate(stubs, account, BANK_TEXTS, count=2), INVALID)
    assert violated_fields(error) == {"count"}
    assert len((await bank_generate(stubs, account, BANK_TEXTS, count=3)).questions) == 3


async def test_more_than_twenty_bank_questions_are_invalid(stubs: Stubs, account: Account) -> None:
    await create(stubs, account)
    error = await expect_status(bank_generate(stubs, account, [BANK_TEXTS[0]] * 21), INVALID)
    assert violated_fields(error) == {"bank_questions"}
