"""The server process: health, reflection, limits, TLS, signals, workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from generated.samvaad.v1 import auth_pb2, auth_pb2_grpc
from server.app import SERVICE_NAMES, bind, build_app, create_server, mark_serving, shut_down
from tests.helpers import (
    RunningServer,
    Stubs,
    expect_status,
    make_settings,
    start_server,
    stop_server,
)

ROOT = Path(__file__).resolve().parent.parent
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_every_service_reports_serving(stubs: Stubs) -> None:
    health = health_pb2_grpc.HealthStub(stubs.channel)
    for name in ["", *SERVICE_NAMES]:
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == SERVING, name


async def test_reflection_lists_and_describes_the_services(stubs: Stubs) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = await call.read()
    services = {s.name for s in listed.list_services_response.service}
    assert set(SERVICE_NAMES) <= services
    assert "grpc.health.v1.Health" in services
    await call.write(
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="samvaad.v1.AuthService")
    )
    described = await call.read()
    await call.done_writing()
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in described.file_descriptor_response.file_descriptor_proto
    ]
    auth_file = next(f for f in files if f.name == "samvaad/v1/auth.proto")
    assert "Register" in [m.name for m in auth_file.service[0].method]


async def test_health_turns_not_serving_as_soon_as_shutdown_starts(running: RunningServer) -> None:
    health = health_pb2_grpc.HealthStub(running.stubs.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service="samvaad.v1.AuthService"))
    first = await watch.read()
    assert first.status == SERVING
    shutdown = asyncio.create_task(shut_down(running.server, running.app))
    second = await asyncio.wait_for(watch.read(), timeout=5)
    assert second.status == NOT_SERVING
    await shutdown


async def test_oversized_messages_are_refused_by_the_transport(stubs: Stubs) -> None:
    huge = "x" * (9 * 1024 * 1024)
    await expect_status(
        stubs.auth.Register(
            auth_pb2.RegisterRequest(email="a@example.com", password=huge, name="A")
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_when_a_certificate_and_key_are_configured(
    database_url: str, tmp_path: Path
) -> None:
    cert, key = _self_signed_certificate(tmp_path)
    settings = make_settings(database_url, TLS_CERT_FILE=str(cert), TLS_KEY_FILE=str(key))
    app = build_app(settings)
    server = create_server(app)
    port = bind(server, settings)
    await server.start()
    await mark_serving(app)
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
            reply = await auth_pb2_grpc.AuthServiceStub(channel).Register(
                auth_pb2.RegisterRequest(email="tls@example.com", password="password-1", name="T")
            )
            assert reply.user.id > 0
        # A plaintext client cannot talk to it.
        async with grpc.aio.insecure_channel(f"localhost:{port}") as plain:
            await expect_status(
                auth_pb2_grpc.AuthServiceStub(plain).Login(
                    auth_pb2.LoginRequest(email="tls@example.com", password="password-1"), timeout=3
                ),
                grpc.StatusCode.UNAVAILABLE,
            )
    finally:
        await shut_down(server, app)


# --- the real process -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATABASE_URL"))}
    env.update(
        BACKEND_SERVER_PORT=str(port),
        SQLITE_PATH=str(tmp_path / "samvaad.db"),
        PASSWORD_HASH_PROFILE="test_only_cheap",
        LOG_FORMAT="json",
        SERVER_GRACE_PERIOD_SECONDS="3",
        **extra,
    )
    return env


@pytest.fixture
def server_process(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    extra = getattr(request, "param", {})
    process = subprocess.Popen(
        [sys.executable, "-m", "server"],
        cwd=tmp_path,
        env=_server_env(tmp_path, port, **extra),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_serving(port, process)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _wait_until_serving(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"server exited early: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError("server did not become healthy")


def _log_entries(stderr: str) -> list[dict[str, object]]:
    entries = []
    for line in stderr.splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_the_server_down_gracefully(
    server_process: tuple[subprocess.Popen[str], int], signum: int
) -> None:
    process, port = server_process
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = auth_pb2_grpc.AuthServiceStub(channel).Register(
            auth_pb2.RegisterRequest(email="proc@example.com", password="password-1", name="P"),
            metadata=(("x-request-id", "proc-req-1"),),
        )
        assert reply.user.id == 1
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    messages = [(e["message"], e.get("request_id")) for e in _log_entries(stderr)]
    assert ("rpc finished", "proc-req-1") in messages
    assert ("shutting down", "-") in messages
    assert messages[-1][0] == "stopped"


@pytest.mark.parametrize("server_process", [{"BACKEND_SERVER_WORKERS": "2"}], indirect=True)
def test_several_workers_share_the_port(server_process: tuple[subprocess.Popen[str], int]) -> None:
    process, port = server_process
    # Each worker migrates nothing (the parent did) and listens on the same port.
    deadline = time.monotonic() + 30
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest()).status == SERVING
    while time.monotonic() < deadline:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        if len(children) >= 2:
            break
        time.sleep(0.2)
    time.sleep(2)  # let the second worker finish binding before stopping
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    listening = {e.get("pid") for e in _log_entries(stderr) if e["message"] == "samvaad listening"}
    assert len(listening) == 2, stderr
    assert sum(1 for e in _log_entries(stderr) if e["message"] == "stopped") == 2


def test_production_refuses_to_start_with_the_default_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server"],
        cwd=tmp_path,
        env=_server_env(tmp_path, _free_port(), ENVIRONMENT="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "JWT_SECRET_KEY" in result.stderr
    assert not (tmp_path / "samvaad.db").exists(), "nothing should happen before the check"


async def test_a_subset_of_services_can_be_served(database_url: str) -> None:
    settings = make_settings(database_url, SAMVAAD_SERVICES="transcription,analysis")
    running = await start_server(settings)
    try:
        health = health_pb2_grpc.HealthStub(running.stubs.channel)
        served = await health.Check(
            health_pb2.HealthCheckRequest(service="samvaad.v1.TranscriptionService")
        )
        assert served.status == SERVING
        await expect_status(
            health.Check(health_pb2.HealthCheckRequest(service="samvaad.v1.AuthService")),
            grpc.StatusCode.NOT_FOUND,
        )
        await expect_status(
            running.stubs.auth.Register(
                auth_pb2.RegisterRequest(email="a@example.com", password="password-1", name="A")
            ),
            grpc.StatusCode.UNIMPLEMENTED,
        )
        stub = reflection_pb2_grpc.ServerReflectionStub(running.stubs.channel)
        call = stub.ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        listed = {s.name for s in (await call.read()).list_services_response.service}
        await call.done_writing()
        assert "samvaad.v1.TranscriptionService" in listed
        assert "samvaad.v1.AuthService" not in listed
    finally:
        await stop_server(running)


async def test_calls_are_still_taken_while_draining(database_url: str) -> None:
    running = await start_server(make_settings(database_url, SERVER_DRAIN_SECONDS=2))
    health = health_pb2_grpc.HealthStub(running.stubs.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await watch.read()).status == SERVING
    shutdown = asyncio.create_task(shut_down(running.server, running.app))
    assert (await asyncio.wait_for(watch.read(), timeout=5)).status == NOT_SERVING
    reply = await running.stubs.auth.Register(
        auth_pb2.RegisterRequest(email="late@example.com", password="password-1", name="L"),
        timeout=1,
    )
    assert reply.user.id > 0
    assert not shutdown.done()
    await shutdown
    await running.stubs.channel.close()
