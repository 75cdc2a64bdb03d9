"""PostgreSQL restarted under a load of writes.

The test runs its own PostgreSQL (initdb in a temporary folder, a free port, a private
socket directory), so the shared server on 5432 is never disturbed. While writers keep
registering accounts, it stops the database abruptly (`pg_ctl stop -m immediate`, as a
crash would), keeps it down for a moment, and starts it again. Then:

- every call that returned OK is in the database;
- every call that failed, failed with UNAVAILABLE before its deadline;
- the server recovers by itself: writes succeed again without it being restarted.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc
import pytest

from generated.samvaad.v1 import auth_pb2
from server.db.migrate import upgrade_to_head
from tests.helpers import RunningServer, make_settings, start_server, stop_server


def _postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries, or the ones on PATH."""
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if installed:
        return installed[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


BIN_DIR = _postgres_bin_dir()
pytestmark = pytest.mark.skipif(
    BIN_DIR is None, reason="no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
)

WRITERS = 4
CALL_DEADLINE_SECONDS = 20.0
OUTAGE_SECONDS = 2.0
MAX_WRITES = 5000
# Bounds on each phase: a broken server fails the test instead of hanging it.
PHASE_TIMEOUT_SECONDS = 60.0


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster owned by this test."""

    bin_dir: Path
    root: Path
    port: int
    run_as: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [*self.run_as, str(self.bin_dir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.root / "postgres.log"
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stderr}\n{server_log[-3000:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unprivileged_runner(root: Path) -> list[str]:
    """initdb refuses to run as root: run the cluster as the `postgres` user then."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root, and there is no `postgres` user to run PostgreSQL as")
    os.chown(root, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    assert BIN_DIR is not None
    # Not pytest's tmp_path: its parents are private to root, and the cluster may run as
    # another user.
    root = Path(tempfile.mkdtemp(prefix="samvaad-pg-"))
    cluster = PrivatePostgres(BIN_DIR, root, _free_port(), _unprivileged_runner(root))
    try:
        cluster.init()
        cluster.start()
        upgrade_to_head(cluster.url)
        yield cluster
    finally:
        if cluster.is_running():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Write:
    email: str
    code: grpc.StatusCode
    seconds: float
    started_at: float  # time.monotonic()


class WriteLoad:
    """Writers registering new accounts until told to stop (or MAX_WRITES)."""

    def __init__(self, running: RunningServer) -> None:
        self._running = running
        self.writes: list[Write] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._writer()) for _ in range(WRITERS)]

    async def finish(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def succeeded_since(self, moment: float) -> int:
        return sum(1 for w in self.writes if w.code == grpc.StatusCode.OK and w.started_at > moment)

    def failed_since(self, moment: float) -> int:
        return sum(1 for w in self.writes if w.code != grpc.StatusCode.OK and w.started_at > moment)

    async def _writer(self) -> None:
        while not self._stop.is_set() and len(self.writes) < MAX_WRITES:
            email = f"load-{uuid.uuid4().hex[:12]}@example.com"
            started = time.monotonic()
            try:
                await self._running.stubs.auth.Register(
                    auth_pb2.RegisterRequest(email=email, password="password-123", name="Load"),
                    timeout=CALL_DEADLINE_SECONDS,
                )
                code = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as error:
                code = error.code()
                await asyncio.sleep(0.05)  # a client backing off
            self.writes.append(Write(email, code, time.monotonic() - started, started))


async def wait_for(condition_met: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    while not condition_met():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def stored_emails(url: str) -> set[str]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return {row["email"] for row in await connection.fetch("SELECT email FROM users")}
    finally:
        await connection.close()


async def test_a_restart_under_writes_loses_no_acknowledged_write_and_heals_by_itself(
    private_postgres: PrivatePostgres,
) -> None:
    running = await start_server(make_settings(private_postgres.url))
    load = WriteLoad(running)
    try:
        load.start()
        await wait_for(lambda: load.succeeded_since(0) >= 20, "the load is established")
        outage_began = time.monotonic()
        await asyncio.to_thread(private_postgres.stop, "immediate")
        await wait_for(lambda: load.failed_since(outage_began) >= WRITERS, "calls fail")
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(private_postgres.start)
        back = time.monotonic()
        await wait_for(lambda: load.succeeded_since(back) >= 20, "writes succeed again")
    finally:
        await load.finish()
        await stop_server(running)

    acknowledged = {w.email for w in load.writes if w.code == grpc.StatusCode.OK}
    missing = acknowledged - await stored_emails(private_postgres.url)
    assert not missing, f"{len(missing)} acknowledged registrations were lost"
    failures = [w for w in load.writes if w.code != grpc.StatusCode.OK]
    assert failures, "the outage should have failed some calls"
    assert {w.code for w in failures} == {grpc.StatusCode.UNAVAILABLE}
    slowest = max(w.seconds for w in failures)
    assert slowest < CALL_DEADLINE_SECONDS, f"a failing call took {slowest:.1f} s"
