"""Uploaded files to resume text: recognised by their content, checked, cleaned.

A file is a PDF when it has a PDF header and pypdf can read it, and text when
it decodes as UTF-8 and looks like text; its name and declared content type
do not decide. Everything else is refused with a message that says what the
file seems to be and what to upload instead.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass
from itertools import islice
from typing import overload

from server import text
from server.domain.resume.pdf_text import PdfReadFailed, PdfTextReader, is_pdf
from server.errors import FieldViolation, InvalidArgument, ResourceExhausted

PDF = "application/pdf"
TEXT = "text/plain"
MiB = 1024 * 1024
MAX_FILENAME_CHARS = 255
# A name this long is refused before it is looked at (browsers may send a path).
MAX_RAW_FILENAME_CHARS = 4096
MAX_CONTENT_TYPE_CHARS = 255
# Text is normalised (NFKC) this many characters at a time, so that how far one
# piece expands is seen before the next is expanded: "\ufdfa" becomes 18 characters.
NORMALISE_PIECE_CHARS = 4096
# Fewer letters and digits than this is not a resume (or a PDF without text).
MIN_TEXT_CHARS = 20

_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_PDF_TYPES = frozenset({PDF, "application/x-pdf", "application/acrobat"})
_UPLOAD_AGAIN = "upload the resume as a PDF with a text layer or as UTF-8 text"

# Leading bytes of formats people upload by mistake, and what to say about them.
_KNOWN_FORMATS: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", f"the file is a PNG image, not a resume document; {_UPLOAD_AGAIN}"),
    (b"\xff\xd8\xff", f"the file is a JPEG image, not a resume document; {_UPLOAD_AGAIN}"),
    (b"GIF8", f"the file is a GIF image, not a resume document; {_UPLOAD_AGAIN}"),
    (b"II*\x00", f"the file is a TIFF image, not a resume document; {_UPLOAD_AGAIN}"),
    (b"MM\x00*", f"the file is a TIFF image, not a resume document; {_UPLOAD_AGAIN}"),
    (
        b"PK\x03\x04",
        "the file is a ZIP archive, such as a Word (.docx) document; "
        "save the resume as PDF and upload that",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "the file is an old Word (.doc) document; save the resume as PDF and upload that",
    ),
    (b"{\\rtf", "the file is RTF; save the resume as PDF or plain text and upload that"),
    (b"\xff\xfe", "the text is UTF-16; save it as UTF-8 text or as PDF and upload it again"),
    (b"\xfe\xff", "the text is UTF-16; save it as UTF-8 text or as PDF and upload it again"),
]
_PDF_PROBLEMS = {
    "encrypted": (
        "PDF_ENCRYPTED",
        "the PDF is password-protected; save or print it as a new PDF without a password "
        "and upload that",
    ),
    "truncated": (
        "PDF_TRUNCATED",
        "the PDF is incomplete: it ends before its end-of-file marker, as if cut off during "
        "a download or copy; export or download it again and upload the complete file",
    ),
    "unreadable": (
        "PDF_UNREADABLE",
        "the PDF is damaged and cannot be read; export it again from your editor and "
        "upload the new file",
    ),
    "too_complex": (
        "PDF_TOO_COMPLEX",
        "the PDF took too long or too much memory to read; export it again from your "
        "editor as a plain text PDF and upload that",
    ),
}
# Control characters, zero-width space, BOM, and lone surrogates (a PDF's ToUnicode
# map may yield them; they are not valid UTF-8 and cannot be stored or hashed).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b\ufeff\ud800-\udfff]")
# Not part of a file name: controls (Cc), format characters such as bidi overrides
# and zero-width joiners (Cf), surrogates (Cs), private use (Co), unassigned (Cn).
_NOT_IN_FILENAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_ASCII = re.compile(r"[\x00-\x7f]")
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class DocumentLimits:
    max_bytes: int
    max_pages: int
    max_text_chars: int


@dataclass(frozen=True)
class Document:
    text: str
    content_type: str


class DocumentReader:
    def __init__(self, pdf: PdfTextReader, limits: DocumentLimits) -> None:
        self._pdf = pdf
        self._limits = limits

    async def read(self, content: bytes, declared_type: str, owner: int | None = None) -> Document:
        """The cleaned text of an upload; InvalidArgument or ResourceExhausted when unusable.

        Everything that takes time in proportion to the upload (decoding, scanning,
        normalising, cleaning) runs in a worker thread, PDFs in a child process
        (at most a few at once per `owner`)."""
        self._check_size(content)
        declared = clean_declared_type(declared_type)
        content_type, decoded = await asyncio.to_thread(_detect_and_decode, content)
        check_declared_type(declared, content_type)
        raw = await self._pdf_text(content, owner) if content_type == PDF else decoded
        text = await asyncio.to_thread(self._clean, raw, content_type)
        return Document(text, content_type)

    def read_text_here(self, content: bytes, declared_type: str) -> Document | None:
        """As `read` for a text upload, but in the calling thread (a worker thread: it
        blocks for time in proportion to the upload); None for a PDF, which `read` takes.

        A text upload is then read and analysed in one hop to a worker thread instead
        of one hop per step, each a wake-up of the event loop."""
        self._check_size(content)
        declared = clean_declared_type(declared_type)
        content_type, decoded = _detect_and_decode(content)
        check_declared_type(declared, content_type)
        if content_type == PDF:
            return None
        return Document(self._clean(decoded, content_type), content_type)

    def _clean(self, raw: str, content_type: str) -> str:
        # Cleaning only shrinks text much; refuse the absurd before spending time on
        # it, and stop normalising once the normalised text is as absurd.
        cap = 2 * self._limits.max_text_chars
        if len(raw) > cap:
            raise self._too_much_text()
        text = clean_text(raw, max_normalised_chars=cap)
        if text is None:
            raise self._too_much_text()
        if _meaningful_chars(text) < MIN_TEXT_CHARS:
            if content_type == PDF:
                raise _bad_content(
                    "PDF_NO_TEXT",
                    "this PDF has no text layer (it is a scan or an image); export it from your "
                    "editor as a text PDF, or run it through OCR, and upload it again",
                )
            raise _bad_content(
                "RESUME_EMPTY", "the text file has (almost) no words in it; upload the resume"
            )
        if len(text) > self._limits.max_text_chars:
            raise self._too_much_text()
        return text

    def _check_size(self, content: bytes) -> None:
        if not content:
            raise _bad_content("RESUME_EMPTY", "the file is empty; upload the resume itself")
        if len(content) > self._limits.max_bytes:
            raise ResourceExhausted(
                f"the file is {_size(len(content))}; resumes of at most "
                f"{_size(self._limits.max_bytes)} are accepted",
                reason="RESUME_TOO_LARGE",
            )

    async def _pdf_text(self, content: bytes, owner: int | None) -> str:
        try:
            return (await self._pdf.read(content, owner)).text
        except PdfReadFailed as failure:
            if failure.problem == "too_many_pages":
                raise _bad_content(
                    "PDF_TOO_MANY_PAGES",
                    f"the PDF has {failure.pages} pages; resumes of at most "
                    f"{self._limits.max_pages} pages are accepted",
                ) from None
            if failure.problem == "too_much_text":
                raise self._too_much_text() from None
            reason, message = _PDF_PROBLEMS[failure.problem]
            raise _bad_content(reason, message) from None

    def _too_much_text(self) -> InvalidArgument:
        return _bad_content(
            "RESUME_TOO_LONG",
            f"the resume has more than {self._limits.max_text_chars} characters of text; "
            "upload a shorter resume",
        )


def detect_content_type(content: bytes) -> str:
    """PDF or TEXT from the bytes themselves; InvalidArgument for anything else."""
    return _detect_and_decode(content)[0]


def _detect_and_decode(content: bytes) -> tuple[str, str]:
    """The content type and, for text, the decoded text ("" for a PDF)."""
    if is_pdf(content):
        return PDF, ""
    for magic, message in _KNOWN_FORMATS:
        if content.startswith(magic):
            raise _bad_content("UNSUPPORTED_FILE_TYPE", message)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    if not text or not _looks_like_text(text):
        raise _bad_content(
            "UNSUPPORTED_FILE_TYPE",
            f"the file is neither a PDF nor UTF-8 text; {_UPLOAD_AGAIN}",
        )
    return TEXT, text


def clean_declared_type(declared: str) -> str:
    """The client's content_type without control or format characters, bounded."""
    if len(declared) > MAX_CONTENT_TYPE_CHARS:
        message = f"content_type must be at most {MAX_CONTENT_TYPE_CHARS} characters"
        raise InvalidArgument.for_field("content_type", message, reason="CONTENT_TYPE_TOO_LONG")
    return "".join(c for c in declared if unicodedata.category(c) not in _NOT_IN_FILENAMES)


def check_declared_type(declared: str, detected: str) -> None:
    """The client's content_type may be vague, but must not contradict the content."""
    media_type = declared.split(";", 1)[0].strip().lower()
    if media_type in _GENERIC_TYPES:
        return
    if (detected == PDF and media_type in _PDF_TYPES) or (
        detected == TEXT and media_type.startswith("text/")
    ):
        return
    kind = "a PDF" if detected == PDF else "UTF-8 text"
    message = f"content_type says {media_type} but the file is {kind}; send {detected} or nothing"
    raise InvalidArgument(
        message, [FieldViolation("content_type", message)], reason="CONTENT_TYPE_MISMATCH"
    )


def clean_filename(raw: str) -> str:
    """The base name of what the client called the file (browsers may send a path),
    cleaned as every display string is (`server.text`): nothing invisible (U+202E and
    the other bidi controls included), NFC, runs of whitespace as one space.

    "" when nothing is left (the caller then picks a default name). A name too long
    before or after cleaning is refused, not cut: it is a buggy client or abuse."""
    if len(raw) > MAX_RAW_FILENAME_CHARS:
        raise _filename_too_long()
    name = text.clean_filename(raw, max_chars=MAX_RAW_FILENAME_CHARS, fallback="")
    if len(name) > MAX_FILENAME_CHARS:
        raise _filename_too_long()
    return name


def _filename_too_long() -> InvalidArgument:
    message = f"filename must be at most {MAX_FILENAME_CHARS} characters"
    return InvalidArgument.for_field("filename", message, reason="FILENAME_TOO_LONG")


def default_filename(content_type: str) -> str:
    return "resume.pdf" if content_type == PDF else "resume.txt"


@overload
def clean_text(raw: str) -> str: ...
@overload
def clean_text(raw: str, *, max_normalised_chars: int) -> str | None: ...


def clean_text(raw: str, *, max_normalised_chars: int | None = None) -> str | None:
    """One canonical form of extracted text: NFKC (ligatures like "ﬁ" become "fi"),
    Unix newlines, no control characters or lone surrogates, single spaces, at most
    one blank line. None when NFKC makes it longer than `max_normalised_chars`."""
    normalised = normalise(raw, max_normalised_chars)
    if normalised is None:
        return None
    text = normalised.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\f", "\n").replace("\t", " ")
    text = _CONTROL_CHARS.sub("", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def normalise(raw: str, max_chars: int | None = None) -> str | None:
    """NFKC of `raw`, a piece at a time; None as soon as it exceeds `max_chars`.

    Pieces end before an ASCII character where one is near: no composition or
    reordering crosses one, so the result is the same as normalising at once."""
    pieces: list[str] = []
    total = 0
    position = 0
    while position < len(raw):
        end = _piece_end(raw, position)
        piece = unicodedata.normalize("NFKC", raw[position:end])
        total += len(piece)
        if max_chars is not None and total > max_chars:
            return None
        pieces.append(piece)
        position = end
    return "".join(pieces)


def _piece_end(raw: str, position: int) -> int:
    end = position + NORMALISE_PIECE_CHARS
    if end >= len(raw):
        return len(raw)
    reach = NORMALISE_PIECE_CHARS // 16
    if ascii_char := _ASCII.search(raw, end, end + reach):
        return ascii_char.start()
    if end + reach >= len(raw):
        return len(raw)
    for index in range(end - 1, end - reach, -1):
        if raw[index] < "\x80":
            return index
    # No ASCII near: a combining sequence may be cut here (the text stays valid).
    return end


def _looks_like_text(text: str) -> bool:
    # Binary data that happens to decode as UTF-8 is full of control characters.
    controls = len(_BINARY_CONTROLS.findall(text))
    return "\x00" not in text and controls <= len(text) // 200


def _meaningful_chars(text: str) -> int:
    """Letters and digits in `text`, counted up to MIN_TEXT_CHARS."""
    return sum(1 for _ in islice(_LETTER_OR_DIGIT.finditer(text), MIN_TEXT_CHARS))


def _bad_content(reason: str, message: str) -> InvalidArgument:
    return InvalidArgument(message, [FieldViolation("content", message)], reason=reason)


def _size(size: int) -> str:
    if size >= MiB:
        return f"{size / MiB:.1f} MiB"
    return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} bytes"
