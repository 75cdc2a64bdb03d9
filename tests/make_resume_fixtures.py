"""Regenerates the resume fixtures in tests/assets/resumes/ (reportlab, pypdf and Pillow).

Run from the repository root:

    .venv/bin/python tests/make_resume_fixtures.py

The outputs are committed; reportlab runs in invariant mode, so reruns give the
same bytes. What each good resume says, and what the tests expect to read
from it (skills that must and must not be found, the work history behind its
years of experience), is defined here, next to the text itself.

The bad fixtures: encrypted (a user password), truncated (the first 60 % of a
good PDF), image-only (a scan: pixels, no text layer), a PNG named .pdf, a
corrupt PDF (valid header and trailer, garbage between), 300 pages, and a
hostile PDF whose one page holds a few hundred thousand text operators in a
small compressed stream (slow and memory-hungry to read). Oversized uploads are
made by the tests themselves, so nothing large is committed.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

RESUMES = Path(__file__).parent / "assets" / "resumes"

YearMonth = tuple[int, int]


@dataclass(frozen=True)
class Job:
    """A work-history entry: the months it covers, first and last inclusive."""

    first: YearMonth
    last: YearMonth | None  # None: "Present", the current month


@dataclass(frozen=True)
class FixtureResume:
    filename: str
    content_type: str
    must_find: frozenset[str]
    must_not_find: frozenset[str]
    # The first three skills ranked must all be among these.
    top_three_among: frozenset[str]
    jobs: tuple[Job, ...] = ()
    claimed_years: float | None = None
    text_snippets: tuple[str, ...] = field(default=())


def read(name: str) -> bytes:
    """A committed fixture."""
    return (RESUMES / name).read_bytes()


def expected_years(resume: FixtureResume, today: date) -> float | None:
    """Years of experience as the tests reckon them: the set of months worked."""
    months: set[YearMonth] = set()
    for job in resume.jobs:
        year, month = job.first
        last = job.last or (today.year, today.month)
        while (year, month) <= last:
            months.add((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    evidence = [len(months) / 12] if months else []
    if resume.claimed_years is not None:
        evidence.append(resume.claimed_years)
    return round(min(max(evidence), 50), 1) if evidence else None


# --- the good resumes --------------------------------------------------------

SINGLE_COLUMN_LINES = [
    ("name", "Priya R"),
    ("small", "Senior Backend Engineer | priya.r@example.com | github.com/priyar | Bengaluru"),
    ("heading", "Summary"),
    ("body", "Backend engineer with 7+ years of experience building distributed systems"),
    ("body", "in Python and Go. Led go-to-market analytics for a fintech launch."),
    ("heading", "Skills"),
    ("body", "Python, Go, PostgreSQL, Kubernetes, Docker, gRPC, Kafka, AWS, Terraform"),
    ("heading", "Experience"),
    ("role", "Senior Backend Engineer, Finlytics            Jan 2020 – Present"),
    ("body", "• Built payment services in Go and Python on k8s (EKS), backed by Postgres."),
    ("body", "• Introduced gRPC APIs and Kafka event streams; cut p99 latency by 40%."),
    ("role", "Backend Engineer, Shopwise            Jun 2016 – Dec 2019"),
    ("body", "• Django and Celery services in Python; PostgreSQL query tuning; Redis caching."),
    ("body", "• CI/CD with GitHub Actions; infrastructure in Terraform on AWS."),
    ("heading", "Education"),
    ("role", "B.Tech, Computer Science, IIT Madras            2012 – 2016"),
]
SINGLE_COLUMN = FixtureResume(
    filename="single_column.pdf",
    content_type="application/pdf",
    must_find=frozenset(
        {
            "Python",
            "Go",
            "PostgreSQL",
            "Kubernetes",
            "Docker",
            "gRPC",
            "Apache Kafka",
            "AWS",
            "Terraform",
            "Amazon EKS",
            "Django",
            "Celery",
            "Redis",
            "CI/CD",
            "GitHub Actions",
            "Distributed Systems",
        }
    ),
    must_not_find=frozenset({"R"}),
    top_three_among=frozenset({"Python", "Go", "PostgreSQL"}),
    jobs=(Job((2016, 6), (2019, 12)), Job((2020, 1), None)),
    claimed_years=7,
    text_snippets=("Priya R", "Finlytics", "Shopwise"),
)

TWO_COLUMN_SIDEBAR = [
    ("name", "Ruby Chen"),
    ("small", "Data Scientist"),
    ("heading", "Contact"),
    ("small", "ruby.chen@example.com"),
    ("small", "Phoenix, AZ"),
    ("heading", "Skills"),
    ("small", "Python, R, SQL"),
    ("small", "sklearn, pandas"),
    ("small", "TensorFlow, Spark"),
    ("small", "Tableau, A/B testing"),
    ("heading", "Education"),
    ("small", "M.Sc Statistics"),
    ("small", "Arizona State University"),
    ("small", "2014 – 2016"),
]
TWO_COLUMN_MAIN = [
    ("heading", "Profile"),
    ("body", "Data scientist who turns experiments into product decisions."),
    ("body", "Machine learning for pricing and churn with Python and R."),
    ("heading", "Experience"),
    ("role", "Data Scientist, Acme Retail        Mar 2019 – Current"),
    ("body", "• Churn models in scikit-learn and TensorFlow; features in Spark SQL."),
    ("body", "• Led go-to-market experiments with marketing; A/B tests on pricing."),
    ("role", "Data Analyst, Northwind        2016 – 2019"),
    ("body", "• Dashboards in Tableau; forecasting in R; SQL on PostgreSQL."),
    ("role", "Analytics Intern, Contoso        Jun 2018 – Aug 2018"),
    ("body", "• Cleaned survey data with pandas."),
]
TWO_COLUMN = FixtureResume(
    filename="two_column.pdf",
    content_type="application/pdf",
    must_find=frozenset(
        {
            "Python",
            "R",
            "SQL",
            "scikit-learn",
            "pandas",
            "TensorFlow",
            "Apache Spark",
            "Tableau",
            "A/B Testing",
            "Machine Learning",
            "PostgreSQL",
        }
    ),
    must_not_find=frozenset({"Ruby", "Go", "Phoenix"}),
    top_three_among=frozenset({"Python", "R", "SQL", "scikit-learn", "Tableau", "Apache Spark"}),
    # 2016 – 2019 is Jan 2016 to Dec 2018; the internship overlaps it.
    jobs=(Job((2016, 1), (2018, 12)), Job((2018, 6), (2018, 8)), Job((2019, 3), None)),
    text_snippets=("Ruby Chen", "Acme Retail", "Contoso"),
)

MULTI_PAGE_PAGES = [
    [
        ("name", "Daniel Okafor"),
        ("small", "Java Engineer | daniel.okafor@example.com | Lagos"),
        ("heading", "Professional Experience"),
        ("role", "Lead Engineer, Paystream        03/2021 – Present"),
        ("body", "• Spring Boot microservices on AWS; events through Kafka; S3 archives."),
        ("body", "• Mentored six engineers; ran code reviews and design reviews."),
        ("role", "Software Engineer, Telco One        08/2017 – 04/2021"),
        ("body", "• Java 11 and Hibernate on MySQL; JUnit and Mockito test suites."),
        ("body", "• Jenkins pipelines building Docker images."),
    ],
    [
        ("role", "Junior Developer, Bankly        01/2014 – 07/2017"),
        ("body", "• Angular and TypeScript front ends for internal Java services."),
        ("body", "• Moved builds from Ant to Maven; wrote the team's first JUnit tests."),
        ("role", "Freelance Developer        2015 – 2016"),
        ("body", "• Small PHP and MySQL sites for local shops, alongside the job above."),
    ],
    [
        ("heading", "Education"),
        ("role", "B.Sc Computer Science, University of Lagos        2009 – 2013"),
        ("heading", "Projects"),
        ("role", "Open-source CLI for log search        2022 – 2023"),
        ("body", "• Written in Rust; published on crates.io."),
    ],
]
MULTI_PAGE = FixtureResume(
    filename="multi_page.pdf",
    content_type="application/pdf",
    must_find=frozenset(
        {
            "Java",
            "Spring Boot",
            "Microservices",
            "AWS",
            "Apache Kafka",
            "Amazon S3",
            "Hibernate",
            "MySQL",
            "JUnit",
            "Mockito",
            "Jenkins",
            "Docker",
            "Angular",
            "TypeScript",
            "Maven",
            "PHP",
            "Rust",
            "Code Review",
            "Mentoring",
        }
    ),
    must_not_find=frozenset({"Go", "C"}),
    top_three_among=frozenset({"Java", "JUnit", "MySQL", "Spring Boot", "AWS"}),
    # The freelance years overlap the job at Bankly; projects and education do not count.
    jobs=(
        Job((2014, 1), (2017, 7)),
        Job((2015, 1), (2015, 12)),
        Job((2017, 8), (2021, 4)),
        Job((2021, 3), None),
    ),
    text_snippets=("Daniel Okafor", "Bankly", "crates.io"),
)

PLAIN_TEXT = """\
José Álvarez — Full-stack Developer
jose.alvarez@example.com · https://jose.dev · Valencia, Spain

SUMMARY
Full-stack developer with 12+ years of experience shipping web products, from
R&D prototypes to C-suite dashboards.

SKILLS
JavaScript, TypeScript, React, Node.js, GraphQL, MongoDB, AWS Lambda, Jest, Cypress

WORK HISTORY
Staff Engineer, Mercadito — 2019-01 to 2023-12
  - React and TypeScript storefront; GraphQL gateway on Node.js.
  - Serverless order pipeline on AWS Lambda with MongoDB.
Senior Developer, Ola Travel — 2015-03 to 2018-12
  - Node.js services and a React Native app; Jest and Cypress test suites.
  - Scrum master for a team of seven.

EDUCATION
Ingeniería Informática, Universitat Politècnica de València — 2008 - 2013
"""
PLAIN = FixtureResume(
    filename="plain_text.txt",
    content_type="text/plain",
    must_find=frozenset(
        {
            "JavaScript",
            "TypeScript",
            "React",
            "Node.js",
            "GraphQL",
            "MongoDB",
            "AWS Lambda",
            "Jest",
            "Cypress",
            "React Native",
            "Scrum",
        }
    ),
    must_not_find=frozenset({"R", "C", "Go"}),
    top_three_among=frozenset({"React", "Node.js", "TypeScript", "GraphQL", "MongoDB"}),
    jobs=(Job((2015, 3), (2018, 12)), Job((2019, 1), (2023, 12))),
    claimed_years=12,
    text_snippets=("José Álvarez", "Ingeniería Informática", "Mercadito"),
)

GOOD = [SINGLE_COLUMN, TWO_COLUMN, MULTI_PAGE, PLAIN]

# --- drawing -----------------------------------------------------------------

STYLES = {
    "name": ("Helvetica-Bold", 18, 26),
    "heading": ("Helvetica-Bold", 12, 22),
    "role": ("Helvetica-Bold", 10, 16),
    "body": ("Helvetica", 10, 14),
    "small": ("Helvetica", 9, 13),
}
PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, points


def _canvas(buffer: io.BytesIO, **kwargs: object) -> object:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), invariant=1, **kwargs)
    pdf.setTitle("Resume")
    pdf.setAuthor("Samvaad tests")
    return pdf


def _draw_column(pdf: object, lines: list[tuple[str, str]], x: float, top: float) -> None:
    y = top
    for style, text in lines:
        font, size, leading = STYLES[style]
        y -= leading
        pdf.setFont(font, size)  # type: ignore[attr-defined]
        pdf.drawString(x, y, text)  # type: ignore[attr-defined]


def _pdf(draw: Callable[[object], None], **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    pdf = _canvas(buffer, **kwargs)
    draw(pdf)
    pdf.save()  # type: ignore[attr-defined]
    return buffer.getvalue()


def single_column_pdf(**kwargs: object) -> bytes:
    def draw(pdf: object) -> None:
        _draw_column(pdf, SINGLE_COLUMN_LINES, 54, PAGE_HEIGHT - 40)
        pdf.showPage()  # type: ignore[attr-defined]

    return _pdf(draw, **kwargs)


def two_column_pdf() -> bytes:
    def draw(pdf: object) -> None:
        # A shaded sidebar on the left, the main column on the right.
        pdf.setFillGray(0.93)  # type: ignore[attr-defined]
        pdf.rect(0, 0, 190, PAGE_HEIGHT, stroke=0, fill=1)  # type: ignore[attr-defined]
        pdf.setFillGray(0)  # type: ignore[attr-defined]
        _draw_column(pdf, TWO_COLUMN_SIDEBAR, 24, PAGE_HEIGHT - 40)
        _draw_column(pdf, TWO_COLUMN_MAIN, 214, PAGE_HEIGHT - 40)
        pdf.showPage()  # type: ignore[attr-defined]

    return _pdf(draw)


def multi_page_pdf() -> bytes:
    def draw(pdf: object) -> None:
        for number, lines in enumerate(MULTI_PAGE_PAGES, start=1):
            _draw_column(pdf, lines, 54, PAGE_HEIGHT - 40)
            pdf.setFont("Helvetica", 8)  # type: ignore[attr-defined]
            pdf.drawString(54, 30, f"Page {number} of {len(MULTI_PAGE_PAGES)}")  # type: ignore[attr-defined]
            pdf.showPage()  # type: ignore[attr-defined]

    return _pdf(draw)


# --- the bad ones ------------------------------------------------------------


def encrypted_pdf(user_password: str) -> bytes:
    """Protected with an owner password; opening it needs `user_password` (maybe empty)."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    encryption = StandardEncryption(user_password, ownerPassword="owner-secret", strength=128)
    return single_column_pdf(encrypt=encryption)


def truncated_pdf() -> bytes:
    whole = single_column_pdf()
    return whole[: len(whole) * 6 // 10]


def _scanned_page_image() -> object:
    from PIL import Image, ImageDraw

    image = Image.new("L", (425, 550), color=255)
    draw = ImageDraw.Draw(image)
    y = 30
    for _style, text in SINGLE_COLUMN_LINES:
        draw.text((30, y), text, fill=0)
        y += 22
    return image


def image_only_pdf() -> bytes:
    from reportlab.lib.utils import ImageReader

    image = ImageReader(_scanned_page_image())

    def draw(pdf: object) -> None:
        pdf.drawImage(image, 0, 0, PAGE_WIDTH, PAGE_HEIGHT)  # type: ignore[attr-defined]
        pdf.showPage()  # type: ignore[attr-defined]

    return _pdf(draw)


def png_image() -> bytes:
    buffer = io.BytesIO()
    image = _scanned_page_image()
    image.resize((106, 137)).save(buffer, format="PNG", optimize=True)  # type: ignore[attr-defined]
    return buffer.getvalue()


def corrupt_pdf() -> bytes:
    # What a botched upload or a broken editor leaves: a header, a trailer, and noise.
    noise = bytes((index * 151 + 7) % 256 for index in range(4096))
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + noise + b"\nstartxref\n12\n%%EOF\n"


def many_pages_pdf(pages: int = 300) -> bytes:
    def draw(pdf: object) -> None:
        for number in range(1, pages + 1):
            pdf.setFont("Helvetica", 10)  # type: ignore[attr-defined]
            pdf.drawString(54, 740, f"Appendix page {number}")  # type: ignore[attr-defined]
            pdf.showPage()  # type: ignore[attr-defined]

    return _pdf(draw, pageCompression=1)


def hostile_pdf(operators: int = 400_000) -> bytes:
    """One page whose compressed content stream expands to `operators` text-show operators."""
    content = b"BT /F1 1 Tf 0 0 Td " + b"(a) Tj " * operators + b"ET"
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _assemble(objects)


def _assemble(objects: list[bytes]) -> bytes:
    """A PDF file around numbered objects, with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def all_fixtures() -> dict[str, bytes]:
    return {
        SINGLE_COLUMN.filename: single_column_pdf(),
        TWO_COLUMN.filename: two_column_pdf(),
        MULTI_PAGE.filename: multi_page_pdf(),
        PLAIN.filename: PLAIN_TEXT.encode("utf-8"),
        "encrypted.pdf": encrypted_pdf("open-sesame"),
        "restricted_no_password.pdf": encrypted_pdf(""),
        "truncated.pdf": truncated_pdf(),
        "image_only.pdf": image_only_pdf(),
        "png_named.pdf": png_image(),
        "corrupt.pdf": corrupt_pdf(),
        "three_hundred_pages.pdf": many_pages_pdf(),
        "hostile_slow.pdf": hostile_pdf(),
    }


def main() -> None:
    RESUMES.mkdir(parents=True, exist_ok=True)
    for name, data in all_fixtures().items():
        (RESUMES / name).write_bytes(data)
        print(f"{name:32} {len(data):>9,} bytes")


if __name__ == "__main__":
    main()
