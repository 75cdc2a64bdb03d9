"""Access tokens signed with the real key but carrying a hostile `sub`.

Only someone with the key can mint these, so this is robustness, not security: the
answer must still be UNAUTHENTICATED with a clear reason, decided in the token codec,
never INTERNAL from int() or from the database's int64 column.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import jwt
import pytest

from generated.samvaad.v1 import auth_pb2
from server.config import Settings
from server.domain.tokens import AccessTokenCodec
from server.errors import Unauthenticated
from tests.helpers import Account, RunningServer, Stubs, expect_status, reason

HOSTILE_SUBJECTS = [
    "\u0663",  # ARABIC-INDIC DIGIT THREE: isdigit() and int() accept it
    "\u00b2",  # SUPERSCRIPT TWO: isdigit() accepts it, int() raises
    "\uff11",  # FULLWIDTH DIGIT ONE
    str(2**63),  # one past int64
    "9" * 40,
    "0",
    "007",
    "-1",
    " 1",
    "1\n",
    "",
]


def mint(settings: Settings, subject: object) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(claims, settings.jwt_secret_key.get_secret_value(), settings.jwt_algorithm)


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
async def test_a_signed_token_with_a_hostile_subject_is_unauthenticated(
    running: RunningServer, stubs: Stubs, account: Account, subject: str
) -> None:
    token = mint(running.app.settings, subject)
    error = await expect_status(
        stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=(("authorization", f"Bearer {token}"),)),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    assert reason(error) == "TOKEN_INVALID"
    assert "subject" in (error.details() or "")


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_the_codec_refuses_hostile_subjects(subject: str) -> None:
    codec = AccessTokenCodec("k" * 32, "HS256", "samvaad", "samvaad-api", timedelta(minutes=5))
    settings = Settings(_env_file=None, JWT_SECRET_KEY="k" * 32)
    with pytest.raises(Unauthenticated) as caught:
        codec.user_id_of(mint(settings, subject))
    assert caught.value.reason == "TOKEN_INVALID"


def test_the_codec_accepts_the_largest_user_id() -> None:
    codec = AccessTokenCodec("k" * 32, "HS256", "samvaad", "samvaad-api", timedelta(minutes=5))
    assert codec.user_id_of(codec.issue(2**63 - 1).token) == 2**63 - 1
