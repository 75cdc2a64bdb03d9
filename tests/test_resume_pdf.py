"""The isolated PDF reader on its own: caps, concurrency, shutdown."""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest

from server.domain.resume.pdf_text import PdfLimits, PdfReadFailed, PdfTextReader
from server.errors import Unavailable
from tests.make_resume_fixtures import SINGLE_COLUMN, many_pages_pdf, read

CHILD_NAME = "samvaad-pdf-text"


def reader(
    max_pages: int = 50, timeout_seconds: float = 5.0, max_chars: int = 10**6
) -> PdfTextReader:
    limits = PdfLimits(max_pages, timeout_seconds, memory_bytes=None, max_chars=max_chars)
    return PdfTextReader(limits, concurrency=2)


def pdf_children() -> list[multiprocessing.process.BaseProcess]:
    return [child for child in multiprocessing.active_children() if child.name == CHILD_NAME]


async def test_text_and_page_count_come_back() -> None:
    pdf = reader()
    try:
        result = await pdf.read(read(SINGLE_COLUMN.filename))
    finally:
        await pdf.close()
    assert result.pages == 1
    assert "Finlytics" in result.text


async def test_the_page_cap_is_exact() -> None:
    pdf = reader(max_pages=5)
    try:
        assert (await pdf.read(many_pages_pdf(5))).pages == 5
        with pytest.raises(PdfReadFailed) as caught:
            await pdf.read(many_pages_pdf(6))
    finally:
        await pdf.close()
    assert (caught.value.problem, caught.value.pages) == ("too_many_pages", 6)


async def test_too_much_text_stops_extraction() -> None:
    pdf = reader(max_chars=100)
    try:
        with pytest.raises(PdfReadFailed) as caught:
            await pdf.read(read(SINGLE_COLUMN.filename))
    finally:
        await pdf.close()
    assert caught.value.problem == "too_much_text"


async def test_reads_run_in_parallel_up_to_the_concurrency() -> None:
    pdf = reader(timeout_seconds=0.6)
    hostile = read("hostile_slow.pdf")
    most_at_once = 0
    reads = asyncio.gather(*(pdf.read(hostile) for _ in range(4)), return_exceptions=True)
    try:
        # Count the reading processes while the four reads run: two at a time,
        # never more (unbounded) and not one (serial).
        while not reads.done():
            most_at_once = max(most_at_once, len(pdf_children()))
            await asyncio.sleep(0.02)
        results = await reads
    finally:
        await pdf.close()
    assert all(isinstance(r, PdfReadFailed) and r.problem == "too_complex" for r in results)
    assert most_at_once == 2


async def test_closing_kills_the_children_and_fails_their_callers() -> None:
    pdf = reader(timeout_seconds=30)
    reading = asyncio.ensure_future(pdf.read(read("hostile_slow.pdf")))
    for _ in range(1000):  # a forkserver child can take seconds on a loaded machine
        if pdf_children():
            break
        await asyncio.sleep(0.02)
    assert pdf_children()
    await pdf.close()
    with pytest.raises(Unavailable):
        await reading
    for _ in range(1000):
        if not pdf_children():
            break
        await asyncio.sleep(0.02)
    assert not pdf_children()
