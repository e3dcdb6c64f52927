"""What Ittybit's probe says about an original: its displayed size, duration, frame rate, codecs.

The probe's exact HTTP shape is not in Ittybit's reference, so this reads both shapes it may
take (see the probe contract in processor.ittybit_client.IttybitClient.probe): a task
``{"object": "task", "status", "error", "output": {file}}`` and a bare file object
``{"object": "file", "width", ...}``, with ``{"data": ...}`` envelopes already unwrapped.

``width``/``height`` are the DISPLAYED frame (a phone video stored 1920x1080 with a 90
degree rotation is 1080x1920). When the answer also says ``orientation`` and it contradicts
the sides, the sides are swapped: some APIs give the stored size plus a rotation.

Pure and total: any JSON value gives a ProbeResult (unreadable fields are None), so a
strange answer can never crash the consumer. Importable by CPython 3.11.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.public_errors import public_reason
from common.rendition_sizing import MAX_SOURCE_SIDE
from processor.job_status import normalize_status

__all__ = ["ProbeResult", "SourceInfo", "parse_fps", "read_probe"]

# Longer than any real media; past it the number is garbage.
MAX_DURATION_SECONDS = 10_000_000.0
MAX_FPS = 1000.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,+-]{0,63}")
_FILE_KEYS = ("width", "height", "duration", "codec", "format")


@dataclass(frozen=True)
class SourceInfo:
    """The original as displayed; None where the probe did not say (or said nonsense)."""

    width: int | None = None
    height: int | None = None
    rotation: int = 0  # clockwise degrees found in the file: 0, 90, 180 or 270 (informational)
    duration: float | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """A probe task's state: status pending, processing, completed or failed."""

    task_id: str | None
    status: str
    error: str | None = None
    source: SourceInfo | None = None

    @property
    def is_final(self) -> bool:
        return self.status in ("completed", "failed")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 32:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _side(value: object) -> int | None:
    number = _number(value)
    if number is None or not number.is_integer() or not 0 < number <= MAX_SOURCE_SIDE:
        return None
    return int(number)


def _rotation(value: object) -> int:
    number = _number(value)
    if number is None or not number.is_integer() or abs(number) > 3600 or number % 90:
        return 0
    return int(number) % 360


def parse_fps(value: object) -> float | None:
    """Frames per second from 29.97, "30" or ffprobe's "30000/1001"; None unless 0 < fps <= 1000."""
    if isinstance(value, str) and "/" in value and len(value) <= 32:
        numerator, _, denominator = value.partition("/")
        top, bottom = _number(numerator), _number(denominator)
        if top is None or bottom is None or bottom == 0:
            return None
        fps = top / bottom
    else:
        fps = _number(value)
    if fps is None or not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
        return None
    return round(fps, 3)


def _duration(value: object) -> float | None:
    number = _number(value)
    if number is None or not 0 <= number <= MAX_DURATION_SECONDS:
        return None
    return round(number, 3)


def _name(value: object) -> str | None:
    if isinstance(value, str) and _NAME.fullmatch(value.strip()):
        return value.strip().lower()
    return None


def _first(*values: object) -> object:
    return next((v for v in values if v is not None), None)


def _mapping(value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and value and isinstance(value[0], Mapping):
        return value[0]
    return {}


def _source(file: Mapping[str, Any]) -> SourceInfo:
    codecs = _mapping(file.get("codecs"))
    width, height = _side(file.get("width")), _side(file.get("height"))
    if width is None or height is None:
        width = height = None  # one side alone sizes nothing
    orientation = file.get("orientation")
    if width is not None and height is not None and isinstance(orientation, str):
        word = orientation.strip().lower()
        if (word == "portrait" and width > height) or (word == "landscape" and height > width):
            width, height = height, width
    return SourceInfo(
        width=width,
        height=height,
        rotation=_rotation(_first(file.get("rotation"), file.get("rotate"))),
        duration=_duration(file.get("duration")),
        fps=parse_fps(_first(file.get("fps"), file.get("frame_rate"), file.get("framerate"))),
        video_codec=_name(_first(file.get("codec"), file.get("video_codec"), codecs.get("video"))),
        audio_codec=_name(_first(file.get("audio_codec"), codecs.get("audio"))),
        format=_name(file.get("format")),
    )


def _error(value: object) -> str | None:
    if isinstance(value, Mapping):
        value = _first(value.get("message"), value.get("detail"), value.get("kind"), value.get("code"))
    if isinstance(value, str) and value.strip():
        return public_reason(value)
    return None


def _is_file(obj: Mapping[str, Any]) -> bool:
    return obj.get("object") == "file" or ("status" not in obj and any(k in obj for k in _FILE_KEYS))


def read_probe(obj: object) -> ProbeResult:
    """The probe's state and, once completed, what it found; never raises."""
    if not isinstance(obj, Mapping):
        return ProbeResult(None, "pending")
    task_id = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else None
    if _is_file(obj):
        return ProbeResult(task_id, "completed", None, _source(obj))
    status = normalize_status(obj.get("status") if isinstance(obj.get("status"), str) else None)
    if status == "failed":
        return ProbeResult(task_id, "failed", _error(obj.get("error")) or "the source could not be probed")
    if status != "completed":
        return ProbeResult(task_id, status)
    output = _mapping(obj.get("output"))
    if isinstance(output.get("file"), Mapping):
        output = output["file"]
    return ProbeResult(task_id, "completed", None, _source(output))
