"""A burst of logins must not starve other calls of CPU.

argon2 runs off the event loop (argon2-cffi releases the GIL), but on a machine with
few cores the hashing threads would still take every CPU: at equal priority, a burst
of owasp logins on 2 cores pushed GetMe p99 from about 5 ms to 70-650 ms (see
docs/benchmarks.md; `make bench` measures it). So the hashing threads run at
a lower priority than the event loop. Timings are the benchmark's business; this
test checks the mechanism.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from server.domain.passwords import HASH_THREAD_NICENESS, PasswordHasher

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="niceness is per thread only on Linux"
)


def niceness_of_threads() -> dict[int, int]:
    """Thread id to niceness, for every thread of this process."""
    niceness = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        niceness[int(task.name)] = int(fields[16])  # field 19 of proc(5)
    return niceness


async def test_hashing_threads_run_below_the_event_loop() -> None:
    before = niceness_of_threads()
    loop_niceness = before[os.getpid()]  # the main thread runs the event loop
    if loop_niceness >= HASH_THREAD_NICENESS:
        pytest.skip(f"the tests already run at niceness {loop_niceness}")
    hasher = PasswordHasher("test_only_cheap", concurrency=2)
    try:
        hashes = await asyncio.gather(*(hasher.hash(f"password {i}") for i in range(8)))
        assert await hasher.verify(hashes[0], "password 0")
        new_threads = {
            thread: nice for thread, nice in niceness_of_threads().items() if thread not in before
        }
    finally:
        hasher.close()
    assert new_threads, "the hasher should have started its threads"
    assert set(new_threads.values()) == {HASH_THREAD_NICENESS}
    # The event loop's own thread keeps its priority.
    assert niceness_of_threads()[os.getpid()] == loop_niceness
