"""Recognise image, video and audio files from their first bytes."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SNIFF_BYTES", "Sniffed", "declared_matches", "sniff"]

# Every signature below is decided within this many leading bytes.
SNIFF_BYTES = 64


@dataclass(frozen=True)
class Sniffed:
    """What a file is: kind ('image', 'video' or 'audio'), MIME type and extension."""

    kind: str
    content_type: str
    extension: str


_JPEG = Sniffed("image", "image/jpeg", "jpg")
_PNG = Sniffed("image", "image/png", "png")
_GIF = Sniffed("image", "image/gif", "gif")
_WEBP = Sniffed("image", "image/webp", "webp")
_AVIF = Sniffed("image", "image/avif", "avif")
_HEIC = Sniffed("image", "image/heic", "heic")
_HEIF = Sniffed("image", "image/heif", "heif")
_BMP = Sniffed("image", "image/bmp", "bmp")
_TIFF = Sniffed("image", "image/tiff", "tiff")
_MP4 = Sniffed("video", "video/mp4", "mp4")
_MOV = Sniffed("video", "video/quicktime", "mov")
_M4V = Sniffed("video", "video/x-m4v", "m4v")
_3GP = Sniffed("video", "video/3gpp", "3gp")
_3G2 = Sniffed("video", "video/3gpp2", "3g2")
_WEBM = Sniffed("video", "video/webm", "webm")
_MKV = Sniffed("video", "video/x-matroska", "mkv")
_AVI = Sniffed("video", "video/x-msvideo", "avi")
_MPEG_TS = Sniffed("video", "video/mp2t", "ts")
_FLV = Sniffed("video", "video/x-flv", "flv")
_OGV = Sniffed("video", "video/ogg", "ogv")
_MP3 = Sniffed("audio", "audio/mpeg", "mp3")
_MP2 = Sniffed("audio", "audio/mpeg", "mp2")
_WAV = Sniffed("audio", "audio/wav", "wav")
_FLAC = Sniffed("audio", "audio/flac", "flac")
_OGG = Sniffed("audio", "audio/ogg", "ogg")
_OPUS = Sniffed("audio", "audio/ogg", "opus")
_AAC = Sniffed("audio", "audio/aac", "aac")
_M4A = Sniffed("audio", "audio/mp4", "m4a")
_AIFF = Sniffed("audio", "audio/aiff", "aiff")

# ISO base media file format (MP4 family) brands, as found in the `ftyp` box.
_FTYP_BRANDS: dict[bytes, Sniffed] = {
    b"avif": _AVIF,
    b"avis": _AVIF,
    b"heic": _HEIC,
    b"heix": _HEIC,
    b"heim": _HEIC,
    b"heis": _HEIC,
    b"hevc": _HEIC,
    b"hevx": _HEIC,
    b"mif1": _HEIF,
    b"msf1": _HEIF,
    b"M4A ": _M4A,
    b"M4B ": _M4A,
    b"M4P ": _M4A,
    b"F4A ": _M4A,
    b"F4B ": _M4A,
    b"M4V ": _M4V,
    b"M4VH": _M4V,
    b"M4VP": _M4V,
    b"qt  ": _MOV,
    b"3gp4": _3GP,
    b"3gp5": _3GP,
    b"3gp6": _3GP,
    b"3gp7": _3GP,
    b"3gs7": _3GP,
    b"3ge6": _3GP,
    b"3ge7": _3GP,
    b"3gg6": _3GP,
    b"3g2a": _3G2,
    b"3g2b": _3G2,
    b"3g2c": _3G2,
    **{
        brand.ljust(4): _MP4
        for brand in (
            b"isom iso2 iso3 iso4 iso5 iso6 iso7 iso8 iso9 mp41 mp42 mp71 avc1 hvc1"
            b" dash mmp4 MSNV NDAS NDSC NDSH NDSM NDSP NDSS NDXC NDXH NDXM NDXP NDXS"
            b" f4v f4p XAVC"
        ).split()
    },
}

# A generic major brand (e.g. mif1, isom) defers to a more specific compatible brand.
_GENERIC_BRANDS = frozenset({b"mif1", b"msf1", b"isom", b"iso2", b"mp41", b"mp42"})
_SPECIFIC = (_AVIF, _HEIC, _M4A)

# BMP DIB header sizes: CORE, INFO, V2, V3, OS/2 v2, V4, V5.
_BMP_DIB_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

# MPEG audio sample-rate index 3 is reserved; ADTS has 13 valid sampling indexes.
_ADTS_SAMPLING_INDEXES = 13


def sniff(head: bytes) -> Sniffed | None:
    """Return what the leading bytes of a file say it is, or None when unsupported."""
    head = bytes(head[:SNIFF_BYTES])
    for detect in _DETECTORS:
        found = detect(head)
        if found is not None:
            return found
    return None


def declared_matches(declared_content_type: str | None, sniffed: Sniffed) -> bool:
    """Whether a client's Content-Type agrees with what the bytes are."""
    declared = (declared_content_type or "").split(";", 1)[0].strip().lower()
    if declared in _UNDECLARED:
        return True
    if declared == sniffed.content_type:
        return True
    if declared in _CONTAINER_TYPES:
        return sniffed.kind in ("audio", "video")
    major, slash, _minor = declared.partition("/")
    if not slash:
        return False
    if sniffed.content_type in _AUDIO_OR_VIDEO_CONTAINERS:
        # The first bytes of these cannot tell audio-only from video.
        return major in ("audio", "video")
    return major == sniffed.kind


# Types that say nothing about the content. curl --data-binary sends
# x-www-form-urlencoded unless told otherwise, and a file body cannot be a form.
_UNDECLARED = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "application/x-www-form-urlencoded",
    }
)
# Container types registered under application/ for audio and video files.
_CONTAINER_TYPES = frozenset({"application/ogg", "application/mp4"})
# Containers whose header does not say whether a video track exists.
_AUDIO_OR_VIDEO_CONTAINERS = frozenset(
    {
        "video/mp4",
        "video/webm",
        "video/x-matroska",
        "video/ogg",
        "audio/ogg",
        "audio/mp4",
    }
)


def _riff(head: bytes) -> Sniffed | None:
    if head[:4] != b"RIFF" or len(head) < 12:
        return None
    return {b"WEBP": _WEBP, b"WAVE": _WAV, b"AVI ": _AVI}.get(head[8:12])


def _aiff(head: bytes) -> Sniffed | None:
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _AIFF
    return None


def _prefixed(head: bytes) -> Sniffed | None:
    if head[:3] == b"\xff\xd8\xff":
        return _JPEG
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return _PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _GIF
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _TIFF
    if head[:4] == b"fLaC":
        return _FLAC
    if head[:4] == b"FLV\x01":
        return _FLV
    return None


def _bmp(head: bytes) -> Sniffed | None:
    # "BM" alone is too common in text; the DIB header size pins it down.
    if head[:2] != b"BM" or len(head) < 18:
        return None
    if head[6:10] != b"\x00\x00\x00\x00":
        return None
    if int.from_bytes(head[14:18], "little") not in _BMP_DIB_SIZES:
        return None
    return _BMP


def _iso_bmff(head: bytes) -> Sniffed | None:
    if head[4:8] != b"ftyp" or len(head) < 12:
        return None
    major = head[8:12]
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    compatible = [head[i : i + 4] for i in range(16, box_end - 3, 4)]
    if major in _GENERIC_BRANDS:
        # HEIF containers declare mif1 and name the codec among compatible brands.
        for brand in compatible:
            found = _FTYP_BRANDS.get(brand)
            if found in _SPECIFIC:
                return found
    found = _FTYP_BRANDS.get(major)
    if found is not None:
        return found
    for brand in compatible:
        found = _FTYP_BRANDS.get(brand)
        if found is not None:
            return found
    return None


def _legacy_quicktime(head: bytes) -> Sniffed | None:
    # Old QuickTime files start with a moov, mdat or wide atom and no ftyp; the
    # zero first size byte keeps plain text from matching.
    if (
        len(head) >= 8
        and head[0] == 0
        and head[4:8] in (b"moov", b"mdat", b"wide", b"free")
    ):
        return _MOV
    return None


def _ebml(head: bytes) -> Sniffed | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    # The DocType element (ID 0x4282) says which EBML flavour this is.
    if b"\x42\x82" in head and b"webm" in head:
        return _WEBM
    return _MKV


def _ogg(head: bytes) -> Sniffed | None:
    if head[:4] != b"OggS":
        return None
    # The first page's packet starts at offset 28 for a single-segment page.
    packet = head[28:36]
    if packet.startswith(b"\x80theora"):
        return _OGV
    if packet.startswith(b"OpusHead"):
        return _OPUS
    return _OGG


def _mpeg_ts(head: bytes) -> Sniffed | None:
    # A transport stream starts with a sync byte and, in practice, a table: the PAT
    # (PID 0, table id 0) or, as ffmpeg writes it, the SDT (PID 0x11, table id 0x42 or
    # 0x46), with payload start set: strict enough to never match text.
    if len(head) < 6 or head[0] != 0x47:
        return None
    if head[1] & 0xDF != 0x40 or head[3] & 0x30 == 0:
        return None
    tables = _TS_TABLES_BY_PID.get(head[2])
    pointer = head[4]
    if tables is None or 5 + pointer >= len(head) or head[5 + pointer] not in tables:
        return None
    return _MPEG_TS


# PID (low byte; the high bits are checked above to be 0) -> table ids that may open it.
_TS_TABLES_BY_PID = {0x00: {0x00}, 0x11: {0x42, 0x46}}


def _id3(head: bytes) -> Sniffed | None:
    if (
        head[:3] == b"ID3"
        and len(head) >= 5
        and head[3] in (2, 3, 4)
        and head[4] != 0xFF
    ):
        return _MP3
    return None


def _mpeg_audio_frame(head: bytes) -> Sniffed | None:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    if head[1] & 0xF6 == 0xF0:
        # ADTS: 12-bit sync, layer 0.
        if (head[2] >> 2) & 0x0F < _ADTS_SAMPLING_INDEXES:
            return _AAC
        return None
    version = (head[1] >> 3) & 0x03
    layer = (head[1] >> 1) & 0x03
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0x03
    if version == 1 or layer == 0 or bitrate == 0x0F or sample_rate == 0x03:
        return None
    return _MP3 if layer == 1 else _MP2


_DETECTORS = (
    _prefixed,
    _riff,
    _aiff,
    _iso_bmff,
    _ebml,
    _ogg,
    _id3,
    _bmp,
    _mpeg_ts,
    _mpeg_audio_frame,
    _legacy_quicktime,
)
