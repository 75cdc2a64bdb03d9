"""AIP-158 pagination of interviews, questions and attempts."""

from __future__ import annotations

import base64
import json

import grpc
import pytest

from generated.samvaad.v1 import interview_pb2 as pb
from tests.helpers import Account, Stubs, expect_status, reason, register, violated_fields

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def make_interviews(
    stubs: Stubs, account: Account, count: int, prefix: str = "t"
) -> list[int]:
    ids = []
    for i in range(count):
        reply = await stubs.interview.CreateInterview(
            pb.CreateInterviewRequest(track=f"{prefix}{i}"), metadata=account.metadata
        )
        ids.append(reply.interview.id)
    return ids


async def list_page(
    stubs: Stubs, account: Account, size: int = 0, token: str = ""
) -> pb.ListInterviewsResponse:
    return await stubs.interview.ListInterviews(
        pb.ListInterviewsRequest(page_size=size, page_token=token), metadata=account.metadata
    )


async def test_interviews_are_listed_newest_first_in_pages(stubs: Stubs, account: Account) -> None:
    ids = await make_interviews(stubs, account, 7)
    seen: list[int] = []
    token = ""
    pages = 0
    while True:
        page = await list_page(stubs, account, 3, token)
        seen += [i.id for i in page.interviews]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(ids, reverse=True)
    assert pages == 3


async def test_default_page_size_is_20_and_over_100_is_coerced(
    stubs: Stubs, account: Account
) -> None:
    await make_interviews(stubs, account, 103)
    assert len((await list_page(stubs, account)).interviews) == 20
    big = await list_page(stubs, account, 1000)
    assert len(big.interviews) == 100 and big.next_page_token
    rest = await list_page(stubs, account, 1000, big.next_page_token)
    assert len(rest.interviews) == 3 and not rest.next_page_token


async def test_an_exact_last_page_has_no_token(stubs: Stubs, account: Account) -> None:
    await make_interviews(stubs, account, 4)
    page = await list_page(stubs, account, 4)
    assert len(page.interviews) == 4 and page.next_page_token == ""
    empty = await list_page(stubs, await register(stubs))
    assert list(empty.interviews) == [] and empty.next_page_token == ""


async def test_negative_page_size_is_invalid(stubs: Stubs, account: Account) -> None:
    error = await expect_status(list_page(stubs, account, -1), INVALID)
    assert violated_fields(error) == {"page_size"}


async def test_page_size_may_change_between_pages(stubs: Stubs, account: Account) -> None:
    ids = await make_interviews(stubs, account, 5)
    first = await list_page(stubs, account, 2)
    second = await list_page(stubs, account, 10, first.next_page_token)
    assert [i.id for i in [*first.interviews, *second.interviews]] == sorted(ids, reverse=True)


def _forge(token: str, **changes: object) -> str:
    payload, _, signature = token.partition(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


@pytest.mark.parametrize("kind", ["garbage", "forged cursor", "truncated", "no signature"])
async def test_tokens_cannot_be_forged(stubs: Stubs, account: Account, kind: str) -> None:
    await make_interviews(stubs, account, 3)
    token = (await list_page(stubs, account, 1)).next_page_token
    bad = {
        "garbage": "not-a-token",
        "forged cursor": _forge(token, c=[10**9]),
        "truncated": token[:-3],
        "no signature": token.partition(".")[0],
    }[kind]
    error = await expect_status(list_page(stubs, account, 1, bad), INVALID)
    assert violated_fields(error) == {"page_token"}
    assert reason(error) == "PAGE_TOKEN_INVALID"


async def test_another_users_token_is_refused(stubs: Stubs, account: Account) -> None:
    await make_interviews(stubs, account, 3)
    token = (await list_page(stubs, account, 1)).next_page_token
    other = await register(stubs)
    await make_interviews(stubs, other, 3)
    error = await expect_status(list_page(stubs, other, 1, token), INVALID)
    assert reason(error) == "PAGE_TOKEN_MISMATCH"


async def _interview_with_questions(stubs: Stubs, account: Account, track: str, count: int) -> int:
    interview_id = (
        await stubs.interview.CreateInterview(
            pb.CreateInterviewRequest(track=track), metadata=account.metadata
        )
    ).interview.id
    await stubs.interview.GenerateQuestions(
        pb.GenerateQuestionsRequest(interview_id=interview_id, count=count),
        metadata=account.metadata,
    )
    return interview_id


async def test_changing_other_fields_between_pages_is_refused(
    stubs: Stubs, account: Account
) -> None:
    first = await _interview_with_questions(stubs, account, "backend", 6)
    second = await _interview_with_questions(stubs, account, "frontend", 6)
    page = await stubs.interview.ListQuestions(
        pb.ListQuestionsRequest(interview_id=first, page_size=2), metadata=account.metadata
    )
    error = await expect_status(
        stubs.interview.ListQuestions(
            pb.ListQuestionsRequest(
                interview_id=second, page_size=2, page_token=page.next_page_token
            ),
            metadata=account.metadata,
        ),
        INVALID,
    )
    assert reason(error) == "PAGE_TOKEN_MISMATCH"
    # A questions token is no attempts token either.
    await expect_status(
        stubs.interview.ListQuestionAttempts(
            pb.ListQuestionAttemptsRequest(interview_id=first, page_token=page.next_page_token),
            metadata=account.metadata,
        ),
        INVALID,
    )


async def test_questions_and_attempts_page_in_question_order(
    stubs: Stubs, account: Account
) -> None:
    interview_id = await _interview_with_questions(stubs, account, "backend", 7)
    positions: list[int] = []
    token = ""
    while True:
        page = await stubs.interview.ListQuestions(
            pb.ListQuestionsRequest(interview_id=interview_id, page_size=3, page_token=token),
            metadata=account.metadata,
        )
        positions += [q.position for q in page.questions]
        if not (token := page.next_page_token):
            break
    assert positions == list(range(1, 8))
    attempts: list[int] = []
    while True:
        reply = await stubs.interview.ListQuestionAttempts(
            pb.ListQuestionAttemptsRequest(
                interview_id=interview_id, page_size=2, page_token=token
            ),
            metadata=account.metadata,
        )
        attempts += [a.id for a in reply.question_attempts]
        if not (token := reply.next_page_token):
            break
    assert len(attempts) == len(set(attempts)) == 7


async def test_no_row_skipped_or_repeated_while_rows_are_added(
    stubs: Stubs, account: Account
) -> None:
    original = await make_interviews(stubs, account, 9, "orig")
    seen: list[int] = []
    token = ""
    added = 0
    while True:
        page = await list_page(stubs, account, 2, token)
        seen += [i.id for i in page.interviews]
        # Someone keeps starting interviews while we page.
        await make_interviews(stubs, account, 1, f"new{added}-")
        added += 1
        if not (token := page.next_page_token):
            break
    assert seen == sorted(original, reverse=True)
