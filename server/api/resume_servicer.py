"""ResumeService: protobuf in, domain call, protobuf out."""

from __future__ import annotations

from typing import Any

from generated.samvaad.v1 import resume_pb2, resume_pb2_grpc
from server.api import converters
from server.api.context import current_user_id
from server.domain.resume.service import ResumeService, ResumeView

Context = Any


class ResumeServicer(resume_pb2_grpc.ResumeServiceServicer):
    def __init__(self, resumes: ResumeService) -> None:
        self._resumes = resumes

    async def UploadResume(
        self, request: resume_pb2.UploadResumeRequest, context: Context
    ) -> resume_pb2.UploadResumeResponse:
        view = await self._resumes.upload(
            current_user_id(), request.filename, request.content_type, request.content
        )
        return resume_pb2.UploadResumeResponse(resume=resume_message(view))

    async def GetMyResume(
        self, request: resume_pb2.GetMyResumeRequest, context: Context
    ) -> resume_pb2.GetMyResumeResponse:
        view = await self._resumes.get(current_user_id())
        return resume_pb2.GetMyResumeResponse(resume=resume_message(view))

    async def GetKnowledgeSet(
        self, request: resume_pb2.GetKnowledgeSetRequest, context: Context
    ) -> resume_pb2.GetKnowledgeSetResponse:
        knowledge = await self._resumes.knowledge_set(current_user_id())
        return resume_pb2.GetKnowledgeSetResponse(items=knowledge.items, cached=knowledge.cached)


def resume_message(view: ResumeView) -> resume_pb2.Resume:
    return resume_pb2.Resume(
        filename=view.filename,
        content_type=view.content_type,
        size_bytes=view.size_bytes,
        text_length=view.text_length,
        preview=view.preview,
        skills=view.skills,
        # proto3 `optional`: None leaves the field unset ("nothing supports a number").
        years_experience=view.years_experience,
        extractor=view.extractor,
        update_time=converters.timestamp(view.updated_at),
    )
