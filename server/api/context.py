"""Per-call state handed from interceptors to servicers."""

from __future__ import annotations

from contextvars import ContextVar

_user_id: ContextVar[int | None] = ContextVar("user_id", default=None)


def set_current_user(user_id: int | None) -> None:
    _user_id.set(user_id)


def current_user_id() -> int:
    """The authenticated caller. Only methods the auth interceptor guards call this."""
    user_id = _user_id.get()
    if user_id is None:
        raise RuntimeError("no authenticated user: is this method exempt from authentication?")
    return user_id
