"""Run every benchmark, print each figure with its baseline and ratio, write JSON and Markdown.

python -m clients.bench                   # the full run, about three minutes on 2 cores
python -m clients.bench --quick           # tiny sizes, to check that it works
python -m clients.bench --database-url postgresql://postgres@127.0.0.1:5432/scratch
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy.engine import make_url

from clients.bench import hardening_resume, live, live_streams, reads
from clients.bench.hardening_anonymous import TARGETS as ANONYMOUS_PATHS
from clients.bench.hardening_anonymous import memory_under_anonymous_streams
from clients.bench.hardening_uploads import measure_hostile_uploads
from clients.bench.processes import REPO, ServerProcess, start_bare, start_samvaad
from clients.bench.processes import wait_until_serving as wait_for
from clients.bench.report import Figure, Report, describe_machine, format_value, markdown, now
from clients.bench.report import write as write_report
from clients.bench.scenarios import (
    WAV_NAME,
    MiB,
    Sizes,
    get_me_against_bare,
    ingest_against_bare,
    latency_under_login_burst,
    memory_under_parallel_uploads,
    sign_up,
    transcription_against_engine,
    write_long_wav,
)
from clients.bench.stats import Budget
from server.config import Settings

SPEECH = REPO / "tests" / "assets" / "audio" / "Speech.mp3"
SHORT_ANSWER = REPO / "tests" / "assets" / "audio" / "answer.wav"

FULL = Sizes(
    warmup_calls=300,
    rounds=2,
    latency=Budget(max_calls=2000, max_seconds=10),
    throughput=Budget(max_calls=6000, max_seconds=10),
    throughput_concurrency=16,
    upload_bytes=25 * MiB,
    chunk_bytes=64 * 1024,
    upload_runs=3,
    speech=SPEECH,
    transcription_pairs=6,
    burst_users=8,
    burst=Budget(max_calls=240, max_seconds=30),
    burst_concurrency=8,
    probe=Budget(max_calls=1500, max_seconds=10),
    parallel_uploads=10,
    anonymous_streams=40,
)
QUICK = Sizes(
    warmup_calls=20,
    rounds=1,
    latency=Budget(max_calls=50, max_seconds=5),
    throughput=Budget(max_calls=100, max_seconds=5),
    throughput_concurrency=4,
    upload_bytes=1 * MiB,
    chunk_bytes=64 * 1024,
    upload_runs=1,
    speech=SHORT_ANSWER,
    transcription_pairs=1,
    burst_users=2,
    burst=Budget(max_calls=4, max_seconds=10),
    burst_concurrency=2,
    probe=Budget(max_calls=50, max_seconds=5),
    parallel_uploads=2,
    anonymous_streams=4,
)
# A 1 MiB WAV lasts 33 s: the quick run lowers the limit so that it is still over it.
QUICK_SERVER_SETTINGS = {"AUDIO_MAX_DURATION_SECONDS": "10"}


@dataclass(frozen=True)
class Options:
    quick: bool
    out: Path
    database_url: str | None
    extra_settings: dict[str, str]
    # Keys of the measurements to run (--only); None runs them all.
    only: frozenset[str] | None = None

    def wants(self, key: str) -> bool:
        return self.only is None or key in self.only

    @property
    def sizes(self) -> Sizes:
        return QUICK if self.quick else FULL

    @property
    def server_settings(self) -> dict[str, str]:
        return {**(QUICK_SERVER_SETTINGS if self.quick else {}), **self.extra_settings}


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m clients.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    parser.add_argument(
        "--database-url",
        help="a scratch database for the servers under test (default: SQLite in a temp dir)",
    )
    parser.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment setting for the servers under test, e.g. "
        "PASSWORD_HASH_CONCURRENCY=1 (repeatable)",
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="KEY[,KEY...]",
        help="run only these measurements, by their JSON keys (get_me, reads, "
        "upload_resume, ingest, login_burst, transcription, resume_extraction, nfkc_bombs, "
        "memory; anonymous and hostile_uploads for those groups)",
    )
    args = parser.parse_args(argv)
    extra = dict(_setting(text, parser) for text in args.server_setting)
    only = frozenset(key.strip() for key in args.only.split(",") if key.strip()) or None
    return Options(args.quick, args.out, args.database_url, extra, only)


def _setting(text: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        parser.error(f"--server-setting wants NAME=VALUE, not {text!r}")
    return name, value


def describe_database(url: str | None) -> str:
    if url is None:
        return "SQLite (a file in a temporary directory)"
    return str(make_url(url).render_as_string(hide_password=True))


def announce(figures: list[Figure]) -> None:
    for f in figures:
        verdict = "" if f.met is None else f"; target {f.target}: {'met' if f.met else 'MISSED'}"
        note = f" ({f.note})" if f.note else ""
        print(
            f"  {f.name}: {format_value(f.value, f.unit)} vs {format_value(f.baseline, f.unit)}"
            f" [{f.baseline_name}] -> ratio {f.ratio:.3f}{verdict}{note}",
            flush=True,
        )


Measurement = Callable[[], Awaitable[tuple[list[Figure], dict[str, Any]]]]


async def measure(report: Report, key: str, title: str, measurement: Measurement) -> None:
    only = report.setup.get("only")
    if only and not any(key == name or key.startswith(f"{name}_") for name in only):
        return
    print(f"{title} ...", flush=True)
    figures, details = await measurement()
    report.figures.extend(figures)
    report.details[key] = details
    announce(figures)


async def run(options: Options) -> Report:
    sizes = options.sizes
    report = Report(
        now(),
        describe_machine(),
        {
            "database": describe_database(options.database_url),
            "quick": options.quick,
            "sizes": repr(sizes),
            "server": "python -m server, ENVIRONMENT=production, owasp argon2id, JSON logs",
            "server_settings": options.server_settings,
            "only": sorted(options.only) if options.only else None,
        },
    )
    with tempfile.TemporaryDirectory(prefix="samvaad-bench-") as scratch:
        workdir = Path(scratch)
        wav_path = workdir / WAV_NAME
        duration = await asyncio.to_thread(write_long_wav, wav_path, sizes.upload_bytes)
        wav = await asyncio.to_thread(wav_path.read_bytes)
        default_limit = Settings.model_fields["audio_max_duration_seconds"].default
        limit = float(options.server_settings.get("AUDIO_MAX_DURATION_SECONDS", default_limit))
        if duration <= limit:
            raise SystemExit(f"the ingest WAV ({duration:.0f} s) must exceed the limit ({limit} s)")
        report.setup["ingest_wav_seconds"] = round(duration, 1)

        bare = start_bare(workdir / "bare")
        samvaad = start_samvaad(workdir / "main", options.database_url, options.server_settings)
        try:
            await asyncio.gather(wait_for(bare), wait_for(samvaad))
            async with grpc.aio.insecure_channel(samvaad.address) as channel:
                account = await sign_up(channel)
                interview_id = await reads.prepare(channel, account)
            await measure(
                report,
                "get_me",
                "GetMe: Samvaad against a bare grpc.aio server",
                lambda: get_me_against_bare(samvaad, bare, account, sizes),
            )
            await measure(
                report,
                "reads",
                "ListInterviews and GetInterview: Samvaad against a bare grpc.aio server",
                lambda: reads.reads_against_bare(samvaad, bare, account, interview_id, sizes),
            )
            await measure(
                report,
                "upload_resume",
                "UploadResume of a 3 KB text resume: Samvaad against a bare grpc.aio server",
                lambda: reads.upload_against_bare(samvaad, bare, account, sizes),
            )
            await measure(
                report,
                "ingest",
                "Upload ingest: Samvaad against a bare client-streaming sink",
                lambda: ingest_against_bare(samvaad, bare, account, wav, sizes),
            )
            await measure(
                report,
                "login_burst",
                "GetMe latency during a burst of logins",
                lambda: latency_under_login_burst(samvaad, sizes),
            )
            await measure(
                report,
                "transcription",
                "TranscribeAnswer end to end against the engine alone",
                lambda: transcription_against_engine(samvaad, account, sizes),
            )
            resume_sizes = hardening_resume.sizes_for(options.quick)
            await measure(
                report,
                "resume_extraction",
                "Resume extraction: adversarial shapes against a normal resume",
                lambda: hardening_resume.extraction_against_normal(resume_sizes),
            )
            await measure(
                report,
                "nfkc_bombs",
                "GetMe latency during NFKC-bomb resume uploads",
                lambda: hardening_resume.get_me_during_nfkc_bombs(samvaad, resume_sizes),
            )
        finally:
            samvaad.stop()
            bare.stop()

        # A fresh process, so earlier measurements' high-water marks do not hide growth.
        # One account, every upload at once: the per-account bounds are not measured here.
        parallel = {
            "AUDIO_MAX_STREAMS_PER_USER": str(sizes.parallel_uploads),
            "TRANSCRIPTION_MAX_PENDING": str(max(8, sizes.parallel_uploads)),
        }
        if options.wants("memory"):
            fresh = start_samvaad(
                workdir / "memory", options.database_url, {**parallel, **options.server_settings}
            )
            try:
                await wait_for(fresh)
                await measure(
                    report,
                    "memory",
                    f"Server memory during {sizes.parallel_uploads} uploads at once",
                    lambda: memory_under_parallel_uploads(fresh, wav, sizes),
                )
            finally:
                fresh.stop()
        for path in ANONYMOUS_PATHS if options.wants("anonymous") else ():
            await _on_fresh_server(
                options,
                workdir / f"anonymous-{path.rsplit('/', 1)[-1]}",
                report,
                f"anonymous_{path.rsplit('/', 1)[-1]}",
                f"Server memory while anonymous streams stall on {path}",
                lambda server, path=path: memory_under_anonymous_streams(  # type: ignore[misc]
                    server, path, sizes.anonymous_streams
                ),
            )

        async def measure_one(key: str, title: str, measurement: Measurement) -> None:
            await measure(report, key, title, measurement)

        if options.wants("hostile_uploads"):
            await measure_hostile_uploads(
                measure_one, workdir, options.database_url, options.server_settings, options.quick
            )
        await measure(
            report,
            "live_answers",
            "Live answers at real-time pace: transcribed while they arrive against once complete",
            lambda: live.live_against_batch(
                workdir / "live", options.database_url, options.server_settings, options.quick
            ),
        )
        if not options.quick and "live_answers" in report.details:
            batch = report.details["live_answers"]["Speech.mp3 (57.7 s)"]["batch"]
            await measure(
                report,
                "live_streams",
                "StreamAnswer: live streams at once, with and without interim results",
                lambda: live_streams.capacity(
                    workdir / "live",
                    options.database_url,
                    options.server_settings,
                    batch["after_last_chunk"],
                ),
            )
    report.details["upload_mib"] = sizes.upload_bytes / MiB
    return report


async def _on_fresh_server(
    options: Options,
    workdir: Path,
    report: Report,
    key: str,
    title: str,
    measurement: Callable[[ServerProcess], Awaitable[tuple[list[Figure], dict[str, Any]]]],
) -> None:
    """A measurement on a server of its own, so no earlier high-water mark hides growth."""
    server = start_samvaad(workdir, options.database_url, options.server_settings)
    try:
        await wait_for(server)
        await measure(report, key, title, lambda: measurement(server))
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    report = asyncio.run(run(options))
    json_path, markdown_path = write_report(report, options.out)
    print()
    print(markdown(report))
    print(f"wrote {json_path} and {markdown_path}")


if __name__ == "__main__":
    main()
