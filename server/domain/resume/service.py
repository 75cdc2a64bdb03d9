"""The resume service: upload, read back, knowledge set, candidate profile. Knows nothing of gRPC.

An upload is read, analysed and only then stored, in one transaction that
replaces the previous resume and clears its knowledge set. Whatever fails
before that leaves the previous resume exactly as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from server.clock import utcnow
from server.config import Settings
from server.domain.candidate import CandidateProfile
from server.domain.records import ResumeRecord
from server.domain.resume.documents import (
    Document,
    DocumentLimits,
    DocumentReader,
    clean_filename,
    default_filename,
)
from server.domain.resume.experience import years_of_experience
from server.domain.resume.pdf_text import PdfLimits, PdfTextReader
from server.domain.resume.skills import (
    ExtractedSkills,
    OfflineSkillExtractor,
    OpenAISkillExtractor,
    SkillExtractor,
)
from server.domain.resume.taxonomy import Taxonomy, default_taxonomy
from server.domain.resume.types import ResumeFields
from server.engines.llm_types import JsonChat
from server.errors import NotFound
from server.repositories.unit_of_work import Database

log = logging.getLogger(__name__)

PREVIEW_CHARS = 300


@dataclass(frozen=True)
class ResumeView:
    filename: str
    content_type: str
    size_bytes: int
    text_length: int
    preview: str
    skills: list[str]
    years_experience: float | None
    extractor: str
    updated_at: datetime


@dataclass(frozen=True)
class KnowledgeSetView:
    items: list[str]
    cached: bool


@dataclass(frozen=True)
class _TextFacts:
    """What an upload's text yields; `skills` is None when the extractor needs the network."""

    skills: ExtractedSkills | None
    years_experience: float | None
    text_sha256: str


class _Closeable(Protocol):
    async def close(self) -> None: ...


@dataclass(frozen=True)
class ResumeLimits:
    max_skills: int
    knowledge_set_items: int


class ResumeService:
    def __init__(
        self,
        database: Database,
        documents: DocumentReader,
        skills: SkillExtractor,
        taxonomy: Taxonomy,
        limits: ResumeLimits,
        closers: list[_Closeable] | None = None,
    ) -> None:
        self._db = database
        self._documents = documents
        self._skills = skills
        self._taxonomy = taxonomy
        self._limits = limits
        self._closers = closers or []

    @classmethod
    def from_settings(
        cls, settings: Settings, database: Database, chat: JsonChat | None
    ) -> ResumeService:
        """Wired from settings; `chat` (shared, closed by its owner) when OpenAI is configured."""
        taxonomy = default_taxonomy()
        pdf = PdfTextReader(
            PdfLimits(
                max_pages=settings.resume_max_pdf_pages,
                timeout_seconds=settings.resume_pdf_timeout_seconds,
                memory_bytes=settings.resume_pdf_memory_mb * 1024 * 1024 or None,
                # Raw text shrinks when cleaned; the cleaned text is held to the limit.
                max_chars=2 * settings.resume_max_text_chars,
            ),
            concurrency=settings.resume_pdf_concurrency,
            per_owner=settings.resume_pdf_per_user_concurrency,
            owner_queue=settings.resume_pdf_per_user_queue,
        )
        documents = DocumentReader(
            pdf,
            DocumentLimits(
                max_bytes=settings.resume_max_bytes,
                max_pages=settings.resume_max_pdf_pages,
                max_text_chars=settings.resume_max_text_chars,
            ),
        )
        offline = OfflineSkillExtractor(taxonomy)
        skills: SkillExtractor = offline
        if settings.uses_openai_skills and chat is not None:
            skills = OpenAISkillExtractor(chat, taxonomy, fallback=offline)
        limits = ResumeLimits(settings.resume_max_skills, settings.knowledge_set_max_items)
        return cls(database, documents, skills, taxonomy, limits, closers=[pdf])

    async def upload(
        self, user_id: int, filename: str, declared_type: str, content: bytes
    ) -> ResumeView:
        name = clean_filename(filename)  # a bad name fails before any work is done
        # A text upload is read and analysed in one hop to a worker thread; a PDF is
        # read in a child process first, then analysed in one hop.
        analysed = await asyncio.to_thread(self._read_text_and_analyse, content, declared_type)
        if analysed is None:
            document = await self._documents.read(content, declared_type, owner=user_id)
            analysed = await asyncio.to_thread(self._analyse, document)
        document, facts = analysed
        extracted = facts.skills
        if extracted is None:  # the extractor needs the network (OpenAI)
            extracted = await self._skills.extract(document.text, self._limits.max_skills)
        fields = ResumeFields(
            filename=name or default_filename(document.content_type),
            content_type=document.content_type,
            size_bytes=len(content),
            text=document.text,
            text_sha256=facts.text_sha256,
            skills=extracted.skills,
            years_experience=facts.years_experience,
            extractor=extracted.extractor,
        )
        # One statement: the upsert also clears the cached knowledge sets (a trigger).
        async with self._db.transaction(one_statement=True) as uow:
            row = await uow.resumes.replace(user_id, fields)
        log.info(
            "resume stored",
            extra={
                "user_id": user_id,
                "content_type": fields.content_type,
                "size_bytes": fields.size_bytes,
                "skills": len(fields.skills),
                "extractor": fields.extractor,
            },
        )
        return _view(row)

    def _read_text_and_analyse(
        self, content: bytes, declared_type: str
    ) -> tuple[Document, _TextFacts] | None:
        """Blocking (a worker thread): a text upload read and analysed; None for a PDF."""
        document = self._documents.read_text_here(content, declared_type)
        return None if document is None else self._analyse(document)

    def _analyse(self, document: Document) -> tuple[Document, _TextFacts]:
        """Blocking (a worker thread): every step that costs in proportion to the text."""
        text = document.text
        facts = _TextFacts(
            skills=self._skills.extract_here(text, self._limits.max_skills),
            years_experience=years_of_experience(text, utcnow().date()),
            text_sha256=_sha256(text),
        )
        return document, facts

    async def get(self, user_id: int) -> ResumeView:
        async with self._db.transaction() as uow:
            row = await uow.resumes.get(user_id)
        if row is None:
            raise _no_resume()
        return _view(row)

    async def knowledge_set(self, user_id: int) -> KnowledgeSetView:
        """Skills of the current resume and the skills they imply, cached per text."""
        async with self._db.transaction() as uow:
            row = await uow.resumes.get(user_id)
            if row is None:
                raise _no_resume()
            cached = await uow.knowledge_sets.get(user_id, row.text_sha256)
        if cached is not None:
            return KnowledgeSetView(list(cached.items), cached=True)
        # Derived from the text (not the stored skills) with the extractor
        # configured now, outside any transaction: it may call OpenAI.
        limit = self._limits.knowledge_set_items
        extracted = await self._skills.extract(row.text, limit)
        items = self._taxonomy.with_implied(extracted.skills)[:limit]
        async with self._db.transaction() as uow:
            await uow.knowledge_sets.save_if_current(
                user_id, row.text_sha256, items, extracted.extractor
            )
        return KnowledgeSetView(items, cached=False)

    async def candidate_profile(self, user_id: int) -> CandidateProfile | None:
        """The current resume's skills and years, or None before any upload."""
        async with self._db.transaction() as uow:
            row = await uow.resumes.get(user_id)
        if row is None:
            return None
        return CandidateProfile(skills=list(row.skills), years_experience=row.years_experience)

    async def close(self) -> None:
        for closer in self._closers:
            await closer.close()


def _view(row: ResumeRecord) -> ResumeView:
    return ResumeView(
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        text_length=len(row.text),
        preview=row.text[:PREVIEW_CHARS],
        skills=list(row.skills),
        years_experience=row.years_experience,
        extractor=row.extractor,
        updated_at=row.updated_at,
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _no_resume() -> NotFound:
    return NotFound("no resume yet; upload one first", reason="RESUME_NOT_FOUND")
