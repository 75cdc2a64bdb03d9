"""STT_MODEL: the shipped Whisper models, assembled and verified before they load.

The fast tests build fake package parts in a temporary directory and hand them to
the real `prepare` through its `locate` argument; the slow ones load and run the
real base model from its installed packages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.engines.stt import LocalWhisperEngine, TranscriptionContext, create_engine
from server.engines.stt.models import (
    SHIPPED,
    ModelFile,
    ModelUnavailable,
    Part,
    ShippedModel,
    locate_installed,
    prepare,
)
from server.engines.stt.wer import word_error_rate
from tests.audio_assets import ANSWER_SAMPLE, AUDIO
from tests.helpers import make_settings

BIN_HEAD, BIN_TAIL = b"weights, first half;" * 1000, b"weights, second half" * 1000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_split_model(root: Path, tail: bytes = BIN_TAIL) -> tuple[ShippedModel, dict[Part, Path]]:
    """A model like base: model.bin in two packages, config.json whole in the first."""
    one, two = Part("fake_one", "data/model.bin.part1"), Part("fake_two", "data/model.bin.part2")
    config = Part("fake_one", "data/config.json")
    files = {one: BIN_HEAD, two: tail, config: b'{"fake": true}'}
    paths: dict[Part, Path] = {}
    for part, data in files.items():
        path = root / part.package / part.resource
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths[part] = path
    model = ShippedModel(
        "fake",
        multilingual=True,
        distributions=("fake-one", "fake-two"),
        files=(
            ModelFile("model.bin", _sha(BIN_HEAD + BIN_TAIL), (one, two)),
            ModelFile("config.json", _sha(b'{"fake": true}'), (config,)),
        ),
    )
    return model, paths


def test_a_split_model_is_assembled_once_and_verified(tmp_path: Path) -> None:
    model, paths = _fake_split_model(tmp_path / "packages")
    directory = prepare(model, tmp_path / "cache", paths.__getitem__)
    assert directory == tmp_path / "cache" / "fake"
    assert (directory / "model.bin").read_bytes() == BIN_HEAD + BIN_TAIL
    assert (directory / "config.json").read_bytes() == b'{"fake": true}'
    written = (directory / "model.bin").stat().st_mtime_ns
    assert prepare(model, tmp_path / "cache", paths.__getitem__) == directory
    assert (directory / "model.bin").stat().st_mtime_ns == written  # not assembled again
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.bin"]


def test_a_corrupt_assembled_copy_is_rebuilt_from_the_packages(tmp_path: Path) -> None:
    model, paths = _fake_split_model(tmp_path / "packages")
    directory = prepare(model, tmp_path / "cache", paths.__getitem__)
    (directory / "model.bin").write_bytes(BIN_HEAD)  # truncated on disk
    prepare(model, tmp_path / "cache", paths.__getitem__)
    assert (directory / "model.bin").read_bytes() == BIN_HEAD + BIN_TAIL


def test_a_corrupt_part_refuses_and_leaves_nothing_behind(tmp_path: Path) -> None:
    model, paths = _fake_split_model(tmp_path / "packages", tail=BIN_TAIL[:-1] + b"!")
    with pytest.raises(ModelUnavailable) as refused:
        prepare(model, tmp_path / "cache", paths.__getitem__)
    message = str(refused.value)
    assert message.startswith("STT_MODEL=fake cannot be used: model.bin assembled from")
    assert "does not match its pinned SHA-256" in message
    assert "Install fake-one and fake-two" in message
    # No model.bin, no partial file: the next start tries again from scratch.
    assert list((tmp_path / "cache" / "fake").iterdir()) == []


def test_a_missing_package_names_what_to_install(tmp_path: Path) -> None:
    model = ShippedModel(
        "absent",
        multilingual=False,
        distributions=("absent-weights",),
        files=(ModelFile("model.bin", "0" * 64, (Part("no_such_package_x", "m.bin"),)),),
    )
    with pytest.raises(
        ModelUnavailable, match=r"no_such_package_x is not installed.*absent-weights"
    ):
        prepare(model, tmp_path)


def test_a_corrupt_whole_model_is_refused_not_replaced(tmp_path: Path) -> None:
    """tiny.en is used in place (it is not split): a changed file is refused."""
    tiny = SHIPPED["tiny.en"]
    copy = tmp_path / "model"
    copy.mkdir()
    for file in tiny.files:
        data = locate_installed(file.parts[0]).read_bytes()
        (copy / file.name).write_bytes(data if file.name != "config.json" else data + b" ")
    with pytest.raises(ModelUnavailable, match=r"config\.json does not match its pinned SHA-256"):
        prepare(tiny, tmp_path / "cache", lambda part: copy / Path(part.resource).name)


def test_the_shipped_models_verify_as_installed(tmp_path: Path) -> None:
    tiny = prepare(SHIPPED["tiny.en"], tmp_path)
    assert (tiny / "model.bin").is_file()
    base = prepare(SHIPPED["base"], tmp_path)
    assert base == tmp_path / "base"
    assert {p.name for p in base.iterdir()} == {f.name for f in SHIPPED["base"].files}


def test_stt_model_chooses_the_engine_model(tmp_path: Path) -> None:
    tiny = create_engine(make_settings(STT_MODEL_DIR=str(tmp_path)))
    base = create_engine(make_settings(STT_MODEL="base", STT_MODEL_DIR=str(tmp_path)))
    assert isinstance(tiny, LocalWhisperEngine)
    assert isinstance(base, LocalWhisperEngine)
    assert (tiny.model, base.model) == ("tiny.en", "base")


@pytest.mark.slow
async def test_base_transcribes_real_audio_and_takes_other_languages(tmp_path: Path) -> None:
    engine = create_engine(make_settings(STT_MODEL="base", STT_MODEL_DIR=str(tmp_path)))
    await engine.load()
    try:
        context = TranscriptionContext(question=ANSWER_SAMPLE.question, skills=ANSWER_SAMPLE.skills)
        result = await engine.transcribe(AUDIO / "answer.wav", language="en", context=context)
        assert result.model == "base"
        assert word_error_rate(ANSWER_SAMPLE.reference, result.text) <= 0.15, result.text
        # Multilingual: Hindi is accepted (tiny.en refuses it as INVALID_ARGUMENT).
        hindi = await engine.transcribe(AUDIO / "answer.wav", language="hi", context=context)
        assert hindi.language == "hi"
    finally:
        await engine.close()
