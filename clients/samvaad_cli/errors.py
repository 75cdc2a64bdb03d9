"""gRPC errors as people and scripts need them: code, message and google.rpc details."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

DETAILS_TRAILER = "grpc-status-details-bin"
REQUEST_ID_TRAILER = "x-request-id"


class CliError(Exception):
    """A failure worth a one-line explanation and a non-zero exit, not a traceback."""


class NotSignedIn(CliError):
    def __init__(self, server: str) -> None:
        super().__init__(f"not signed in to {server}: run `samvaad login` (or `samvaad register`)")


@dataclass
class FieldViolation:
    field: str
    description: str


@dataclass
class RpcFailure:
    """Everything a failed call told us."""

    code: str
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    retry_after_seconds: float | None = None
    request_id: str = ""
    # What to do about it, in `samvaad` commands (set by `advise`); people see it instead of
    # the server's message, which is written for every client and may name RPCs.
    advice: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.advice:
            data["advice"] = self.advice
        if self.reason:
            data["reason"] = self.reason
            data["domain"] = self.domain
        if self.metadata:
            data["metadata"] = self.metadata
        if self.field_violations:
            data["field_violations"] = [
                {"field": v.field, "description": v.description} for v in self.field_violations
            ]
        if self.retry_after_seconds is not None:
            data["retry_after_seconds"] = self.retry_after_seconds
        if self.request_id:
            data["request_id"] = self.request_id
        return data

    def lines(self) -> list[str]:
        """Human-readable: the code and what to do first, then one detail a line; nothing
        said twice (a message that only joins the field violations is left to them)."""
        message = self.advice or self.message or _CODE_MEANINGS.get(self.code, "")
        violations = [f"  {v.field}: {v.description}" for v in self.field_violations]
        if violations and all(v.description in message for v in self.field_violations):
            message = "the request is not valid:" if len(violations) > 1 else ""
            if not message:
                violations, message = [], f"{self.field_violations[0].field}: {self.message}"
        lines = [f"{self.code}: {message}" if message else self.code]
        if self.reason and self.reason != self.code:
            lines.append(f"  reason: {self.reason} ({self.domain})")
        lines.extend(violations)
        if self.retry_after_seconds is not None:
            lines.append(f"  retry after: {in_words(self.retry_after_seconds)}")
        if self.request_id:
            lines.append(f"  request id: {self.request_id}")
        return lines


def describe(error: grpc.RpcError) -> RpcFailure:
    """Reads the status and the google.rpc.Status details from a failed call."""
    call: Any = error  # sync RpcErrors are also grpc.Call objects
    code: grpc.StatusCode = call.code()
    failure = RpcFailure(code=code.name, message=call.details() or "")
    for key, value in call.trailing_metadata() or ():
        if key == REQUEST_ID_TRAILER and isinstance(value, str):
            failure.request_id = value
        elif key == DETAILS_TRAILER and isinstance(value, bytes):
            _add_details(failure, value)
    return failure


def reason_of(error: grpc.RpcError) -> str:
    return describe(error).reason


def _add_details(failure: RpcFailure, serialized: bytes) -> None:
    status = status_pb2.Status()
    status.ParseFromString(serialized)
    for packed in status.details:
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        if packed.Unpack(info):
            failure.reason, failure.domain = info.reason, info.domain
            failure.metadata = dict(info.metadata)
        elif packed.Unpack(bad_request):
            failure.field_violations.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
        elif packed.Unpack(retry):
            failure.retry_after_seconds = retry.retry_delay.ToTimedelta().total_seconds()


# What a status means when the server (or gRPC) said nothing more.
_CODE_MEANINGS = {
    "NOT_FOUND": "not found",
    "UNIMPLEMENTED": "the server does not offer this",
    "UNAVAILABLE": "the server is unavailable",
    "DEADLINE_EXCEEDED": "no answer in time",
    "PERMISSION_DENIED": "not allowed",
    "UNAUTHENTICATED": "not signed in",
}


def in_words(seconds: float) -> str:
    """300 -> "5 minutes", 45 -> "45 seconds", 0.5 -> "1 second" (rounded up)."""
    whole = max(1, int(-(-seconds // 1)))
    if whole < 60:
        return f"{whole} second{'s' * (whole != 1)}"
    minutes = -(-whole // 60)
    if minutes < 120:
        return f"{minutes} minute{'s' * (minutes != 1)}"
    return f"{-(-minutes // 60)} hours"


@dataclass(frozen=True)
class Situation:
    """What the command was doing, for advice that names the user's own ids and files."""

    server: str
    command: str = ""
    interview_id: int = 0
    question: int = 0
    file: str = ""
    file_bytes: int | None = None
    service: str = ""


_SIGN_IN_AGAIN = {"TOKEN_INVALID", "TOKEN_MALFORMED", "TOKEN_MISSING", "USER_NOT_FOUND"}


def advise(failure: RpcFailure, situation: Situation) -> RpcFailure:
    """Says what to do next in `samvaad` commands, by reason (or code)."""
    interview = str(situation.interview_id) if situation.interview_id else "INTERVIEW"
    question = str(situation.question) if situation.question else "N"
    reason, code = failure.reason, failure.code
    advice = ""
    if reason == "ATTEMPT_ALREADY_ANSWERED":
        which = f"question {question}" if situation.question else "that question"
        advice = (
            f"{which} is answered already; to answer it again, open a new attempt "
            f"with `samvaad retry {interview} --question {question}`, then `samvaad answer` again"
        )
    elif reason in ("NOT_TRANSCRIBED", "TRANSCRIPTION_NOT_FOUND"):
        advice = (
            "that question has no answer yet: record one with "
            f"`samvaad answer {interview} FILE --question {question}`"
        )
    elif reason == "INTERVIEW_COMPLETED":
        advice = (
            f"interview {interview} is completed and takes no more answers: start a new one "
            "with `samvaad interview start --track TRACK`"
        )
    elif reason == "NO_ACTIVE_INTERVIEW":
        advice = "you have no active interview: start one with `samvaad interview start --track T`"
    elif reason == "RESUME_REQUIRED":
        advice = "upload a resume first (`samvaad resume upload FILE`), or leave out --use-resume"
    elif reason == "RESUME_NOT_FOUND":
        advice = "you have no resume yet: upload one with `samvaad resume upload FILE`"
    elif reason in ("INTERVIEW_NOT_FOUND", "ATTEMPT_NOT_FOUND", "QUESTION_NOT_FOUND"):
        advice = f"{failure.message}: `samvaad list` shows your interviews and their ids"
    elif reason in _SIGN_IN_AGAIN:
        advice = f"{failure.message}: sign in again with `samvaad login --email EMAIL`"
    elif reason == "AUDIO_TOO_LARGE" and situation.file_bytes is not None:
        advice = (
            f"{situation.file} is {situation.file_bytes / (1024 * 1024):.1f} MiB: "
            f"{failure.message}; trim the recording or save it compressed (ogg, m4a, mp3)"
        )
    elif code == "UNAVAILABLE" and not reason:
        # gRPC's own words ("failed to connect to all addresses; ...") stay in --json.
        advice = (
            f"cannot reach a Samvaad server at {situation.server}: start one with `make run`, "
            "or point --server (or SAMVAAD_SERVER) at yours"
        )
    elif code == "DEADLINE_EXCEEDED" and not reason:
        advice = (
            f"the server at {situation.server} did not answer in time; try again, or allow "
            "longer with --timeout SECONDS"
        )
    elif code == "NOT_FOUND" and situation.command == "health" and not failure.message:
        advice = f"the server has no service named {situation.service!r}"
    return replace(failure, advice=advice)
