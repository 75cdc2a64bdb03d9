"""`make bench` still runs: the whole benchmark at tiny sizes, its timings not judged."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clients.bench import hardening_resume

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_FIGURES = [
    "GetMe throughput",
    "GetMe latency p50",
    "GetMe latency p99",
    "ListInterviews of 20 throughput",
    "GetInterview throughput",
    "UploadResume throughput",
    "UploadResume server CPU",
    "TranscribeAnswer ingest",
    "GetMe p99 during",
    "GetMe p50 during",
    "TranscribeAnswer end to end",
    "real-time factor",
    *["resume extraction, worst of"] * len(hardening_resume.QUICK.chars),
    "GetMe p99 during",
    "NFKC-bomb upload median",
    "server RSS peak",
    "server RSS growth",
    "server RSS growth",
    "temp disk held by one account",
    "temp disk held by",
    "server CPU for",
    "GetMe p99 while 1-byte-chunk",
    "live TranscribeAnswer, last chunk to result",
    "live server CPU per audio second",
    "live word error rate",
]


def kind_of(name: str) -> str:
    return next((prefix for prefix in EXPECTED_FIGURES if name.startswith(prefix)), name)


@pytest.mark.slow
def test_the_quick_benchmark_reports_every_figure_with_its_baseline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-m", "clients.bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,  # the live answers are sent at real-time pace
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [json_path] = tmp_path.glob("bench-*.json")
    [markdown_path] = tmp_path.glob("bench-*.md")
    report = json.loads(json_path.read_text())
    figures = report["figures"]
    assert [kind_of(f["name"]) for f in figures] == EXPECTED_FIGURES
    for figure in figures:
        # A value may be 0 (no growth at all); a baseline never is.
        assert figure["value"] >= 0 and figure["baseline"] > 0, figure
        assert math.isclose(figure["ratio"], figure["value"] / figure["baseline"], rel_tol=1e-3)
        # Printed with its baseline and ratio, and in the Markdown table.
        assert figure["name"] in result.stdout
        assert figure["name"] in markdown_path.read_text()
    assert report["machine"]["cores"] == os.cpu_count()
