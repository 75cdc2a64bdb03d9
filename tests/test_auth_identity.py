"""Identity strings (RFC 8265 / NIST SP 800-63B): passwords, names, emails, display text.

Through a real server on every backend where the wire can carry the input, and at the
domain for what a protobuf string cannot (unpaired surrogates).
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import update

from generated.samvaad.v1 import auth_pb2
from server.db.engine import create_engine
from server.db.models import User
from server.domain.auth import AuthService
from server.domain.passwords import PasswordHasher
from server.domain.tokens import AccessTokenCodec
from server.domain.validation import normalise_name, prepare_password
from server.errors import InvalidArgument, NotFound, Unauthenticated
from server.repositories.unit_of_work import Database
from server.text import clean_display_text, clean_filename
from tests.helpers import (
    RunningServer,
    Stubs,
    expect_status,
    make_settings,
    reason,
    register,
    violated_fields,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
UNAUTH = grpc.StatusCode.UNAUTHENTICATED

COMPOSED = unicodedata.normalize("NFC", "café-crème 1")
DECOMPOSED = unicodedata.normalize("NFD", "café-crème 1")


async def login(stubs: Stubs, email: str, password: str) -> auth_pb2.LoginResponse:
    reply: auth_pb2.LoginResponse = await stubs.auth.Login(
        auth_pb2.LoginRequest(email=email, password=password)
    )
    return reply


# --- passwords -------------------------------------------------------------------------


async def test_a_password_set_composed_signs_in_decomposed_and_back(stubs: Stubs) -> None:
    assert COMPOSED != DECOMPOSED
    nfc = await register(stubs, "nfc@example.com", password=COMPOSED)
    await login(stubs, nfc.user.email, DECOMPOSED)
    nfd = await register(stubs, "nfd@example.com", password=DECOMPOSED)
    await login(stubs, nfd.user.email, COMPOSED)


async def test_non_ascii_spaces_in_passwords_are_plain_spaces(stubs: Stubs) -> None:
    account = await register(stubs, password="open\u00a0sesame\u3000now")
    await login(stubs, account.user.email, "open sesame now")


@pytest.mark.parametrize(
    "password",
    ["tab\there-1234", "nul\x00inside-123", "bell\x07-password", "bidi\u202eoverride-1"],
)
async def test_passwords_with_control_or_format_characters_are_refused(
    stubs: Stubs, password: str
) -> None:
    error = await expect_status(
        stubs.auth.Register(
            auth_pb2.RegisterRequest(email="c@example.com", password=password, name="C")
        ),
        INVALID,
    )
    assert violated_fields(error) == {"password"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"LOGIN_MAX_FAILURES": 4}


async def test_a_hash_made_before_preparation_still_signs_in_and_is_upgraded(
    running: RunningServer, stubs: Stubs
) -> None:
    account = await register(stubs, password=COMPOSED)
    # Before this change, the hash was of the password exactly as the client sent it.
    legacy = await running.app.hasher.hash(DECOMPOSED)
    async with running.app.database.transaction() as uow:
        await uow.users.set_password_hash(account.user.id, legacy)
    await login(stubs, account.user.email, DECOMPOSED)
    async with running.app.database.transaction() as uow:
        user = await uow.users.get(account.user.id)
        assert user is not None
    assert user.password_hash != legacy
    # Rehashed in the prepared form: a composed password now matches on the first check.
    checks = running.app.hasher.verifications
    await login(stubs, account.user.email, COMPOSED)
    assert running.app.hasher.verifications == checks + 1


async def test_the_legacy_fallback_spends_the_budget_and_grants_no_extra_guess(
    running: RunningServer, stubs: Stubs
) -> None:
    account = await register(stubs, password=COMPOSED)
    checks = running.app.hasher.verifications
    # Each guess that preparation changes costs two checks, and the budget counts checks.
    for _ in range(2):
        await expect_status(login(stubs, account.user.email, DECOMPOSED + "x"), UNAUTH)
    error = await expect_status(
        login(stubs, account.user.email, COMPOSED), grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert reason(error) == "LOGIN_THROTTLED"
    assert running.app.hasher.verifications - checks == 4


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "\u200b\u200b",  # zero-width spaces only
        "\u202e\u2066",  # bidi controls only
        "Asha\u202eahsA",  # a bidi override inside
        "\u200dAsha",  # a joiner where no script needs one
        "\u0301\u0301",  # combining marks, nothing visible they combine with
        "...",  # no letter or digit
        "\U000f0000 private",  # private use
        "bad\x00name",
    ],
)
async def test_names_without_visible_letters_or_with_invisible_controls_are_refused(
    stubs: Stubs, name: str
) -> None:
    error = await expect_status(
        stubs.auth.Register(
            auth_pb2.RegisterRequest(email="n@example.com", password="long-enough", name=name)
        ),
        INVALID,
    )
    assert violated_fields(error) == {"name"}


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("\uff21\uff53\uff48\uff41", "Asha"),  # full-width
        ("  Asha \u00a0  Rao ", "Asha Rao"),
        ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),  # Devanagari half form with ZWJ
        ("Zoe\u0308", "Zoë"),
    ],
)
async def test_names_are_nfkc_with_spaces_collapsed(stubs: Stubs, raw: str, stored: str) -> None:
    reply = await stubs.auth.Register(
        auth_pb2.RegisterRequest(email="name@example.com", password="long-enough", name=raw)
    )
    assert reply.user.name == stored


# --- emails ----------------------------------------------------------------------------


async def test_a_full_width_email_is_the_plain_address(stubs: Stubs) -> None:
    account = await register(stubs, "asha@example.com")
    full_width = "\uff41\uff53\uff48\uff41@example.com"
    error = await expect_status(
        stubs.auth.Register(
            auth_pb2.RegisterRequest(email=full_width, password="long-enough", name="A")
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert reason(error) == "EMAIL_TAKEN"
    reply = await login(stubs, full_width, account.password)
    assert reply.user.id == account.user.id


@pytest.mark.parametrize(
    "email", ["as\u200bha@example.com", "asha\x00@example.com", "\u202easha@example.com"]
)
async def test_emails_with_invisible_or_control_characters_are_refused(
    stubs: Stubs, email: str
) -> None:
    error = await expect_status(
        stubs.auth.Register(
            auth_pb2.RegisterRequest(email=email, password="long-enough", name="A")
        ),
        INVALID,
    )
    assert violated_fields(error) == {"email"}
    # And at sign-in they are simply wrong credentials, before any SQL.
    error = await expect_status(login(stubs, email, "long-enough"), UNAUTH)
    assert reason(error) == "BAD_CREDENTIALS"


async def test_an_account_stored_before_email_folding_still_signs_in(
    running: RunningServer, stubs: Stubs
) -> None:
    account = await register(stubs, "plain@example.com")
    legacy = "\uff50lain@example.com"  # what the old code stored for a full-width address
    async with running.app.database.transaction() as uow:
        await uow.session.execute(
            update(User).where(User.id == account.user.id).values(email=legacy)
        )
    reply = await login(stubs, legacy, account.password)
    assert reply.user.id == account.user.id


# --- the domain, for what the wire cannot carry ------------------------------------------


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[AuthService]:
    settings = make_settings(database_url)
    database = Database(create_engine(database_url))
    hasher = PasswordHasher("test_only_cheap", concurrency=1)
    codec = AccessTokenCodec(
        settings.jwt_secret_key.get_secret_value(), "HS256", "samvaad", "samvaad-api",
        timedelta(minutes=15),
    )  # fmt: skip
    yield AuthService.from_settings(settings, database, hasher, codec)
    hasher.close()
    await database.dispose()


@pytest.mark.parametrize("bad", [chr(0xD800), chr(0xDFFF), "\x00", "\x1b[2J"])
async def test_surrogates_and_controls_in_any_field_are_clear_refusals(
    service: AuthService, bad: str
) -> None:
    for email, password, name in [
        (f"a{bad}@example.com", "long-enough", "A"),
        ("a@example.com", f"long-enough{bad}", "A"),
        ("a@example.com", "long-enough", f"A{bad}"),
    ]:
        with pytest.raises(InvalidArgument):
            await service.register(email, password, name, "192.0.2.1")
    profile, tokens = await service.register("ok@example.com", "long-enough", "Ok", "192.0.2.1")
    for email, password in [(f"ok{bad}@example.com", "long-enough"), (profile.email, bad * 9)]:
        with pytest.raises(Unauthenticated) as caught:
            await service.login(email, password, "192.0.2.1")
        assert caught.value.reason == "BAD_CREDENTIALS"
    with pytest.raises(Unauthenticated) as refused:
        await service.refresh(tokens.refresh_token[:-1] + bad)
    assert refused.value.reason == "REFRESH_TOKEN_INVALID"
    with pytest.raises(NotFound):
        await service.logout(profile.id, bad)


# --- profiles and the display-text sanitiser -------------------------------------------


def test_prepare_password_is_idempotent_and_maps_spaces() -> None:
    assert prepare_password(DECOMPOSED) == COMPOSED
    assert prepare_password(prepare_password("a\u2003b")) == "a b"


def test_normalise_name_keeps_joiners_only_between_letters() -> None:
    assert normalise_name("\u0d28\u0d4d\u200d") != ""  # raises if refused: it is not
    with pytest.raises(ValueError, match="format"):
        normalise_name("Asha\u200d")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("resume\u202efdp.exe", "resumefdp.exe"),
        ("\u2066cv\u2069.pdf", "cv.pdf"),
        ("my\tcv\n(final).pdf", "my cv (final).pdf"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ("Cafe\u0301.txt", "Café.txt"),
        ("\ud800half.pdf", "half.pdf"),
        ("\u202e\u200b", ""),
        ("x" * 300, "x" * 255),
    ],
)
def test_clean_display_text_removes_controls_and_bidi_overrides(raw: str, clean: str) -> None:
    assert clean_display_text(raw) == clean


def test_clean_display_text_falls_back_when_nothing_visible_is_left() -> None:
    assert clean_display_text("\u202e\x00 ", fallback="resume") == "resume"
    assert clean_display_text("cv.pdf", max_chars=2) == "cv"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\asha\\cv\u202efdp.exe", "cvfdp.exe"),
        ("../../etc/passwd", "passwd"),
        ("..hidden.pdf", "hidden.pdf"),
        ("\u202e", "upload"),
        ("dir/", "upload"),
    ],
)
def test_clean_filename_keeps_only_a_visible_last_component(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        # Mostly whitespace, so a guard that ran after trimming would not refuse it.
        ("email", " " * 5000 + "big@example.com", "longer than 320"),
        ("name", "Big" + " " * 5000, "at most 128"),
        ("password", "\u00e9" * 2_000_000, "at most 1024"),
    ],
)
async def test_huge_fields_are_refused_before_per_character_work(
    service: AuthService, field: str, value: str, says: str
) -> None:
    values = {"email": "big@example.com", "password": "long-enough", "name": "Big"}
    values[field] = value
    with pytest.raises(InvalidArgument) as caught:
        await service.register(values["email"], values["password"], values["name"], "192.0.2.1")
    assert {v.field for v in caught.value.violations} == {field}
    assert says in caught.value.message
    with pytest.raises(Unauthenticated):
        await service.login(values["email"], values["password"], "192.0.2.1")
