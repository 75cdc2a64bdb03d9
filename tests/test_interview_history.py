"""ListInterviews as a history: each interview with its report's scores, filtered by track
and status, paged as every list is (AIP-158), through a real server on both databases."""

from __future__ import annotations

import grpc

from generated.samvaad.v1 import analysis_pb2 as apb
from generated.samvaad.v1 import interview_pb2 as ipb
from tests.fake_openai import FakeOpenAI
from tests.helpers import RunningServer, expect_status, register, violated_fields
from tests.test_analysis_service import (
    _concepts,
    lay_out,
    offline_content,
    on_topic,
    start_flow,
    upload,
    via_fake,
)

__all__ = ["via_fake"]


async def test_interviews_carry_their_latest_reports_scores_and_next_steps(
    via_fake: RunningServer, fake_openai: FakeOpenAI
) -> None:
    offline_content(fake_openai)
    flow = await start_flow(via_fake, count=2)
    md = flow.account.metadata
    listed = await via_fake.stubs.interview.ListInterviews(ipb.ListInterviewsRequest(), metadata=md)
    (interview,) = listed.interviews
    assert not interview.HasField("overall_score")
    assert not interview.HasField("content_score")
    assert not interview.HasField("delivery_score")
    assert list(interview.next_steps) == []

    concepts = await _concepts(flow, 0)
    await upload(
        flow, fake_openai, flow.attempts[0], lay_out(on_topic(flow.questions[0], concepts), 140)
    )
    report = (
        await flow.analysis.GetInterviewReport(
            apb.GetInterviewReportRequest(interview_id=flow.interview_id), metadata=md
        )
    ).report
    assert report.answered_count == 1
    for interview in [
        (
            await via_fake.stubs.interview.ListInterviews(ipb.ListInterviewsRequest(), metadata=md)
        ).interviews[0],
        (
            await via_fake.stubs.interview.GetInterview(
                ipb.GetInterviewRequest(interview_id=flow.interview_id), metadata=md
            )
        ).interview,
    ]:
        assert interview.HasField("overall_score")
        assert interview.overall_score == report.overall_score
        assert interview.content_score == report.content_score
        assert interview.delivery_score == report.delivery_score
        assert list(interview.next_steps) == list(report.next_steps[:3])
        assert interview.answered_count == 1
    completed = await via_fake.stubs.interview.CompleteInterview(
        ipb.CompleteInterviewRequest(interview_id=flow.interview_id), metadata=md
    )
    assert completed.interview.overall_score == report.overall_score


async def test_list_interviews_filters_by_track_and_status_page_by_page(
    running: RunningServer,
) -> None:
    stubs = running.stubs
    account = await register(stubs)
    md = account.metadata
    plan = [
        ("backend", True),
        ("data_science", True),
        ("backend", True),
        ("backend", True),
        ("Data Science", False),  # stays active; the slug is data_science
        ("backend", False),
    ]
    made: list[tuple[int, str, bool]] = []
    for track, complete in plan:
        created = await stubs.interview.CreateInterview(
            ipb.CreateInterviewRequest(track=track), metadata=md
        )
        assert not created.resumed
        made.append((created.interview.id, created.interview.track, complete))
        if complete:
            await stubs.interview.CompleteInterview(
                ipb.CompleteInterviewRequest(interview_id=created.interview.id), metadata=md
            )
    newest_first = made[::-1]
    backend_ids = [i for i, track, _ in newest_first if track == "backend"]
    completed_backend_ids = [i for i, track, done in newest_first if track == "backend" and done]
    active_ids = [i for i, _, done in newest_first if not done]

    async def pages(request: ipb.ListInterviewsRequest) -> list[ipb.Interview]:
        found: list[ipb.Interview] = []
        while True:
            page = await stubs.interview.ListInterviews(request, metadata=md)
            found += page.interviews
            if not page.next_page_token:
                return found
            request.page_token = page.next_page_token

    backend = await pages(ipb.ListInterviewsRequest(track="Backend", page_size=1))
    assert [i.id for i in backend] == backend_ids
    assert len(backend) == 4
    completed_backend = await pages(
        ipb.ListInterviewsRequest(
            track="backend", status=ipb.INTERVIEW_STATUS_COMPLETED, page_size=2
        )
    )
    assert [i.id for i in completed_backend] == completed_backend_ids
    assert len(completed_backend) == 3
    active = await pages(ipb.ListInterviewsRequest(status=ipb.INTERVIEW_STATUS_ACTIVE))
    assert [i.id for i in active] == active_ids
    assert {i.track for i in active} == {"backend", "data_science"}
    assert await pages(ipb.ListInterviewsRequest(track="mobile")) == []

    # A page token only goes with the filters it was made for.
    first = await stubs.interview.ListInterviews(
        ipb.ListInterviewsRequest(track="backend", page_size=1), metadata=md
    )
    error = await expect_status(
        stubs.interview.ListInterviews(
            ipb.ListInterviewsRequest(page_size=1, page_token=first.next_page_token), metadata=md
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "page_token" in violated_fields(error)
    error = await expect_status(
        stubs.interview.ListInterviews(
            ipb.ListInterviewsRequest(status=7),  # type: ignore[arg-type]
            metadata=md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violated_fields(error) == {"status"}
    # Another user's filters find none of these.
    other = await register(stubs)
    mine = await stubs.interview.ListInterviews(
        ipb.ListInterviewsRequest(track="backend"), metadata=other.metadata
    )
    assert list(mine.interviews) == []
