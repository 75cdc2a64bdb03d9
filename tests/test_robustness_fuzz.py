"""Hostile input: every RPC gets random field values and random bytes as messages.

Whatever arrives, the server must answer with a status it chose on purpose: never
INTERNAL or UNKNOWN (a bug), never a hang (DEADLINE_EXCEEDED), and it must keep
serving afterwards. Raw bytes go through a generic channel method with no serializer,
so they reach the server exactly as drawn, undecodable ones included.

String fields get the hostile classes, not just a few values: control and format
characters (NUL, bidi overrides, zero-width), characters that expand under NFKC,
endless runs of one letter, and bytes that are not UTF-8 at all (lone surrogates as
CESU-8, overlong forms). Messages are built from a twin of the contract in which every
string field is `bytes`: the wire format is the same, so any byte sequence can be sent.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor, MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generated.samvaad.v1 import auth_pb2
from generated.samvaad.v1 import interview_pb2 as ipb
from server.app import SERVICE_NAMES
from server.engines.stt import LocalWhisperEngine, TranscriptionEngine
from server.logs import request_id_var
from tests.helpers import Account, Stubs

# Every method of every service the server registers, new services included.
METHODS: list[MethodDescriptor] = [
    method
    for name in SERVICE_NAMES
    for method in descriptor_pool.Default().FindServiceByName(name).methods
]
# A bug shows up as one of these; every other code is a deliberate answer.
BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED}
# Generous: only a hang should ever reach it.
CALL_TIMEOUT = 30.0
MAX_DEPTH = 3
RPC_LOGGER = "samvaad.rpc"

FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    # The server is started once per test and deliberately shared by its examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Prefixes that get random bytes past the first checks (file-type sniffing, auth parsing).
INTERESTING_HEADS = [
    b"",
    b"%PDF-1.7\n",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"OggS\x00\x02",
    b"ID3\x04\x00",
    b"fLaC",
    b"\x1a\x45\xdf\xa3",
]
INTERESTING_TEXT = ["", "en", "backend", "Data Science", "asha@example.com", "x" * 5000, "\u0000"]
# Characters of the classes that broke things: controls, bidi and zero-width format
# characters, NFKC expanders (U+FDFA becomes 18 characters), combining marks,
# full-width forms, private use, noncharacters.
HOSTILE_CHARACTERS = st.one_of(
    st.characters(categories=["Cc", "Cf", "Co", "Cn", "Mn", "Zs", "Zl", "Zp"]),
    st.sampled_from(["\ufdfa", "\u202e", "\u200b", "\ufeff", "\uff41", "\u0301", "\uffff", "R"]),
)
# Byte sequences that are not UTF-8: lone surrogates (CESU-8), overlong NUL, stray bytes.
NOT_UTF8 = [b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc0\x80", b"\xff\xfe", b"\x80", b"a\xed\xb0\x80b"]
HOSTILE_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(INTERESTING_TEXT),
    st.text(HOSTILE_CHARACTERS, max_size=80),
    # One character, endlessly: the shape that made skill matching quadratic.
    st.builds(
        str.__mul__, st.sampled_from(["R, ", "a", "\ufdfa", "\u202e", " "]), st.integers(1, 20_000)
    ),
)
STRING_BYTES = st.one_of(
    HOSTILE_TEXT.map(lambda text: text.encode("utf-8")),
    st.builds(
        lambda head, bad, tail: head.encode() + bad + tail.encode(),
        st.text(max_size=20),
        st.sampled_from(NOT_UTF8),
        st.text(max_size=20),
    ),
)


def _bytes_twin(files: list[FileDescriptor]) -> descriptor_pool.DescriptorPool:
    """A pool with the contract's files, every samvaad string field turned into bytes."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(file: FileDescriptor) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        if proto.package.startswith("samvaad."):
            _strings_to_bytes(proto.message_type)
        pool.Add(proto)
        added.add(file.name)

    for file in files:
        add(file)
    return pool


def _strings_to_bytes(messages: Any) -> None:
    for message in messages:
        for field in message.field:
            if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        _strings_to_bytes(message.nested_type)


@pytest.fixture
def server_stt_engine(whisper_engine: LocalWhisperEngine) -> TranscriptionEngine:
    # A loaded engine, so that a random stream which happens to be audio is transcribed.
    return whisper_engine


@pytest.fixture
async def owned(stubs: Stubs, account: Account) -> Account:
    """An account that owns an interview, questions and attempts, so small ids hit real rows."""
    interview = await stubs.interview.CreateInterview(
        ipb.CreateInterviewRequest(track="backend"), metadata=account.metadata
    )
    await stubs.interview.GenerateQuestions(
        ipb.GenerateQuestionsRequest(interview_id=interview.interview.id, count=3),
        metadata=account.metadata,
    )
    return account


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _scalar_values(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64):
        return st.integers(-(2**63), 2**63 - 1)
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_ENUM):
        # proto3 enums are open: any int32 may arrive.
        return st.integers(-(2**31), 2**31 - 1)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_STRING:
        return HOSTILE_TEXT
    if kind == FieldDescriptor.TYPE_BYTES and _was_string(field):
        return STRING_BYTES
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.builds(
            bytes.__add__, st.sampled_from(INTERESTING_HEADS), st.binary(max_size=4096)
        )
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
    raise AssertionError(f"no strategy for field {field.full_name} of type {kind}")


def _was_string(field: FieldDescriptor) -> bool:
    """Whether a field of the bytes twin is a string field in the contract."""
    try:
        original = descriptor_pool.Default().FindFieldByName(field.full_name)
    except KeyError:
        return False
    return bool(original.type == FieldDescriptor.TYPE_STRING)


TWIN = _bytes_twin([method.containing_service.file for method in METHODS])


def twin_of(descriptor: Descriptor) -> Descriptor:
    return TWIN.FindMessageTypeByName(descriptor.full_name)


# Elements drawn for a repeated field: enough for duplicates and a bad one among good ones.
MAX_REPEATED = 4


def messages_of(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Instances of `descriptor`'s message with any subset of its fields set to random values."""
    message_class = message_factory.GetMessageClass(descriptor)
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        values: st.SearchStrategy[Any]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= MAX_DEPTH or field.message_type is None:
                continue
            values = messages_of(field.message_type, depth + 1)
        else:
            values = _scalar_values(field)
        if field.is_repeated:
            values = st.lists(values, max_size=MAX_REPEATED)
        optional[field.name] = values
    # For a oneof, the value set last wins; every member still gets drawn sometimes.
    return st.fixed_dictionaries({}, optional=optional).map(lambda values: message_class(**values))


def credentials(account: Account) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    return st.sampled_from(
        [
            account.metadata,
            (),
            (("authorization", "Bearer not-a-token"),),
            (("authorization", f"Bearer {account.tokens.refresh_token}"),),
            (("authorization", account.tokens.access_token),),
        ]
    )


class ServerOutcomes(logging.Handler):
    """The status code each call ended with, as the server logged it, by request id."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.codes: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        # Emitted inside the call's own task, where its request id is set.
        if record.getMessage() == "rpc finished":
            self.codes[request_id_var.get()] = str(getattr(record, "code", ""))

    async def code_of(self, request_id: str) -> str:
        for _ in range(1000):  # 20 s: only a call the server never finished runs out
            if request_id in self.codes:
                return self.codes[request_id]
            await asyncio.sleep(0.02)
        raise AssertionError(f"the server logged no outcome for {request_id}")


@pytest.fixture
def server_outcomes() -> Iterator[ServerOutcomes]:
    handler = ServerOutcomes()
    rpc_log = logging.getLogger(RPC_LOGGER)
    saved_level = rpc_log.level
    rpc_log.setLevel(logging.INFO)
    rpc_log.addHandler(handler)
    yield handler
    rpc_log.removeHandler(handler)
    rpc_log.setLevel(saved_level)


def _client_failed_to_send(error: grpc.aio.AioRpcError) -> bool:
    """The client's own core failed a write because the server had already answered.

    grpc.aio then reports INTERNAL "Internal error from Core" in place of the server's
    status, so that status has to be read from the server's log instead.
    """
    return error.details() == "Internal error from Core" and "SendMessage" in (
        error.debug_error_string() or ""
    )


async def send_raw(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    messages: Sequence[bytes],
    metadata: tuple[tuple[str, str], ...],
    outcomes: ServerOutcomes,
) -> str:
    """Send already-serialised messages; the name of the status code the server answered."""
    path = path_of(method)
    request_id = f"fuzz-{uuid.uuid4().hex}"
    metadata = (*metadata, ("x-request-id", request_id))
    try:
        if method.client_streaming:

            async def stream() -> AsyncIterator[bytes]:
                for message in messages:
                    yield message

            await channel.stream_unary(path)(stream(), metadata=metadata, timeout=CALL_TIMEOUT)
        else:
            await channel.unary_unary(path)(messages[0], metadata=metadata, timeout=CALL_TIMEOUT)
    except grpc.aio.AioRpcError as error:
        if _client_failed_to_send(error):
            return await outcomes.code_of(request_id)
        return f"{error.code().name}: {error.details()}"
    return "OK"


def assert_deliberate(method: MethodDescriptor, answer: str) -> None:
    code = answer.partition(":")[0]
    assert code not in {c.name for c in BROKEN}, f"{path_of(method)} answered {answer}"


async def still_serving(stubs: Stubs, account: Account) -> None:
    health = health_pb2_grpc.HealthStub(stubs.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    me = await stubs.auth.GetMe(auth_pb2.GetMeRequest(), metadata=account.metadata, timeout=10)
    assert me.user.id == account.user.id


def _payloads(method: MethodDescriptor, values: st.SearchStrategy[bytes]) -> st.SearchStrategy[Any]:
    """One message for a unary method, zero to six for a client stream."""
    return (
        st.lists(values, min_size=0, max_size=6)
        if method.client_streaming
        else values.map(lambda one: [one])
    )


@pytest.mark.parametrize("method", METHODS, ids=path_of)
@FUZZ_SETTINGS
@given(data=st.data())
async def test_random_field_values_get_a_deliberate_answer(
    stubs: Stubs,
    owned: Account,
    server_outcomes: ServerOutcomes,
    method: MethodDescriptor,
    data: st.DataObject,
) -> None:
    serialised = messages_of(twin_of(method.input_type)).map(lambda m: m.SerializeToString())
    payload = data.draw(_payloads(method, serialised), label="messages")
    metadata = data.draw(credentials(owned), label="metadata")
    assert_deliberate(
        method, await send_raw(stubs.channel, method, payload, metadata, server_outcomes)
    )
    await still_serving(stubs, owned)


@pytest.mark.parametrize("method", METHODS, ids=path_of)
@FUZZ_SETTINGS
@given(data=st.data())
async def test_random_bytes_get_a_deliberate_answer(
    stubs: Stubs,
    owned: Account,
    server_outcomes: ServerOutcomes,
    method: MethodDescriptor,
    data: st.DataObject,
) -> None:
    raw = st.builds(bytes.__add__, st.sampled_from(INTERESTING_HEADS), st.binary(max_size=2048))
    payload = data.draw(_payloads(method, raw), label="messages")
    metadata = data.draw(credentials(owned), label="metadata")
    assert_deliberate(
        method, await send_raw(stubs.channel, method, payload, metadata, server_outcomes)
    )
    await still_serving(stubs, owned)
