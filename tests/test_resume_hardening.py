"""Hostile resumes: linear skill matching, capped normalisation off the event loop,
unencodable text, file names, and fair sharing of the PDF slots."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from clients.bench.hardening_resume import SHAPES
from generated.samvaad.v1 import auth_pb2, resume_pb2
from server.domain.resume import documents, pdf_text, service
from server.domain.resume.documents import (
    MAX_FILENAME_CHARS,
    NORMALISE_PIECE_CHARS,
    clean_filename,
    clean_text,
    normalise,
)
from server.domain.resume.guarded import CONTEXT_WINDOW
from server.domain.resume.taxonomy import Taxonomy, WorkCounter, default_taxonomy
from server.errors import InvalidArgument
from tests.helpers import Account, RunningServer, Stubs, detail, expect_status, reason, register
from tests.make_resume_fixtures import PLAIN, SINGLE_COLUMN, _assemble, read

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NFKC_BOMB = "\ufdfa" * 399_999  # 1.2 MB of UTF-8; NFKC makes it 18 times as long


async def upload(
    stubs: Stubs, account: Account, content: bytes, filename: str = "cv.pdf", content_type: str = ""
) -> resume_pb2.Resume:
    reply = await stubs.resume.UploadResume(
        resume_pb2.UploadResumeRequest(
            filename=filename, content_type=content_type, content=content
        ),
        metadata=account.metadata,
    )
    resume: resume_pb2.Resume = reply.resume
    return resume


# --- skill matching is linear --------------------------------------------------------


def steps(text: str) -> int:
    counter = WorkCounter()
    default_taxonomy().mentions(text, counter)
    return counter.steps


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_matching_work_is_linear_in_the_text_whatever_its_shape(shape: str) -> None:
    small, large = 10_000, 40_000
    work_small = steps(SHAPES[shape](small))
    work_large = steps(SHAPES[shape](large))
    # Four times the text, (about) four times the work, and a bounded amount per
    # character: a quadratic scan would be sixteen times, and grow per character.
    assert work_large <= 4.4 * work_small
    assert work_large <= (CONTEXT_WINDOW + 12) * large


def test_a_guarded_spelling_costs_a_bounded_window_however_long_its_line() -> None:
    taxonomy = default_taxonomy()
    for repeats in (1_000, 20_000):
        text = "Python, R, " * repeats  # one line, every R corroborated
        counter = WorkCounter()
        found = taxonomy.mentions(text, counter)
        assert len(found) == 2 * repeats
        # Per mention: its atoms, its trie walks, two windows and the corroboration search.
        assert counter.steps <= len(found) * (2 * CONTEXT_WINDOW + 320) + 4 * len(text)


def test_the_worst_shapes_still_find_what_a_normal_resume_would() -> None:
    taxonomy = default_taxonomy()
    assert taxonomy.rank("Languages: Python, Go, R, SQL", 10) == ["Python", "Go", "R", "SQL"]
    assert taxonomy.rank("a@" * 5000 + " Python and Docker", 10) == ["Python", "Docker"]
    assert taxonomy.rank("see github.com.postgres/x", 10) == ["PostgreSQL"]
    assert taxonomy.rank("mail me@example.com/MLOps or Kafka", 10) == ["MLOps", "Apache Kafka"]
    # A one-letter skill alone, with no other skill near it, is a letter.
    assert taxonomy.rank("C " * 1000, 10) == []


def test_trie_spellings_keep_their_word_boundaries() -> None:
    taxonomy = Taxonomy(
        [
            {"name": "Node.js", "category": "web", "aliases": ["node js"]},
            {"name": "C++", "category": "language"},
            {"name": "Java", "category": "language"},
        ]
    )
    found = [m.skill for m in taxonomy.mentions("Node.js, node - js, C++ and Java-based; Javas")]
    assert found == ["Node.js", "Node.js", "C++", "Java"]
    assert [m.skill for m in taxonomy.mentions("Node.jsx C+++ Java-script")] == []


# --- normalising is capped, and nothing input-sized runs on the event loop -----------


def test_normalising_stops_once_the_expansion_passes_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    normalised: list[int] = []
    real = unicodedata.normalize

    def counting(form: Any, text: str) -> str:
        normalised.append(len(text))
        return real(form, text)

    monkeypatch.setattr(unicodedata, "normalize", counting)
    assert clean_text(NFKC_BOMB, max_normalised_chars=400_000) is None
    # 400,000 characters of output come from 22,223 of input: a piece past that, no more.
    assert sum(normalised) <= 400_000 // 18 + NORMALISE_PIECE_CHARS + 1
    assert max(normalised) <= NORMALISE_PIECE_CHARS + NORMALISE_PIECE_CHARS // 16


@pytest.mark.parametrize(
    "raw",
    [
        "ﬁnance " * 3000 + "e\u0301" * 5000,
        ("x" * 4095 + "e\u0301\u0327") * 5,  # marks right where a piece would end
        "Résumé — Python ①②③ " * 2000,
        "\u1100\u1161" * 9000 + "a",  # Hangul jamo, ASCII only at the end
    ],
)
def test_normalising_in_pieces_matches_normalising_at_once(raw: str) -> None:
    assert normalise(raw) == unicodedata.normalize("NFKC", raw)
    assert normalise(raw, max_chars=len(raw) // 3) is None


def test_no_composition_has_an_ascii_second_character() -> None:
    # Why pieces may end before any ASCII character.
    for code in range(0x110000):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            assert len(parts) != 2 or int(parts[1], 16) >= 0x80, hex(code)


async def test_an_nfkc_bomb_is_refused_as_too_long(stubs: Stubs, account: Account) -> None:
    error = await expect_status(upload(stubs, account, NFKC_BOMB.encode(), "bomb.txt"), INVALID)
    assert reason(error) == "RESUME_TOO_LONG"


async def test_input_sized_work_never_runs_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, stubs: Stubs, account: Account
) -> None:
    loop_thread = threading.get_ident()
    threads: dict[str, set[int]] = {}

    def watch(module: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(module, name)

        def watched(*args: Any, **kwargs: Any) -> Any:
            threads.setdefault(name, set()).add(threading.get_ident())
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, watched)

    watch(documents, "_detect_and_decode")
    watch(documents, "clean_text")
    watch(pdf_text, "looks_truncated")
    watch(service, "years_of_experience")
    watch(service, "_sha256")
    watch(Taxonomy, "mentions")
    await upload(stubs, account, read(PLAIN.filename), "cv.txt")
    await upload(stubs, account, read(SINGLE_COLUMN.filename))
    await stubs.resume.GetKnowledgeSet(
        resume_pb2.GetKnowledgeSetRequest(), metadata=account.metadata
    )
    assert set(threads) == {
        "_detect_and_decode",
        "clean_text",
        "looks_truncated",
        "years_of_experience",
        "_sha256",
        "mentions",
    }
    assert all(loop_thread not in ran_in for ran_in in threads.values()), threads


async def test_the_loop_answers_while_a_text_is_cleaned(
    monkeypatch: pytest.MonkeyPatch, stubs: Stubs, account: Account
) -> None:
    entered, release = threading.Event(), threading.Event()
    order: list[str] = []
    real = documents.clean_text

    def held(raw: str, **kwargs: Any) -> str | None:
        entered.set()
        release.wait(10)  # were this on the loop, nothing would answer until then
        order.append("cleaned")
        return real(raw, **kwargs)

    monkeypatch.setattr(documents, "clean_text", held)
    uploading = asyncio.ensure_future(upload(stubs, account, read(PLAIN.filename), "cv.txt"))
    assert await asyncio.to_thread(entered.wait, 10)
    await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata)
    order.append("answered")
    release.set()
    assert (await uploading).skills
    assert order == ["answered", "cleaned"]


# --- text valid everywhere: surrogates, control characters, file names ---------------


def lone_surrogate_pdf() -> bytes:
    """A PDF whose ToUnicode map sends two codes to lone surrogates (D800, DC00)."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap "
        b"/CMapName /Lone def 1 begincodespacerange <00> <FF> endcodespacerange "
        b"1 beginbfrange <20> <7E> <0020> endbfrange "
        b"2 beginbfchar <01> <D800> <02> <DC00> endbfchar "
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    content = b"BT /F1 12 Tf 72 720 Td (Python developer \x01 with Docker\x02 and Kubernetes) Tj ET"
    return _assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
        ]
    )


def test_the_fixture_really_yields_lone_surrogates() -> None:
    status, text, _ = pdf_text.extract_text(lone_surrogate_pdf(), 5, 10_000)
    assert status == "ok" and isinstance(text, str)
    assert "\ud800" in text and "\udc00" in text


async def test_lone_surrogates_from_a_pdf_are_removed(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    resume = await upload(stubs, account, lone_surrogate_pdf())
    assert resume.preview == "Python developer with Docker and Kubernetes"
    assert set(resume.skills) == {"Python", "Docker", "Kubernetes"}
    async with running.app.database.transaction() as uow:
        row = await uow.resumes.get(account.user.id)
    assert row is not None
    assert row.text == "Python developer with Docker and Kubernetes"
    assert row.text_sha256 == hashlib.sha256(row.text.encode("utf-8")).hexdigest()


async def test_a_pdf_of_nothing_but_surrogates_has_no_text(stubs: Stubs, account: Account) -> None:
    pdf = lone_surrogate_pdf().replace(
        b"(Python developer \x01 with Docker\x02 and Kubernetes)", b"(" + b"\x01\x02" * 20 + b")"
    )
    error = await expect_status(upload(stubs, account, pdf), INVALID)
    assert reason(error) == "PDF_NO_TEXT"


async def test_control_characters_never_reach_the_database(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    body = "Python and SQL developer for data pipelines. " * 20
    text = f"Asha Verma\x01\n{body}\x1b[31m\x7f\u200bdone\x0b\n"
    resume = await upload(
        stubs, account, text.encode(), "\u202eevil\x00cv\ue000.txt", "text/plain\x00\x1b"
    )
    assert resume.filename == "evilcv.txt"
    async with running.app.database.transaction() as uow:
        row = await uow.resumes.get(account.user.id)
    assert row is not None
    assert row.text == f"Asha Verma\n{body}[31mdone".strip()
    assert row.filename == "evilcv.txt"
    # NUL makes a text file binary: refused, whatever the database.
    error = await expect_status(
        upload(stubs, account, b"Python developer\x00" * 3, "a.txt"), INVALID
    )
    assert reason(error) == "UNSUPPORTED_FILE_TYPE"


async def test_an_absurd_content_type_is_refused(stubs: Stubs, account: Account) -> None:
    error = await expect_status(
        upload(stubs, account, read(PLAIN.filename), "cv.txt", "text/" + "x" * 300), INVALID
    )
    assert reason(error) == "CONTENT_TYPE_TOO_LONG"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("cv\u202etxt.pdf", "cvtxt.pdf"),  # RIGHT-TO-LEFT OVERRIDE
        ("\u2066cv\u2069.pdf", "cv.pdf"),  # isolates
        ("c\u200dv\ufeff.pdf", "cv.pdf"),  # zero-width joiner, BOM
        ("cv\ue000\U000f0000.pdf", "cv.pdf"),  # private use
        ("cv\ud800.pdf", "cv.pdf"),  # a lone surrogate
        ("cv\x00\x1b\x9b.pdf", "cv.pdf"),  # C0 and C1 controls
        ("cv\x85notes.pdf", "cv notes.pdf"),  # a control that is a line break separates
        ("Re\u0301sume\u0301.pdf", "Résumé.pdf"),  # NFC
        ("my\u2028cv .pdf", "my cv .pdf"),  # a line separator is a space
        ("\u202e\u200b", ""),  # nothing left: the caller picks a default
    ],
)
def test_filenames_keep_only_what_displays(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_filenames_are_bounded_before_and_after_cleaning() -> None:
    assert clean_filename("\u202e" * 1000 + "cv.pdf") == "cv.pdf"
    with pytest.raises(InvalidArgument):
        clean_filename("a" * (MAX_FILENAME_CHARS + 1))
    with pytest.raises(InvalidArgument):
        clean_filename("\u202e" * 10_000 + "cv.pdf")  # refused before it is looked at


async def test_a_bidi_override_does_not_reach_the_stored_name(
    stubs: Stubs, account: Account
) -> None:
    resume = await upload(stubs, account, read(SINGLE_COLUMN.filename), "invoice\u202efdp.exe")
    assert resume.filename == "invoicefdp.exe"
    resume = await upload(stubs, account, read(SINGLE_COLUMN.filename), "\u202e\u200b")
    assert resume.filename == "resume.pdf"


# --- one user's PDFs cannot hold every slot ------------------------------------------

FAIR = {
    "RESUME_PDF_CONCURRENCY": 2,
    "RESUME_PDF_PER_USER_CONCURRENCY": 2,  # capped at concurrency - 1
    "RESUME_PDF_TIMEOUT_SECONDS": 30,
    "RESUME_PDF_MEMORY_MB": 0,
}


async def started_reading(pdf_processes: int) -> None:
    import multiprocessing

    for _ in range(500):
        children = [
            child for child in multiprocessing.active_children() if child.name == "samvaad-pdf-text"
        ]
        if len(children) >= pdf_processes:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the PDF was not being read")


@pytest.mark.parametrize("settings_overrides", [FAIR])
async def test_another_users_pdf_is_read_while_one_user_waits_on_slow_ones(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    hostile = read("hostile_slow.pdf")  # pypdf needs seconds for it
    slow = [asyncio.ensure_future(upload(stubs, account, hostile)) for _ in range(3)]
    await started_reading(1)
    await asyncio.sleep(0.2)  # the other two are queued by now (behind the first)
    other = await register(stubs)
    resume = await upload(stubs, other, read(SINGLE_COLUMN.filename))
    assert resume.skills
    # Read while every slow PDF of the first user was still waiting or being read.
    assert not any(task.done() for task in slow)
    for task in slow:
        task.cancel()
    await asyncio.gather(*slow, return_exceptions=True)


@pytest.mark.parametrize("settings_overrides", [{**FAIR, "RESUME_PDF_PER_USER_QUEUE": 0}])
async def test_past_its_queue_a_user_is_told_to_retry(
    running: RunningServer, stubs: Stubs, account: Account
) -> None:
    slow = asyncio.ensure_future(upload(stubs, account, read("hostile_slow.pdf")))
    await started_reading(1)
    error = await expect_status(
        upload(stubs, account, read(SINGLE_COLUMN.filename)), grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert reason(error) == "RESUME_PDF_BUSY"
    assert detail(error, error_details_pb2.RetryInfo).retry_delay.ToTimedelta().total_seconds() > 0
    assert not slow.done()
    # Text resumes are not PDFs: no slot needed.
    assert (await upload(stubs, account, read(PLAIN.filename), "cv.txt")).skills
    slow.cancel()
    await asyncio.gather(slow, return_exceptions=True)
