"""UpdateProfile and User.profile, and how the profile tailors questions."""

from __future__ import annotations

import grpc
from google.protobuf import field_mask_pb2

from generated.samvaad.v1 import auth_pb2
from generated.samvaad.v1 import interview_pb2 as ipb
from server.clock import utcnow
from tests.fake_openai import CHAT, FakeOpenAI, Reply, error_body
from tests.helpers import Account, RunningServer, Stubs, expect_status, register, violated_fields
from tests.test_analysis_service import via_fake

__all__ = ["via_fake"]


async def update(
    stubs: Stubs, account: Account, paths: list[str] | None = None, **fields: object
) -> auth_pb2.User:
    reply = await stubs.auth.UpdateProfile(
        auth_pb2.UpdateProfileRequest(
            profile=auth_pb2.Profile(**fields),  # type: ignore[arg-type]
            update_mask=field_mask_pb2.FieldMask(paths=paths or []),
        ),
        metadata=account.metadata,
    )
    return reply.user


async def test_update_profile_sets_the_masked_fields_and_get_me_shows_them(
    stubs: Stubs, account: Account
) -> None:
    me = (await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)).user
    assert me.profile == auth_pb2.Profile()

    user = await update(
        stubs, account, degree="B.Tech CSE", institution="IIT Delhi", target_role="Backend engineer"
    )
    assert (user.profile.degree, user.profile.institution) == ("B.Tech CSE", "IIT Delhi")
    assert user.profile.target_role == "Backend engineer"
    assert user.id == account.user.id and user.email == account.user.email

    # The mask names what changes: the rest stays, even when the request leaves it empty.
    user = await update(
        stubs,
        account,
        ["graduation_year", "profile.onboarded"],
        degree="ignored",
        graduation_year=2024,
        onboarded=True,
    )
    assert user.profile == auth_pb2.Profile(
        degree="B.Tech CSE",
        institution="IIT Delhi",
        graduation_year=2024,
        target_role="Backend engineer",
        onboarded=True,
    )
    # A masked field with no value clears it.
    user = await update(stubs, account, ["institution", "graduation_year"])
    assert (user.profile.institution, user.profile.graduation_year) == ("", 0)
    me = (await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)).user
    assert me.profile == user.profile
    other = await register(stubs)
    theirs = (await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=other.metadata)).user
    assert theirs.profile == auth_pb2.Profile()


async def test_update_profile_refuses_what_it_cannot_store(stubs: Stubs, account: Account) -> None:
    error = await expect_status(
        update(stubs, account, ["nickname"]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violated_fields(error) == {"update_mask"}
    error = await expect_status(
        update(stubs, account, graduation_year=1900), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violated_fields(error) == {"profile.graduation_year"}
    error = await expect_status(
        update(stubs, account, graduation_year=utcnow().year + 11),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    error = await expect_status(
        update(stubs, account, target_role="x" * 129), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violated_fields(error) == {"profile.target_role"}
    for bad in ("\x00", "Back\u202eend", "x" * 10_000):
        error = await expect_status(
            update(stubs, account, degree=bad), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"profile.degree"}
    user = await update(stubs, account, institution="  IIT\tMadras\n ")
    assert user.profile.institution == "IIT Madras"
    await expect_status(
        stubs.auth.UpdateProfile(auth_pb2.UpdateProfileRequest()), grpc.StatusCode.UNAUTHENTICATED
    )


async def test_the_target_role_tailors_questions_without_a_resume(
    stubs: Stubs, account: Account
) -> None:
    await update(stubs, account, target_role="Backend engineer (Kafka, PostgreSQL)")
    created = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track="backend"), metadata=account.metadata
    )
    generated = await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=created.interview.id, count=5),
        metadata=account.metadata,
    )
    applied = [q for q in generated.questions if q.topic in ("Kafka", "PostgreSQL")]
    assert applied, [q.text for q in generated.questions]
    assert all(q.text.startswith("The role you are preparing for uses") for q in applied)

    # Without a profile the same kind of interview has no questions about those skills.
    plain = await register(stubs)
    created = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track="backend"), metadata=plain.metadata
    )
    generated = await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=created.interview.id, count=5),
        metadata=plain.metadata,
    )
    assert not [q for q in generated.questions if q.topic in ("Kafka", "PostgreSQL")]


async def test_the_model_is_told_the_target_role_and_graduation_year(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.on(CHAT, lambda _: Reply(500, error_body("questions from the bank")))
    stubs = via_fake.stubs
    account = await register(stubs)
    await update(stubs, account, target_role="Data scientist", graduation_year=2027)
    created = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track="data_science"), metadata=account.metadata
    )
    generated = await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=created.interview.id, count=3),
        metadata=account.metadata,
    )
    assert generated.generator.startswith("offline (openai failed")
    prompt = fake_openai.requests_to(CHAT)[-1].body.decode()
    assert "preparing for this role: Data scientist" in prompt
    assert "graduate(d) in 2027" in prompt
