"""The transport baseline: a bare grpc.aio server with empty handlers at Samvaad's paths.

GetMe, GetInterview, ListInterviews and UploadResume answer an empty response at once;
TranscribeAnswer is a sink that reads and parses every message and counts the audio
bytes. Same transport options as Samvaad
(message limits, keepalive), no interceptors, no database, no disk. The benchmark
starts it as a subprocess, so it runs in a process of its own just as Samvaad does:

    python -m clients.bench.bare --port 50100
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from generated.samvaad.v1 import auth_pb2, interview_pb2, resume_pb2, transcription_pb2
from server.app import server_options
from server.config import Settings

GET_ME = "GetMe"
TRANSCRIBE_ANSWER = "TranscribeAnswer"


async def empty_get_me(_request: auth_pb2.GetMeRequest, _context: Any) -> auth_pb2.GetMeResponse:
    return auth_pb2.GetMeResponse()


async def upload_sink(
    requests: AsyncIterator[transcription_pb2.TranscribeAnswerRequest], _context: Any
) -> transcription_pb2.TranscribeAnswerResponse:
    received = 0
    async for message in requests:
        received += len(message.audio_content)
    return transcription_pb2.TranscribeAnswerResponse(
        audio=transcription_pb2.AudioInfo(size_bytes=received)
    )


async def empty_get_interview(
    _request: interview_pb2.GetInterviewRequest, _context: Any
) -> interview_pb2.GetInterviewResponse:
    return interview_pb2.GetInterviewResponse()


async def empty_list_interviews(
    _request: interview_pb2.ListInterviewsRequest, _context: Any
) -> interview_pb2.ListInterviewsResponse:
    return interview_pb2.ListInterviewsResponse()


async def empty_upload_resume(
    _request: resume_pb2.UploadResumeRequest, _context: Any
) -> resume_pb2.UploadResumeResponse:
    return resume_pb2.UploadResumeResponse()


def bare_handlers() -> list[grpc.GenericRpcHandler]:
    auth = grpc.method_handlers_generic_handler(
        "samvaad.v1.AuthService",
        {
            GET_ME: grpc.unary_unary_rpc_method_handler(
                empty_get_me,
                request_deserializer=auth_pb2.GetMeRequest.FromString,
                response_serializer=auth_pb2.GetMeResponse.SerializeToString,
            )
        },
    )
    transcription = grpc.method_handlers_generic_handler(
        "samvaad.v1.TranscriptionService",
        {
            TRANSCRIBE_ANSWER: grpc.stream_unary_rpc_method_handler(
                upload_sink,
                request_deserializer=transcription_pb2.TranscribeAnswerRequest.FromString,
                response_serializer=transcription_pb2.TranscribeAnswerResponse.SerializeToString,
            )
        },
    )
    interview = grpc.method_handlers_generic_handler(
        "samvaad.v1.InterviewService",
        {
            "GetInterview": grpc.unary_unary_rpc_method_handler(
                empty_get_interview,
                request_deserializer=interview_pb2.GetInterviewRequest.FromString,
                response_serializer=interview_pb2.GetInterviewResponse.SerializeToString,
            ),
            "ListInterviews": grpc.unary_unary_rpc_method_handler(
                empty_list_interviews,
                request_deserializer=interview_pb2.ListInterviewsRequest.FromString,
                response_serializer=interview_pb2.ListInterviewsResponse.SerializeToString,
            ),
        },
    )
    resume = grpc.method_handlers_generic_handler(
        "samvaad.v1.ResumeService",
        {
            "UploadResume": grpc.unary_unary_rpc_method_handler(
                empty_upload_resume,
                request_deserializer=resume_pb2.UploadResumeRequest.FromString,
                response_serializer=resume_pb2.UploadResumeResponse.SerializeToString,
            ),
        },
    )
    return [auth, transcription, interview, resume]


async def serve(port: int) -> None:
    settings = Settings(_env_file=None)
    server = grpc.aio.server(options=server_options(settings))
    server.add_generic_rpc_handlers(bare_handlers())
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"bare server: could not bind 127.0.0.1:{port}")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)


def main() -> None:
    parser = argparse.ArgumentParser(description="bare grpc.aio baseline server")
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
