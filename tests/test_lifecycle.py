"""Start-up and shut-down: fail fast and clearly, and always release what was opened."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.app import PortUnavailable, build_app, check_port_free, serve
from tests.helpers import make_settings


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_a_port_in_use_ends_in_one_line_before_any_slow_step(
    tmp_path: Path, taken_port: int
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "BACKEND_SERVER_PORT": str(taken_port),
        "SQLITE_PATH": str(tmp_path / "samvaad.db"),
        "PASSWORD_HASH_PROFILE": "test_only_cheap",
    }
    result = subprocess.run(
        [sys.executable, "-m", "server"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "BACKEND_SERVER_PORT" in lines[0] and str(taken_port) in lines[0]
    assert not (tmp_path / "samvaad.db").exists(), "migrations ran before the port check"


def test_the_port_check_passes_a_free_port_and_port_zero() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    check_port_free(make_settings(BACKEND_SERVER_PORT=free))
    check_port_free(make_settings(BACKEND_SERVER_PORT=0))


async def test_a_failed_bind_is_reported_as_the_port_not_a_traceback(taken_port: int) -> None:
    # The advisory check can lose a race; the real bind must say the same thing.
    with pytest.raises(PortUnavailable, match="BACKEND_SERVER_PORT"):
        await serve(make_settings(BACKEND_SERVER_PORT=taken_port))


@dataclasses.dataclass
class FailingCloser:
    """Stands in for a part whose close() fails (an LLM client, an engine)."""

    closed: bool = False

    async def close(self) -> None:
        self.closed = True
        raise RuntimeError("close failed")

    async def load(self) -> None:
        return None


async def test_every_closer_runs_even_when_one_before_it_fails() -> None:
    app = build_app(make_settings())
    engine, llm = FailingCloser(), FailingCloser()
    parts: dict[str, Any] = {"stt_engine": engine, "llm": llm, "owns_stt_engine": True}
    broken = dataclasses.replace(app, **parts)
    with pytest.raises(RuntimeError, match="close failed"):
        await broken.close()
    assert engine.closed and llm.closed
    # The hasher's pool was shut down too: nothing more can be hashed.
    with pytest.raises(RuntimeError):
        await app.hasher.hash("correct horse 1")
