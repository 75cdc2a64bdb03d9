"""Every command in README.md and docs/*.md runs as documented.

The ```sh blocks that call the API (`buf curl`, the `samvaad` client, or the
`call` helper of docs/cli.md) run, block after block, as one bash script per
document against a fresh server process (`python -m server` on a free port with
its own SQLite database) on which `make demo` (`python -m clients.demo`) has run
first, as the README has the reader do: interview 1 and attempts 1-3 are the demo
candidate's, so a document that hard-codes an id fails here as it would for them.
Each command must exit 0, or fail with the gRPC code its trailing `# error: CODE`
comment documents. `make` commands in the other blocks are checked with `make -n`.
Blocks preceded by `<!-- Not run by tests` say why (Docker, network);
tests/test_deploy.py covers what it can of those.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from generated.samvaad.v1 import (
    analysis_pb2,
    auth_pb2,
    interview_pb2,
    resume_pb2,
    transcription_pb2,
)

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCUMENTED_ADDRESS = "127.0.0.1:50051"
# The register examples ask for a password; a reader types it, the test sets it.
PASSWORD = "correct horse 1"

# A command that calls the API: buf curl, the `call` helper of docs/cli.md, or the CLI.
API_COMMAND = re.compile(
    r"^\s*(?:\w+=\$\(\s*)?(?:(?:[\w./-]*/)?buf\s+curl|\$BUF\s+curl|call|(?:[\w./-]*/)?samvaad)"
    r"(?![.\w-])"
)
# What else a block that is run may contain: nothing that installs, starts servers or
# touches databases, so a careless edit of the docs cannot do that on a developer's machine.
HARMLESS_COMMAND = re.compile(
    r"""^\s*(?:
        [A-Za-z_]\w*=                        # an assignment (often of an API call's output)
      | [a-z_]+\(\)\s*\{                     # a helper function
      | \.\s+\.venv/bin/activate\s*$
      | python3\s+-c\s.*\|\s*call\b          # a generated stream piped into the API
    )""",
    re.VERBOSE | re.DOTALL,
)
NOT_RUN = re.compile(r"<!--\s*Not run by tests", re.IGNORECASE)
EXPECTED_ERROR = re.compile(r"#\s*error:\s*([A-Z_]+)\s*$")
MAKE_COMMAND = re.compile(r"^\s*(?:[A-Z_]+=\S+\s+)*make\s+([a-z-]+)", re.MULTILINE)
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    document: Path
    text: str
    skipped: bool  # preceded by a "Not run by tests" comment

    @property
    def calls_the_api(self) -> bool:
        return any(API_COMMAND.match(command) for command in commands_of(self.text))


def sh_blocks(document: Path) -> list[Block]:
    text = document.read_text()
    blocks = []
    for match in SH_BLOCK.finditer(text):
        before = text[: match.start()].rstrip()
        comment_start = before.rfind("<!--")
        skipped = before.endswith("-->") and bool(NOT_RUN.match(before[comment_start:]))
        blocks.append(Block(document, match[1], skipped))
    return blocks


def commands_of(block: str) -> list[str]:
    """Shell commands, with continuation lines and multi-line quotes joined."""
    commands: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\") or not _quotes_balanced(pending):
            continue
        commands.append(pending)
        pending = ""
    assert not pending, f"unterminated command: {pending}"
    return commands


def _quotes_balanced(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def unsafe_commands(document: Path) -> list[str]:
    return [
        command
        for block in sh_blocks(document)
        if block.calls_the_api and not block.skipped
        for command in commands_of(block.text)
        if not (API_COMMAND.match(command) or HARMLESS_COMMAND.match(command))
    ]


def runnable_commands(document: Path) -> list[str]:
    return [
        command
        for block in sh_blocks(document)
        if block.calls_the_api and not block.skipped
        for command in commands_of(block.text)
    ]


DOCUMENTS_WITH_COMMANDS = [d for d in DOCUMENTS if runnable_commands(d)]


# --- the server -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server_port(tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "DATABASE_URL", "POSTGRES_", "SAMVAAD_"))
        and key != "ENVIRONMENT"
    }
    environment.update(
        BACKEND_SERVER_PORT=str(port),
        SQLITE_PATH=str(tmp_path / "samvaad.db"),
        PASSWORD_HASH_PROFILE="test_only_cheap",
        LOG_FORMAT="json",
        SERVER_GRACE_PERIOD_SECONDS="2",
    )
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "server"],
        cwd=tmp_path,  # no .env from the checkout
        env={**environment, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_serving(port, process, tmp_path / "server.log")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_serving(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the server exited early:\n{log.read_text()[-3000:]}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise AssertionError("the server did not become healthy")


# --- running the documents --------------------------------------------------


def _script(commands: list[str], port: int, results: Path) -> str:
    """One bash script; each command's stdout, stderr and status go to `results`."""
    lines = ["set -u -o pipefail"]
    for index, command in enumerate(commands):
        command = command.replace(DOCUMENTED_ADDRESS, f"127.0.0.1:{port}")
        lines.append(
            f"{{\n{command}\n}} >'{results}/{index}.out' 2>'{results}/{index}.err'; "
            f"echo $? >'{results}/{index}.rc'"
        )
    return "\n".join(lines) + "\n"


# The demo and the walkthroughs transcribe about a minute of speech per recorded answer
# (seven or eight answers a document): more than the default 180 s on a busy machine.
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "document",
    DOCUMENTS_WITH_COMMANDS,
    ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS_WITH_COMMANDS],
)
def test_documented_commands_run(document: Path, server_port: int, tmp_path: Path) -> None:
    assert unsafe_commands(document) == [], "a block that is run may only call the API"
    commands = runnable_commands(document)
    results = tmp_path / "results"
    results.mkdir()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SAMVAAD_")},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAMVAAD_SERVER": f"127.0.0.1:{server_port}",
        "SAMVAAD_CONFIG_DIR": str(tmp_path / "config"),
        "SAMVAAD_PASSWORD": PASSWORD,
    }
    demo = subprocess.run(
        # Eight times faster than spoken: the same answers, a quarter of a minute each.
        [
            sys.executable,
            "-m",
            "clients.demo",
            "--server",
            f"127.0.0.1:{server_port}",
            "--speed",
            "8",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, f"make demo failed:\n{demo.stdout[-3000:]}{demo.stderr[-3000:]}"
    script = subprocess.Popen(
        ["bash", "-c", _script(commands, server_port, results)],
        cwd=ROOT,
        env=environment,
        start_new_session=True,  # its own process group, ended below whatever happens
    )
    try:
        script.wait(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(script.pid, signal.SIGKILL)
        script.wait()

    problems = []
    for index, command in enumerate(commands):
        problem = _check(command, results, index)
        if problem:
            problems.append(problem)
    assert not problems, "\n\n".join(problems)


def _check(command: str, results: Path, index: int) -> str:
    status_file = results / f"{index}.rc"
    if not status_file.exists():
        return f"never ran (the script stopped before it):\n{command}"
    status = int(status_file.read_text())
    stderr = (results / f"{index}.err").read_text()
    expected = EXPECTED_ERROR.search(command)
    if expected is None:
        if status != 0:
            return f"exited {status}:\n{command}\n--- stderr:\n{stderr[-2000:]}"
        return ""
    code = expected[1]
    if status == 0:
        return f"succeeded, but the document says it fails with {code}:\n{command}"
    # buf curl prints "not_found", samvaad prints NOT_FOUND.
    if code.lower() not in stderr.lower():
        return f"failed without {code}:\n{command}\n--- stderr:\n{stderr[-2000:]}"
    return ""


def test_every_rpc_has_an_example_that_runs() -> None:
    documented = {
        path
        for document in DOCUMENTS_WITH_COMMANDS
        for command in runnable_commands(document)
        for path in re.findall(r"/(samvaad\.v1\.\w+/\w+)", command)
    }
    every_rpc = {
        f"{service.full_name}/{method.name}"
        for module in (auth_pb2, resume_pb2, interview_pb2, transcription_pb2, analysis_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert every_rpc - documented == set()


def test_documented_make_targets_exist() -> None:
    targets = {
        target
        for document in DOCUMENTS
        for block in sh_blocks(document)
        if not block.calls_the_api
        for target in MAKE_COMMAND.findall(block.text)
    }
    assert {"run", "demo", "test"} <= targets
    for target in sorted(targets):
        dry_run = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert dry_run.returncode == 0, f"make {target}: {dry_run.stderr}"


def test_no_document_runs_what_it_should_not() -> None:
    for document in DOCUMENTS:
        assert unsafe_commands(document) == [], document


def test_only_api_blocks_are_run() -> None:
    readme = runnable_commands(ROOT / "README.md")
    assert any("AuthService/Register" in command for command in readme)
    assert not any(re.search(r"\b(make|createdb|docker)\b", c) for c in readme)
    assert API_COMMAND.match("TOKEN=$(call -d '{}' $S/x)")
    assert API_COMMAND.match(".venv/bin/samvaad me")
    assert not API_COMMAND.match("createdb samvaad")
    assert not API_COMMAND.match("docker build -t samvaad .")
    assert not API_COMMAND.match("DATABASE_URL=postgresql://h:5432/samvaad make run")


def test_the_command_splitter_keeps_multi_line_commands_whole() -> None:
    block = "A=1\ncall -d '{\n  \"x\": 1}' \\\n  $S/m   # error: NOT_FOUND\n# a comment\nB=2\n"
    assert commands_of(block) == [
        "A=1",
        "call -d '{\n  \"x\": 1}' \\\n  $S/m   # error: NOT_FOUND",
        "B=2",
    ]
