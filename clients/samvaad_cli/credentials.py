"""Tokens kept between runs, one pair per server, in a file only the user can read."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from generated.samvaad.v1 import auth_pb2

CONFIG_DIR_ENV = "SAMVAAD_CONFIG_DIR"
CREDENTIALS_FILE = "credentials.json"


def config_dir() -> Path:
    """SAMVAAD_CONFIG_DIR, else the platform's per-user config directory."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_config_dir("samvaad"))


@dataclass(frozen=True)
class Credentials:
    email: str
    access_token: str
    access_token_expire_time: datetime
    refresh_token: str
    refresh_token_expire_time: datetime

    @classmethod
    def from_tokens(cls, email: str, tokens: auth_pb2.AuthTokens) -> Credentials:
        return cls(
            email=email,
            access_token=tokens.access_token,
            access_token_expire_time=tokens.access_token_expire_time.ToDatetime(tzinfo=UTC),
            refresh_token=tokens.refresh_token,
            refresh_token_expire_time=tokens.refresh_token_expire_time.ToDatetime(tzinfo=UTC),
        )

    def to_json(self) -> dict[str, str]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credentials:
        return cls(
            email=str(data["email"]),
            access_token=str(data["access_token"]),
            access_token_expire_time=datetime.fromisoformat(data["access_token_expire_time"]),
            refresh_token=str(data["refresh_token"]),
            refresh_token_expire_time=datetime.fromisoformat(data["refresh_token_expire_time"]),
        )


class CredentialStore:
    """`credentials.json` in the config directory, keyed by server address.

    The directory is 0700 and the file 0600 from the moment it exists: it is
    written to a private temporary file and renamed into place, so a reader
    never sees a half-written file or one with looser permissions.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / CREDENTIALS_FILE

    def load(self, server: str) -> Credentials | None:
        entry = self._read().get(server)
        return Credentials.from_json(entry) if isinstance(entry, dict) else None

    def save(self, server: str, credentials: Credentials) -> None:
        servers = self._read()
        servers[server] = credentials.to_json()
        self._write(servers)

    def forget(self, server: str) -> None:
        servers = self._read()
        if servers.pop(server, None) is not None:
            self._write(servers)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable or corrupt: treat as signed out rather than crash
        servers = data.get("servers") if isinstance(data, dict) else None
        return servers if isinstance(servers, dict) else {}

    def _write(self, servers: dict[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".credentials-")
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump({"servers": servers}, file, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
