"""HEIF-family stills (HEIC, HEIF, AVIF): recognised from the ``ftyp`` box, decoded by libheif.

ffmpeg 5.1 (Debian 12) has no HEIF demuxer: it cannot read a HEIC at all, and reads only the
simplest AVIF, without ``irot``/``imir`` and without grids (what phones write). So these
stills go through ``heif-convert`` (Debian package ``libheif-examples``, installed by
``ensure_ffmpeg.sh``), which applies rotation and mirroring and joins grid tiles, to a PNG
that then takes the normal ffmpeg path.
"""

import glob
import os
import shutil
import subprocess

from emulator.reasons import public_reason
from emulator.transcode import TranscodeError

__all__ = ["HEAD_BYTES", "HeifError", "codec_of", "decode_still", "heif_brand", "read_head"]

HEAD_BYTES = 64

# Brands of HEIF still images (ISO/IEC 23008-12, MIAF, AV1 Image File Format).
STILL_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"})
# Major brands that defer to their compatible brands.
GENERIC_BRANDS = frozenset({b"isom", b"iso2", b"mp41", b"mp42", b"miaf"})
# Brands naming the codec, in the order they are looked for.
_CODEC_BRANDS = ((b"avif", "av1"), (b"heic", "hevc"), (b"heix", "hevc"), (b"heim", "hevc"), (b"heis", "hevc"),
                 (b"hevc", "hevc"), (b"hevx", "hevc"))


# Item property boxes that name the codec, looked for in the first bytes (the meta box comes first).
_CONFIG_BOXES = ((b"hvcC", "hevc"), (b"av1C", "av1"), (b"jpgC", "jpeg"))
_META_SCAN = 256 * 1024


class HeifError(TranscodeError):
    """A HEIF-family file that libheif could not decode."""


def _brands(head: bytes) -> tuple[bytes, list[bytes]] | None:
    """(major, compatible brands) of an ``ftyp`` box at the start of ``head``, None without one."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    return head[8:12], [head[i:i + 4] for i in range(16, box_end - 3, 4)]


def heif_brand(head: bytes) -> str | None:
    """``"avif"`` or ``"heif"`` when ``head`` starts a HEIF-family still image, else None.

    An AVIF image sequence (major brand ``avis``) is a video for ffmpeg, not a still.
    """
    brands = _brands(head)
    if brands is None:
        return None
    major, compatible = brands
    if major == b"avis":
        return None
    if major in STILL_BRANDS:
        pass
    elif major in GENERIC_BRANDS and any(brand in STILL_BRANDS - {b"mif1", b"msf1"} for brand in compatible):
        pass
    else:
        return None
    return "avif" if b"avif" in (major, *compatible) else "heif"


def codec_of(head: bytes, path: str | None = None) -> str | None:
    """The image codec (``hevc``, ``av1``, ``jpeg``): from the brands, else from the codec
    configuration box in the file's ``meta`` (``hvcC``, ``av1C``); None when neither says."""
    brands = _brands(head)
    if brands is None:
        return None
    present = {brands[0], *brands[1]}
    found = next((codec for brand, codec in _CODEC_BRANDS if brand in present), None)
    if found is None and path is not None:
        with open(path, "rb") as file:
            start = file.read(_META_SCAN)
        found = next((codec for box, codec in _CONFIG_BOXES if box in start), None)
    return found


def read_head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(HEAD_BYTES)


def convert_command(source: str, target: str) -> list[str]:
    return ["heif-convert", "--quiet", source, target]


def decode_still(source: str, work_dir: str, timeout_s: float) -> str:
    """Decode the HEIF still at ``source`` to a PNG in ``work_dir``; return its path. HeifError on failure."""
    if shutil.which("heif-convert") is None:
        raise HeifError("HEIF/AVIF image could not be decoded: heif-convert is missing "
                        "(install libheif-examples: emulator/ensure_ffmpeg.sh)")
    target = os.path.join(work_dir, "decoded.png")
    try:
        done = subprocess.run(convert_command(source, target), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise HeifError(f"HEIF/AVIF image could not be decoded in {timeout_s:g} s") from None
    # A file of several top-level images is written as decoded-1.png, decoded-2.png, ...: take the first.
    produced = target if os.path.exists(target) else next(iter(sorted(glob.glob(os.path.join(work_dir, "decoded-*.png")))), None)
    if done.returncode != 0 or produced is None or os.path.getsize(produced) == 0:
        lines = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        why = public_reason("; ".join(lines[-2:]) or f"exit code {done.returncode}",
                            {source: "input", target: "output"}, (work_dir,))
        raise HeifError(f"input is not a readable media file: HEIF/AVIF image could not be decoded ({why})")
    return produced
