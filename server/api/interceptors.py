"""Server interceptors: request ids and logging, error mapping, authentication.

Order matters: the request-id interceptor runs first so that every log line
and error carries the id; errors are mapped around authentication so that its
refusals become proper statuses too.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_interceptor.server import AsyncServerInterceptor

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

Authenticator = Callable[[str], Awaitable[int]]


def _metadata(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    pairs: Iterable[tuple[str, str | bytes]] = context.invocation_metadata() or ()
    return {key: value for key, value in pairs if isinstance(value, str)}


def is_public(method_name: str) -> bool:
    return method_name in PUBLIC_METHODS or method_name.startswith(PUBLIC_SERVICE_PREFIXES)


class RequestIdInterceptor(AsyncServerInterceptor):
    """Gives every call a request id (the client's x-request-id if sane) and logs it."""

    async def intercept(
        self, method: Callable[..., Any], request_or_iterator: Any, context: Any, method_name: str
    ) -> Any:
        offered = _metadata(context).get(REQUEST_ID_HEADER, "")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        request_id_var.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
        started = time.perf_counter()
        code = "OK"
        try:
            result = method(request_or_iterator, context)
            return result if hasattr(result, "__aiter__") else await result
        except grpc.aio.AbortError:
            code = context.code().name if context.code() else "ABORTED"
            raise
        except BaseException:
            code = "CANCELLED"
            raise
        finally:
            if not method_name.startswith(PUBLIC_SERVICE_PREFIXES):
                log.info(
                    "rpc finished",
                    extra={
                        "method": method_name,
                        "code": code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "peer": context.peer(),
                    },
                )


class ErrorInterceptor(AsyncServerInterceptor):
    """Domain errors become their canonical status; anything else INTERNAL, logged.

    A request that does not parse as its message type is INVALID_ARGUMENT too: gRPC
    would answer UNKNOWN (unary) or INTERNAL (streams) and name the exception.
    """

    async def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        # grpc_interceptor is untyped.
        handler = await super().intercept_service(  # type: ignore[no-untyped-call]
            continuation, handler_call_details
        )
        if handler is None or handler.request_deserializer is None:
            return handler
        return handler._replace(request_deserializer=_tolerant(handler.request_deserializer))

    async def intercept(
        self, method: Callable[..., Any], request_or_iterator: Any, context: Any, method_name: str
    ) -> Any:
        try:
            result = method(_well_formed(request_or_iterator), context)
            return result if hasattr(result, "__aiter__") else await result
        except DomainError as error:
            status = to_grpc_status(error)
            await context.abort(
                status.code, status.details, _with_request_id(status.trailing_metadata)
            )
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("unexpected error", extra={"method": method_name})
            await context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error; quote request id {request_id_var.get()} when reporting it",
                _with_request_id(()),
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


class AuthInterceptor(AsyncServerInterceptor):
    """Checks `authorization: Bearer <access token>` and hands the user id on."""

    def __init__(self, authenticate: Authenticator) -> None:
        self._authenticate = authenticate

    async def intercept(
        self, method: Callable[..., Any], request_or_iterator: Any, context: Any, method_name: str
    ) -> Any:
        set_current_user(None)
        if not is_public(method_name):
            set_current_user(await self._authenticate(bearer_token(context.invocation_metadata())))
        result = method(request_or_iterator, context)
        return result if hasattr(result, "__aiter__") else await result
