"""`make bench`: Samvaad's speed against baselines measured in the same run.

Absolute times on a shared machine are noise, so every figure is a ratio to a
baseline taken minutes apart on the same machine: a bare grpc.aio server for the
transport, the Whisper engine called directly for transcription, the server's own
idle state for latency under load and for memory. See docs/benchmarks.md.
"""
