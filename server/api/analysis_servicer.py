"""AnalysisService: protobuf in, domain call, protobuf out."""

from __future__ import annotations

from typing import Any

from generated.samvaad.v1 import analysis_pb2 as pb
from generated.samvaad.v1 import analysis_pb2_grpc, practice_pb2
from server.api import converters, practice_converters
from server.api.context import current_user_id
from server.domain.analysis.service import AnalysisService

Context = Any


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, analyses: AnalysisService) -> None:
        self._analyses = analyses

    async def AnalyzeAnswer(
        self, request: pb.AnalyzeAnswerRequest, context: Context
    ) -> pb.AnalyzeAnswerResponse:
        stored = await self._analyses.analyse_answer(current_user_id(), request.question_attempt_id)
        return pb.AnalyzeAnswerResponse(analysis=converters.answer_analysis(stored))

    async def GetInterviewReport(
        self, request: pb.GetInterviewReportRequest, context: Context
    ) -> pb.GetInterviewReportResponse:
        stored = await self._analyses.report(current_user_id(), request.interview_id)
        return pb.GetInterviewReportResponse(report=converters.interview_report(stored))

    async def CompareAttempts(
        self, request: practice_pb2.CompareAttemptsRequest, context: Context
    ) -> practice_pb2.CompareAttemptsResponse:
        result = await self._analyses.compare_attempts(current_user_id(), request.question_id)
        return practice_converters.comparison(result)

    async def GetProgress(
        self, request: practice_pb2.GetProgressRequest, context: Context
    ) -> practice_pb2.GetProgressResponse:
        result = await self._analyses.progress(current_user_id(), request.track)
        return practice_converters.progress(result)
