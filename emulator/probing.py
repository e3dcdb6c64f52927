"""Probe tasks (``POST /tasks`` kind ``probe``): what a file is, its display size, duration, codecs.

ffprobe reads the input URL itself (ffmpeg's http client asks for byte ranges, so a large
original is not downloaded to learn its header; only the first 64 bytes are fetched apart,
to recognise HEIF-family stills). A HEIF/AVIF still is downloaded (bounded by
``--max-input-bytes``) and decoded by libheif first, then its PNG is probed.
Width and height are the DISPLAY size: swapped for a 90/270 degree rotation, which comes
from the stream's display matrix (an MP4/MOV ``tkhd`` matrix) or, for a JPEG, the first
frame's (its EXIF Orientation).
"""

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from emulator import heif
from emulator.download import USER_AGENT, DownloadError, download, resolve_input_url
from emulator.errors import ApiError
from emulator.ids import new_id
from emulator.reasons import public_reason
from emulator.transcode import TranscodeError, last_lines
from emulator.validation import _is_http_url, parse_s3_url

__all__ = ["Task", "Prober", "probe_output", "validate_task_request", "rotation_of", "display_size"]

TASK_KINDS = ("probe",)
FINAL = ("completed", "failed")
PROBE_ARGS = ["-show_format", "-show_streams", "-show_frames", "-read_intervals", "%+#4"]
PROTOCOLS = "http,https,tcp,tls"  # what ffprobe may open for a URL input (no file:, no pipes)

# ffprobe's demuxer names -> the format word of the contract.
_FORMAT_WORDS = {
    "jpeg_pipe": "jpeg", "png_pipe": "png", "webp_pipe": "webp", "bmp_pipe": "bmp", "tiff_pipe": "tiff",
    "gif": "gif", "apng": "png", "mp3": "mp3", "wav": "wav", "flac": "flac", "ogg": "ogg", "aac": "aac",
    "aiff": "aiff", "avi": "avi", "mpegts": "mpegts", "flv": "flv", "mp2": "mp2", "mpeg": "mpeg",
}
_IMAGE_CODEC_FORMATS = {"mjpeg": "jpeg", "png": "png", "webp": "webp", "bmp": "bmp", "tiff": "tiff", "gif": "gif"}
_MOV_BRANDS = {"qt": "mov", "m4a": "m4a", "m4b": "m4a", "m4v": "m4v", "m4vh": "m4v", "m4vp": "m4v"}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Task:
    """One standalone task; ``to_dict`` gives the Ittybit task object."""

    kind: str
    input: str
    metadata: dict
    connection_id: str | None
    id: str = field(default_factory=lambda: new_id("task"))
    status: str = "processing"
    error: str | None = None
    output: dict | None = None
    created: int = field(default_factory=now_ms)
    updated: int = 0
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self):
        self.updated = self.updated or self.created

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "object": "task",
            "kind": self.kind,
            "status": self.status,
            "input": self.input,
            "metadata": self.metadata,
            "error": self.error,
            "output": dict(self.output) if self.output else None,
            "created": self.created,
            "updated": self.updated,
        }


def validate_task_request(body, connections: dict) -> dict:
    """The checked task request (kind, input, metadata, connection_id); 400 otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    if body.get("kind") not in TASK_KINDS:
        raise ApiError(400, "kind must be probe (the only standalone task this emulator runs)")
    source = body.get("input")
    if not isinstance(source, str) or not source:
        raise ApiError(400, "input is required: an http(s):// or s3:// URL")
    connection_id = body.get("connection_id")
    if connection_id is not None and connection_id not in connections:
        raise ApiError(400, f"connection_id {connection_id!r} does not exist")
    if source.startswith("s3://"):
        if parse_s3_url(source) is None:
            raise ApiError(400, "input must look like s3://bucket/key")
        if connection_id is None:
            raise ApiError(400, "an s3:// input needs a connection_id (create one with POST /connections)")
    elif not _is_http_url(source):
        raise ApiError(400, "input must be an http(s):// or s3:// URL")
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata must be an object")
    return {"kind": body["kind"], "input": source, "metadata": metadata, "connection_id": connection_id}


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _rate(text) -> float | None:
    """``"30000/1001"`` -> 29.97; ``"0/0"`` and garbage -> None."""
    if not isinstance(text, str) or "/" not in text:
        return None
    top, _, bottom = text.partition("/")
    top, bottom = _float(top), _float(bottom)
    if not top or not bottom:
        return None
    return round(top / bottom, 3)


def _matrix_rotation(side_data) -> int | None:
    for item in side_data or []:
        if isinstance(item, dict) and "rotation" in item:
            degrees = _float(item.get("rotation"))
            if degrees is not None:
                # ffprobe gives the counter-clockwise angle of the display matrix; a phone's portrait
                # video says -90, i.e. shown turned 90 degrees clockwise.
                return int(round(-degrees / 90.0)) * 90 % 360
    return None


def rotation_of(video: dict, frames: list) -> int:
    """The clockwise display rotation (0/90/180/270) from the stream, else from its first frame."""
    found = _matrix_rotation(video.get("side_data_list"))
    if found is None:
        index = video.get("index")
        first = next((f for f in frames if f.get("media_type") == "video" and f.get("stream_index", index) == index), None)
        found = _matrix_rotation((first or {}).get("side_data_list"))
    return found or 0


def display_size(width, height, rotation: int) -> tuple[int | None, int | None]:
    if rotation in (90, 270):
        return height, width
    return width, height


def _is_cover_art(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _format_word(fmt: dict, video: dict | None, head: bytes) -> str:
    name = fmt.get("format_name") or ""
    if name == "image2" and video is not None:
        return _IMAGE_CODEC_FORMATS.get(video.get("codec_name"), "image")
    if name.startswith("mov,mp4"):
        brand = ((fmt.get("tags") or {}).get("major_brand") or "").strip().lower()
        if brand.startswith("3g2"):
            return "3g2"
        if brand.startswith("3g"):
            return "3gp"
        return _MOV_BRANDS.get(brand, "mp4")
    if name.startswith("matroska"):
        return "webm" if b"webm" in head else "matroska"
    return _FORMAT_WORDS.get(name, name.split(",")[0] or "unknown")


def _still_format(name: str) -> bool:
    return name.endswith("_pipe") or name in ("image2", "gif", "apng")


def probe_output(probed: dict, head: bytes = b"", filesize: int | None = None, heif_format: str | None = None,
                 heif_codec: str | None = None) -> dict:
    """The contract's file object from ffprobe's JSON (``-show_format -show_streams -show_frames``).

    ``heif_format`` ("heif"/"avif") and ``heif_codec`` when ``probed`` describes the PNG a HEIF still
    was decoded to.
    """
    streams = [s for s in probed.get("streams") or [] if isinstance(s, dict)]
    frames = [f for f in probed.get("frames") or [] if isinstance(f, dict)]
    fmt = probed.get("format") if isinstance(probed.get("format"), dict) else {}
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise TranscodeError("input is not a readable media file: no video, image or audio stream found")
    name = fmt.get("format_name") or ""
    if heif_format is not None or (video is not None and audio is None and _still_format(name)):
        kind = "image"
    elif video is not None:
        kind = "video"
    else:
        kind = "audio"
    width = height = None
    rotation = 0
    if video is not None:
        rotation = 0 if heif_format else rotation_of(video, frames)
        raw_w, raw_h = video.get("width"), video.get("height")
        if isinstance(raw_w, int) and isinstance(raw_h, int) and raw_w > 0 and raw_h > 0:
            width, height = display_size(raw_w, raw_h, rotation)
    duration = None
    if kind != "image":
        duration = _float(fmt.get("duration"))
        if duration is None:
            duration = _float((video or audio or {}).get("duration"))
        duration = round(duration, 3) if duration is not None and duration >= 0 else None
    fps = None
    if kind == "video":
        fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
    codec = video.get("codec_name") if video is not None else None
    if heif_format is not None:
        codec = heif_codec  # not the PNG's
    size = filesize if filesize is not None else _float(fmt.get("size"))
    return {
        "object": "file",
        "kind": kind,
        "format": heif_format or _format_word(fmt, video, head),
        "width": width,
        "height": height,
        "rotation": rotation,
        "duration": duration,
        "fps": fps,
        "codec": codec,
        "audio_codec": audio.get("codec_name") if audio is not None else None,
        "filesize": int(size) if size is not None else None,
    }


class Prober:
    """Runs one probe: the head, then ffprobe on the URL (or libheif + ffprobe on a download)."""

    def __init__(self, config, log_step):
        self._config = config
        self._step = log_step  # (task_id, message)

    @property
    def timeout_s(self) -> float:
        return max(60.0, 2 * self._config.download_timeout_s)

    def run(self, task: Task) -> dict:
        """The output file object; TranscodeError (its text already public) when the input is unreadable."""
        url = resolve_input_url(task.input, self._config.s3_base_url)
        head, total = self._head(url)
        self._step(task.id, f"input head fetched: {len(head)} bytes")
        brand = heif.heif_brand(head)
        if brand is None:
            return self._ffprobe_url(task.id, url, head, total)
        work_dir = os.path.join(self._config.data_dir, "inputs", task.id)
        os.makedirs(work_dir, exist_ok=True)
        try:
            source = os.path.join(work_dir, "input")
            size = download(url, source, self._config.max_input_bytes, self._config.download_timeout_s)
            self._step(task.id, f"input fetched: {size} bytes ({brand})")
            decoded = heif.decode_still(source, work_dir, self._config.ffmpeg_timeout_s)
            self._step(task.id, f"decoded by libheif ({brand})")
            probed = self._ffprobe(task.id, decoded, {source: "input", decoded: "input"}, local=True)
            return probe_output(probed, head, size, heif_format=brand, heif_codec=heif.codec_of(head, source))
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _head(self, url: str) -> tuple[bytes, int | None]:
        """The first bytes of ``url`` (a Range request; a server that ignores it is cut off) and the total size."""
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Range": f"bytes=0-{heif.HEAD_BYTES - 1}"})
        try:
            with urllib.request.urlopen(request, timeout=self._config.download_timeout_s) as response:
                head = response.read(heif.HEAD_BYTES)
                total = None
                content_range = response.headers.get("Content-Range") or ""
                if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
                    total = int(content_range.rsplit("/", 1)[1])
                elif response.status == 200 and (response.headers.get("Content-Length") or "").isdigit():
                    total = int(response.headers["Content-Length"])
        except urllib.error.HTTPError as error:
            if error.code == 416:
                raise DownloadError("input is empty") from error
            raise DownloadError(f"input download failed: HTTP {error.code} from {url}") from error
        except urllib.error.URLError as error:
            raise DownloadError(f"input download failed: {error.reason} ({url})") from error
        except (OSError, ValueError) as error:
            raise DownloadError(f"input download failed: {error} ({url})") from error
        if not head:
            raise DownloadError("input is empty")
        return head, total

    def _ffprobe_url(self, task_id: str, url: str, head: bytes, total: int | None) -> dict:
        probed = self._ffprobe(task_id, url, {url: "input"}, local=False)
        return probe_output(probed, head, total)

    def _ffprobe(self, task_id: str, target: str, names: dict, local: bool) -> dict:
        argv = ["ffprobe", "-v", "error", "-print_format", "json"]
        if not local:
            argv += ["-protocol_whitelist", PROTOCOLS, "-user_agent", USER_AGENT,
                     "-rw_timeout", str(int(self._config.download_timeout_s * 1_000_000))]
        argv += [*PROBE_ARGS, target]
        started = time.monotonic()
        self._step(task_id, "ffprobe start")
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise TranscodeError(f"ffprobe took longer than {self.timeout_s:g} s reading the input") from None
        self._step(task_id, f"ffprobe end: {time.monotonic() - started:.2f} s (exit {done.returncode})")
        try:
            probed = json.loads(done.stdout or b"{}") if done.returncode == 0 else {}
        except ValueError:
            probed = {}
        if done.returncode != 0 or not probed.get("streams"):
            why = public_reason(last_lines(done.stderr) or "no media streams found", names, (self._config.data_dir,))
            raise TranscodeError(f"input is not a readable media file: {why}")
        return probed
