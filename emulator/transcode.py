"""ffmpeg command building and ffprobe probing; pure helpers plus two thin subprocess wrappers."""

import functools
import json
import subprocess
from dataclasses import dataclass

from emulator.reasons import public_reason

__all__ = [
    "MediaInfo",
    "TranscodeError",
    "build_command",
    "file_summary",
    "media_info",
    "last_lines",
    "output_extension",
    "probe",
]

X264_CRF = {"very_low": 35, "low": 30, "medium": 26, "high": 23, "very_high": 19}
X265_CRF = {"very_low": 36, "low": 32, "medium": 28, "high": 25, "very_high": 21}
VP9_CRF = {"very_low": 45, "low": 40, "medium": 36, "high": 32, "very_high": 28}
AV1_CRF = {"very_low": 45, "low": 40, "medium": 35, "high": 30, "very_high": 25}
IMAGE_QUALITY = {"very_low": 40, "low": 60, "medium": 75, "high": 85, "very_high": 95}
AUDIO_BITRATE = {"very_low": "64k", "low": "96k", "medium": "128k", "high": "192k", "very_high": "256k"}

EXTENSIONS = {
    "mp4": "mp4", "webm": "webm", "mov": "mov",
    "webp": "webp", "jpeg": "jpg", "jpg": "jpg", "png": "png", "avif": "avif",
    "mp3": "mp3", "aac": "m4a", "m4a": "m4a", "ogg": "ogg", "opus": "opus", "wav": "wav", "flac": "flac",
}
VIDEO_ENCODERS = {"h264": ("libx264",), "h265": ("libx265",), "vp9": ("libvpx-vp9",), "av1": ("libsvtav1", "libaom-av1")}


class TranscodeError(Exception):
    """Why an input could not be read or an output could not be made; becomes the job's error."""


@dataclass
class MediaInfo:
    """What a job needs to know about its input."""

    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    duration: float | None
    still: bool  # a single image rather than a moving video


def output_extension(fmt: str) -> str:
    return EXTENSIONS[fmt]


def media_info(probed: dict) -> MediaInfo:
    """Summarize ffprobe's JSON (``-show_streams -show_format``)."""
    streams = probed.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = probed.get("format") or {}
    format_name = fmt.get("format_name", "")
    still = video is not None and audio is None and (format_name.endswith("_pipe") or format_name == "image2")
    duration = _float(fmt.get("duration")) or (_float(video.get("duration")) if video else None)
    return MediaInfo(
        has_video=video is not None,
        has_audio=audio is not None,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        duration=None if still else duration,
        still=still,
    )


def _is_cover_art(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _even(value: int) -> int:
    return max(2, value - value % 2)


def scale_filter(width: int | None, height: int | None, fit: str, even: bool) -> str | None:
    """The ``scale`` filter keeping aspect ratio unless ``fit`` is fill; ``even`` for 4:2:0 video."""
    if width is None and height is None:
        return "scale=trunc(iw/2)*2:trunc(ih/2)*2" if even else None
    auto = "-2" if even else "-1"
    if even:
        width = _even(width) if width is not None else None
        height = _even(height) if height is not None else None
    if height is None:
        return f"scale={width}:{auto}"
    if width is None:
        return f"scale={auto}:{height}"
    if fit == "fill":
        return f"scale={width}:{height}"
    if fit == "cover":
        return f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
    return f"scale={width}:{height}:force_original_aspect_ratio=decrease" + (":force_divisible_by=2" if even else "")


def _audio_bitrate(options: dict) -> str:
    bitrate = options.get("bitrate")
    if isinstance(bitrate, int):
        return f"{bitrate // 1000}k"
    if isinstance(bitrate, str):
        return bitrate
    return AUDIO_BITRATE.get(options.get("quality") or "medium", "128k")


def _image_quality(options: dict) -> int:
    quality = options.get("quality", "high")
    return quality if isinstance(quality, int) else IMAGE_QUALITY[quality]


def _pick_encoder(codec: str, encoders: set[str]) -> str:
    for name in VIDEO_ENCODERS[codec]:
        if name in encoders:
            return name
    raise TranscodeError(f"codec {codec} is not available in this ffmpeg build")


def _trim(options: dict, info: MediaInfo) -> tuple[list[str], list[str]]:
    """Input-side ``-ss`` and output-side ``-t`` for start/end."""
    start = options.get("start") or 0.0
    end = options.get("end")
    if info.duration is not None and start >= info.duration:
        raise TranscodeError(f"options.start ({start:g} s) is beyond the input duration ({info.duration:.3f} s)")
    before = ["-ss", f"{start:g}"] if start else []
    after = ["-t", f"{end - start:g}"] if end is not None else []
    return before, after


def build_command(kind: str, options: dict, info: MediaInfo, src: str, dst: str, encoders: set[str]) -> list[str]:
    """The ffmpeg argv turning ``src`` into ``dst`` for a job of ``kind`` with normalized ``options``."""
    base = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    fmt = options["format"]
    if kind == "video":
        if not info.has_video:
            raise TranscodeError("input has no video stream")
        before, after = _trim(options, info)
        filters = [scale_filter(options.get("width"), options.get("height"), options.get("fit", "contain"), even=True)]
        if options.get("fps"):
            filters.append(f"fps={options['fps']:g}")
        filters.append("setsar=1")
        quality = options.get("quality") or "medium"
        codec = options.get("codec") or "h264"
        encoder = _pick_encoder(codec, encoders)
        video_args = ["-c:v", encoder, "-pix_fmt", "yuv420p"]
        if encoder == "libx264":
            video_args += ["-preset", "veryfast", "-crf", str(X264_CRF[quality])]
        elif encoder == "libx265":
            video_args += ["-preset", "veryfast", "-crf", str(X265_CRF[quality]), "-tag:v", "hvc1"]
        elif encoder == "libvpx-vp9":
            video_args += ["-crf", str(VP9_CRF[quality]), "-b:v", "0", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"]
        elif encoder == "libsvtav1":
            video_args += ["-crf", str(AV1_CRF[quality]), "-preset", "12"]
        else:
            video_args += ["-crf", str(AV1_CRF[quality]), "-b:v", "0", "-cpu-used", "8", "-row-mt", "1"]
        audio_args = ["-c:a", "libopus" if fmt == "webm" else "aac", "-b:a", "128k"] if info.has_audio else ["-an"]
        container = ["-movflags", "+faststart"] if fmt in ("mp4", "mov") else []
        maps = ["-map", "0:v:0"] + (["-map", "0:a:0"] if info.has_audio else [])
        return [*base, *before, "-i", src, *after, *maps, "-vf", ",".join(filters),
                *video_args, *audio_args, *container, "-f", fmt, dst]
    if kind == "image":
        if not info.has_video:
            raise TranscodeError("input has no image or video stream")
        before = []
        start = options.get("start") or 0.0
        if start and not info.still:
            if info.duration is not None and start > max(0.0, info.duration - 0.5):
                start = max(0.0, info.duration - 0.5)  # a thumbnail past the end takes a late frame instead of failing
            before = ["-ss", f"{start:g}"]
        vf = scale_filter(options.get("width"), options.get("height"), options.get("fit", "contain"), even=False)
        args = ["-map", "0:v:0", "-frames:v", "1"] + (["-vf", vf] if vf else [])
        if fmt == "webp":
            args += ["-c:v", "libwebp", "-quality", str(_image_quality(options)), "-f", "webp"]
        elif fmt in ("jpeg", "jpg"):
            qscale = round(2 + (100 - _image_quality(options)) * 29 / 99)
            args += ["-c:v", "mjpeg", "-q:v", str(qscale), "-pix_fmt", "yuvj420p", "-f", "image2"]
        elif fmt == "png":
            args += ["-c:v", "png", "-f", "image2"]
        else:
            crf = round(63 - _image_quality(options) * 0.6)
            encoder = _pick_encoder("av1", encoders)
            still = ["-still-picture", "1", "-cpu-used", "8"] if encoder == "libaom-av1" else []
            args += ["-c:v", encoder, "-crf", str(crf), "-pix_fmt", "yuv420p", *still, "-f", "avif"]
        return [*base, *before, "-i", src, *args, dst]
    if not info.has_audio:
        raise TranscodeError("input has no audio stream")
    before, after = _trim(options, info)
    codec = {
        "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
        "aac": ["-c:a", "aac", "-movflags", "+faststart", "-f", "ipod"],
        "m4a": ["-c:a", "aac", "-movflags", "+faststart", "-f", "ipod"],
        "ogg": ["-c:a", "libvorbis", "-f", "ogg"],
        "opus": ["-c:a", "libopus", "-f", "opus"],
        "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
        "flac": ["-c:a", "flac", "-f", "flac"],
    }[fmt]
    bitrate = [] if fmt in ("wav", "flac") else ["-b:a", _audio_bitrate(options)]
    return [*base, *before, "-i", src, *after, "-map", "0:a:0", "-vn", *codec[:2], *bitrate, *codec[2:], dst]


def probe(path: str, timeout_s: float = 60.0, label: str = "input", roots: tuple = ()) -> dict:
    """ffprobe's JSON for ``path``; TranscodeError when it is not readable media.

    The error names ``path`` by ``label`` and hides every other path (``roots``: the data dir).
    """
    argv = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as error:
        raise TranscodeError("ffprobe timed out reading the input") from error
    try:
        probed = json.loads(done.stdout or b"{}") if done.returncode == 0 else {}
    except ValueError:
        probed = {}
    if done.returncode != 0 or not probed.get("streams"):
        reason = public_reason(last_lines(done.stderr) or "no media streams found", {path: label}, roots)
        raise TranscodeError(f"input is not a readable media file: {reason}")
    return probed


def last_lines(stderr: bytes, count: int = 2) -> str:
    """The last ``count`` distinct non-empty lines joined by "; " (ffmpeg says what failed, then where)."""
    lines = []
    for line in stderr.decode(errors="replace").splitlines():
        line = line.strip()
        if line and line not in lines[-1:]:
            lines.append(line)
    return "; ".join(lines[-count:])


def file_summary(probed: dict, kind: str, fmt: str, url: str, size: int) -> dict:
    """The Ittybit file object for an output."""
    info = media_info(probed)
    return {
        "object": "file",
        "kind": kind,
        "url": url,
        "format": fmt,
        "width": info.width if kind != "audio" else None,
        "height": info.height if kind != "audio" else None,
        "duration": round(info.duration, 3) if info.duration is not None and kind != "image" else None,
        "filesize": size,
    }


@functools.lru_cache(maxsize=1)
def available_encoders() -> frozenset[str]:
    """Names of the encoders this ffmpeg has (empty when ffmpeg is missing)."""
    try:
        done = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    names = set()
    for line in done.stdout.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)
