"""InterviewService: protobuf in, domain call, protobuf out."""

from __future__ import annotations

from typing import Any

from generated.samvaad.v1 import interview_pb2 as pb
from generated.samvaad.v1 import interview_pb2_grpc
from server.api import converters
from server.api.context import current_user_id
from server.domain.followups import FollowUpService
from server.domain.interviews import InterviewService

Context = Any


class InterviewServicer(interview_pb2_grpc.InterviewServiceServicer):
    def __init__(self, interviews: InterviewService, follow_ups: FollowUpService) -> None:
        self._interviews = interviews
        self._follow_ups = follow_ups

    async def CreateInterview(
        self, request: pb.CreateInterviewRequest, context: Context
    ) -> pb.CreateInterviewResponse:
        view, resumed = await self._interviews.create(
            current_user_id(), request.track, converters.difficulty_from_proto(request.difficulty)
        )
        return pb.CreateInterviewResponse(interview=converters.interview(view), resumed=resumed)

    async def GenerateQuestions(
        self, request: pb.GenerateQuestionsRequest, context: Context
    ) -> pb.GenerateQuestionsResponse:
        result = await self._interviews.generate_questions(
            current_user_id(),
            request.interview_id,
            request.use_resume,
            request.count,
            bank_questions=list(request.bank_questions),
        )
        return pb.GenerateQuestionsResponse(
            interview_id=result.interview_id,
            questions=[converters.question(q) for q in result.questions],
            cached=result.cached,
            generator=result.generator,
            question_attempts=[converters.question_attempt(a) for a in result.first_attempts],
        )

    async def CompleteInterview(
        self, request: pb.CompleteInterviewRequest, context: Context
    ) -> pb.CompleteInterviewResponse:
        view = await self._interviews.complete(current_user_id(), request.interview_id)
        return pb.CompleteInterviewResponse(interview=converters.interview(view))

    async def GetInterview(
        self, request: pb.GetInterviewRequest, context: Context
    ) -> pb.GetInterviewResponse:
        view = await self._interviews.get(current_user_id(), request.interview_id)
        return pb.GetInterviewResponse(interview=converters.interview(view))

    async def ListInterviews(
        self, request: pb.ListInterviewsRequest, context: Context
    ) -> pb.ListInterviewsResponse:
        page = await self._interviews.list_interviews(
            current_user_id(),
            request.page_size,
            request.page_token,
            track=request.track,
            status=converters.status_from_proto(request.status),
        )
        return pb.ListInterviewsResponse(
            interviews=[converters.interview(v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    async def ListQuestions(
        self, request: pb.ListQuestionsRequest, context: Context
    ) -> pb.ListQuestionsResponse:
        page = await self._interviews.list_questions(
            current_user_id(), request.interview_id, request.page_size, request.page_token
        )
        return pb.ListQuestionsResponse(
            questions=[converters.question(v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    async def ListQuestionAttempts(
        self, request: pb.ListQuestionAttemptsRequest, context: Context
    ) -> pb.ListQuestionAttemptsResponse:
        page = await self._interviews.list_attempts(
            current_user_id(), request.interview_id, request.page_size, request.page_token
        )
        return pb.ListQuestionAttemptsResponse(
            question_attempts=[converters.question_attempt(v) for v in page.items],
            next_page_token=page.next_page_token,
        )

    async def CreateQuestionAttempt(
        self, request: pb.CreateQuestionAttemptRequest, context: Context
    ) -> pb.CreateQuestionAttemptResponse:
        view = await self._interviews.create_attempt(current_user_id(), request.question_id)
        return pb.CreateQuestionAttemptResponse(question_attempt=converters.question_attempt(view))

    async def CreateFollowUpQuestion(
        self, request: pb.CreateFollowUpQuestionRequest, context: Context
    ) -> pb.CreateFollowUpQuestionResponse:
        follow_up = await self._follow_ups.create(current_user_id(), request.question_attempt_id)
        return pb.CreateFollowUpQuestionResponse(
            question=converters.question(follow_up.question),
            question_attempt=converters.question_attempt(follow_up.attempt),
            cached=follow_up.cached,
        )
