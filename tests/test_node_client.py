"""The contract outside Python: a Node.js client built from protos/ alone.

clients/node/walkthrough.mjs loads protos/ with @grpc/proto-loader, runs a practice
interview against a real server (a client-streamed answer included) and decodes the
`grpc-status-details-bin` trailer of a refused call with the google.rpc types vendored
in protos/google/rpc. These tests read its JSON lines.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from generated.samvaad.v1 import interview_pb2 as pb
from tests.fake_openai import (
    CHAT,
    TRANSCRIPTIONS,
    FakeOpenAI,
    Reply,
    chat_completion,
    transcription_verbose,
)
from tests.helpers import (
    ASSETS,
    RunningServer,
    detail,
    expect_status,
    make_settings,
    openai_settings,
    register,
    start_server,
    stop_server,
)

ROOT = Path(__file__).resolve().parent.parent
NODE_CLIENT = ROOT / "clients" / "node"
# What `make node-client` (and so `make install`) touches once `npm ci` has run.
NODE_STAMP = NODE_CLIENT / "node_modules" / ".installed"
VENDORED = ROOT / "protos" / "google" / "rpc"
ANSWER = ASSETS / "audio" / "answer.wav"
CHUNK_BYTES = 64 * 1024  # the walkthrough's chunk size

WORDS = [("I", 0.1, 0.2), ("trained", 0.2, 0.6), ("the", 0.6, 0.7), ("model", 0.7, 1.0)]
QUESTIONS = {
    "questions": [
        {
            "text": f"How would you scale PostgreSQL for service number {i}?",
            "topic": "databases",
            "category": "system_design",
            "concepts": ["replication"],
        }
        for i in range(3)
    ]
}


# --- the vendored google.rpc protos ----------------------------------------------------


@pytest.mark.parametrize("name", ["status.proto", "error_details.proto"])
def test_vendored_google_rpc_protos_are_the_ones_python_decodes_with(name: str) -> None:
    # Verbatim copies of googleapis-common-protos' sources (Apache-2.0, headers kept):
    # other languages must decode exactly what the server's google.rpc packs.
    import google.rpc

    installed = Path(google.rpc.__path__[0]) / name
    assert (VENDORED / name).read_text() == installed.read_text(), (
        f"protos/google/rpc/{name} differs from googleapis-common-protos: copy it again"
    )


def test_python_is_not_generated_for_the_vendored_protos() -> None:
    # Python uses googleapis-common-protos' google.rpc; a generated second copy of the
    # same descriptors would clash in one process.
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    gen_protos = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_protos)
    files = [p.relative_to(gen_protos.PROTO_ROOT).parts[0] for p in gen_protos.proto_files()]
    assert files and set(files) == {"samvaad"}
    assert not (ROOT / "generated" / "google").exists()


# --- the Node.js walkthrough -----------------------------------------------------------


@pytest.fixture(scope="module")
def node_client() -> Path:
    """clients/node with its npm dependencies installed (`npm ci`, once per lockfile)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed: the Node.js client test needs Node 18+")
    lock = NODE_CLIENT / "package-lock.json"
    if not NODE_STAMP.exists() or NODE_STAMP.stat().st_mtime < lock.stat().st_mtime:
        installed = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=NODE_CLIENT,
            capture_output=True,
            text=True,
        )
        assert installed.returncode == 0, f"npm ci in clients/node failed:\n{installed.stderr}"
        NODE_STAMP.touch()
    return Path(node)


@pytest.fixture
def scripted_openai(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.on(CHAT, lambda _request: Reply(body=chat_completion(QUESTIONS)))
    fake_openai.on(
        TRANSCRIPTIONS, lambda _request: Reply(body=transcription_verbose(WORDS, duration=6.5))
    )
    return fake_openai


@pytest.fixture
async def server(
    database_url: str, tmp_path: Path, scripted_openai: FakeOpenAI
) -> AsyncIterator[RunningServer]:
    # The OpenAI engine against the fake: a fixed transcript, no Whisper model to load.
    settings = make_settings(
        database_url,
        AUDIO_TEMP_DIR=str(tmp_path),
        SKILL_EXTRACTOR="offline",
        **openai_settings(scripted_openai, TRANSCRIPTION_ENGINE="openai"),
    )
    running = await start_server(settings)
    await running.app.start()
    yield running
    await stop_server(running)


async def run_walkthrough(node: Path, address: str) -> dict[str, dict[str, Any]]:
    """Run the Node script against `address`; its JSON lines by step."""
    # grpc-js honours http(s)_proxy / grpc_proxy: never route 127.0.0.1 through one.
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    process = await asyncio.create_subprocess_exec(
        str(node),
        "walkthrough.mjs",
        address,
        str(ANSWER),
        cwd=NODE_CLIENT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # A guard against a hung client, not a measurement.
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    return {line.pop("step"): line for line in lines}


@pytest.mark.slow
async def test_a_node_client_runs_the_walkthrough_from_protos_alone(
    node_client: Path, server: RunningServer, scripted_openai: FakeOpenAI
) -> None:
    steps = await run_walkthrough(node_client, server.address)

    user_id = steps["register"]["user_id"]
    assert int(user_id) > 0  # int64 travels as a decimal string in JS
    assert steps["login"] == {"user_id": user_id, "token_type": "Bearer"}

    resume = steps["upload_resume"]
    assert {"Python", "PostgreSQL", "Kubernetes", "Docker"} <= set(resume["skills"])
    assert resume["extractor"].startswith("offline")

    assert int(steps["create_interview"]["interview_id"]) > 0
    assert steps["create_interview"]["status"] == "INTERVIEW_STATUS_ACTIVE"
    questions = steps["generate_questions"]
    assert questions["count"] == 3
    assert questions["first"] == QUESTIONS["questions"][0]["text"]

    # The answer went up as a config message and then several audio chunks, and the
    # server put the recording back together byte for byte.
    answer = ANSWER.read_bytes()
    streamed = steps["transcribe_answer"]
    assert streamed["chunks"] == -(-len(answer) // CHUNK_BYTES) > 1
    assert streamed["text"] == "I trained the model"
    assert streamed["words"] == len(WORDS)
    assert (streamed["engine"], streamed["format"]) == ("openai", "wav")
    assert int(streamed["size_bytes"]) == len(answer)
    assert scripted_openai.requests_to(TRANSCRIPTIONS)[0].form()["file"] == answer
    assert steps["get_transcription"]["text"] == "I trained the model"

    # The refused call's details, decoded in Node from protos/google/rpc.
    refused = steps["bad_page_token"]
    assert refused["code"] == "INVALID_ARGUMENT"
    status = refused["status"]
    assert status["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    details = {d.pop("@type"): d for d in status["details"]}
    assert details["google.rpc.ErrorInfo"]["reason"] == "PAGE_TOKEN_INVALID"
    assert [v["field"] for v in details["google.rpc.BadRequest"]["field_violations"]] == [
        "page_token"
    ]

    # ...and it is what a Python client decodes from the same refusal.
    account = await register(server.stubs)
    error = await expect_status(
        server.stubs.interview.ListInterviews(
            pb.ListInterviewsRequest(page_size=10, page_token="not-a-token"),
            metadata=account.metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    info = detail(error, error_details_pb2.ErrorInfo)
    node_info = details["google.rpc.ErrorInfo"]
    assert (node_info["reason"], node_info["domain"], node_info["metadata"]) == (
        info.reason,
        info.domain,
        dict(info.metadata),
    )
    bad_request = detail(error, error_details_pb2.BadRequest)
    assert [
        (v["field"], v["description"]) for v in details["google.rpc.BadRequest"]["field_violations"]
    ] == [(v.field, v.description) for v in bad_request.field_violations]
    assert refused["details"] == error.details()
