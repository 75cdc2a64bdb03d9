"""Domain errors as gRPC statuses with google.rpc error details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from server import errors

ERROR_DOMAIN = "samvaad.dev"

# Bounds on what an error may echo back, in UTF-8 bytes. A message can quote what the
# client sent; it travels twice (grpc-message, percent-encoded, and google.rpc.Status,
# base64) besides each field violation. Unbounded, a 100 KB field overflowed the client's
# 8 KiB metadata limit and arrived as RESOURCE_EXHAUSTED "Stream removed" instead of the
# real status. With these bounds the trailers stay under about 6 KiB.
MAX_MESSAGE_BYTES = 512
MAX_FIELD_BYTES = 64
MAX_DESCRIPTION_BYTES = 192
MAX_VIOLATIONS = 10
_ELLIPSIS = "…"
# C0/C1 controls: not for a trailer, nor for a person to read.
_UNPRINTABLE = dict.fromkeys((*range(0x20), *range(0x7F, 0xA0)), "\ufffd")


_CODES: list[tuple[type[errors.DomainError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.Conflict, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
]


def clip(text: str, limit: int) -> str:
    """`text` made safe to echo: at most `limit` UTF-8 bytes, printable, no lone surrogates."""
    raw = text[: limit + 1].translate(_UNPRINTABLE).encode("utf-8", "replace")
    if len(raw) <= limit:
        return raw.decode("utf-8")
    room = limit - len(_ELLIPSIS.encode())
    return raw[:room].decode("utf-8", "ignore") + _ELLIPSIS


def status_code_of(error: errors.DomainError) -> grpc.StatusCode:
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_grpc_status(error: errors.DomainError) -> grpc.Status:
    """A grpc.Status whose trailers carry google.rpc.Status with details."""
    code = status_code_of(error)
    details = [
        _pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)),
    ]
    message = clip(error.message, MAX_MESSAGE_BYTES)
    if isinstance(error, errors.InvalidArgument) and error.violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=clip(v.field, MAX_FIELD_BYTES),
                            description=clip(v.description, MAX_DESCRIPTION_BYTES),
                        )
                        for v in error.violations[:MAX_VIOLATIONS]
                    ]
                )
            )
        )
    if isinstance(error, errors.ResourceExhausted) and error.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after_seconds * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)
    return rpc_status.to_status(status)
