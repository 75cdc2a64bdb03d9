"""Settings: environment variables, .env, the original backend's names, production guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from server.config import DEFAULT_JWT_SECRET, Settings


def settings(monkeypatch: pytest.MonkeyPatch, env_file: Path | None = None, **env: Any) -> Settings:
    for name in ("DATABASE_URL", "POSTGRES_HOST", "ENVIRONMENT", "JWT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=env_file)


def test_defaults_are_safe_for_development(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch)
    assert s.environment == "development"
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 50051, 1)
    assert s.database_url == "sqlite+aiosqlite:///var/samvaad.db"
    assert s.jwt_algorithm == "HS256"
    assert s.access_token_ttl_seconds == 900
    assert s.refresh_token_ttl_seconds == 30 * 24 * 3600
    assert not s.openai_enabled


def test_original_backend_variable_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(
        monkeypatch,
        BACKEND_SERVER_HOST="0.0.0.0",
        BACKEND_SERVER_PORT="6000",
        BACKEND_SERVER_WORKERS="3",
        POSTGRES_HOST="db.internal",
        POSTGRES_PORT="5433",
        POSTGRES_DB="interviews",
        POSTGRES_USERNAME="app",
        POSTGRES_PASSWORD="p@ss:word",
        JWT_SECRET_KEY="k" * 40,
        JWT_ALGORITHM="HS384",
        OPENAI_API_KEY="sk-live",
        OPENAI_MODEL="gpt-4.1-mini",
    )
    assert (s.host, s.port, s.workers) == ("0.0.0.0", 6000, 3)
    assert s.database_url == "postgresql+asyncpg://app:p%40ss%3Aword@db.internal:5433/interviews"
    assert s.jwt_secret_key.get_secret_value() == "k" * 40
    assert s.jwt_algorithm == "HS384"
    assert s.openai_enabled and s.openai_model == "gpt-4.1-mini"


def test_database_url_wins_over_postgres_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, POSTGRES_HOST="ignored", DATABASE_URL="postgresql://u@h:1/d")
    assert s.database_url == "postgresql+asyncpg://u@h:1/d"


def test_dotenv_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BACKEND_SERVER_PORT=7000\nLOG_LEVEL=DEBUG\n")
    s = settings(monkeypatch, env_file=env_file, LOG_LEVEL="WARNING")
    assert s.port == 7000
    assert s.log_level == "WARNING"


@pytest.mark.parametrize(
    "secret",
    [None, DEFAULT_JWT_SECRET, "short-secret", "x" * 31],
    ids=["unset", "default", "short", "31"],
)
def test_production_refuses_default_or_short_secrets(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    env: dict[str, Any] = {"ENVIRONMENT": "production"}
    if secret is not None:
        env["JWT_SECRET_KEY"] = secret
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY"):
        settings(monkeypatch, **env)


def test_production_accepts_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, ENVIRONMENT="production", JWT_SECRET_KEY="s" * 32)
    assert s.environment == "production"


def test_production_refuses_cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="PASSWORD_HASH_PROFILE"):
        settings(
            monkeypatch,
            ENVIRONMENT="production",
            JWT_SECRET_KEY="s" * 40,
            PASSWORD_HASH_PROFILE="test_only_cheap",
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWT_ALGORITHM", "none"),
        ("JWT_ALGORITHM", "RS256"),
        ("BACKEND_SERVER_PORT", "70000"),
        ("BACKEND_SERVER_WORKERS", "0"),
        ("TLS_CERT_FILE", "/only/the/cert.pem"),
        ("SAMVAAD_SERVICES", "auth,billing"),
        ("SAMVAAD_SERVICES", " , "),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    env: dict[str, Any] = {name: value}
    with pytest.raises(ValidationError):
        settings(monkeypatch, **env)


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parent.parent / ".env.example").read_text()
    documented = {
        line.split("=")[0].lstrip("# ").strip() for line in example.splitlines() if "=" in line
    }
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names = {alias} if isinstance(alias, str) else set(getattr(alias, "choices", []))
        assert names & documented, f"{name} ({names}) is missing from .env.example"
