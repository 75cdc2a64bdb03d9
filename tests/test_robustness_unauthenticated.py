"""Clients without credentials cannot make the server buffer what they declare.

A raw HTTP/2 client declares 8 MiB gRPC messages and never finishes them (what a
review did with 40 streams, growing the server by 219 MiB). A method that needs a
token must refuse without reading; a public one reads under a budget of slots and
time. What the server let the client send is read from HTTP/2 flow control: bytes
the server never granted are bytes it never had to hold.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool

from clients.bench.raw_h2 import declare_and_stall
from generated.samvaad.v1 import auth_pb2
from server.api.interceptors import is_public
from server.app import SERVICE_NAMES, STREAM_WINDOW_BYTES
from tests.helpers import RunningServer, Stubs, register

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED.value[0]
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
DECLARED = 8 * 1024 * 1024 - 64

# Every unary method that needs a token: the ones whose request gRPC would read first.
TOKEN_METHODS = [
    f"/{name}/{method.name}"
    for name in SERVICE_NAMES
    for method in descriptor_pool.Default().FindServiceByName(name).methods
    if not method.client_streaming and not is_public(f"/{name}/{method.name}")
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "GRPC_UNAUTHENTICATED_RECEIVE_SLOTS": 2,
        "GRPC_UNAUTHENTICATED_RECEIVE_TIMEOUT_SECONDS": 0.5,
    }


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
async def test_methods_that_need_a_token_read_nothing_without_a_valid_one(
    running: RunningServer, authorization: str | None
) -> None:
    probe = await asyncio.to_thread(
        declare_and_stall,
        running.port,
        "/samvaad.v1.ResumeService/UploadResume",
        streams=8,
        declared_bytes=DECLARED,
        seconds=5,
        authorization=authorization,
    )
    for outcome in probe.outcomes:
        assert outcome.grpc_status == UNAUTHENTICATED, outcome
        # Nothing past the stream's initial window: the request was never read.
        assert outcome.accepted_bytes <= STREAM_WINDOW_BYTES, outcome


async def test_every_method_that_needs_a_token_refuses_before_reading(
    running: RunningServer,
) -> None:
    assert len(TOKEN_METHODS) > 10
    for path in TOKEN_METHODS:
        probe = await asyncio.to_thread(
            declare_and_stall, running.port, path, streams=1, declared_bytes=DECLARED, seconds=5
        )
        (outcome,) = probe.outcomes
        assert outcome.grpc_status == UNAUTHENTICATED, (path, outcome)
        assert outcome.accepted_bytes <= STREAM_WINDOW_BYTES, (path, outcome)


async def test_public_requests_are_received_under_a_budget_of_slots_and_time(
    running: RunningServer, stubs: Stubs
) -> None:
    probe = await asyncio.to_thread(
        declare_and_stall,
        running.port,
        "/samvaad.v1.AuthService/Login",
        streams=5,
        declared_bytes=DECLARED,
        seconds=10,
    )
    outcomes = probe.outcomes
    assert all(o.grpc_status == RESOURCE_EXHAUSTED for o in outcomes), outcomes
    slow = [o for o in outcomes if "did not arrive" in o.grpc_message]
    turned_away = [o for o in outcomes if "too many" in o.grpc_message]
    # Two slots: two streams were received until their time ran out, three never.
    assert (len(slow), len(turned_away)) == (2, 3), outcomes
    assert all(o.accepted_bytes <= STREAM_WINDOW_BYTES for o in turned_away), turned_away

    # The slots came back: ordinary sign-ups and sign-ins go through, two at once.
    first, second = await asyncio.gather(register(stubs), register(stubs))
    reply = await stubs.auth.Login(
        auth_pb2.LoginRequest(email=first.user.email, password=first.password)
    )
    assert reply.user.id == first.user.id != second.user.id
