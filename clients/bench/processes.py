"""Servers under test, each in a subprocess of its own, and their memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
# Settings a developer's shell might hold that would change what is measured.
_FOREIGN_ENV = ("OPENAI_", "DATABASE_URL", "POSTGRES_", "AUDIO_", "WHISPER_", "PASSWORD_")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    _log: IO[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        """Resident memory of the server and any children it started."""
        root = psutil.Process(self.process.pid)
        total = 0
        for member in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """User and system CPU time of the server process so far (all its threads)."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        """SIGTERM, so it drains as in production; SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._log.close()


def _start(
    name: str, command: list[str], port: int, workdir: Path, env: dict[str, str]
) -> ServerProcess:
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *command], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return ServerProcess(name, process, port, log_path, log)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
    # The subprocess must import this checkout's packages whatever the working directory.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def start_samvaad(
    workdir: Path, database_url: str | None, extra: dict[str, str] | None = None
) -> ServerProcess:
    """The real server as it runs in production: owasp argon2, JSON logs, one worker."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = _clean_env()
    env.update(
        ENVIRONMENT="production",
        JWT_SECRET_KEY=secrets.token_urlsafe(48),
        PASSWORD_HASH_PROFILE="owasp",
        BACKEND_SERVER_HOST="127.0.0.1",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        AUDIO_TEMP_DIR=str(workdir / "uploads"),
        DATABASE_URL=database_url or f"sqlite+aiosqlite:///{workdir / 'samvaad.db'}",
        **(extra or {}),
    )
    port = free_port()
    env["BACKEND_SERVER_PORT"] = str(port)
    return _start(f"samvaad-{workdir.name}", ["-m", "server"], port, workdir, env)


def start_bare(workdir: Path) -> ServerProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = ["-m", "clients.bench.bare", "--port", str(port)]
    return _start("bare", command, port, workdir, _clean_env())


async def wait_until_serving(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    async with grpc.aio.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited early; see {server.log_path}")
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name} did not become healthy; see {server.log_path}")
