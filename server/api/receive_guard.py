"""Bounds what a client without credentials can make the server hold.

gRPC reads a unary request before any interceptor's behaviour runs, and while it
reads, HTTP/2 flow control opens the stream's window to the size the message
*declares* (up to `grpc.max_receive_message_length`). So a client with no token
could declare 8 MiB messages on many streams, never finish them, and park that
much memory in the server for as long as it liked.

This interceptor runs first and decides before any message is read:

- a method that needs a token, called without a valid one, is answered
  UNAUTHENTICATED at once, through a handler that never reads the request (so the
  stream's window never opens past its initial size);
- a public method (sign-up, sign-in, refresh) reads its one request under a budget:
  at most `slots` requests being received at once in this process, each within
  `timeout` seconds. A refused or slow request is RESOURCE_EXHAUSTED, with
  RetryInfo, and its stream is closed, which frees what it had sent.

The worst a client without credentials can make one process hold is then about
`slots x max_receive_message_bytes` for `timeout` seconds, plus the initial window
of each stream it opens (bounded by `grpc.max_concurrent_streams` per connection).
Whether the account behind a valid token still exists is checked later, by
`CallInterceptor` (interceptors.py), as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc

from server.api.status import to_grpc_status
from server.errors import DomainError, InvalidArgument, ResourceExhausted, Unauthenticated

log = logging.getLogger(__name__)

TokenCheck = Callable[[str], object]
_RETRY_AFTER_SECONDS = 1.0


class ReceiveGuard(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(
        self,
        check_token: TokenCheck,
        is_public: Callable[[str], bool],
        slots: int,
        timeout_seconds: float,
    ) -> None:
        self._check_token = check_token
        self._is_public = is_public
        self._slots = slots
        self._timeout = timeout_seconds
        self._receiving = 0

    @property
    def receiving(self) -> int:
        """Public requests being received right now (for tests and metrics)."""
        return self._receiving

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            # Streams read nothing until their behaviour asks, after authentication.
            return handler
        method = handler_call_details.method
        if self._is_public(method):
            return self._budgeted(handler)
        refusal = self._token_refusal(handler_call_details.invocation_metadata)
        if refusal is not None:
            return _refusing(handler, refusal)
        return handler

    def _token_refusal(self, metadata: Iterable[tuple[str, Any]] | None) -> DomainError | None:
        try:
            self._check_token(bearer_token(metadata))
        except Unauthenticated as error:
            return error
        return None

    def _budgeted(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """The unary handler as a request-streaming one that reads its request itself."""
        call_unary = handler.unary_unary if handler.unary_unary else handler.unary_stream

        async def receive_then_call(requests: AsyncIterator[Any], context: Any) -> Any:
            request = await self._receive(requests, context)
            return await call_unary(request, context)

        async def receive_then_stream(requests: AsyncIterator[Any], context: Any) -> Any:
            request = await self._receive(requests, context)
            async for reply in call_unary(request, context):
                yield reply

        return _as_request_streaming(
            handler, receive_then_call if handler.unary_unary else receive_then_stream
        )

    async def _receive(self, requests: AsyncIterator[Any], context: Any) -> Any:
        if self._receiving >= self._slots:
            await _abort(
                context,
                ResourceExhausted(
                    "the server is receiving too many requests; try again shortly",
                    reason="TOO_MANY_REQUESTS",
                    retry_after_seconds=_RETRY_AFTER_SECONDS,
                ),
            )
        self._receiving += 1
        try:
            return await asyncio.wait_for(anext(requests), self._timeout)
        except TimeoutError:
            log.warning("public request not received in time; refused")
            await _abort(
                context,
                ResourceExhausted(
                    f"the request did not arrive within {self._timeout:g} s",
                    reason="REQUEST_TOO_SLOW",
                    retry_after_seconds=_RETRY_AFTER_SECONDS,
                ),
            )
        except StopAsyncIteration:
            await _abort(
                context, InvalidArgument("the call carried no request message", reason="NO_REQUEST")
            )
        finally:
            self._receiving -= 1


def bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The token of `authorization: Bearer <token>`; Unauthenticated when absent or odd."""
    header = ""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            header = value
            break
    if not header:
        raise Unauthenticated(
            "missing `authorization: Bearer <access_token>` metadata", reason="TOKEN_MISSING"
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "the authorization metadata must be `Bearer <access_token>`", reason="TOKEN_MALFORMED"
        )
    return token.strip()


def _refusing(handler: grpc.RpcMethodHandler, error: DomainError) -> grpc.RpcMethodHandler:
    async def refuse(requests: AsyncIterator[Any], context: Any) -> Any:
        await _abort(context, error)

    async def refuse_stream(requests: AsyncIterator[Any], context: Any) -> Any:
        await _abort(context, error)
        yield  # pragma: no cover - makes this an async generator; abort raises

    return _as_request_streaming(handler, refuse_stream if handler.response_streaming else refuse)


def _as_request_streaming(
    handler: grpc.RpcMethodHandler, behaviour: Callable[..., Any]
) -> grpc.RpcMethodHandler:
    factory = (
        grpc.stream_stream_rpc_method_handler
        if handler.response_streaming
        else grpc.stream_unary_rpc_method_handler
    )
    return factory(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


async def _abort(context: Any, error: DomainError) -> None:
    status = to_grpc_status(error)
    await context.abort(status.code, status.details, status.trailing_metadata)
