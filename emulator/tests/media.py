"""Small media files made offline: ffmpeg lavfi, libheif's heif-enc, and a few byte patches
(a rotated MP4's tkhd matrix, a JPEG's EXIF Orientation) that ffmpeg 5.1 cannot write itself."""

import shutil
import struct
import subprocess
from pathlib import Path

__all__ = ["CORPUS", "ffmpeg", "heif_enc", "make", "rotate_tkhd", "with_exif_orientation"]


def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *map(str, args)],
                   check=True, timeout=120)


def heif_enc(source: Path, target: Path) -> None:
    """HEIC or AVIF (by ``target``'s suffix) from a JPEG; libheif 1.15 writes no grids and no irot."""
    if shutil.which("heif-enc") is None:
        import pytest

        pytest.skip("heif-enc (Debian libheif-examples) is missing: run emulator/ensure_ffmpeg.sh")
    subprocess.run(["heif-enc", "-q", "50", "-o", str(target), str(source)], check=True, capture_output=True, timeout=120)


def rotate_tkhd(data: bytes, degrees: int = 90) -> bytes:
    """An MP4 whose first track header carries a display matrix turning it ``degrees`` clockwise.

    ffmpeg 5.1 ignores ``-metadata:s:v rotate=90`` and has no ``-display_rotation``; phones
    write exactly this matrix (ffprobe reports ``rotation: -90`` for 90 clockwise).
    """
    found = data.find(b"tkhd")
    assert found > 0, "no tkhd box"
    version = data[found + 4]
    # version/flags, then times, track id, reserved and duration (20 or 32 bytes), reserved (8),
    # layer, alternate group, volume, reserved (8): the 3x3 matrix follows.
    matrix_at = found + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    one, minus = 0x10000, -0x10000
    matrix = {90: (0, one, 0, minus, 0, 0, 0, 0, 0x40000000),
              180: (minus, 0, 0, 0, minus, 0, 0, 0, 0x40000000),
              270: (0, minus, 0, one, 0, 0, 0, 0, 0x40000000)}[degrees]
    return data[:matrix_at] + struct.pack(">9i", *matrix) + data[matrix_at + 36:]


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an APP1 EXIF segment holding only the Orientation tag, right after SOI."""
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)  # SHORT, count 1, value in place
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


_V = ("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=0.6")
_A = ("-f", "lavfi", "-i", "sine=frequency=440:duration=0.6")
_STILL = ("-f", "lavfi", "-i", "testsrc2=size=96x64", "-frames:v", "1")

# name -> (kind, ffmpeg arguments before the output path). Every format src/common/media_kinds.py
# sniffs has an entry (emulator/tests/test_formats.py checks that); heic, heif and avif are made
# by heif-enc in ``make``.
CORPUS = {
    "image.jpg": ("image", (*_STILL,)),
    "image.png": ("image", (*_STILL,)),
    "image.gif": ("image", (*_STILL,)),
    "image.webp": ("image", (*_STILL, "-c:v", "libwebp")),
    "image.bmp": ("image", (*_STILL,)),
    "image.tiff": ("image", (*_STILL,)),
    "image.heic": ("image", None),
    "image.heif": ("image", None),
    "image.avif": ("image", None),
    "video.mp4": ("video", (*_V, *_A, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")),
    "video.mov": ("video", (*_V, *_A, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mov")),
    "video.m4v": ("video", (*_V, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "ipod")),
    "video.3gp": ("video", (*_V, *_A, "-c:v", "h263", "-s", "128x96", "-c:a", "aac", "-ar", "8000", "-ac", "1", "-f", "3gp")),
    "video.3g2": ("video", (*_V, *_A, "-c:v", "h263", "-s", "128x96", "-c:a", "aac", "-ar", "8000", "-ac", "1", "-f", "3g2")),
    "video.webm": ("video", (*_V, *_A, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus")),
    "video.mkv": ("video", (*_V, *_A, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "flac")),
    "video.avi": ("video", (*_V, *_A, "-c:v", "mpeg4", "-c:a", "mp3")),
    "video.ts": ("video", (*_V, *_A, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts")),
    "video.flv": ("video", (*_V, *_A, "-c:v", "flv", "-c:a", "mp3", "-ar", "44100")),
    "video.ogv": ("video", (*_V, *_A, "-c:v", "libtheora", "-c:a", "libvorbis")),
    "audio.mp3": ("audio", (*_A, "-c:a", "libmp3lame")),
    "audio.mp2": ("audio", (*_A, "-c:a", "mp2", "-f", "mp2")),
    "audio.wav": ("audio", (*_A,)),
    "audio.flac": ("audio", (*_A,)),
    "audio.ogg": ("audio", (*_A, "-c:a", "libvorbis")),
    "audio.opus": ("audio", (*_A, "-c:a", "libopus", "-f", "ogg")),
    "audio.aac": ("audio", (*_A, "-c:a", "aac", "-f", "adts")),
    "audio.m4a": ("audio", (*_A, "-c:a", "aac", "-f", "ipod")),
    "audio.aiff": ("audio", (*_A, "-f", "aiff")),
}


def _without_sdt(data: bytes) -> bytes:
    """The transport stream without its SDT packets (PID 0x11).

    ffmpeg's muxer writes the SDT before the PAT; the upload sniffer (src/common/media_kinds.py)
    wants the PAT first, as broadcast and camera streams have it, so remove the optional SDT.
    """
    packets = [data[at:at + 188] for at in range(0, len(data), 188)]
    return b"".join(p for p in packets if ((p[1] & 0x1F) << 8 | p[2]) != 0x11)


def make(name: str, root: Path) -> Path:
    """Write ``name`` (a key of CORPUS) under ``root`` once; return its path."""
    path = root / name
    if path.exists():
        return path
    _kind, args = CORPUS[name]
    if args is not None:
        ffmpeg(*args, path)
        if name.endswith(".ts"):
            path.write_bytes(_without_sdt(path.read_bytes()))
        return path
    source = make("image.jpg", root)
    if name == "image.heif":
        # A plain HEIF: major brand mif1 without a codec brand (what the sniffer calls image/heif).
        data = bytearray(make("image.heic", root).read_bytes())
        assert data[8:12] == b"heic"
        box_end = int.from_bytes(data[0:4], "big")
        data[8:12] = b"mif1"
        for at in range(16, box_end, 4):
            if data[at:at + 4] == b"heic":
                data[at:at + 4] = b"miaf"
        path.write_bytes(bytes(data))
    else:
        heif_enc(source, path)
    return path
