"""Entry point: `python -m server` or the `samvaad-server` script."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from types import FrameType

from pydantic import ValidationError

from server.app import PortUnavailable, check_port_free, serve
from server.config import Settings
from server.db.migrate import upgrade_to_head
from server.engines.stt.models import ModelUnavailable, shipped_model_directory
from server.logs import configure_logging

log = logging.getLogger("samvaad")


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]) for e in error.errors())
        sys.exit(f"samvaad: refusing to start: {problems}")


def _serve(settings: Settings) -> None:
    try:
        asyncio.run(serve(settings))
    except (PortUnavailable, ModelUnavailable) as error:
        sys.exit(f"samvaad: {error}")


def _check_model(settings: Settings) -> None:
    """An unusable STT_MODEL stops the start-up before migrations and model loading."""
    if settings.transcription_engine == "local" and not settings.whisper_model:
        try:
            shipped_model_directory(settings.stt_model, settings.stt_model_dir)
        except ModelUnavailable as error:
            sys.exit(f"samvaad: refusing to start: {error}")


def _run_worker() -> None:
    settings = _load_settings()
    configure_logging(settings.log_level, settings.log_format)
    _serve(settings)


def _run_workers(count: int) -> None:
    """Several processes serving one port through SO_REUSEPORT; the kernel spreads connections."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_run_worker, name=f"worker-{i}") for i in range(count)]
    for worker in workers:
        worker.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        # Each worker drains its own calls; the parent waits for all of them.
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()


def main() -> None:
    parser = argparse.ArgumentParser(prog="samvaad-server", description="Samvaad gRPC server")
    parser.add_argument("--no-migrate", action="store_true", help="skip migrations at start-up")
    parser.add_argument(
        "--services",
        help="serve only these (comma-separated: auth,resume,interview,transcription,analysis); "
        "the same as SAMVAAD_SERVICES",
    )
    args = parser.parse_args()
    if args.services:
        # Through the environment, so spawned worker processes see it too.
        os.environ["SAMVAAD_SERVICES"] = args.services
    settings = _load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        check_port_free(settings)
    except PortUnavailable as error:
        sys.exit(f"samvaad: {error}")
    _check_model(settings)
    if settings.migrate_on_start and not args.no_migrate:
        upgrade_to_head(settings.database_url)
    if settings.workers == 1:
        _serve(settings)
        return
    if settings.port == 0:
        sys.exit("samvaad: BACKEND_SERVER_PORT=0 cannot be shared by several workers")
    log.info("starting workers", extra={"workers": settings.workers})
    _run_workers(settings.workers)


if __name__ == "__main__":
    main()
