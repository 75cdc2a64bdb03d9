"""Domain errors. They know nothing of gRPC; `server.api.status` maps them.

Each carries a message a person can act on and a machine-readable `reason`
(UPPER_SNAKE_CASE, sent as google.rpc.ErrorInfo.reason).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    reason = "ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgument(DomainError):
    """Malformed input. Carries the offending fields."""

    reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        violations: list[FieldViolation] | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.violations = violations or []

    @classmethod
    def for_field(
        cls, field_name: str, description: str, *, reason: str | None = None
    ) -> InvalidArgument:
        return cls(description, [FieldViolation(field_name, description)], reason=reason)


class Unauthenticated(DomainError):
    reason = "UNAUTHENTICATED"


class NotFound(DomainError):
    reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    reason = "ALREADY_EXISTS"


class Conflict(DomainError):
    """A write the database refused because it clashes with a stored row (a unique key).

    Raised by the repositories in place of the driver's integrity error. The domain
    catches it where a concurrent writer is expected (and answers as if it had lost
    the race); one that escapes is ALREADY_EXISTS.
    """

    reason = "CONFLICT"


class FailedPrecondition(DomainError):
    reason = "FAILED_PRECONDITION"


class ResourceExhausted(DomainError):
    """Throttled or over a size limit. `retry_after` is set when waiting helps."""

    reason = "RESOURCE_EXHAUSTED"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(DomainError):
    """A dependency is down; the client may retry."""

    reason = "UNAVAILABLE"


class DeadlineExceeded(DomainError):
    reason = "DEADLINE_EXCEEDED"
