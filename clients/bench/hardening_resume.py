"""Resume hardening: extraction on adversarial text, and GetMe while NFKC bombs are uploaded.

- Extraction (cleaning, skill matching, years of experience, the digest: what an
  upload costs after decoding) of the worst of several adversarial shapes at each
  size, against a normal resume of about 3 KB measured in the same run. Linear
  extraction keeps the worst shape's cost per KB within a small factor of the
  normal resume's.
- GetMe p99 while uploads of "\\ufdfa" * 399,999 (1.2 MB of UTF-8, 18-fold under
  NFKC) run, against GetMe p99 when idle, on the same server.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import grpc

from clients.bench.processes import ServerProcess
from clients.bench.report import Figure
from clients.bench.scenarios import sign_up
from clients.bench.stats import Budget, LoadResult, closed_loop
from generated.samvaad.v1 import auth_pb2, auth_pb2_grpc, resume_pb2, resume_pb2_grpc
from server.domain.resume.documents import clean_text
from server.domain.resume.experience import years_of_experience
from server.domain.resume.taxonomy import default_taxonomy

CALL_TIMEOUT_SECONDS = 60.0
NFKC_BOMB = "\ufdfa" * 399_999
# As many bytes, refused as too long without any expansion: the transport's share.
PLAIN_TOO_LONG = "a " * 600_000
# A target on the cost per KB: the worst shape against the normal resume.
PER_KB_FACTOR = 10.0

NORMAL_RESUME = """\
Priya Raman
Senior Backend Engineer
Bengaluru, India | priya.raman@example.com | github.com/priyaraman

Summary
Backend engineer with 8 years of experience building distributed systems and data
platforms. Comfortable owning services end to end, from design reviews to on-call.

Skills
Languages: Python, Go, Java, SQL, TypeScript
Frameworks: Django, FastAPI, Spring Boot, React
Data: PostgreSQL, Redis, Kafka, Elasticsearch, Apache Spark
Cloud and tooling: AWS (EC2, S3, Lambda), Docker, Kubernetes, Terraform, GitHub Actions

Experience
Staff Software Engineer, Finlytics — Jan 2021 – Present
- Designed an event-driven payments ledger on Kafka and PostgreSQL handling 40k
  transactions per second with exactly-once processing.
- Led the migration of 30 services from EC2 to Kubernetes, cutting deploy time from
  45 minutes to 6 and infrastructure cost by 28%.
- Built a feature store in Python and Apache Spark used by four ML teams.
- Mentored six engineers; ran the backend guild's design review.

Senior Software Engineer, CartNow — Mar 2018 – Dec 2020
- Wrote the order-routing service in Go; p99 latency down from 900 ms to 120 ms.
- Introduced contract testing with Pact and raised test coverage from 41% to 83%.
- Moved search from a homegrown index to Elasticsearch with zero downtime.

Software Engineer, Infodesk Solutions — Jul 2016 – Feb 2018
- Maintained a Django monolith serving 2M monthly users; split out billing into a
  Spring Boot service with its own PostgreSQL database.
- Automated releases with Jenkins and Ansible.
- Added structured logging and tracing (OpenTelemetry, Grafana) to twelve services and
  wrote the runbooks the on-call rotation still uses.

Software Engineering Intern, Kestrel Analytics — May 2015 – Jul 2015
- Built an internal dashboard in React and Flask over a MySQL reporting database.
- Wrote data-cleaning scripts with pandas and NumPy for the analytics team.

Projects
Open-source contributor to a Redis client library for Python (async support, pipelining).
Side project: a Rust CLI that diffs Terraform plans and posts summaries to Slack.
Conference talk: "Idempotent consumers in practice", PyCon India 2023, on retries,
deduplication keys and the outbox pattern with PostgreSQL and Kafka.
Hackathon: a gRPC gateway in Go that rate-limits per tenant with Redis; first place.

Volunteering
Teaches an evening course on web development with HTML, CSS and JavaScript for a
non-profit; wrote its Django-based attendance tracker and keeps it running on Heroku.

Education
B.Tech in Computer Science, National Institute of Technology, 2012 – 2016

Certifications
AWS Certified Solutions Architect – Associate
Certified Kubernetes Application Developer (CKAD)

Languages
English (fluent), Hindi (fluent), Tamil (native)
"""


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda chars: (unit * (chars // len(unit) + 1))[:chars]


# Shapes that once made matching or the experience patterns quadratic (or worse):
# one huge line of one-letter guarded skills, thousands of short lines, one huge
# token, addresses and domains the link patterns scan, date ranges and "N years".
SHAPES: dict[str, Callable[[int], str]] = {
    "R, repeated on one line": _repeat("R, "),
    "Go, one a line": _repeat("Go\n"),
    "C C C (uncorroborated)": _repeat("C "),
    "Python, R, Go": _repeat("Python, R, Go, "),
    "one huge token": _repeat("a"),
    "a@ (e-mail pattern)": _repeat("a@"),
    "a. (domain pattern)": _repeat("a."),
    "a- (hyphenated)": _repeat("a-"),
    "github.com/ chain": _repeat("github.com/"),
    "www. chain": _repeat("www."),
    "node.node.node": _repeat("node."),
    "machine machine": _repeat("machine "),
    "C++C++": _repeat("C++"),
    "5 years experience": _repeat("5 years of experience "),
    "with 5 years": _repeat("with 5 years "),
    "Jan 2019 - ": _repeat("Jan 2019 - "),
    "2019-2019-": _repeat("2019-"),
    "digits": _repeat("1"),
    "normal resume, repeated": _repeat(NORMAL_RESUME + "\n"),
}


def adversarial_texts(chars: int) -> dict[str, str]:
    """Each shape, `chars` characters long."""
    return {name: build(chars) for name, build in SHAPES.items()}


def extract(text: str) -> object:
    """What an upload computes from its decoded text (in worker threads on the server)."""
    cleaned = clean_text(text, max_normalised_chars=2 * len(text) + 1000) or ""
    skills = default_taxonomy().rank(cleaned, 30)
    years = years_of_experience(cleaned, date.today())
    digest = hashlib.sha256(cleaned.encode("utf-8")).hexdigest()
    return skills, years, digest


def _best_seconds(text: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        extract(text)
        best = min(best, time.perf_counter() - began)
    return best


@dataclass(frozen=True)
class ResumeSizes:
    chars: tuple[int, ...]
    repeats: int
    bomb_uploads: Budget  # NFKC-bomb uploads, run `bomb_concurrency` at once
    bomb_concurrency: int
    probe: Budget


FULL = ResumeSizes((50_000, 100_000, 200_000), 3, Budget(16, 30), 4, Budget(1000, 10))
QUICK = ResumeSizes((5_000, 10_000), 1, Budget(4, 20), 2, Budget(50, 5))


def sizes_for(quick: bool) -> ResumeSizes:
    return QUICK if quick else FULL


async def extraction_against_normal(sizes: ResumeSizes) -> tuple[list[Figure], dict[str, Any]]:
    # In a thread: the bench's own loop keeps running (it has nothing else to do here).
    return await asyncio.to_thread(_extraction_against_normal, sizes)


def _extraction_against_normal(sizes: ResumeSizes) -> tuple[list[Figure], dict[str, Any]]:
    extract(NORMAL_RESUME)  # warm: the taxonomy is read once per process
    normal = _best_seconds(NORMAL_RESUME, max(5, 5 * sizes.repeats))
    normal_kb = len(NORMAL_RESUME.encode()) / 1024
    figures = []
    details: dict[str, Any] = {"normal_ms": normal * 1000, "normal_chars": len(NORMAL_RESUME)}
    for chars in sizes.chars:
        # One pass over every shape to find the worst, then its best of `repeats`.
        times = {name: _best_seconds(text, 1) for name, text in adversarial_texts(chars).items()}
        worst = max(times, key=lambda name: times[name])
        seconds = _best_seconds(SHAPES[worst](chars), sizes.repeats)
        per_kb = seconds / (chars / 1024)
        normal_per_kb = normal / normal_kb
        details[f"{chars}_chars_ms"] = {name: round(t * 1000, 2) for name, t in times.items()}
        figures.append(
            Figure(
                f"resume extraction, worst of {len(SHAPES)} shapes at {chars // 1000}k chars",
                "ms",
                seconds * 1000,
                f"normal resume ({normal_kb:.1f} KB)",
                normal * 1000,
                f"per KB ≤ {PER_KB_FACTOR:g}× the normal resume's",
                per_kb <= PER_KB_FACTOR * normal_per_kb,
                note=f"{worst!r}; {per_kb * 1000:.2f} vs {normal_per_kb * 1000:.2f} ms/KB",
            )
        )
    return figures, details


async def get_me_during_nfkc_bombs(
    samvaad: ServerProcess, sizes: ResumeSizes
) -> tuple[list[Figure], dict[str, Any]]:
    """GetMe p99 while NFKC-bomb text resumes are uploaded, against GetMe p99 idle; and
    the bombs' upload time against plain text uploads of the same size."""
    # Uploads on a channel of their own: GetMe must not queue behind their bytes on
    # one HTTP/2 connection, the figure is about the server's event loop.
    big = [("grpc.max_send_message_length", 8 * 1024 * 1024)]
    async with (
        grpc.aio.insecure_channel(samvaad.address) as channel,
        grpc.aio.insecure_channel(samvaad.address, options=big) as upload_channel,
    ):
        prober = await sign_up(channel)
        uploader = await sign_up(channel)
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        resumes = resume_pb2_grpc.ResumeServiceStub(upload_channel)
        outcomes: dict[str, int] = {}

        async def get_me() -> object:
            return await auth.GetMe(
                auth_pb2.GetMeRequest(), metadata=prober.metadata, timeout=CALL_TIMEOUT_SECONDS
            )

        def uploading(content: bytes) -> Callable[[], Awaitable[object]]:
            async def upload() -> object:
                try:
                    await resumes.UploadResume(
                        resume_pb2.UploadResumeRequest(filename="cv.txt", content=content),
                        metadata=uploader.metadata,
                        timeout=CALL_TIMEOUT_SECONDS,
                    )
                    code = "OK"
                except grpc.aio.AioRpcError as error:
                    code = error.code().name
                outcomes[code] = outcomes.get(code, 0) + 1
                return code

            return upload

        async def during(content: bytes) -> tuple[LoadResult, LoadResult]:
            over = asyncio.Event()

            async def uploads() -> LoadResult:
                try:
                    return await closed_loop(
                        uploading(content),
                        concurrency=sizes.bomb_concurrency,
                        budget=sizes.bomb_uploads,
                    )
                finally:
                    over.set()

            budget = Budget(100 * sizes.probe.max_calls, sizes.bomb_uploads.max_seconds + 60)
            return await asyncio.gather(
                uploads(), closed_loop(get_me, concurrency=1, budget=budget, stop=over)
            )

        await closed_loop(get_me, concurrency=1, budget=Budget(50, 5))
        idle = await closed_loop(get_me, concurrency=1, budget=sizes.probe)
        plain, get_me_plain = await during(PLAIN_TOO_LONG.encode("utf-8"))
        bombs, get_me_bombs = await during(NFKC_BOMB.encode("utf-8"))
    p99_bombs, p99_idle = get_me_bombs.percentile(0.99), idle.percentile(0.99)
    bomb_median, plain_median = bombs.percentile(0.5), plain.percentile(0.5)
    figures = [
        Figure(
            f"GetMe p99 during {bombs.calls} NFKC-bomb uploads "
            f"({sizes.bomb_concurrency} at once, 1.2 MB each)",
            "ms",
            p99_bombs * 1000,
            "GetMe p99 idle",
            p99_idle * 1000,
            "",
            None,
            note=f"{get_me_bombs.calls} GetMe calls; during as many plain 1.2 MB uploads "
            f"p99 {get_me_plain.percentile(0.99) * 1000:.0f} ms",
        ),
        Figure(
            "NFKC-bomb upload median (refused as too long)",
            "ms",
            bomb_median * 1000,
            "plain 1.2 MB text upload, refused as too long",
            plain_median * 1000,
            "ratio ≤ 3",
            bomb_median / plain_median <= 3,
            note=f"uploads answered {outcomes}",
        ),
    ]
    details = {
        "outcomes": outcomes,
        "get_me_idle_p99_ms": p99_idle * 1000,
        "get_me_bombs_ms": sorted(round(t * 1000, 1) for t in get_me_bombs.latencies),
        "get_me_plain_ms": sorted(round(t * 1000, 1) for t in get_me_plain.latencies),
    }
    return figures, details
