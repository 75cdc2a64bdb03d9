"""Wiring: settings in, a running grpc.aio server out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from generated.samvaad.v1 import (
    analysis_pb2,
    analysis_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    interview_pb2,
    interview_pb2_grpc,
    resume_pb2,
    resume_pb2_grpc,
    transcription_pb2,
    transcription_pb2_grpc,
)
from server.api.analysis_servicer import AnalysisServicer
from server.api.auth_servicer import AuthServicer
from server.api.interceptors import CallInterceptor, is_public
from server.api.interview_servicer import InterviewServicer
from server.api.receive_guard import ReceiveGuard
from server.api.resume_servicer import ResumeServicer
from server.api.transcription_servicer import TranscriptionServicer
from server.audio import AudioIntake
from server.config import Settings
from server.db.engine import create_engine
from server.domain.analysis.content.openai_analyser import create_content_analyser
from server.domain.analysis.service import AnalysisService
from server.domain.auth import AuthService
from server.domain.followups import FollowUpService
from server.domain.interviews import InterviewService
from server.domain.paging import PageTokenCodec
from server.domain.passwords import PasswordHasher
from server.domain.profiles import ProfileService
from server.domain.questions.bank import load_bank
from server.domain.questions.follow_up import create_follow_up_writer
from server.domain.questions.offline import OfflineQuestionGenerator
from server.domain.questions.openai_generator import OpenAIQuestionGenerator
from server.domain.questions.types import QuestionGenerator
from server.domain.resume.service import ResumeService
from server.domain.tokens import AccessTokenCodec
from server.domain.transcriptions import TranscriptionService
from server.engines.llm import OpenAIJsonChat
from server.engines.stt import TranscriptionEngine
from server.engines.stt import create_engine as create_stt_engine
from server.repositories.unit_of_work import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    full_name: str
    register: Callable[[App, grpc.aio.Server], None]


def _full_name(module: Any, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)


# Every service, by the name SAMVAAD_SERVICES / --services uses.
SERVICES: dict[str, ServiceSpec] = {
    "auth": ServiceSpec(
        _full_name(auth_pb2, "AuthService"),
        lambda app, server: auth_pb2_grpc.add_AuthServiceServicer_to_server(
            AuthServicer(app.auth, app.profiles, app.settings.trusted_proxy_networks), server
        ),
    ),
    "resume": ServiceSpec(
        _full_name(resume_pb2, "ResumeService"),
        lambda app, server: resume_pb2_grpc.add_ResumeServiceServicer_to_server(
            ResumeServicer(app.resumes), server
        ),
    ),
    "interview": ServiceSpec(
        _full_name(interview_pb2, "InterviewService"),
        lambda app, server: interview_pb2_grpc.add_InterviewServiceServicer_to_server(
            InterviewServicer(app.interviews, app.follow_ups), server
        ),
    ),
    "transcription": ServiceSpec(
        _full_name(transcription_pb2, "TranscriptionService"),
        lambda app, server: transcription_pb2_grpc.add_TranscriptionServiceServicer_to_server(
            TranscriptionServicer(app.transcriptions, app.settings.audio_idle_timeout_seconds),
            server,
        ),
    ),
    "analysis": ServiceSpec(
        _full_name(analysis_pb2, "AnalysisService"),
        lambda app, server: analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(
            AnalysisServicer(app.analyses), server
        ),
    ),
}
SERVICE_NAMES = [spec.full_name for spec in SERVICES.values()]


def served_names(settings: Settings) -> list[str]:
    return [spec.full_name for key, spec in SERVICES.items() if key in settings.services]


@dataclass
class App:
    """Everything a server process holds, built once at start-up."""

    settings: Settings
    database: Database
    hasher: PasswordHasher
    auth: AuthService
    resumes: ResumeService
    profiles: ProfileService
    interviews: InterviewService
    follow_ups: FollowUpService
    transcriptions: TranscriptionService
    analyses: AnalysisService
    stt_engine: TranscriptionEngine
    audio_intake: AudioIntake
    access_tokens: AccessTokenCodec
    llm: OpenAIJsonChat | None = None
    owns_stt_engine: bool = True
    health: Any = field(default_factory=health_aio.HealthServicer)

    async def start(self) -> None:
        """Slow start-up work, done before the server reports SERVING."""
        if "transcription" in self.settings.services:
            await self.stt_engine.load()
        removed = self.audio_intake.remove_stale_uploads()
        if removed:
            log.info("removed stale uploads", extra={"count": removed})

    async def close(self) -> None:
        """Release everything. Every closer runs, even when one before it fails."""
        async with contextlib.AsyncExitStack() as closers:
            # Last in, first out: the database goes last, after whatever may still use it.
            closers.push_async_callback(self.database.dispose)
            if self.llm is not None:
                closers.push_async_callback(self.llm.close)
            if self.owns_stt_engine:
                closers.push_async_callback(self.stt_engine.close)
            closers.callback(self.audio_intake.close)
            closers.push_async_callback(self.resumes.close)
            closers.callback(self.hasher.close)


def build_app(settings: Settings, stt_engine: TranscriptionEngine | None = None) -> App:
    """Everything wired from settings. Tests pass a loaded `stt_engine` to share one model."""
    database = Database(
        create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            statement_timeout_s=settings.db_statement_timeout_seconds,
        )
    )
    hasher = PasswordHasher(settings.password_hash_profile, settings.password_hash_workers)
    access_tokens = AccessTokenCodec(
        secret=settings.jwt_secret_key.get_secret_value(),
        algorithm=settings.jwt_algorithm,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
    )
    auth = AuthService.from_settings(settings, database, hasher, access_tokens)
    llm = OpenAIJsonChat.from_settings(settings)
    resumes = ResumeService.from_settings(settings, database, llm)
    bank = load_bank()
    offline_questions = OfflineQuestionGenerator(bank)
    generator: QuestionGenerator = (
        OpenAIQuestionGenerator(llm, offline_questions) if llm else offline_questions
    )
    profiles = ProfileService(database)
    interviews = InterviewService(
        database,
        generator,
        profiles=resumes.candidate_profile,
        page_tokens=PageTokenCodec(settings.jwt_secret_key.get_secret_value().encode()),
        track_aliases=bank.track_aliases,
        bank=bank,
        tailoring=profiles.tailored,
    )
    engine = stt_engine or create_stt_engine(settings)
    audio_intake = AudioIntake.from_settings(settings)
    transcriptions = TranscriptionService(
        database, audio_intake, engine, profiles=resumes.candidate_profile
    )
    analyses = AnalysisService(
        database,
        create_content_analyser(llm),
        profiles=resumes.candidate_profile,
        track_aliases=bank.track_aliases,
    )
    return App(
        settings=settings,
        analyses=analyses,
        database=database,
        hasher=hasher,
        auth=auth,
        resumes=resumes,
        profiles=profiles,
        interviews=interviews,
        follow_ups=FollowUpService(database, create_follow_up_writer(llm)),
        transcriptions=transcriptions,
        stt_engine=engine,
        audio_intake=audio_intake,
        access_tokens=access_tokens,
        llm=llm,
        owns_stt_engine=stt_engine is None,
    )


STREAM_WINDOW_BYTES = 256 * 1024


def server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
        ("grpc.max_send_message_length", settings.max_send_message_bytes),
        ("grpc.keepalive_time_ms", settings.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        (
            "grpc.http2.min_recv_ping_interval_without_data_ms",
            settings.keepalive_min_client_ping_ms,
        ),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.max_connection_idle_ms", settings.max_connection_idle_ms),
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
        # A fixed receive window per stream. With BDP probing the window grows to
        # several MiB, and every upload arriving faster than it is written to disk
        # parks that much in transport buffers: ten 25 MiB uploads took 60-220 MiB of
        # RSS instead of 15 (docs/benchmarks.md). 256 KiB still moves 2.5 MiB/s per
        # upload at 100 ms of round trip.
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", STREAM_WINDOW_BYTES),
        # Only share the port when several workers are meant to; otherwise a
        # second server started by mistake fails loudly instead of splitting traffic.
        ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
    ]


def create_server(app: App) -> grpc.aio.Server:
    server = grpc.aio.server(
        interceptors=[
            # First: it decides whether a request is read at all.
            ReceiveGuard(
                app.access_tokens.user_id_of,
                is_public,
                slots=app.settings.unauthenticated_receive_slots,
                timeout_seconds=app.settings.unauthenticated_receive_timeout_seconds,
            ),
            # Then request ids, logging, errors and authentication, in one layer.
            CallInterceptor(app.auth.authenticate),
        ],
        options=server_options(app.settings),
        maximum_concurrent_rpcs=None,
    )
    for key, spec in SERVICES.items():
        if key in app.settings.services:
            spec.register(app, server)
    health_pb2_grpc.add_HealthServicer_to_server(app.health, server)
    reflection.enable_server_reflection(
        [
            *served_names(app.settings),
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    return server


class PortUnavailable(RuntimeError):
    """The address to listen on is taken (or not ours to take)."""


def _address_problem(settings: Settings) -> str:
    return (
        f"cannot listen on {settings.host}:{settings.port}: it is in use or not available; "
        "stop the other server or choose another port with BACKEND_SERVER_PORT"
    )


def check_port_free(settings: Settings) -> None:
    """Fail at once, before migrations and model loading, when the port is taken.

    Advisory (the real bind can still lose a race), so `bind` reports the same way.
    Skipped for port 0 and for several workers, which share the port on purpose.
    """
    if settings.port == 0 or settings.workers > 1:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host.strip("[]"), settings.port, type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, proto) as probe:
            # As gRPC binds: SO_REUSEADDR still refuses a port someone listens on.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise PortUnavailable(_address_problem(settings)) from error


def bind(server: grpc.aio.Server, settings: Settings) -> int:
    address = f"{settings.host}:{settings.port}"
    try:
        if settings.tls_cert_file and settings.tls_key_file:
            credentials = grpc.ssl_server_credentials(
                [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())]
            )
            port: int = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as error:  # grpc: "Failed to bind to address ..."
        raise PortUnavailable(_address_problem(settings)) from error
    if port == 0:
        raise PortUnavailable(_address_problem(settings))
    return port


async def mark_serving(app: App) -> None:
    for name in ["", *served_names(app.settings)]:
        await app.health.set(name, health_pb2.HealthCheckResponse.SERVING)


async def stop_serving(server: grpc.aio.Server, app: App) -> None:
    """Health goes NOT_SERVING first, so load balancers drain; then calls finish."""
    await app.health.enter_graceful_shutdown()
    if app.settings.drain_seconds:
        await asyncio.sleep(app.settings.drain_seconds)
    await server.stop(app.settings.grace_period_seconds)


async def shut_down(server: grpc.aio.Server, app: App) -> None:
    """Stop serving, then release what the app holds (even if stopping failed)."""
    try:
        await stop_serving(server, app)
    finally:
        await app.close()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT. Whatever was started is stopped, however start-up ends.

    Start-up and shut-down are one stack (as in grpc's graceful-shutdown example): each
    step that succeeds registers its undoing, so a failed bind or a model that does not
    load still closes the database and the worker pools, in reverse order.
    """
    async with contextlib.AsyncExitStack() as running:
        app = build_app(settings)
        running.push_async_callback(app.close)
        server = create_server(app)
        port = bind(server, settings)  # before the slow start-up work: fail fast
        await app.start()
        await server.start()
        running.push_async_callback(stop_serving, server, app)
        await mark_serving(app)
        log.info(
            "samvaad listening",
            extra={
                "address": f"{settings.host}:{port}",
                "tls": settings.tls_cert_file is not None,
                "pid": os.getpid(),
            },
        )
        await _until_signalled()
        log.info("shutting down", extra={"grace_period_s": settings.grace_period_seconds})
    log.info("stopped")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
