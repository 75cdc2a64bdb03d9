"""Recognising recordings by their first bytes, and what a declared MIME type claims."""

from __future__ import annotations

import pytest

from server.audio.formats import (
    SNIFF_BYTES,
    AudioFormat,
    check_claimed_codec,
    check_claimed_format,
    parse_mime_type,
    sniff_format,
)
from server.errors import InvalidArgument
from tests.audio_assets import AUDIO, FORMAT_FILES, SPEECH_MP3


@pytest.mark.parametrize(("filename", "expected"), [(f, v[0]) for f, v in FORMAT_FILES.items()])
def test_every_fixture_is_recognised_from_its_first_bytes(
    filename: str, expected: AudioFormat
) -> None:
    head = (AUDIO / filename).read_bytes()[:SNIFF_BYTES]
    assert sniff_format(head) is expected


def test_real_mp3_with_an_id3_tag_is_recognised() -> None:
    assert sniff_format(SPEECH_MP3.read_bytes()[:SNIFF_BYTES]) is AudioFormat.MP3


def test_mp3_without_a_tag_is_recognised_by_its_frame_header() -> None:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz.
    assert sniff_format(b"\xff\xfb\x90\x64" + bytes(60)) is AudioFormat.MP3


@pytest.mark.parametrize(
    "head",
    [
        b"this is not audio at all, just text pretending to be an mp3 file",
        bytes(64),
        b"\x89PNG\r\n\x1a\n" + bytes(56),
        b"%PDF-1.7\n" + bytes(55),
        b"\xff\xf1\x50\x80" + bytes(60),  # AAC in ADTS: sync bits but layer 00
        b"\xff\xfb\xf0\x64" + bytes(60),  # MPEG frame with the invalid bitrate index 15
        b"OggS" + bytes(24) + b"\x7fFLAC" + bytes(31),  # Ogg, but FLAC inside
        b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska" + bytes(47),  # Matroska, not WebM
        b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(48),  # RIFF, but a video
    ],
    ids=["text", "zeros", "png", "pdf", "adts", "bad-bitrate", "ogg-flac", "mkv", "avi"],
)
def test_other_bytes_are_not_recognised(head: bytes) -> None:
    assert sniff_format(head) is None


@pytest.mark.parametrize(
    ("mime_type", "expected"),
    [
        ("audio/wav", AudioFormat.WAV),
        ("audio/x-wav", AudioFormat.WAV),
        ("audio/wave", AudioFormat.WAV),
        ("audio/mpeg", AudioFormat.MP3),
        ("audio/mp3", AudioFormat.MP3),
        ("audio/mp4", AudioFormat.M4A),
        ("audio/x-m4a", AudioFormat.M4A),
        ("audio/aac", AudioFormat.M4A),
        ("audio/flac", AudioFormat.FLAC),
        ("audio/ogg", AudioFormat.OGG),
        ("audio/opus", AudioFormat.OGG),
        ("audio/webm", AudioFormat.WEBM),
        ("video/webm", AudioFormat.WEBM),
        (" Audio/WebM ; codecs=opus ", AudioFormat.WEBM),
    ],
)
def test_mime_type_aliases_claim_their_format(mime_type: str, expected: AudioFormat) -> None:
    claim = parse_mime_type(mime_type)
    assert claim is not None
    assert claim.format is expected


@pytest.mark.parametrize("mime_type", ["", "  ", "application/octet-stream"])
def test_empty_or_generic_mime_type_claims_nothing(mime_type: str) -> None:
    assert parse_mime_type(mime_type) is None


@pytest.mark.parametrize("mime_type", ["text/plain", "audio/x-ms-wma", "image/png", "audio"])
def test_unsupported_mime_type_is_refused_on_its_own(mime_type: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_mime_type(mime_type)
    assert caught.value.reason == "AUDIO_FORMAT_UNSUPPORTED"
    assert [v.field for v in caught.value.violations] == ["config.mime_type"]


@pytest.mark.parametrize(
    ("mime_type", "codecs"),
    [
        ("audio/webm;codecs=opus", {"opus"}),
        ('audio/ogg; codecs="vorbis"', {"vorbis"}),
        ("audio/mp4; codecs=mp4a.40.2", {"aac"}),
        ("audio/opus", {"opus"}),
        ("audio/webm;codecs=unknown-thing", set()),
        ("audio/ogg", set()),
    ],
)
def test_codecs_named_by_a_mime_type(mime_type: str, codecs: set[str]) -> None:
    claim = parse_mime_type(mime_type)
    assert claim is not None
    assert claim.codecs == codecs


def test_claim_that_contradicts_the_detected_format_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_claimed_format(parse_mime_type("audio/mpeg"), AudioFormat.OGG)
    assert caught.value.reason == "AUDIO_MIME_TYPE_MISMATCH"
    assert "OGG" in caught.value.message
    check_claimed_format(parse_mime_type("audio/x-m4a"), AudioFormat.M4A)
    check_claimed_format(None, AudioFormat.WAV)


def test_claimed_codec_must_match_the_decoded_one() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_claimed_codec(parse_mime_type("audio/ogg;codecs=opus"), "vorbis")
    assert caught.value.reason == "AUDIO_MIME_TYPE_MISMATCH"
    check_claimed_codec(parse_mime_type("audio/wav;codecs=1"), "pcm_s16le")
    check_claimed_codec(parse_mime_type("audio/ogg"), "vorbis")
