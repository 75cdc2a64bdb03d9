"""A connection to one Samvaad server, with the signed-in user's tokens.

Access tokens live 15 minutes. Rather than make the user sign in again, every
authenticated call refreshes first when the token is about to expire, and once
more when the server still answers UNAUTHENTICATED with reason TOKEN_EXPIRED
(clock skew, or a token that expired between the check and the call).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.samvaad_cli.credentials import Credentials, CredentialStore
from clients.samvaad_cli.errors import CliError, NotSignedIn, reason_of
from generated.samvaad.v1 import (
    analysis_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    interview_pb2_grpc,
    resume_pb2_grpc,
    transcription_pb2_grpc,
)

T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...]

DEFAULT_SERVER = "127.0.0.1:50051"
SERVER_ENV = "SAMVAAD_SERVER"
# Refresh this long before the server would refuse the token, so a call that
# starts just before expiry does not fail half-way (an upload can take a while).
REFRESH_MARGIN = timedelta(seconds=30)
# Resume PDFs are up to 5 MiB by default; leave room for a larger server limit.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


# The server's own settings (server/config.py): when `make run` was told another port, the
# clients started the same way follow it.
SERVER_HOST_ENV = "BACKEND_SERVER_HOST"
SERVER_PORT_ENV = "BACKEND_SERVER_PORT"
# A server listening on every interface is reached on this machine through loopback.
_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}
# How long a missing sign-in waits to learn whether the server is there at all.
PROBE_TIMEOUT_SECONDS = 2.0


def default_server() -> str:
    """SAMVAAD_SERVER, else the address `make run` listens on (BACKEND_SERVER_HOST and
    BACKEND_SERVER_PORT, as the server reads them), else 127.0.0.1:50051."""
    if explicit := os.environ.get(SERVER_ENV):
        return explicit
    host = os.environ.get(SERVER_HOST_ENV, "").strip()
    port = os.environ.get(SERVER_PORT_ENV, "").strip()
    if not port:
        return DEFAULT_SERVER
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


@dataclass(frozen=True)
class ServerOptions:
    address: str = DEFAULT_SERVER
    tls: bool = False
    ca_cert: Path | None = None
    timeout_seconds: float = 30.0


def open_channel(options: ServerOptions) -> grpc.Channel:
    channel_options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    if not options.tls and options.ca_cert is None:
        return grpc.insecure_channel(options.address, options=channel_options)
    root = options.ca_cert.read_bytes() if options.ca_cert else None
    credentials = grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.secure_channel(options.address, credentials, options=channel_options)


class Session:
    """Stubs on one channel, plus the tokens for `options.address`."""

    def __init__(self, options: ServerOptions, store: CredentialStore | None = None) -> None:
        self.options = options
        self.store = store or CredentialStore()
        self.channel = open_channel(options)
        self.auth = auth_pb2_grpc.AuthServiceStub(self.channel)
        self.resume = resume_pb2_grpc.ResumeServiceStub(self.channel)
        self.interview = interview_pb2_grpc.InterviewServiceStub(self.channel)
        self.transcription = transcription_pb2_grpc.TranscriptionServiceStub(self.channel)
        self.analysis = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    @property
    def timeout(self) -> float:
        return self.options.timeout_seconds

    # --- signing in -------------------------------------------------------

    def register(self, email: str, password: str, name: str) -> auth_pb2.RegisterResponse:
        reply: auth_pb2.RegisterResponse = self.auth.Register(
            auth_pb2.RegisterRequest(email=email, password=password, name=name),
            timeout=self.timeout,
        )
        self._keep(reply.user.email, reply.tokens)
        return reply

    def login(self, email: str, password: str) -> auth_pb2.LoginResponse:
        reply: auth_pb2.LoginResponse = self.auth.Login(
            auth_pb2.LoginRequest(email=email, password=password), timeout=self.timeout
        )
        self._keep(reply.user.email, reply.tokens)
        return reply

    def logout(self) -> bool:
        """Revokes the stored refresh token and forgets the tokens. False: none were stored."""
        credentials = self.store.load(self.options.address)
        if credentials is None:
            return False
        try:
            self.call_authorized(
                lambda metadata: self.auth.Logout(
                    auth_pb2.LogoutRequest(refresh_token=credentials.refresh_token),
                    metadata=metadata,
                    timeout=self.timeout,
                )
            )
        finally:
            self.store.forget(self.options.address)
        return True

    def _keep(self, email: str, tokens: auth_pb2.AuthTokens) -> Credentials:
        credentials = Credentials.from_tokens(email, tokens)
        self.store.save(self.options.address, credentials)
        return credentials

    # --- authenticated calls ----------------------------------------------

    def call_authorized(self, call: Callable[[Metadata], T]) -> T:
        """Runs `call` with a bearer token, refreshing it when it has expired.

        `call` may run twice, so it must build its request afresh each time
        (a streaming call needs a new request iterator).
        """
        credentials = self._current_credentials()
        try:
            return call(_bearer(credentials))
        except grpc.RpcError as error:
            if not _is_expired_token(error):
                raise
        return call(_bearer(self.refresh(credentials)))

    def refresh(self, credentials: Credentials | None = None) -> Credentials:
        credentials = credentials or self.store.load(self.options.address)
        if credentials is None:
            raise NotSignedIn(self.options.address)
        try:
            reply = self.auth.RefreshToken(
                auth_pb2.RefreshTokenRequest(refresh_token=credentials.refresh_token),
                timeout=self.timeout,
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                self.store.forget(self.options.address)
                raise CliError(
                    f"your session on {self.options.address} has ended "
                    f"({reason_of(error) or 'refresh refused'}): run `samvaad login`"
                ) from None
            raise
        return self._keep(credentials.email, reply.tokens)

    def _current_credentials(self) -> Credentials:
        credentials = self.store.load(self.options.address)
        if credentials is None:
            self._raise_if_unreachable()
            raise NotSignedIn(self.options.address)
        if credentials.access_token_expire_time - REFRESH_MARGIN <= datetime.now(UTC):
            return self.refresh(credentials)
        return credentials

    def _raise_if_unreachable(self) -> None:
        """No tokens for this address: if nothing answers there either, that is the news
        (a mistyped --server is not a missing sign-in)."""
        try:
            self.health.Check(health_pb2.HealthCheckRequest(), timeout=PROBE_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise CliError(
                    f"cannot reach a Samvaad server at {self.options.address}: start one with "
                    "`make run`, or point --server (or SAMVAAD_SERVER) at yours"
                ) from None


def _bearer(credentials: Credentials) -> Metadata:
    return (("authorization", f"Bearer {credentials.access_token}"),)


def _is_expired_token(error: grpc.RpcError) -> bool:
    code = error.code()
    return bool(code == grpc.StatusCode.UNAUTHENTICATED and reason_of(error) == "TOKEN_EXPIRED")
