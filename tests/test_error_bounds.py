"""Errors echo what a client sent only in bounded, printable form.

A 100 KB `language` used to come back three times in the trailers (grpc-message,
google.rpc.Status.message and a field violation), about 300 KB: more than a default
client's metadata limit, so it saw RESOURCE_EXHAUSTED "Stream removed" instead of
INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from generated.samvaad.v1 import interview_pb2 as ipb
from generated.samvaad.v1 import transcription_pb2 as pb
from server.api.status import MAX_MESSAGE_BYTES, clip, to_grpc_status
from server.errors import FieldViolation, InvalidArgument
from tests.audio_assets import AUDIO
from tests.helpers import DETAILS_KEY, Account, Stubs, expect_status, rich_status

HUGE = "x" * 100_000
# What a default grpc client accepts in one response's metadata without risk.
CLIENT_METADATA_LIMIT = 8 * 1024


def trailer_bytes(error: grpc.aio.AioRpcError) -> int:
    size = len((error.details() or "").encode())
    for key, value in error.trailing_metadata() or ():
        size += len(key) + len(value if isinstance(value, bytes) else value.encode())
    return size


def test_clip_bounds_length_and_makes_text_printable() -> None:
    assert clip("short", 10) == "short"
    assert len(clip(HUGE, 50).encode()) == 50
    assert clip(HUGE, 50).endswith("…")
    wide = clip("\u4e2d" * 1000, 50)  # three bytes a character, cut on a boundary
    assert len(wide.encode()) <= 50 and wide.endswith("…")
    cleaned = clip("a\x00b\x1b[31mc\u0085\ud800d", 100)
    assert "\x00" not in cleaned and "\x1b" not in cleaned and "\u0085" not in cleaned
    cleaned.encode("utf-8")  # lone surrogates are gone: this would raise


def test_a_status_from_huge_input_fits_in_a_clients_metadata() -> None:
    wide = "\u4e2d" * 30_000
    error = InvalidArgument(
        f"language {wide!r} is not a language code",
        [FieldViolation(f"field_{wide}_{i}", wide) for i in range(100)],
    )
    status = to_grpc_status(error)
    assert len(status.details.encode()) <= MAX_MESSAGE_BYTES
    size = len(status.details.encode()) + sum(len(v) for _, v in status.trailing_metadata)
    assert size * 4 / 3 < CLIENT_METADATA_LIMIT  # the details travel base64


async def _stream(attempt_id: int, **config: str) -> AsyncIterator[pb.TranscribeAnswerRequest]:
    yield pb.TranscribeAnswerRequest(
        config=pb.AudioConfig(question_attempt_id=attempt_id, **config)
    )
    yield pb.TranscribeAnswerRequest(audio_content=(AUDIO / "answer.wav").read_bytes()[:65536])


async def _first_attempt(stubs: Stubs, account: Account) -> int:
    interview = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track="backend"), metadata=account.metadata
    )
    await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=1),
        metadata=account.metadata,
    )
    listed = await stubs.interview.ListQuestionAttempts(
        ipb.ListQuestionAttemptsRequest(interview_id=interview.interview.id),
        metadata=account.metadata,
    )
    return int(listed.question_attempts[0].id)


@pytest.mark.parametrize("field", ["language", "mime_type"])
async def test_a_huge_config_field_is_invalid_argument_not_stream_removed(
    stubs: Stubs, account: Account, field: str
) -> None:
    attempt_id = await _first_attempt(stubs, account)
    error = await expect_status(
        stubs.transcription.TranscribeAnswer(
            _stream(attempt_id, **{field: HUGE}), metadata=account.metadata, timeout=30
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert trailer_bytes(error) < CLIENT_METADATA_LIMIT / 2
    assert rich_status(error).message == error.details()
    assert any(key == DETAILS_KEY for key, _ in error.trailing_metadata() or ())


async def test_a_huge_track_is_refused_with_a_short_message(stubs: Stubs, account: Account) -> None:
    error = await expect_status(
        stubs.interview.CreateInterview(
            ipb.CreateInterviewRequest(track=HUGE), metadata=account.metadata
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert trailer_bytes(error) < CLIENT_METADATA_LIMIT / 2
