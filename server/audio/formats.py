"""Which recordings we accept, recognised by their first bytes and their MIME type.

Sniffing the magic bytes as the first chunk arrives lets an upload of
something that is not audio fail at once instead of after 25 MiB. The bytes
only say which container it claims to be; `server.audio.probe` decodes it to
be sure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.errors import InvalidArgument

# Enough for every check below: Ogg needs 36 bytes (page header plus the codec
# id), WebM's DocType sits within the first 40 bytes of its EBML header.
SNIFF_BYTES = 64

MIME_TYPE_FIELD = "config.mime_type"
AUDIO_FIELD = "audio_content"


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"
    M4A = "m4a"
    FLAC = "flac"
    OGG = "ogg"
    WEBM = "webm"


@dataclass(frozen=True)
class FormatSpec:
    mime_type: str  # the canonical type we report
    demuxer: str  # FFmpeg demuxer forced when decoding, so the sniffed format is the one read
    codecs: frozenset[str]  # codec families accepted inside this container
    extension: str


FORMATS: dict[AudioFormat, FormatSpec] = {
    AudioFormat.WAV: FormatSpec("audio/wav", "wav", frozenset({"pcm"}), "wav"),
    AudioFormat.MP3: FormatSpec("audio/mpeg", "mp3", frozenset({"mp3"}), "mp3"),
    AudioFormat.M4A: FormatSpec("audio/mp4", "mp4", frozenset({"aac", "alac"}), "m4a"),
    AudioFormat.FLAC: FormatSpec("audio/flac", "flac", frozenset({"flac"}), "flac"),
    AudioFormat.OGG: FormatSpec("audio/ogg", "ogg", frozenset({"opus", "vorbis"}), "ogg"),
    AudioFormat.WEBM: FormatSpec("audio/webm", "webm", frozenset({"opus", "vorbis"}), "webm"),
}

SUPPORTED_FORMATS_TEXT = "WAV, MP3, M4A (AAC), FLAC, Ogg (Opus or Vorbis) or WebM (Opus)"

# MIME types seen in the wild for each format. Recorders disagree: Android
# labels AAC in MP4 as audio/aac or audio/m4a, browsers send video/webm for
# audio-only WebM, and .opus files travel as audio/opus.
_MIME_FORMATS: dict[str, AudioFormat] = {
    "audio/wav": AudioFormat.WAV,
    "audio/x-wav": AudioFormat.WAV,
    "audio/wave": AudioFormat.WAV,
    "audio/vnd.wave": AudioFormat.WAV,
    "audio/x-pn-wav": AudioFormat.WAV,
    "audio/mpeg": AudioFormat.MP3,
    "audio/mp3": AudioFormat.MP3,
    "audio/x-mp3": AudioFormat.MP3,
    "audio/mpeg3": AudioFormat.MP3,
    "audio/x-mpeg": AudioFormat.MP3,
    "audio/x-mpeg-3": AudioFormat.MP3,
    "audio/mp4": AudioFormat.M4A,
    "audio/x-m4a": AudioFormat.M4A,
    "audio/m4a": AudioFormat.M4A,
    "audio/aac": AudioFormat.M4A,
    "audio/x-aac": AudioFormat.M4A,
    "audio/aacp": AudioFormat.M4A,
    "video/mp4": AudioFormat.M4A,
    "audio/flac": AudioFormat.FLAC,
    "audio/x-flac": AudioFormat.FLAC,
    "audio/ogg": AudioFormat.OGG,
    "audio/x-ogg": AudioFormat.OGG,
    "application/ogg": AudioFormat.OGG,
    "audio/opus": AudioFormat.OGG,
    "audio/vorbis": AudioFormat.OGG,
    "audio/webm": AudioFormat.WEBM,
    "video/webm": AudioFormat.WEBM,
}
# A type that names the codec as well as the container.
_MIME_CODECS: dict[str, str] = {"audio/opus": "opus", "audio/vorbis": "vorbis"}
# Types that say nothing about the content.
_NO_CLAIM = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Values of the `codecs=` parameter (RFC 6381) we understand, as codec families.
_CODEC_PARAMETERS: dict[str, str] = {
    "opus": "opus",
    "vorbis": "vorbis",
    "flac": "flac",
    "mp3": "mp3",
    "aac": "aac",
    "alac": "alac",
    "1": "pcm",  # WAVE format tag 1, as in audio/wav; codecs=1
    "pcm": "pcm",
}


@dataclass(frozen=True)
class MimeClaim:
    """What a declared MIME type says about the content."""

    mime_type: str
    format: AudioFormat
    codecs: frozenset[str]  # codec families named; empty when it names none


def parse_mime_type(raw: str) -> MimeClaim | None:
    """The claim made by a declared MIME type; None when it makes none.

    A type we do not accept at all (text/plain, audio/x-ms-wma) is refused
    here, before any byte of audio is read.
    """
    essence, _, parameters = raw.strip().lower().partition(";")
    essence = essence.strip()
    if essence in _NO_CLAIM:
        return None
    audio_format = _MIME_FORMATS.get(essence)
    if audio_format is None:
        raise InvalidArgument.for_field(
            MIME_TYPE_FIELD,
            f"mime_type {raw.strip()!r} is not a supported audio type; "
            f"send {SUPPORTED_FORMATS_TEXT}",
            reason="AUDIO_FORMAT_UNSUPPORTED",
        )
    codecs = set(_codecs_parameter(parameters))
    if essence in _MIME_CODECS:
        codecs.add(_MIME_CODECS[essence])
    return MimeClaim(essence, audio_format, frozenset(codecs))


def _codecs_parameter(parameters: str) -> list[str]:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip() != "codecs":
            continue
        families = []
        for token in value.strip().strip('"').split(","):
            token = token.strip()
            # mp4a.40.2 and friends: AAC object types inside MP4.
            family = "aac" if token.startswith("mp4a.40") else _CODEC_PARAMETERS.get(token)
            if family is None:
                return []  # a codec we cannot interpret: treat the parameter as no claim
            families.append(family)
        return families
    return []


def codec_family(codec_name: str) -> str:
    """FFmpeg codec name to the family the tables above use (pcm_s16le -> pcm)."""
    return "pcm" if codec_name.startswith("pcm_") else codec_name


def check_claimed_format(claim: MimeClaim | None, detected: AudioFormat) -> None:
    if claim is not None and claim.format is not detected:
        raise _mismatch(claim, f"the audio is {detected.value.upper()}")


def check_claimed_codec(claim: MimeClaim | None, codec_name: str) -> None:
    if claim is not None and claim.codecs and codec_family(codec_name) not in claim.codecs:
        raise _mismatch(claim, f"the audio is encoded with {codec_family(codec_name)}")


def _mismatch(claim: MimeClaim, actual: str) -> InvalidArgument:
    return InvalidArgument.for_field(
        MIME_TYPE_FIELD,
        f"mime_type {claim.mime_type!r} does not match the content: {actual}",
        reason="AUDIO_MIME_TYPE_MISMATCH",
    )


def sniff_format(head: bytes) -> AudioFormat | None:
    """The container the first bytes announce, or None when they announce none we accept."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return AudioFormat.WAV
    if head.startswith(b"fLaC"):
        return AudioFormat.FLAC
    if head.startswith(b"OggS"):
        return AudioFormat.OGG if _ogg_codec_supported(head) else None
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return AudioFormat.WEBM if _ebml_doc_type(head) == b"webm" else None
    if head[4:8] == b"ftyp":
        return AudioFormat.M4A
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return AudioFormat.MP3
    return None


def _ogg_codec_supported(head: bytes) -> bool:
    # The first page holds one segment: the codec's identification header.
    segment_count = head[26] if len(head) > 26 else 0
    packet = head[27 + segment_count :]
    return packet.startswith((b"OpusHead", b"\x01vorbis"))


def _ebml_doc_type(head: bytes) -> bytes | None:
    # DocType (0x4282) is a short string inside the EBML header, its size a one-byte vint.
    at = head.find(b"\x42\x82")
    if at < 0 or at + 3 > len(head):
        return None
    size_byte = head[at + 2]
    if not size_byte & 0x80:
        return None
    size = size_byte & 0x7F
    return head[at + 3 : at + 3 + size]


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: sync bits, and no reserved version, layer, rate or bitrate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate_index = head[2] >> 4
    sample_rate_index = (head[2] >> 2) & 0b11
    # Layer bits 00 are reserved in MPEG audio: that pattern is an AAC ADTS stream.
    return version != 0b01 and layer != 0 and bitrate_index != 0b1111 and sample_rate_index != 3
