"""The server interceptor: request ids and logging, error mapping, authentication.

Order matters inside it: the request id is set first so that every log line and
error carries it; errors are mapped around authentication so that its refusals
become proper statuses too. `ReceiveGuard` (receive_guard.py) runs before it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from server.api.context import set_current_user
from server.api.receive_guard import bearer_token
from server.api.status import to_grpc_status
from server.errors import DomainError, InvalidArgument
from server.logs import request_id_var

log = logging.getLogger("samvaad.rpc")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Methods anyone may call. Everything else needs a bearer access token.
PUBLIC_METHODS = frozenset(
    {
        "/samvaad.v1.AuthService/Register",
        "/samvaad.v1.AuthService/Login",
        "/samvaad.v1.AuthService/RefreshToken",
    }
)
PUBLIC_SERVICE_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

# Methods that read the caller's account themselves, and so refuse a deleted one
# without the principal check (server/domain/auth.py, AuthService.authenticate).
READS_ACCOUNT = frozenset({"/samvaad.v1.AuthService/GetMe"})


class Authenticator(Protocol):
    def __call__(self, access_token: str, *, reads_account: bool = False) -> Awaitable[int]: ...


def is_public(method_name: str) -> bool:
    return method_name in PUBLIC_METHODS or method_name.startswith(PUBLIC_SERVICE_PREFIXES)


class CallInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Request id and the per-call log line, error mapping, authentication: one layer.

    These were three grpc-interceptor layers, each wrapping every handler again and
    each an extra coroutine per call with its own metadata scan; measured, they cost
    as much as the servicer, domain and repositories of a GetMe together. Here each
    handler kind is wrapped once, when gRPC looks the method up, and the work that
    depends only on the method (public? reads the account?) is decided there.

    In order, for every call: a request id (the client's x-request-id if sane) is
    set for the logs and echoed in the trailers; the bearer token is checked and
    the user id handed on (public methods excepted); a request that does not parse
    as its message type is INVALID_ARGUMENT (gRPC would answer UNKNOWN or INTERNAL);
    domain errors become their canonical status, anything else INTERNAL with the
    request id (logged); and one line is logged with the method and its code.
    """

    def __init__(self, authenticate: Authenticator) -> None:
        self._authenticate = authenticate
        # method -> (the handler gRPC found, its wrapped form): a handler is wrapped
        # once, not on every call. Only methods that exist get here (bounded).
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: Any, method: str) -> Any:
        call = _Call(self._authenticate, method)
        deserialize = handler.request_deserializer
        wrapped = handler._replace(
            request_deserializer=_tolerant(deserialize) if deserialize is not None else None
        )
        if handler.unary_unary is not None:
            return wrapped._replace(unary_unary=call.unary(handler.unary_unary))
        if handler.unary_stream is not None:
            return wrapped._replace(unary_stream=call.streaming(handler.unary_stream))
        if handler.stream_unary is not None:
            return wrapped._replace(stream_unary=call.unary(handler.stream_unary))
        return wrapped._replace(stream_stream=call.streaming(handler.stream_stream))


class _Call:
    """What every call of one method does around its behaviour."""

    __slots__ = ("_authenticate", "_logged", "_method", "_public", "_reads_account")

    def __init__(self, authenticate: Authenticator, method: str) -> None:
        self._authenticate = authenticate
        self._method = method
        self._public = is_public(method)
        self._logged = not method.startswith(PUBLIC_SERVICE_PREFIXES)
        self._reads_account = method in READS_ACCOUNT

    async def _begin(self, context: Any) -> None:
        metadata: Iterable[tuple[str, Any]] = context.invocation_metadata() or ()
        offered = ""
        for key, value in metadata:
            if key == REQUEST_ID_HEADER and isinstance(value, str):
                offered = value
                break
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else secrets.token_hex(16)
        request_id_var.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
        set_current_user(None)
        if not self._public:
            user_id = await self._authenticate(
                bearer_token(metadata), reads_account=self._reads_account
            )
            set_current_user(user_id)

    def unary(self, behaviour: Callable[[Any, Any], Awaitable[Any]]) -> Callable[..., Any]:
        async def run(request: Any, context: Any) -> Any:
            async with self._call(context):
                return await behaviour(_well_formed(request), context)

        return run

    def streaming(self, behaviour: Callable[[Any, Any], Any]) -> Any:
        async def run(request: Any, context: Any) -> AsyncIterator[Any]:
            async with self._call(context):
                replies = behaviour(_well_formed(request), context)
                if hasattr(replies, "__aiter__"):
                    async for reply in replies:
                        yield reply
                else:  # a coroutine that writes its replies with context.write
                    await replies

        return run

    @asynccontextmanager
    async def _call(self, context: Any) -> AsyncIterator[None]:
        """One call: request id and authentication first, then the handler; errors
        become statuses (INTERNAL without internals); one log line whatever happens."""
        started = time.perf_counter()
        # Read now: a client that hangs up leaves a streaming handler's generator to be
        # closed after its call is gone, and `context.peer()` then crashes the process
        # (SIGSEGV).
        peer = context.peer()
        code = "OK"
        try:
            await self._begin(context)
            yield
        except grpc.aio.AbortError:
            code = context.code().name if context.code() else "ABORTED"
            raise
        except DomainError as error:
            status = to_grpc_status(error)
            code = status.code.name
            await _abort(context, status.code, status.details, status.trailing_metadata)
        except Exception:
            code = "INTERNAL"
            await _internal(context, self._method)
        except BaseException:
            code = "CANCELLED"
            raise
        finally:
            self._log(code, started, peer)

    def _log(self, code: str, started: float, peer: str) -> None:
        if self._logged:
            log.info(
                "rpc finished",
                extra={
                    "method": self._method,
                    "code": code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "peer": peer,
                },
            )


async def _abort(context: Any, code: grpc.StatusCode, details: str, metadata: Any) -> None:
    await context.abort(code, details, _with_request_id(metadata))


async def _internal(context: Any, method: str) -> None:
    log.exception("unexpected error", extra={"method": method})
    await _abort(
        context,
        grpc.StatusCode.INTERNAL,
        f"internal error; quote request id {request_id_var.get()} when reporting it",
        (),
    )


@dataclass(frozen=True)
class MalformedMessage:
    """What a request that is not a valid protobuf message of its type deserialises to."""

    problem: str


def _tolerant(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize_or_flag(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except Exception as error:  # DecodeError, or whatever else hostile bytes provoke
            return MalformedMessage(str(error) or type(error).__name__)

    return deserialize_or_flag


def _well_formed(request_or_iterator: Any) -> Any:
    """The request, or for a stream its messages, with malformed ones refused."""
    if isinstance(request_or_iterator, MalformedMessage):
        raise _malformed(request_or_iterator)
    if hasattr(request_or_iterator, "__aiter__"):
        return _well_formed_stream(request_or_iterator)
    return request_or_iterator


async def _well_formed_stream(messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for message in messages:
        if isinstance(message, MalformedMessage):
            raise _malformed(message)
        yield message


def _malformed(message: MalformedMessage) -> InvalidArgument:
    return InvalidArgument(
        f"the request is not a valid protobuf message: {message.problem}",
        reason="MALFORMED_REQUEST",
    )


def _with_request_id(metadata: Any) -> tuple[tuple[str, Any], ...]:
    return (*tuple(metadata or ()), (REQUEST_ID_HEADER, request_id_var.get()))
