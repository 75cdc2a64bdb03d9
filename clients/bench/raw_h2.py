"""A raw HTTP/2 client that behaves as no gRPC library would let it.

It opens gRPC streams, declares a large message on each and pushes as many bytes
as the server's flow control allows, never finishing the message. What the server
granted (bytes accepted per stream) and how each stream ended tell how much a
client can make the server buffer.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

_CHUNK = b"\0" * 16384


@dataclass
class StreamOutcome:
    accepted_bytes: int = 0
    grpc_status: int | None = None
    grpc_message: str = ""
    reset: bool = False

    @property
    def ended(self) -> bool:
        return self.grpc_status is not None or self.reset


@dataclass
class Probe:
    streams: dict[int, StreamOutcome] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[StreamOutcome]:
        return list(self.streams.values())


def declare_and_stall(
    port: int,
    path: str,
    *,
    streams: int,
    declared_bytes: int = 8 * 1024 * 1024,
    seconds: float = 2.0,
    authorization: str | None = None,
) -> Probe:
    """Open `streams` streams to `path`, each declaring `declared_bytes`; push for `seconds`.

    Returns as soon as every stream has ended, or after `seconds`.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", f"127.0.0.1:{port}"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    if authorization is not None:
        headers.append(("authorization", authorization))
    probe = Probe()
    for _ in range(streams):
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, headers)
        conn.send_data(stream_id, b"\0" + struct.pack(">I", declared_bytes))
        probe.streams[stream_id] = StreamOutcome()
    sock.sendall(conn.data_to_send())
    sock.settimeout(0.05)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not all(o.ended for o in probe.outcomes):
            _push(conn, probe, declared_bytes)
            sock.sendall(conn.data_to_send())
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            for event in conn.receive_data(data):
                _record(event, probe)
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    return probe


def _push(conn: h2.connection.H2Connection, probe: Probe, declared_bytes: int) -> None:
    for stream_id, outcome in probe.streams.items():
        # One byte short of the declared message: it never completes.
        while not outcome.ended and outcome.accepted_bytes < declared_bytes - 1:
            try:
                window = conn.local_flow_control_window(stream_id)
            except h2.exceptions.StreamClosedError:
                outcome.reset = True
                break
            size = min(
                window,
                len(_CHUNK),
                conn.max_outbound_frame_size,
                declared_bytes - 1 - outcome.accepted_bytes,
            )
            if size <= 0:
                break
            conn.send_data(stream_id, _CHUNK[:size])
            outcome.accepted_bytes += size


def _record(event: h2.events.Event, probe: Probe) -> None:
    stream_id = getattr(event, "stream_id", None)
    outcome = probe.streams.get(stream_id) if stream_id is not None else None
    if outcome is None:
        return
    if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
        values = {_text(k): _text(v) for k, v in event.headers}
        if "grpc-status" in values:
            outcome.grpc_status = int(values["grpc-status"])
            outcome.grpc_message = values.get("grpc-message", "")
    elif isinstance(event, h2.events.StreamReset):
        outcome.reset = True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
