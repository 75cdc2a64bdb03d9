"""A local HTTP server that speaks enough of the OpenAI API for our tests.

It is a real server on 127.0.0.1: the `openai` client, its retries and
timeouts run unchanged against it. Tests script its answers per endpoint,
including failures (429, 500, slow answers, malformed JSON), and read back
what it was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT = "/v1/chat/completions"
TRANSCRIPTIONS = "/v1/audio/transcriptions"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON, str/bytes sent as is
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, Any]:
        """Fields of a multipart/form-data body: text as str, files as bytes."""
        content_type = self.headers.get("content-type", "")
        message = BytesParser(policy=default_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self.body
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            decoded = part.get_payload(decode=True)
            payload = decoded if isinstance(decoded, bytes) else b""
            if part.get_filename() is None:
                value: Any = payload.decode()
                if name in fields:  # repeated fields such as timestamp_granularities[]
                    existing = fields[name]
                    fields[name] = (
                        [*existing, value] if isinstance(existing, list) else [existing, value]
                    )
                    continue
                fields[name] = value
            else:
                fields[name] = payload
                fields[f"{name}.filename"] = part.get_filename()
        return fields


Handler = Callable[[RecordedRequest], Reply]


def chat_completion(content: Any, model: str = "gpt-4o-mini") -> dict[str, Any]:
    """A chat.completion object whose message content is `content` (JSON-encoded if not str)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def transcription_verbose(
    words: list[tuple[str, float, float]],
    *,
    duration: float,
    text: str | None = None,
    segments: list[tuple[float, float, float]] | None = None,
    language: str = "english",
) -> dict[str, Any]:
    """A verbose_json transcription: `words` as (word, start, end), `segments` as
    (start, end, avg_logprob)."""
    spoken = text if text is not None else " ".join(word for word, _, _ in words)
    return {
        "task": "transcribe",
        "language": language,
        "duration": duration,
        "text": spoken,
        "words": [{"word": word, "start": start, "end": end} for word, start, end in words],
        "segments": [
            {
                "id": index,
                "seek": 0,
                "start": start,
                "end": end,
                "text": spoken,
                "tokens": [50364],
                "temperature": 0.0,
                "avg_logprob": avg_logprob,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
            for index, (start, end, avg_logprob) in enumerate(segments or [])
        ],
    }


def error_body(message: str, kind: str = "server_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._queued: dict[str, deque[Reply]] = {}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for one poll, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def on(self, path: str, handler: Handler) -> None:
        """Answer every request to `path` with `handler` (after any queued replies)."""
        self._handlers[path] = handler

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with these, in order."""
        with self._lock:
            self._queued.setdefault(path, deque()).extend(replies)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.requests)

    def _reply_for(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._queued.get(request.path)
            if queued:
                return queued.popleft()
        handler = self._handlers.get(request.path)
        if handler is None:
            return Reply(404, error_body(f"no fake for {request.path}", "invalid_request_error"))
        return handler(request)

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                request = RecordedRequest(
                    path=self.path.split("?")[0],
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = fake._reply_for(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if isinstance(reply.body, bytes):
                    payload, content_type = reply.body, "application/octet-stream"
                elif isinstance(reply.body, str):
                    payload, content_type = reply.body.encode(), "text/plain"
                else:
                    payload, content_type = (
                        json.dumps(reply.body or {}).encode(),
                        "application/json",
                    )
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", content_type)
                    self.send_header("content-length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return _Handler
