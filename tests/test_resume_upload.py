"""UploadResume and GetMyResume end to end, offline extractor, on every database backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from generated.samvaad.v1 import auth_pb2, resume_pb2
from server.db.models import Resume
from tests.helpers import (
    Account,
    RunningServer,
    Stubs,
    expect_status,
    reason,
    register,
    violated_fields,
)
from tests.make_resume_fixtures import (
    GOOD,
    PLAIN,
    SINGLE_COLUMN,
    TWO_COLUMN,
    FixtureResume,
    expected_years,
    read,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
MiB = 1024 * 1024


async def upload(
    stubs: Stubs,
    account: Account,
    content: bytes,
    filename: str = "resume.pdf",
    content_type: str = "",
) -> resume_pb2.Resume:
    reply = await stubs.resume.UploadResume(
        resume_pb2.UploadResumeRequest(
            filename=filename, content_type=content_type, content=content
        ),
        metadata=account.metadata,
    )
    resume: resume_pb2.Resume = reply.resume
    return resume


async def my_resume(stubs: Stubs, account: Account) -> resume_pb2.Resume:
    reply = await stubs.resume.GetMyResume(
        resume_pb2.GetMyResumeRequest(), metadata=account.metadata
    )
    resume: resume_pb2.Resume = reply.resume
    return resume


async def upload_fixture(stubs: Stubs, account: Account, fixture: FixtureResume) -> Any:
    return await upload(
        stubs, account, read(fixture.filename), fixture.filename, fixture.content_type
    )


@pytest.mark.parametrize("fixture", GOOD, ids=lambda f: f.filename)
async def test_fixture_resumes_give_their_skills_and_years(
    running: RunningServer, stubs: Stubs, account: Account, fixture: FixtureResume
) -> None:
    content = read(fixture.filename)
    resume = await upload_fixture(stubs, account, fixture)
    today = datetime.now(UTC).date()

    assert resume.filename == fixture.filename
    assert resume.content_type == fixture.content_type
    assert resume.size_bytes == len(content)
    assert resume.extractor == "offline"
    assert resume.preview.startswith(fixture.text_snippets[0])
    stored_text = (await _stored_row(running, account))["text"]
    assert resume.text_length == len(stored_text)
    for snippet in fixture.text_snippets:
        assert snippet in stored_text
    skills = list(resume.skills)
    assert len(skills) == len(set(skills))
    assert fixture.must_find <= set(skills), fixture.must_find - set(skills)
    assert not fixture.must_not_find & set(skills)
    assert set(skills[:3]) <= fixture.top_three_among, skills[:3]
    years = expected_years(fixture, today)
    assert years is not None
    assert resume.HasField("years_experience")
    assert resume.years_experience == pytest.approx(years)
    assert abs(resume.update_time.ToDatetime(UTC) - datetime.now(UTC)) < timedelta(minutes=1)
    assert await my_resume(stubs, account) == resume


async def test_all_pages_of_a_long_resume_are_read(stubs: Stubs, account: Account) -> None:
    from tests.make_resume_fixtures import MULTI_PAGE

    resume = await upload_fixture(stubs, account, MULTI_PAGE)
    # Rust is only on the last page, Maven only on the second.
    assert {"Rust", "Maven"} <= set(resume.skills)
    assert resume.text_length > 800


async def test_text_length_counts_characters_not_bytes(stubs: Stubs, account: Account) -> None:
    resume = await upload_fixture(stubs, account, PLAIN)
    text = read(PLAIN.filename).decode("utf-8")
    assert resume.text_length < len(text.encode("utf-8"))
    assert resume.preview.startswith("José Álvarez — Full-stack Developer")
    assert len(resume.preview) <= 300


async def test_get_my_resume_is_not_found_before_any_upload(stubs: Stubs, account: Account) -> None:
    error = await expect_status(my_resume(stubs, account), grpc.StatusCode.NOT_FOUND)
    assert reason(error) == "RESUME_NOT_FOUND"
    assert "upload" in (error.details() or "")


async def test_resume_calls_need_a_signed_in_user(stubs: Stubs) -> None:
    await expect_status(
        stubs.resume.GetMyResume(resume_pb2.GetMyResumeRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    await expect_status(
        stubs.resume.UploadResume(
            resume_pb2.UploadResumeRequest(filename="a.txt", content=b"Python developer " * 5)
        ),
        grpc.StatusCode.UNAUTHENTICATED,
    )


async def test_a_successful_upload_replaces_the_resume_and_sets_has_resume(
    stubs: Stubs, account: Account
) -> None:
    me = await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)
    assert not me.user.has_resume
    first = await upload_fixture(stubs, account, SINGLE_COLUMN)
    second = await upload_fixture(stubs, account, TWO_COLUMN)
    assert second.filename != first.filename
    assert await my_resume(stubs, account) == second
    me = await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)
    assert me.user.has_resume


async def test_each_user_has_their_own_resume(stubs: Stubs, account: Account) -> None:
    await upload_fixture(stubs, account, SINGLE_COLUMN)
    other = await register(stubs)
    await expect_status(my_resume(stubs, other), grpc.StatusCode.NOT_FOUND)
    mine = await upload_fixture(stubs, other, PLAIN)
    assert (await my_resume(stubs, account)).filename == SINGLE_COLUMN.filename
    assert (await my_resume(stubs, other)) == mine


async def test_concurrent_uploads_leave_exactly_one_resume(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    uploads = [upload_fixture(stubs, account, fixture) for fixture in GOOD]
    results = await asyncio.gather(*uploads)
    current = await my_resume(stubs, account)
    assert current in results
    async with running.app.database.transaction() as uow:
        from sqlalchemy import func, select

        count = await uow.session.scalar(
            select(func.count()).select_from(Resume).where(Resume.user_id == account.user.id)
        )
    assert count == 1


async def test_years_are_absent_when_nothing_supports_a_number(
    stubs: Stubs, account: Account
) -> None:
    text = b"Asha Verma\nStudent. Python, SQL and pandas for class projects.\n"
    resume = await upload(stubs, account, text, "cv.txt", "text/plain")
    assert not resume.HasField("years_experience")
    assert set(resume.skills) == {"Python", "SQL", "pandas"}


@pytest.mark.parametrize(
    ("filename", "stored"),
    [("C:\\fakepath\\Asha CV.pdf", "Asha CV.pdf"), ("", "resume.pdf"), ("cv.txt", "cv.txt")],
)
async def test_filenames_are_for_display_only(
    stubs: Stubs, account: Account, filename: str, stored: str
) -> None:
    # A PDF is a PDF whatever it is called.
    resume = await upload(stubs, account, read(SINGLE_COLUMN.filename), filename)
    assert resume.filename == stored
    assert resume.content_type == "application/pdf"


async def test_a_pdf_that_only_restricts_editing_is_read(stubs: Stubs, account: Account) -> None:
    resume = await upload(stubs, account, read("restricted_no_password.pdf"))
    assert SINGLE_COLUMN.must_find <= set(resume.skills)


# --- bad uploads leave the previous resume untouched ----------------------------------


def _bad_uploads() -> list[Any]:
    def case(
        name: str, content: bytes, code: grpc.StatusCode, why: str, field: str, **kw: Any
    ) -> Any:
        return pytest.param(content, code, why, field, kw, id=name)

    return [
        case("encrypted", read("encrypted.pdf"), INVALID, "PDF_ENCRYPTED", "content"),
        case("truncated", read("truncated.pdf"), INVALID, "PDF_TRUNCATED", "content"),
        case("image-only", read("image_only.pdf"), INVALID, "PDF_NO_TEXT", "content"),
        case("corrupt", read("corrupt.pdf"), INVALID, "PDF_UNREADABLE", "content"),
        case(
            "png-named-pdf",
            read("png_named.pdf"),
            INVALID,
            "UNSUPPORTED_FILE_TYPE",
            "content",
            content_type="application/pdf",
        ),
        case(
            "300-pages", read("three_hundred_pages.pdf"), INVALID, "PDF_TOO_MANY_PAGES", "content"
        ),
        case("empty", b"", INVALID, "RESUME_EMPTY", "content"),
        case("blank-text", b" \n\t\n.\n", INVALID, "RESUME_EMPTY", "content", filename="cv.txt"),
        case("docx", b"PK\x03\x04" + bytes(200), INVALID, "UNSUPPORTED_FILE_TYPE", "content"),
        case(
            "latin-1",
            "José Álvarez, Python developer".encode("latin-1"),
            INVALID,
            "UNSUPPORTED_FILE_TYPE",
            "content",
        ),
        case("binary", bytes(range(256)) * 8, INVALID, "UNSUPPORTED_FILE_TYPE", "content"),
        case(
            "declared-text-but-pdf",
            read(SINGLE_COLUMN.filename),
            INVALID,
            "CONTENT_TYPE_MISMATCH",
            "content_type",
            content_type="text/plain",
        ),
        case(
            "too-much-text",
            b"Python developer. " * 12_000,
            INVALID,
            "RESUME_TOO_LONG",
            "content",
            filename="cv.txt",
        ),
        case(
            "long-filename",
            read(SINGLE_COLUMN.filename),
            INVALID,
            "FILENAME_TOO_LONG",
            "filename",
            filename="x" * 300 + ".pdf",
        ),
    ]


@pytest.mark.parametrize(("content", "code", "why", "field", "request_fields"), _bad_uploads())
async def test_bad_uploads_get_a_clear_status_and_change_nothing(
    running: RunningServer,
    stubs: Stubs,
    account: Account,
    content: bytes,
    code: grpc.StatusCode,
    why: str,
    field: str,
    request_fields: dict[str, str],
) -> None:
    before = await upload_fixture(stubs, account, SINGLE_COLUMN)
    row_before = await _stored_row(running, account)
    request_fields = {"filename": "resume.pdf", **request_fields}
    error = await expect_status(upload(stubs, account, content, **request_fields), code)
    assert reason(error) == why
    assert violated_fields(error) == {field}
    assert len(error.details() or "") > 30
    assert await my_resume(stubs, account) == before
    assert await _stored_row(running, account) == row_before


async def test_the_messages_say_what_to_do(stubs: Stubs, account: Account) -> None:
    cases = {
        "image_only.pdf": "export it from your editor as a text PDF",
        "encrypted.pdf": "without a password",
        "png_named.pdf": "PNG image",
        "three_hundred_pages.pdf": "300 pages",
        "truncated.pdf": "download it again",
    }
    for name, advice in cases.items():
        error = await expect_status(upload(stubs, account, read(name)), INVALID)
        assert advice in (error.details() or ""), error.details()


async def test_oversized_uploads_are_resource_exhausted(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    before = await upload_fixture(stubs, account, PLAIN)
    just_over = b"Python developer. " * (5 * MiB // 18 + 1)
    assert len(just_over) > 5 * MiB
    error = await expect_status(
        upload(stubs, account, just_over, "cv.txt"), grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert reason(error) == "RESUME_TOO_LARGE"
    assert "5.0 MiB" in (error.details() or "")
    # Beyond the gRPC message limit the transport itself refuses, with the same code.
    huge = b"x" * (running.app.settings.max_receive_message_bytes + 1)
    await expect_status(upload(stubs, account, huge, "cv.txt"), grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert await my_resume(stubs, account) == before


@pytest.mark.parametrize("settings_overrides", [{"RESUME_MAX_BYTES": 4096}])
async def test_the_size_limit_is_configurable(stubs: Stubs, account: Account) -> None:
    await upload(stubs, account, read(SINGLE_COLUMN.filename))  # 2 KiB
    error = await expect_status(
        upload(stubs, account, b"Python developer. " * 300, "cv.txt"),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    assert "4 KiB" in (error.details() or "")


# --- hostile PDFs -----------------------------------------------------------------


@pytest.mark.parametrize(
    "settings_overrides",
    [
        pytest.param({"RESUME_PDF_TIMEOUT_SECONDS": 0.5, "RESUME_PDF_MEMORY_MB": 0}, id="time"),
        pytest.param({"RESUME_PDF_TIMEOUT_SECONDS": 30, "RESUME_PDF_MEMORY_MB": 128}, id="memory"),
    ],
)
async def test_a_hostile_pdf_is_cut_off_and_the_server_carries_on(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    before = await upload_fixture(stubs, account, TWO_COLUMN)
    error = await expect_status(upload(stubs, account, read("hostile_slow.pdf")), INVALID)
    # Unlimited, pypdf needs seconds and well over 128 MiB for this file: the
    # reason says which limit stopped it.
    assert reason(error) == "PDF_TOO_COMPLEX"
    assert await my_resume(stubs, account) == before
    assert (await upload_fixture(stubs, account, SINGLE_COLUMN)).skills


@pytest.mark.parametrize(
    "settings_overrides", [{"RESUME_PDF_TIMEOUT_SECONDS": 1.0, "RESUME_PDF_MEMORY_MB": 0}]
)
async def test_pdfs_are_read_off_the_event_loop(stubs: Stubs, account: Account) -> None:
    hostile = asyncio.ensure_future(upload(stubs, account, read("hostile_slow.pdf")))
    await asyncio.sleep(0.2)
    # Were the parse on the loop, these calls would wait for it to end.
    for _ in range(5):
        await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)
    assert not hostile.done()
    await expect_status(hostile, INVALID)


async def _stored_row(running: RunningServer, account: Account) -> dict[str, Any]:
    async with running.app.database.transaction() as uow:
        row = await uow.resumes.get(account.user.id)
        assert row is not None
        return {column.name: getattr(row, column.key) for column in Resume.__table__.columns}


async def test_uploading_needs_no_filename_or_type_for_text(stubs: Stubs, account: Account) -> None:
    resume = await upload(stubs, account, read(PLAIN.filename), filename="")
    assert resume.filename == "resume.txt"
    assert resume.content_type == "text/plain"
