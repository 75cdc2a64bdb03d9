"""The protos honour the public API contract, and generated/ matches protos/."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool

import generated.samvaad.v1.analysis_pb2
import generated.samvaad.v1.auth_pb2
import generated.samvaad.v1.interview_pb2
import generated.samvaad.v1.practice_pb2
import generated.samvaad.v1.resume_pb2
import generated.samvaad.v1.transcription_pb2  # noqa: F401  (registers the descriptors)

ROOT = Path(__file__).resolve().parent.parent

# Names from the public API contract that clients are written against.
SERVICES = {
    "AuthService": ["Register", "Login", "RefreshToken", "Logout", "GetMe", "UpdateProfile"],
    "ResumeService": ["UploadResume", "GetMyResume", "GetKnowledgeSet"],
    "InterviewService": [
        "CreateInterview", "GenerateQuestions", "CompleteInterview", "GetInterview",
        "ListInterviews", "ListQuestions", "ListQuestionAttempts", "CreateQuestionAttempt",
        "CreateFollowUpQuestion",
    ],
    "TranscriptionService": ["TranscribeAnswer", "GetTranscription"],
    "AnalysisService": ["AnalyzeAnswer", "GetInterviewReport", "CompareAttempts", "GetProgress"],
}  # fmt: skip
MESSAGE_FIELDS = {
    "RegisterRequest": ["email", "password", "name"],
    "RegisterResponse": ["user", "tokens"],
    "LoginRequest": ["email", "password"],
    "LoginResponse": ["user", "tokens"],
    "RefreshTokenRequest": ["refresh_token"],
    "RefreshTokenResponse": ["tokens"],
    "LogoutRequest": ["refresh_token"],
    "GetMeResponse": ["user"],
    "User": ["id", "email", "name", "create_time", "has_resume", "profile"],
    "Profile": ["degree", "institution", "graduation_year", "target_role", "onboarded"],
    "UpdateProfileRequest": ["profile", "update_mask"],
    "UpdateProfileResponse": ["user"],
    "AuthTokens": [
        "access_token", "access_token_expire_time", "refresh_token",
        "refresh_token_expire_time", "token_type",
    ],
    "UploadResumeRequest": ["filename", "content_type", "content"],
    "UploadResumeResponse": ["resume"],
    "GetMyResumeResponse": ["resume"],
    "GetKnowledgeSetResponse": ["items", "cached"],
    "Resume": [
        "filename", "content_type", "size_bytes", "text_length", "preview", "skills",
        "years_experience", "extractor", "update_time",
    ],
    "CreateInterviewRequest": ["track", "difficulty"],
    "CreateInterviewResponse": ["interview", "resumed"],
    "GenerateQuestionsRequest": ["interview_id", "use_resume", "count"],
    "GenerateQuestionsResponse": [
        "interview_id",
        "questions",
        "cached",
        "generator",
        "question_attempts",
    ],
    "CompleteInterviewRequest": ["interview_id"],
    "CompleteInterviewResponse": ["interview"],
    "GetInterviewRequest": ["interview_id"],
    "GetInterviewResponse": ["interview"],
    "ListInterviewsRequest": ["page_size", "page_token", "track", "status"],
    "ListInterviewsResponse": ["interviews", "next_page_token"],
    "ListQuestionsRequest": ["interview_id", "page_size", "page_token"],
    "ListQuestionsResponse": ["questions", "next_page_token"],
    "ListQuestionAttemptsRequest": ["interview_id", "page_size", "page_token"],
    "ListQuestionAttemptsResponse": ["question_attempts", "next_page_token"],
    "CreateQuestionAttemptRequest": ["question_id"],
    "CreateQuestionAttemptResponse": ["question_attempt"],
    "Interview": [
        "id", "track", "difficulty", "status", "create_time", "complete_time",
        "question_count", "answered_count", "overall_score", "content_score", "delivery_score",
        "next_steps",
    ],
    "Question": [
        "id", "interview_id", "position", "text", "topic", "category", "difficulty",
        "parent_question_id",
    ],
    "CreateFollowUpQuestionRequest": ["question_attempt_id"],
    "CreateFollowUpQuestionResponse": ["question", "question_attempt"],
    "QuestionAttempt": [
        "id", "question_id", "interview_id", "question_text", "create_time", "has_transcription",
    ],
    "TranscribeAnswerRequest": ["config", "audio_content"],
    "TranscribeAnswerResponse": [
        "question_attempt_id", "transcription", "audio", "processing_time",
    ],
    "GetTranscriptionRequest": ["question_attempt_id"],
    "GetTranscriptionResponse": ["question_attempt_id", "transcription"],
    "AudioConfig": ["question_attempt_id", "language", "filename", "mime_type", "request_id"],
    "Transcription": ["text", "words", "language", "duration", "engine", "model"],
    "Word": ["word", "start_offset", "end_offset", "probability"],
    "AudioInfo": ["format", "size_bytes", "duration", "filename", "mime_type"],
    "AnalyzeAnswerRequest": ["question_attempt_id"],
    "AnalyzeAnswerResponse": ["analysis"],
    "GetInterviewReportRequest": ["interview_id"],
    "CompareAttemptsRequest": ["question_id"],
    "GetProgressRequest": ["track"],
    "GetProgressResponse": ["metrics", "missed_concepts", "streak"],
    "GetInterviewReportResponse": ["report"],
    "AnswerAnalysis": [
        "question_attempt_id", "question_id", "overall_score", "delivery", "content",
        "strengths", "improvements", "create_time",
    ],
    "Finding": ["aspect", "message", "finding_aspect"],
    "QuestionReport": [
        "question_id", "position", "question_text", "category", "answered",
        "question_attempt_id", "attempt_count", "analysis", "question_category",
    ],
    "InterviewReport": [
        "interview_id", "question_count", "answered_count", "overall_score", "questions",
        "update_time", "rubric", "total_answer_duration", "total_recorded_duration",
        "next_practice",
    ],
    "NextPractice": ["track", "difficulty", "question_ids", "reason"],
}  # fmt: skip
# Closed sets that travel as strings too, for clients written before their enums: each
# string field stays, deprecated, beside its enum field.
DEPRECATED_STRINGS = {
    ("Question", "category"): "question_category",
    ("QuestionReport", "category"): "question_category",
    ("Finding", "aspect"): "finding_aspect",
    ("AudioInfo", "format"): "audio_format",
    ("Transcription", "engine"): "transcription_engine",
}
ENUMS = {
    "Difficulty": [
        "DIFFICULTY_UNSPECIFIED", "DIFFICULTY_EASY", "DIFFICULTY_MEDIUM", "DIFFICULTY_HARD",
        "DIFFICULTY_EXPERT",
    ],
    "InterviewStatus": [
        "INTERVIEW_STATUS_UNSPECIFIED", "INTERVIEW_STATUS_ACTIVE", "INTERVIEW_STATUS_COMPLETED",
    ],
    "Pace": ["PACE_UNSPECIFIED", "PACE_TOO_SLOW", "PACE_GOOD", "PACE_TOO_FAST"],
}  # fmt: skip
POOL = descriptor_pool.Default()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_services_have_the_contract_methods(service: str) -> None:
    descriptor = POOL.FindServiceByName(f"samvaad.v1.{service}")
    methods = {m.name: m for m in descriptor.methods}
    for name in SERVICES[service]:
        assert name in methods, f"{service}.{name} is missing"
        assert methods[name].input_type.name == f"{name}Request"
        assert methods[name].output_type.name == f"{name}Response"
    if service == "TranscriptionService":
        assert methods["TranscribeAnswer"].client_streaming


@pytest.mark.parametrize("message", sorted(MESSAGE_FIELDS))
def test_messages_have_the_contract_fields(message: str) -> None:
    descriptor = POOL.FindMessageTypeByName(f"samvaad.v1.{message}")
    assert set(MESSAGE_FIELDS[message]) <= set(descriptor.fields_by_name)


@pytest.mark.parametrize(("message", "field"), sorted(DEPRECATED_STRINGS))
def test_closed_sets_have_an_enum_beside_their_deprecated_string(message: str, field: str) -> None:
    descriptor = POOL.FindMessageTypeByName(f"samvaad.v1.{message}")
    string = descriptor.fields_by_name[field]
    assert string.type == string.TYPE_STRING
    assert string.GetOptions().deprecated
    enum = descriptor.fields_by_name[DEPRECATED_STRINGS[message, field]]
    assert enum.type == enum.TYPE_ENUM
    assert enum.enum_type is not None
    assert enum.enum_type.values[0].name.endswith("_UNSPECIFIED")


def test_ids_are_int64_and_times_are_well_known_types() -> None:
    for message in MESSAGE_FIELDS:
        for field in POOL.FindMessageTypeByName(f"samvaad.v1.{message}").fields:
            # request_id is an opaque idempotency key, not a row id.
            if field.name == "id" or (field.name.endswith("_id") and field.name != "request_id"):
                assert field.type == field.TYPE_INT64, f"{message}.{field.name}"
            # processing_time is a span (Duration); every other *_time is a point in time.
            kind = field.message_type.full_name if field.message_type else field.type
            if field.name.endswith("_time") and field.name != "processing_time":
                assert kind == "google.protobuf.Timestamp", f"{message}.{field.name}"
            if field.name.endswith(("_offset", "duration")):
                assert kind == "google.protobuf.Duration", f"{message}.{field.name}"


def test_audio_payload_is_a_oneof_with_config_first() -> None:
    request = POOL.FindMessageTypeByName("samvaad.v1.TranscribeAnswerRequest")
    payload = request.oneofs_by_name["payload"]
    assert [(f.name, f.number) for f in payload.fields] == [("config", 1), ("audio_content", 2)]


def test_years_experience_is_optional() -> None:
    field = POOL.FindMessageTypeByName("samvaad.v1.Resume").fields_by_name["years_experience"]
    assert field.has_presence


@pytest.mark.parametrize("enum", sorted(ENUMS))
def test_enums_have_the_contract_values(enum: str) -> None:
    values = [v.name for v in POOL.FindEnumTypeByName(f"samvaad.v1.{enum}").values]
    assert values[: len(ENUMS[enum])] == ENUMS[enum]


def test_generated_code_is_in_sync_with_protos(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), str(out)],
        check=True,
        capture_output=True,
    )
    committed = ROOT / "generated"
    mismatch = _differences(filecmp.dircmp(committed, out, ignore=["__pycache__"]))
    assert not mismatch, f"generated/ is stale, run `make protos`: {mismatch}"


def _differences(comparison: filecmp.dircmp[str]) -> list[str]:
    found = [*comparison.left_only, *comparison.right_only, *comparison.diff_files]
    for sub in comparison.subdirs.values():
        found += _differences(sub)
    return found


def test_buf_lint_is_clean() -> None:
    buf = shutil.which("buf", path=str(Path(sys.executable).parent))
    assert buf, "buf is installed with the dev extra (buf-bin)"
    result = subprocess.run([buf, "lint"], cwd=ROOT / "protos", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
