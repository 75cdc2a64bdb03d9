"""PDF text extraction in a disposable child process, capped in pages, time and memory.

A PDF is a program of sorts: a hostile one can make pypdf loop, decompress
gigabytes or recurse for minutes. Each PDF is therefore read in a fresh
process forked from a "forkserver" that has pypdf loaded already (a few
milliseconds to start). The parent waits for the answer up to a time cap and
kills the child when it is late; the child runs under an address-space limit
and a CPU-time limit of its own, so it ends even if the parent cannot kill it.
A semaphore bounds how many PDFs are read at once, and a per-owner count
how many of those (waiting or being read) one user may have, so that one
account's slow PDFs cannot hold every slot while other users wait.

The forkserver preloads this module and pypdf, so children start warm; keep
its imports light.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import multiprocessing
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Literal, cast, get_args

from server.errors import ResourceExhausted, Unavailable

Problem = Literal[
    "encrypted", "unreadable", "truncated", "too_many_pages", "too_much_text", "too_complex"
]

_PROBLEMS = frozenset(get_args(Problem))
# Starting a child is quick, but it imports the main module again when the server
# was started from a script; the time cap only counts from when it is ready.
_CHILD_START_SECONDS = 30.0
_READY = "ready"
# The PDF specification allows junk before the header within the first KiB.
_HEADER_WINDOW = 1024
_TRAILER_WINDOW = 2048


@dataclass(frozen=True)
class PdfLimits:
    max_pages: int
    timeout_seconds: float
    # Address-space limit of the child; None leaves it unlimited.
    memory_bytes: int | None
    # Extraction stops (and fails) past this many characters.
    max_chars: int


@dataclass(frozen=True)
class PdfText:
    text: str
    pages: int


class PdfReadFailed(Exception):
    def __init__(self, problem: Problem, pages: int = 0) -> None:
        super().__init__(problem)
        self.problem: Problem = problem
        self.pages = pages


def is_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:_HEADER_WINDOW]


def looks_truncated(data: bytes) -> bool:
    """A complete PDF ends with %%EOF (give or take trailing whitespace or padding)."""
    return b"%%EOF" not in data.rstrip(b"\x00\r\n\t\f ")[-_TRAILER_WINDOW:]


class PdfTextReader:
    def __init__(
        self,
        limits: PdfLimits,
        concurrency: int,
        per_owner: int | None = None,
        owner_queue: int = 4,
    ) -> None:
        self._limits = limits
        self._context = _process_context()
        self._slots = asyncio.Semaphore(concurrency)
        # One owner never holds every slot (unless there is only one).
        wanted = concurrency if per_owner is None else per_owner
        self._per_owner = max(1, min(wanted, concurrency - 1))
        self._owner_queue = owner_queue
        # Owner -> its own queue. Only touched on the event loop, between awaits,
        # so checking and counting is one atomic step.
        self._owners: dict[int, _OwnerQueue] = {}
        # Threads only wait on children; they do no work of their own.
        self._waiters = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="pdf-wait")
        self._children: set[BaseProcess] = set()
        self._lock = threading.Lock()
        self._closed = False

    async def read(self, data: bytes, owner: int | None = None) -> PdfText:
        """The text of every page, or PdfReadFailed saying what is wrong.

        An `owner` has at most `per_owner` PDFs waiting for or holding a slot; its
        further PDFs wait in a queue of its own, up to `owner_queue` of them, and
        beyond that ResourceExhausted (with a retry delay) comes at once."""
        if owner is None:
            return await self._read(data)
        queue = self._owners.get(owner)
        if queue is None:
            queue = self._owners[owner] = _OwnerQueue(asyncio.Semaphore(self._per_owner))
        if queue.users >= self._per_owner + self._owner_queue:
            raise ResourceExhausted(
                f"{queue.users} of your PDFs are being read or waiting already; wait for "
                "those uploads to finish, then upload again",
                reason="RESUME_PDF_BUSY",
                retry_after_seconds=1.0,
            )
        queue.users += 1
        try:
            async with queue.slots:
                return await self._read(data)
        finally:
            queue.users -= 1
            if not queue.users:
                del self._owners[owner]

    async def _read(self, data: bytes) -> PdfText:
        # The trailer check copies the file's end: off the loop, like the rest.
        if await asyncio.to_thread(looks_truncated, data):
            raise PdfReadFailed("truncated")
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._waiters, self._read_in_child, data)

    async def close(self) -> None:
        """Kills PDFs being read; their callers get Unavailable."""
        with self._lock:
            self._closed = True
            children = list(self._children)
        for child in children:
            child.kill()
        self._waiters.shutdown(wait=False, cancel_futures=True)

    def _read_in_child(self, data: bytes) -> PdfText:
        with self._lock:
            if self._closed:
                raise _shutting_down()
            receiver, sender = self._context.Pipe(duplex=False)
            child = self._context.Process(  # type: ignore[attr-defined]
                target=_child_main,
                args=(sender, data, self._limits),
                name="samvaad-pdf-text",
                daemon=True,
            )
            child.start()
            self._children.add(child)
        sender.close()
        try:
            if _receive(receiver, _CHILD_START_SECONDS) != _READY:
                if self._closed:
                    raise _shutting_down()
                raise RuntimeError(f"the PDF reader process did not start: {child.exitcode=}")
            answer = _receive(receiver, self._limits.timeout_seconds)
            if answer is None and self._closed:
                raise _shutting_down()
            return _outcome(answer)
        finally:
            if child.is_alive():
                child.kill()
            child.join()
            receiver.close()
            with self._lock:
                self._children.discard(child)


@dataclass
class _OwnerQueue:
    slots: asyncio.Semaphore  # held while waiting for or holding a global slot
    users: int = 0  # PDFs of this owner in `read`, queued or not


def _shutting_down() -> Unavailable:
    return Unavailable("the server is shutting down; retry", reason="SHUTTING_DOWN")


def _receive(receiver: Connection, timeout: float) -> object:
    """The child's next message, or None when it was late or died (memory or CPU limit)."""
    try:
        return receiver.recv() if receiver.poll(timeout) else None
    except (EOFError, OSError):
        return None


def _outcome(answer: object) -> PdfText:
    if not isinstance(answer, tuple):
        raise PdfReadFailed("too_complex")
    status, payload, pages = answer
    if status == "ok" and isinstance(payload, str):
        return PdfText(payload, pages)
    problem = cast(Problem, payload) if payload in _PROBLEMS else "unreadable"
    raise PdfReadFailed(problem, pages)


def _process_context() -> BaseContext:
    # fork would copy the server's threads and gRPC state into the child;
    # forkserver forks from a clean process instead, spawn is the portable fallback.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, "pypdf"])
        return context
    return multiprocessing.get_context("spawn")


def _child_main(sender: Connection, data: bytes, limits: PdfLimits) -> None:
    _limit_resources(limits)
    sender.send(_READY)
    # pypdf logs and warns about every quirk of real-world PDFs; nobody reads the
    # child's stderr, and the outcome says what matters.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    try:
        answer = extract_text(data, limits.max_pages, limits.max_chars)
    except MemoryError:
        answer = ("failed", "too_complex", 0)
    sender.send(answer)
    sender.close()


def _limit_resources(limits: PdfLimits) -> None:
    try:
        import resource
    except ImportError:  # not on POSIX: the parent's time cap still applies
        return
    # SIGXCPU would otherwise dump a core of a process that is being stopped on purpose.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = math.ceil(limits.timeout_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if limits.memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))


def extract_text(data: bytes, max_pages: int, max_chars: int) -> tuple[str, object, int]:
    """("ok", text, pages) or ("failed", problem, pages). Runs in the child."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many "protected" PDFs only restrict editing and open with an empty password.
            try:
                opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except Exception:
                opened = False
            if not opened:
                return ("failed", "encrypted", 0)
        pages = len(reader.pages)
        if pages > max_pages:
            return ("failed", "too_many_pages", pages)
        texts: list[str] = []
        total = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            total += len(text)
            if total > max_chars:
                return ("failed", "too_much_text", pages)
            texts.append(text)
    except MemoryError:
        raise
    except Exception:
        return ("failed", "unreadable", 0)
    return ("ok", "\n".join(texts), pages)
