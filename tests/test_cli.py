"""The `samvaad` command line and `make demo`, against a real server.

The CLI is a synchronous gRPC client, so the server runs on an event loop of
its own in a background thread and the tests call the CLI as a user would:
`run(argv)`, reading what it printed and its exit status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from clients import demo
from clients.samvaad_cli import views
from clients.samvaad_cli.audio import CHUNK_BYTES, answer_requests, live_requests
from clients.samvaad_cli.cli import run
from clients.samvaad_cli.credentials import Credentials, CredentialStore
from clients.samvaad_cli.errors import CliError, FieldViolation, RpcFailure, Situation, advise
from clients.samvaad_cli.session import ServerOptions, Session, default_server
from generated.samvaad.v1 import analysis_pb2, interview_pb2, transcription_pb2
from server.app import App, bind, build_app, create_server, mark_serving, shut_down
from server.config import Settings
from server.db.migrate import upgrade_to_head
from server.domain.tokens import AccessTokenCodec
from server.engines.stt import LocalWhisperEngine
from tests.helpers import ASSETS, make_settings
from tests.test_server import _self_signed_certificate

PASSWORD = "correct horse 1"
RESUME = ASSETS / "resumes" / "single_column.pdf"
# 208 KB of PCM: several 64 KiB chunks.
LONG_ANSWER = ASSETS / "audio" / "answer.wav"
# A few seconds of speech: these tests are about the CLI, not about what was said.
SHORT_ANSWER = ASSETS / "audio" / "answer-opus.ogg"
LOGIN_MAX_FAILURES = 2


class ThreadedServer:
    """A Samvaad server on its own event loop in a daemon thread."""

    def __init__(self, settings: Settings, stt_engine: LocalWhisperEngine | None) -> None:
        self.settings = settings
        self._stt_engine = stt_engine
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None
        self._app: App | None = None
        self.port = 0

    def start(self) -> ThreadedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=60)
        return self

    async def _start(self) -> None:
        self._app = build_app(self.settings, stt_engine=self._stt_engine)
        self._server = create_server(self._app)
        self.port = bind(self._server, self.settings)  # TLS when the settings say so
        await self._server.start()
        await mark_serving(self._app)

    def stop(self) -> None:
        if self._server is not None and self._app is not None:
            future = asyncio.run_coroutine_threadsafe(
                shut_down(self._server, self._app), self._loop
            )
            future.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, whisper_engine: LocalWhisperEngine
) -> Iterator[ThreadedServer]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cli') / 'samvaad.db'}"
    upgrade_to_head(url)
    settings = make_settings(
        url,
        # A client that sent chunks larger than it should would be refused.
        AUDIO_MAX_CHUNK_BYTES=CHUNK_BYTES,
        LOGIN_MAX_FAILURES=LOGIN_MAX_FAILURES,
    )
    running = ThreadedServer(settings, whisper_engine).start()
    yield running
    running.stop()


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def error(self) -> dict[str, Any]:
        return dict(json.loads(self.stderr)["error"])


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    monkeypatch.setenv("SAMVAAD_CONFIG_DIR", str(directory))
    monkeypatch.setenv("SAMVAAD_PASSWORD", PASSWORD)
    return directory


class Cli:
    def __init__(self, server: ThreadedServer, capsys: pytest.CaptureFixture[str]) -> None:
        self.server = server
        self._capsys = capsys

    def __call__(self, *argv: str) -> Outcome:
        self._capsys.readouterr()
        code = run(["--server", self.server.address, *argv])
        captured = self._capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Any:
        """Runs with --json, expects success, returns the parsed result."""
        outcome = self("--json", *argv)
        assert outcome.code == 0, outcome.stderr
        return outcome.json()

    def register(self, email: str | None = None) -> dict[str, Any]:
        email = email or f"cli-{os.urandom(4).hex()}@example.com"
        return dict(self.ok("register", "--email", email, "--name", "Cli User")["user"])

    def store(self) -> CredentialStore:
        return CredentialStore()

    def credentials(self) -> Credentials:
        stored = self.store().load(self.server.address)
        assert stored is not None
        return stored


@pytest.fixture
def cli(server: ThreadedServer, config_dir: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(server, capsys)


# --- signing in -------------------------------------------------------------


def test_register_keeps_tokens_readable_only_by_the_user(cli: Cli, config_dir: Path) -> None:
    user = cli.register()
    assert int(user["id"]) > 0

    credentials_file = config_dir / "credentials.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert cli.credentials().email == user["email"]
    assert cli.ok("me")["user"]["email"] == user["email"]


def test_human_output_is_a_table_not_json(cli: Cli) -> None:
    user = cli.register()
    outcome = cli("me")
    assert outcome.code == 0
    assert user["email"] in outcome.stdout
    assert "none yet" in outcome.stdout  # no resume yet, in words
    with pytest.raises(json.JSONDecodeError):
        json.loads(outcome.stdout)


def test_login_reads_the_password_from_stdin(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> None:
    email = cli.register()["email"]
    (config_dir / "credentials.json").unlink()
    monkeypatch.delenv("SAMVAAD_PASSWORD")
    monkeypatch.setattr("sys.stdin", _Stdin(PASSWORD + "\n"))

    assert cli.ok("login", "--email", email, "--password-stdin")["user"]["email"] == email
    assert cli.ok("me")["user"]["email"] == email


def test_logout_revokes_and_forgets_the_session(cli: Cli) -> None:
    cli.register()
    refresh_token = cli.credentials().refresh_token
    assert cli.ok("logout") == {"signed_out": True}
    assert cli.store().load(cli.server.address) is None

    outcome = cli("me")
    assert outcome.code == 1
    assert "samvaad login" in outcome.stderr
    # The old refresh token no longer works on the server either.
    with (
        Session(ServerOptions(cli.server.address)) as session,
        pytest.raises(CliError, match="REFRESH_TOKEN_REVOKED"),
    ):
        session.refresh(_blank(refresh_token=refresh_token))


def test_an_access_token_the_server_calls_expired_is_refreshed_and_the_call_retried(
    cli: Cli,
) -> None:
    user_id = int(cli.register()["id"])
    before = cli.credentials()
    expired = _access_token(cli.server.settings, user_id, ttl=timedelta(minutes=-5))
    # The client believes the token is still good, so only the server's
    # TOKEN_EXPIRED answer can make it refresh.
    cli.store().save(
        cli.server.address,
        _replace(before, access_token=expired, access_token_expire_time=_in(hours=1)),
    )

    assert int(cli.ok("me")["user"]["id"]) == user_id
    after = cli.credentials()
    assert after.refresh_token != before.refresh_token
    assert after.access_token not in (expired, before.access_token)


def test_an_access_token_about_to_expire_is_refreshed_before_the_call(cli: Cli) -> None:
    cli.register()
    before = cli.credentials()
    # Still valid on the server; the client's own clock says it is about to expire.
    cli.store().save(cli.server.address, _replace(before, access_token_expire_time=_in(seconds=10)))

    cli.ok("me")
    assert cli.credentials().refresh_token != before.refresh_token


def test_a_refused_refresh_asks_the_user_to_sign_in_again(cli: Cli) -> None:
    user_id = int(cli.register()["id"])
    expired = _access_token(cli.server.settings, user_id, ttl=timedelta(minutes=-5))
    cli.store().save(
        cli.server.address,
        _replace(
            cli.credentials(),
            access_token=expired,
            access_token_expire_time=_in(hours=1),
            refresh_token="smv_rt_not-a-real-token",
        ),
    )

    outcome = cli("me")
    assert outcome.code == 1
    assert "REFRESH_TOKEN_INVALID" in outcome.stderr
    assert "samvaad login" in outcome.stderr
    assert cli.store().load(cli.server.address) is None


# --- errors -----------------------------------------------------------------


def test_errors_show_code_reason_and_field_violations(cli: Cli) -> None:
    outcome = cli("register", "--email", "not-an-email", "--name", "")
    assert outcome.code == 1
    assert "INVALID_ARGUMENT" in outcome.stderr
    assert re.search(r"^\s+email: ", outcome.stderr, re.MULTILINE), outcome.stderr
    assert re.search(r"^\s+name: ", outcome.stderr, re.MULTILINE), outcome.stderr

    error = cli("--json", "register", "--email", "not-an-email", "--name", "").error()
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["domain"] == "samvaad.dev"
    assert {v["field"] for v in error["field_violations"]} == {"email", "name"}
    assert error["request_id"]
    # Each problem is said once: the message only joined the violations.
    assert outcome.stderr.count("name is required") == 1, outcome.stderr


def test_throttled_login_shows_retry_info(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    email = cli.register()["email"]
    monkeypatch.setenv("SAMVAAD_PASSWORD", "a wrong password")
    for _ in range(LOGIN_MAX_FAILURES):
        wrong = cli("--json", "login", "--email", email)
        assert wrong.code == 1
        assert wrong.error()["reason"] == "BAD_CREDENTIALS"

    throttled = cli("--json", "login", "--email", email).error()
    assert throttled["code"] == "RESOURCE_EXHAUSTED"
    assert throttled["reason"] == "LOGIN_THROTTLED"
    assert throttled["retry_after_seconds"] > 0
    shown = " ".join(cli("login", "--email", email).stderr.split())
    assert re.search(r"retry after: \d+ (second|minute)s?\b", shown), shown
    assert re.search(r"try again in \d+ (second|minute)s?\b", shown), shown


def test_an_unreachable_server_is_an_error_not_a_traceback(
    config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMVAAD_SERVER", f"127.0.0.1:{_closed_port()}")
    assert run(["--timeout", "3", "health"]) == 1
    shown = " ".join(capsys.readouterr().err.split())
    assert "UNAVAILABLE" in shown
    assert "start one with `make run`" in shown  # not only gRPC's "failed to connect ..."


def test_health_over_tls_with_a_ca_certificate(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = _self_signed_certificate(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'tls.db'}"
    tls_server = ThreadedServer(
        make_settings(url, TLS_CERT_FILE=str(cert), TLS_KEY_FILE=str(key)), None
    ).start()
    try:
        address = f"localhost:{tls_server.port}"  # the certificate's name
        assert run(["--server", address, "--ca-cert", str(cert), "--json", "health"]) == 0
        assert json.loads(capsys.readouterr().out) == {"status": "SERVING"}
        # Plaintext cannot talk to it.
        assert run(["--server", address, "--timeout", "3", "health"]) == 1
        assert "UNAVAILABLE" in capsys.readouterr().err
    finally:
        tls_server.stop()


# --- a practice interview ---------------------------------------------------


def test_resume_interview_answer_and_transcript(cli: Cli) -> None:
    cli.register()
    resume = cli.ok("resume", "upload", str(RESUME))["resume"]
    assert "Kubernetes" in resume["skills"]
    assert resume["years_experience"] > 5
    assert cli.ok("resume", "show")["resume"]["filename"] == RESUME.name
    assert "Python" in cli.ok("knowledge")["items"]

    started = cli.ok("interview", "start", "--track", "backend", "--questions", "2", "--use-resume")
    interview_id = started["interview"]["id"]
    generated = started["questions"]["questions"]
    assert len(generated) == 2
    listed = cli.ok("questions", interview_id)["questions"]
    assert [q["id"] for q in listed] == [q["id"] for q in generated]
    attempt = cli.ok("attempts", interview_id)["question_attempts"][0]
    # GenerateQuestions names each question's first attempt: no ListQuestionAttempts needed.
    assert started["questions"]["question_attempts"][0] == attempt

    answered = cli.ok("answer", interview_id, str(LONG_ANSWER))
    assert answered["question_attempt_id"] == attempt["id"]
    assert answered["question"]["id"] == generated[0]["id"]
    said = answered["transcription"]["text"]
    assert "Kubernetes" in said, said
    assert int(answered["audio"]["size_bytes"]) == LONG_ANSWER.stat().st_size
    assert cli.ok("transcript", interview_id)["transcription"]["text"] == said
    assert cli.ok("transcript", "--attempt", attempt["id"])["transcription"]["text"] == said

    interviews = cli.ok("list")["interviews"]
    assert [(i["id"], i["answered_count"]) for i in interviews] == [(interview_id, 1)]
    completed = cli.ok("interview", "complete", interview_id)["interview"]
    assert completed["status"] == "INTERVIEW_STATUS_COMPLETED"

    refused = cli("--json", "answer", interview_id, str(LONG_ANSWER))
    assert refused.code == 1
    assert refused.error()["reason"] == "INTERVIEW_COMPLETED"
    assert "samvaad interview start" in refused.error()["advice"]


def test_analyze_and_report(cli: Cli) -> None:
    cli.register()
    started = cli.ok("interview", "start", "--track", "backend", "--questions", "2")
    interview_id = started["interview"]["id"]
    attempt_id = started["questions"]["question_attempts"][0]["id"]
    words = cli.ok("answer", str(LONG_ANSWER))["transcription"]["words"]  # no id: the latest

    analysis = cli.ok("analyze")["analysis"]  # no id: the latest answer
    assert analysis["question_attempt_id"] == attempt_id
    assert 0 <= analysis["overall_score"] <= 100
    assert analysis["delivery"]["word_count"] == len(words)

    report = cli.ok("report", interview_id)["report"]
    assert (report["question_count"], report["answered_count"]) == (2, 1)
    assert [q["answered"] for q in report["questions"]] == [True, False]
    assert report["overall_score"] == analysis["overall_score"]
    shown = cli("report")
    assert shown.code == 0
    assert "not answered" in shown.stdout
    assert "attempt id" in shown.stdout  # an id, labelled as one, not a count
    assert "1 of 1 answers" not in shown.stdout


def test_answer_goes_to_the_next_unanswered_question_and_says_which(cli: Cli) -> None:
    """`samvaad answer 8 FILE` once took 8 as an attempt id; now it is the interview, the
    question is the next one not answered (or --question N), and it is printed first."""
    cli.register()
    started = cli.ok("interview", "start", "--track", "backend", "--questions", "2")
    interview_id = started["interview"]["id"]
    questions = started["questions"]["questions"]

    first = cli("answer", interview_id, str(SHORT_ANSWER))
    assert first.code == 0, first.stderr
    flat = " ".join(first.stderr.split())
    assert f"question 1 of interview {interview_id}" in flat
    assert " ".join(questions[0]["text"].split()[:5]) in flat
    assert "question 1" in first.stdout and "said" in first.stdout

    second = cli.ok("answer", str(SHORT_ANSWER))  # the latest active interview, question 2
    assert second["question"]["id"] == questions[1]["id"]

    done = cli("answer", interview_id, str(SHORT_ANSWER))
    assert done.code == 1
    assert "every question" in done.stderr and "samvaad retry" in done.stderr

    again = cli("answer", interview_id, str(SHORT_ANSWER), "--question", "1")
    assert again.code == 1
    assert f"samvaad retry {interview_id} --question 1" in " ".join(again.stderr.split())

    reopened = cli.ok("retry", interview_id, "--question", "1")["question_attempt"]
    assert reopened["question_id"] == questions[0]["id"]
    answered = cli.ok("answer", interview_id, str(SHORT_ANSWER), "--question", "1")
    assert answered["question_attempt_id"] == reopened["id"]

    missing = cli("answer", interview_id, str(SHORT_ANSWER), "--question", "9")
    assert missing.code == 1
    assert "no question 9" in missing.stderr


def test_failures_say_which_command_to_run_not_which_rpc(cli: Cli) -> None:
    cli.register()
    started = cli.ok("interview", "start", "--track", "backend", "--questions", "1")
    attempt_id = started["questions"]["question_attempts"][0]["id"]

    not_yet = cli("analyze", "--attempt", attempt_id)
    assert not_yet.code == 1
    assert "samvaad answer" in not_yet.stderr
    assert "TranscriptionService" not in not_yet.stderr
    assert "NOT_TRANSCRIBED" in not_yet.stderr  # the code and reason stay, for a bug report

    assert cli.ok("answer", "--attempt", attempt_id, str(SHORT_ANSWER))
    twice = cli("answer", "--attempt", attempt_id, str(SHORT_ANSWER))
    assert twice.code == 1
    assert "samvaad retry" in twice.stderr
    assert "InterviewService" not in twice.stderr
    assert "ATTEMPT_ALREADY_ANSWERED" in twice.stderr


def test_a_bad_token_says_to_sign_in_again(cli: Cli) -> None:
    cli.register()
    cli.store().save(
        cli.server.address,
        _replace(
            cli.credentials(), access_token="not-a-token", access_token_expire_time=_in(hours=1)
        ),
    )
    outcome = cli("me")
    assert outcome.code == 1
    assert "samvaad login" in outcome.stderr


def test_an_unknown_address_is_unreachable_not_signed_out(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--server", f"127.0.0.1:{_closed_port()}", "me"]) == 1
    shown = " ".join(capsys.readouterr().err.split())
    assert "cannot reach a Samvaad server" in shown and "make run" in shown
    assert "not signed in" not in shown


def test_the_clients_follow_the_servers_port_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAMVAAD_SERVER", raising=False)
    monkeypatch.delenv("BACKEND_SERVER_HOST", raising=False)
    monkeypatch.delenv("BACKEND_SERVER_PORT", raising=False)
    assert default_server() == "127.0.0.1:50051"
    monkeypatch.setenv("BACKEND_SERVER_PORT", "50081")  # `BACKEND_SERVER_PORT=50081 make demo`
    assert default_server() == "127.0.0.1:50081"
    monkeypatch.setenv("BACKEND_SERVER_HOST", "0.0.0.0")
    assert default_server() == "127.0.0.1:50081"
    monkeypatch.setenv("BACKEND_SERVER_HOST", "::1")
    assert default_server() == "[::1]:50081"
    monkeypatch.setenv("SAMVAAD_SERVER", "samvaad.example:443")
    assert default_server() == "samvaad.example:443"


def test_an_interview_without_questions_says_what_to_do(cli: Cli) -> None:
    cli.register()
    interview_id = cli.ok("interview", "start", "--track", "backend")["interview"]["id"]

    listed = cli("attempts", interview_id)
    assert listed.code == 0
    assert f"samvaad interview generate {interview_id}" in " ".join(listed.stderr.split())

    report = cli("report", interview_id)
    assert report.code == 0
    assert "no questions yet" in report.stdout
    assert "0/100" not in report.stdout and "0 of 0" not in report.stdout

    refused = cli("interview", "complete", interview_id)
    assert refused.code == 1
    assert "--yes" in refused.stderr
    assert cli.ok("interview", "show", interview_id)["interview"]["status"] == (
        "INTERVIEW_STATUS_ACTIVE"
    )
    completed = cli.ok("interview", "complete", interview_id, "--yes")["interview"]
    assert completed["status"] == "INTERVIEW_STATUS_COMPLETED"


def test_a_short_password_is_refused_before_the_server_in_characters(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMVAAD_PASSWORD", "short")
    email = f"cli-{os.urandom(4).hex()}@example.com"
    outcome = cli("register", "--email", email, "--name", "Short")
    assert outcome.code == 1
    assert "at least 8 characters" in outcome.stderr
    assert "bytes" not in outcome.stderr
    monkeypatch.setenv("SAMVAAD_PASSWORD", PASSWORD)
    assert cli.ok("register", "--email", email, "--name", "Short")  # the account was not made


def test_an_unknown_health_service_is_named(cli: Cli) -> None:
    outcome = cli("health", "--service", "samvaad.v1.NoSuchService")
    assert outcome.code == 1
    assert "no service named 'samvaad.v1.NoSuchService'" in outcome.stderr


def test_advice_gives_sizes_in_mib_and_waits_in_minutes() -> None:
    failure = RpcFailure(
        code="RESOURCE_EXHAUSTED",
        message="the audio is larger than the limit of 25 MiB (26214400 bytes)",
        reason="AUDIO_TOO_LARGE",
        domain="samvaad.dev",
        retry_after_seconds=300,
    )
    advised = advise(
        failure, Situation(server="x", command="answer", file="long.wav", file_bytes=31457280)
    )
    lines = advised.lines()
    assert "long.wav is 30.0 MiB" in lines[0] and "25 MiB" in lines[0]
    assert "  retry after: 5 minutes" in lines


def test_a_message_is_not_repeated_by_its_field_violation() -> None:
    failure = RpcFailure(
        code="INVALID_ARGUMENT",
        message="name is required",
        reason="INVALID_ARGUMENT",
        field_violations=[FieldViolation("name", "name is required")],
    )
    assert failure.lines() == ["INVALID_ARGUMENT: name: name is required"]


def test_the_progress_bar_says_transcribing_only_once_everything_is_sent(tmp_path: Path) -> None:
    recording = tmp_path / "answer.bin"
    recording.write_bytes(os.urandom(2 * CHUNK_BYTES))
    config = transcription_pb2.AudioConfig(question_attempt_id=7, request_id="r-1")
    with views.upload_progress("answer.bin", show=False) as bar:
        stream = answer_requests(config, recording, on_chunk=bar.sent, on_done=bar.uploaded)
        bar.start(recording.stat().st_size)
        for _ in range(3):  # the config and both chunks: handed over, not all sent
            next(stream)
        assert bar.phase == "uploading"
        assert list(stream) == []  # gRPC asks for more only once the last one is sent
        assert bar.phase == "transcribing"


def test_answer_streams_a_config_then_64_kib_chunks(tmp_path: Path) -> None:
    assert CHUNK_BYTES == 64 * 1024  # what the API guidance and the issue ask for
    recording = tmp_path / "answer.bin"
    recording.write_bytes(os.urandom(3 * CHUNK_BYTES + 123))
    config = transcription_pb2.AudioConfig(question_attempt_id=7, request_id="r-1")
    sent: list[int] = []

    requests = list(answer_requests(config, recording, on_chunk=sent.append))

    assert requests[0].WhichOneof("payload") == "config"
    assert requests[0].config == config
    chunks = [r.audio_content for r in requests[1:]]
    assert all(r.WhichOneof("payload") == "audio_content" for r in requests[1:])
    assert [len(c) for c in chunks] == [CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES, 123]
    assert b"".join(chunks) == recording.read_bytes()
    assert sent == [len(c) for c in chunks]


def test_answer_live_sends_quarter_seconds_at_the_pace_they_were_recorded(
    tmp_path: Path,
) -> None:
    recording = tmp_path / "answer.wav"
    recording.write_bytes(os.urandom(40_000))  # 10 s at 4,000 bytes a second
    config = transcription_pb2.StreamAnswerConfig(interim_results=True)
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    requests = list(live_requests(config, recording, 10.0, sleep, lambda: now[0]))
    assert requests[0].config == config
    chunks = [r.audio_content for r in requests[1:]]
    assert [len(c) for c in chunks] == [1024] * 39 + [40_000 - 39 * 1024]  # at least 1 KiB
    assert b"".join(chunks) == recording.read_bytes()
    # Each chunk leaves once the audio it carries has been "recorded": 10 s in all.
    assert now[0] - 100.0 == pytest.approx(10.0)
    assert all(s >= 0 for s in slept)


def test_answer_live_shows_what_is_heard_then_the_transcript(cli: Cli) -> None:
    cli.register()
    started = cli.ok("interview", "start", "--track", "backend", "--questions", "1")
    live = cli("answer", str(started["interview"]["id"]), str(SHORT_ANSWER), "--live")
    assert live.code == 0, live.stderr
    assert "question 1" in live.stdout and "said" in live.stdout
    stored = cli.ok("transcript", str(started["interview"]["id"]), "--question", "1")
    assert stored["transcription"]["text"]


def test_a_missing_audio_file_is_reported_without_calling_the_server(cli: Cli) -> None:
    cli.register()
    outcome = cli("answer", "1", "/nonexistent/answer.ogg")
    assert outcome.code == 1
    assert "cannot read /nonexistent/answer.ogg" in outcome.stderr


# --- make demo --------------------------------------------------------------


def test_demo_walks_a_whole_interview_and_its_answers_score_apart(
    server: ThreadedServer, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make demo` against a real server with the real Whisper engine: the questions it
    asks are the ones its recordings answer, and the report tells the answers apart."""
    assert demo.main(["--server", server.address, "--speed", "8"]) == 0
    shown = capsys.readouterr().out

    # The demo tells the user how to sign in as its candidate; that must work.
    password, email = re.findall(r"SAMVAAD_PASSWORD='([^']+)'.*login --email (\S+)", shown)[0]
    with Session(ServerOptions(server.address), CredentialStore(config_dir)) as session:
        session.login(email, password)
        interviews = session.call_authorized(
            lambda md: session.interview.ListInterviews(
                interview_pb2.ListInterviewsRequest(), metadata=md
            )
        ).interviews
        assert len(interviews) == 1
        interview = interviews[0]
        assert interview.status == interview_pb2.INTERVIEW_STATUS_COMPLETED
        assert interview.answered_count == len(demo.RECORDINGS) == 3
        report = session.call_authorized(
            lambda md: session.analysis.GetInterviewReport(
                analysis_pb2.GetInterviewReportRequest(interview_id=interview.id), metadata=md
            )
        ).report

    # Each question is the one its recording answers, in the script's order.
    assert [q.question_text for q in report.questions] == demo.SCRIPT.questions
    assert all(q.answered for q in report.questions)
    by_kind = {
        answer.kind: question.analysis
        for answer, question in zip(demo.SCRIPT.answers, report.questions, strict=True)
    }
    good, rambling, off_topic = by_kind["good"], by_kind["rambling"], by_kind["off_topic"]

    # Distinct answers, distinct scores: content ranks them, overall too.
    assert good.content.score > rambling.content.score > off_topic.content.score
    assert good.content.score >= 60, good.content
    assert good.content.score - rambling.content.score >= 20
    assert good.overall_score > rambling.overall_score > off_topic.overall_score
    assert good.content.coverage_score > rambling.content.coverage_score
    assert len(good.content.missing_concepts) <= 1, good.content.missing_concepts

    # The rambling answer hears about its fillers and its pause; the good one does not.
    assert rambling.delivery.filler_count >= 5
    assert any(
        p.duration.ToTimedelta() >= timedelta(seconds=3) for p in rambling.delivery.long_pauses
    )
    assert rambling.delivery.score < good.delivery.score
    rambling_advice = " ".join(f.message for f in rambling.improvements)
    assert "filler" in rambling_advice, rambling_advice
    assert "pause" in rambling_advice, rambling_advice
    assert good.delivery.filler_count <= 1
    assert not good.delivery.long_pauses

    # The off-topic answer is flagged as such, and only it.
    def strays(analysis: analysis_pb2.AnswerAnalysis) -> bool:
        return any(
            f.aspect == "relevance" and "strays from the question" in f.message
            for f in analysis.improvements
        )

    assert strays(off_topic), [f.message for f in off_topic.improvements]
    assert not strays(good) and not strays(rambling)
    assert off_topic.content.relevance_score < 40 <= good.content.relevance_score

    # What the candidate sees: the questions, what each recording said, the report and
    # the feedback on each answer.
    assert "What the candidate sees" in shown
    flat = " ".join(shown.split())
    for question in demo.SCRIPT.questions:
        assert " ".join(question.split()[:4]) in flat
    for spoken in ["correlation ID", "pessimistic locking", "Terraform"]:
        assert spoken in flat
    assert f"Report of interview {interview.id}" in flat
    assert "The feedback on each answer" in flat
    assert "strays from the question" in flat


def test_demo_says_to_start_the_server_when_it_cannot_reach_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert demo.main(["--server", f"127.0.0.1:{_closed_port()}"]) == 2
    assert "make run" in " ".join(capsys.readouterr().out.split())


# --- helpers ----------------------------------------------------------------


class _Stdin:
    def __init__(self, text: str) -> None:
        self._lines = iter(text.splitlines(keepends=True))

    def readline(self) -> str:
        return next(self._lines, "")

    def isatty(self) -> bool:
        return False


def _access_token(settings: Settings, user_id: int, ttl: timedelta) -> str:
    codec = AccessTokenCodec(
        secret=settings.jwt_secret_key.get_secret_value(),
        algorithm=settings.jwt_algorithm,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=ttl,
    )
    return codec.issue(user_id).token


def _in(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def _replace(credentials: Credentials, **changes: Any) -> Credentials:
    return dataclasses.replace(credentials, **changes)


def _blank(refresh_token: str) -> Credentials:
    now = datetime.now(UTC)
    return Credentials("x@example.com", "", now, refresh_token, now)


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
