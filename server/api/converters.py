"""Translation between domain values and protobuf messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2

from generated.samvaad.v1 import auth_pb2
from server.domain.auth import TokenPair, UserProfile


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def duration(value: timedelta | float) -> duration_pb2.Duration:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    message = duration_pb2.Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def user(profile: UserProfile) -> auth_pb2.User:
    return auth_pb2.User(
        id=profile.id,
        email=profile.email,
        name=profile.name,
        create_time=timestamp(profile.created_at),
        has_resume=profile.has_resume,
    )


def tokens(pair: TokenPair) -> auth_pb2.AuthTokens:
    return auth_pb2.AuthTokens(
        access_token=pair.access_token,
        access_token_expire_time=timestamp(pair.access_expires_at),
        refresh_token=pair.refresh_token,
        refresh_token_expire_time=timestamp(pair.refresh_expires_at),
        token_type=pair.token_type,
    )
