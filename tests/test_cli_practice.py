"""`samvaad followup`, `compare`, `progress` and `profile` against a real server.

The server transcribes with the fake OpenAI engine (tests/fake_openai.py), so each
answer says what the test lays out, and judges content offline (chat fails).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.db.migrate import upgrade_to_head
from tests.fake_openai import CHAT, TRANSCRIPTIONS, FakeOpenAI, Reply, error_body
from tests.fake_openai import transcription_verbose as verbose
from tests.helpers import make_settings, openai_settings
from tests.test_analysis_service import lay_out
from tests.test_cli import SHORT_ANSWER, Cli, ThreadedServer

GOOD = (
    "Precision is the share of predicted positives that are right and recall the share of "
    "actual positives we find. For example with class imbalance I would look at the "
    "trade-off with a precision recall curve because accuracy hides the minority class."
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    started = FakeOpenAI().start()
    started.on(CHAT, lambda _: Reply(500, error_body("offline content in this test")))
    started.on(TRANSCRIPTIONS, lambda _: Reply(200, verbose(lay_out(GOOD, 140), duration=20)))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAI) -> Iterator[ThreadedServer]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cli-practice') / 'samvaad.db'}"
    upgrade_to_head(url)
    overrides: dict[str, Any] = {"TRANSCRIPTION_ENGINE": "openai", "OPENAI_MAX_RETRIES": 0}
    running = ThreadedServer(make_settings(url, **openai_settings(fake, **overrides)), None)
    yield running.start()
    running.stop()


@pytest.fixture
def cli(
    server: ThreadedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:  # fmt: skip
    monkeypatch.setenv("SAMVAAD_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SAMVAAD_PASSWORD", "correct horse 1")
    monkeypatch.setenv("COLUMNS", "200")  # tables on one line each, for the assertions
    return Cli(server, capsys)


def test_followup_writes_one_follow_up_after_the_latest_answer(cli: Cli) -> None:
    cli.register()
    started = cli.ok("interview", "start", "--track", "data_science", "--questions", "2")
    interview_id = started["interview"]["id"]
    first = started["questions"]["questions"][0]
    refused = cli("--json", "followup", interview_id)
    assert refused.code == 1  # nothing answered yet
    cli.ok("answer", str(SHORT_ANSWER))
    written = cli.ok("followup")
    assert written["question"]["parent_question_id"] == first["id"]
    assert written["question"]["position"] == 2
    assert written["cached"] is False
    again = cli("followup", interview_id, "--question", "1")
    assert again.code == 0
    assert "written before" in again.stdout
    assert "--question 2" in " ".join(again.stderr.split())
    listed = cli.ok("questions", interview_id)["questions"]
    assert [q["parent_question_id"] for q in listed] == ["0", first["id"], "0"]


def test_list_shows_scores_and_filters(cli: Cli) -> None:
    cli.register()
    started = cli.ok("interview", "start", "--track", "data_science", "--questions", "1")
    interview_id = started["interview"]["id"]
    cli.ok("answer", str(SHORT_ANSWER))
    before = cli.ok("list")["interviews"][0]
    assert "overall_score" not in before  # absent until a report exists
    report = cli.ok("report")["report"]
    (listed,) = cli.ok("list", "--track", "Data Science", "--status", "active")["interviews"]
    assert listed["id"] == interview_id
    assert listed["overall_score"] == report["overall_score"]
    assert listed["next_steps"] == report["next_steps"][:3]
    assert cli.ok("list", "--track", "backend")["interviews"] == []
    assert cli.ok("list", "--status", "completed")["interviews"] == []
    shown = cli("list")
    assert "score" in shown.stdout
    assert f"{report['overall_score']} (content" in shown.stdout


def test_compare_shows_each_metric_and_the_summary(cli: Cli, fake: FakeOpenAI) -> None:
    cli.register()
    cli.ok("interview", "start", "--track", "data_science", "--questions", "1")
    halting = "um so precision is, uh, like the share of, um, right positives " * 3
    fake.queue(TRANSCRIPTIONS, Reply(200, verbose(lay_out(halting, 90), duration=30)))
    cli.ok("answer", str(SHORT_ANSWER))
    refused = cli("--json", "compare")
    assert refused.code == 1
    assert refused.error()["reason"] == "NOT_ENOUGH_ATTEMPTS"
    cli.ok("retry", "--question", "1")
    cli.ok("answer", str(SHORT_ANSWER), "--question", "1")  # the GOOD answer
    compared = cli.ok("compare", "--question", "1")
    assert compared["answered_attempt_count"] == 2
    overall = compared["changes"][0]
    assert overall["metric"] == "METRIC_OVERALL_SCORE"
    assert overall["direction"] == "CHANGE_DIRECTION_IMPROVED"
    assert "fillers fell from" in compared["summary"]
    shown = cli("compare")
    assert shown.code == 0
    assert "fillers per minute" in shown.stdout
    assert "improved" in shown.stdout
    assert compared["summary"] in " ".join(shown.stdout.split())


def test_progress_says_it_needs_more_interviews_then_shows_points(cli: Cli) -> None:
    cli.register()
    assert "complete 3 more" in cli.ok("progress")["summary"]
    started = cli.ok("interview", "start", "--track", "data_science", "--questions", "1")
    cli.ok("answer", str(SHORT_ANSWER))
    cli.ok("interview", "complete", started["interview"]["id"])
    shown = cli("progress", "--track", "data_science")
    assert shown.code == 0
    assert "Progress over 1 completed interviews on data_science" in shown.stdout
    assert "not enough data" in shown.stdout
    assert "Streak: 1 day(s) now" in shown.stdout
    data = cli.ok("progress")
    assert data["completed_interview_count"] == 1
    assert len(data["metrics"][0]["points"]) == 1


def test_profile_shows_and_sets_only_the_options_given(cli: Cli) -> None:
    cli.register()
    shown = cli("profile")
    assert shown.code == 0 and "target role" in shown.stdout
    set_ = cli.ok("profile", "--target-role", "ML engineer", "--graduation-year", "2025")
    assert set_["user"]["profile"]["target_role"] == "ML engineer"
    again = cli.ok("profile", "--degree", "M.Sc", "--onboarded")["user"]["profile"]
    assert again == {
        "degree": "M.Sc",
        "institution": "",
        "graduation_year": 2025,
        "target_role": "ML engineer",
        "onboarded": True,
    }
    assert cli.ok("profile", "--graduation-year", "0")["user"]["profile"]["graduation_year"] == 0
    assert cli.ok("me")["user"]["profile"]["degree"] == "M.Sc"
    refused = cli("--json", "profile", "--graduation-year", "1800")
    assert refused.code == 1
    assert refused.error()["reason"] == "INVALID_ARGUMENT"


def test_report_shows_the_rubric_time_and_next_practice(cli: Cli) -> None:
    cli.register()
    cli.ok("interview", "start", "--track", "data_science", "--questions", "2")
    cli.ok("answer", str(SHORT_ANSWER))
    report = cli.ok("report")["report"]
    assert len(report["rubric"]) == 9
    assert report["next_practice"]["track"] == "data_science"
    shown = cli("report")
    assert shown.code == 0
    assert "Rubric" in shown.stdout and "terminology" in shown.stdout
    assert "answering" in shown.stdout
    assert "Practise next: data_science at" in shown.stdout
