"""Who may open an answer stream, decided when its config arrives, before any audio is sent."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from server.audio.limits import RETRY_AFTER_SECONDS
from server.errors import ResourceExhausted


class StreamAdmission:
    """Who may open a stream, decided when its config arrives, before any audio is sent.

    Two counts, both held for as long as the stream lives: streams per user,
    and streams admitted at all (from the accepted config until the transcript
    is stored, so the upload, the checks and the engine's queue are covered).
    Used from the event loop only: each check and increment has no await
    between them, so it is atomic. Per process: the counts are not shared
    between workers (a later change moves them to shared storage).
    """

    def __init__(
        self, max_streams_per_user: int, max_active: int, max_live: int = 6, max_interim: int = 2
    ) -> None:
        self.max_streams_per_user = max_streams_per_user
        self.max_active = max_active
        self.max_live = max_live
        self.max_interim = max_interim
        self._live = 0
        self._interim = 0
        self._streams: dict[int, int] = {}
        self._active = 0

    @property
    def active(self) -> int:
        return self._active

    def streams_of(self, user_id: int) -> int:
        return self._streams.get(user_id, 0)

    @contextlib.contextmanager
    def stream(self, user_id: int) -> Iterator[None]:
        held = self._streams.get(user_id, 0)
        if held >= self.max_streams_per_user:
            raise ResourceExhausted(
                f"you already have {held} answers uploading; at most "
                f"{self.max_streams_per_user} may be sent at once: finish or cancel one first",
                reason="TOO_MANY_AUDIO_STREAMS",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        self._streams[user_id] = held + 1
        try:
            yield
        finally:
            left = self._streams[user_id] - 1
            if left:
                self._streams[user_id] = left
            else:
                del self._streams[user_id]

    @contextlib.contextmanager
    def live(self, interim: bool) -> Iterator[None]:
        """A StreamAnswer stream: the engine carries so many in real time, fewer with interim
        transcripts. Beyond that a new one is refused at its config."""
        full = self._live >= self.max_live or (interim and self._interim >= self.max_interim)
        if full:
            kind = "with interim results " if interim and self.max_interim <= self._interim else ""
            raise ResourceExhausted(
                f"the server is carrying as many live answers {kind}as it can; try again "
                "shortly, or send the answer with TranscribeAnswer",
                reason="LIVE_STREAMS_BUSY",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        self._live += 1
        self._interim += interim
        try:
            yield
        finally:
            self._live -= 1
            self._interim -= interim

    @contextlib.contextmanager
    def transcription(self) -> Iterator[None]:
        if self._active >= self.max_active:
            raise ResourceExhausted(
                "too many answers are being transcribed; try again shortly",
                reason="TRANSCRIPTION_BUSY",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1
