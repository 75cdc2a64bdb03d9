"""Password hashing with argon2id, always off the event loop.

argon2 is deliberately slow and memory-hard; run on the loop it would stall
every other call. Hashes run in a small thread pool (argon2-cffi releases the
GIL), which also bounds how much memory concurrent logins can take. Those
threads run at a lower CPU priority than the event loop, so that a burst of
logins on a machine with few cores cannot starve every other call of CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

Profile = Literal["owasp", "rfc9106_low_memory", "test_only_cheap"]

# Niceness of the hashing threads. At equal priority, a burst of owasp logins on
# 2 cores pushed GetMe p99 to 70-650 ms; at 10, to 15-40 ms, with logins as fast
# as before (docs/benchmarks.md).
HASH_THREAD_NICENESS = 10

PROFILES: dict[str, argon2.Parameters] = {
    # OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
    "owasp": argon2.Parameters(
        type=argon2.Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=2,
        memory_cost=19 * 1024,
        parallelism=1,
    ),
    # RFC 9106 section 4, second recommended option: 64 MiB, 3 passes, 4 lanes.
    "rfc9106_low_memory": argon2.profiles.RFC_9106_LOW_MEMORY,
    # For tests only: refused in production by the settings.
    "test_only_cheap": argon2.profiles.CHEAPEST,
}


class PasswordHasher:
    def __init__(self, profile: Profile = "owasp", concurrency: int = 2) -> None:
        self._hasher = argon2.PasswordHasher.from_parameters(PROFILES[profile])
        self._pool = ThreadPoolExecutor(
            max_workers=concurrency,
            thread_name_prefix="argon2",
            initializer=_below_the_event_loop,
        )
        # Verifying against this when an email is unknown makes a miss take as
        # long as a wrong password, so timing does not reveal who has an account.
        self._dummy_hash = self._hasher.hash("samvaad-timing-equaliser")
        # Password checks run so far (the dummy ones included): what the login
        # throttle bounds, and what tests count.
        self.verifications = 0

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, spends the same time and says False."""
        loop = asyncio.get_running_loop()
        target = password_hash if password_hash is not None else self._dummy_hash
        self.verifications += 1
        matched = await loop.run_in_executor(self._pool, self._verify_sync, target, password)
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _below_the_event_loop() -> None:
    """Lower the CPU priority of the calling (hashing) thread.

    On Linux niceness is per thread, and raising it needs no privilege. Elsewhere
    the id of a thread could name some other process, so nothing is changed there.
    """
    if not sys.platform.startswith("linux"):
        return
    # A sandbox that forbids it leaves the thread at normal priority.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICENESS)
