"""Servicers for services whose methods have not been built yet.

The generated base classes raise NotImplementedError, which the error
interceptor would rightly report as INTERNAL; these answer UNIMPLEMENTED
with a message that says what is missing.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor


def unimplemented_servicer(base: type, service: ServiceDescriptor, note: str) -> Any:
    def make(method_name: str) -> Any:
        async def handler(self: Any, request: Any, context: Any) -> Any:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{service.full_name}/{method_name} is not implemented yet: {note}",
            )

        return handler

    methods = {method.name: make(method.name) for method in service.methods}
    return type(f"Unimplemented{service.name}", (base,), methods)()
