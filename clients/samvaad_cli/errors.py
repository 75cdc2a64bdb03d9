"""gRPC errors as people and scripts need them: code, message and google.rpc details."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
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
        """Human-readable: the code and message first, then one detail a line."""
        lines = [f"{self.code}: {self.message}"]
        if self.reason:
            lines.append(f"  reason: {self.reason} ({self.domain})")
        lines.extend(f"  {v.field}: {v.description}" for v in self.field_violations)
        if self.retry_after_seconds is not None:
            lines.append(f"  retry after: {self.retry_after_seconds:g} s")
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
