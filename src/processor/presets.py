"""Rendition presets: which Ittybit jobs each kind of media gets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from common.hls import MASTER_NAME
from common.keys import rendition_key as _rendition_key
from common.rendition_sizing import bounds_from_options

__all__ = [
    "DEFAULT_PRESETS",
    "JOB_KINDS_FOR_MEDIA",
    "MEDIA_KINDS",
    "Preset",
    "ladder_prefix",
    "presets_from_var",
    "rendition_key",
    "submission_rank",
]

MEDIA_KINDS = ("video", "image", "audio")

# A video yields video, image (thumbnail) or audio; an image or a sound only yields its own kind.
JOB_KINDS_FOR_MEDIA = {
    "video": frozenset({"video", "image", "audio", "adaptive_video"}),
    "image": frozenset({"image"}),
    "audio": frozenset({"audio"}),
}

QUALITY_WORDS = frozenset({"very_low", "low", "medium", "high", "very_high"})

_FORMATS = {
    "video": {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"},
    "image": {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"},
    "audio": {
        "mp3": "audio/mpeg",
        "aac": "audio/aac",
        "m4a": "audio/mp4",
        "ogg": "audio/ogg",
        "opus": "audio/ogg",
        "wav": "audio/wav",
        "flac": "audio/flac",
    },
    # An HLS ladder: its rendition's file is the master playlist (renditions/<id>/<name>/master.m3u8).
    "adaptive_video": {"hls": "application/vnd.apple.mpegurl"},
}
_DEFAULT_FORMAT = {"video": "mp4", "image": "webp", "audio": "mp3", "adaptive_video": "hls"}
_EXTENSIONS = {"jpeg": "jpg", "hls": "m3u8"}
# The keys an adaptive_video preset may set (Ittybit's staging docs: format, quality, width, height, fit).
_ADAPTIVE_KEYS = frozenset({"format", "quality", "width", "height", "max_long", "max_short", "fit", "start", "end"})

_NAME = re.compile(r"[a-z0-9_-]{1,32}")
# The source's probe shares the renditions' Idempotency-Key scheme under this name.
RESERVED_NAMES = frozenset({"probe"})


@dataclass(frozen=True)
class Preset:
    """One rendition: its name, the Ittybit job kind and the Ittybit options."""

    name: str
    kind: str
    # A dict cannot be hashed; presets hash by name and kind, and still compare by options.
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def output_format(self) -> str:
        """The output format word (options' `format`, else the kind's default)."""
        return str(self.options.get("format") or _DEFAULT_FORMAT[self.kind])

    def output_extension(self) -> str:
        """The file extension of the rendition, without the dot."""
        fmt = self.output_format()
        return _EXTENSIONS.get(fmt, fmt)

    def output_content_type(self) -> str:
        """The MIME type of the rendition."""
        return _FORMATS[self.kind].get(self.output_format(), "application/octet-stream")


# Sizes are bounds, never targets (common.rendition_sizing): `max_long` / `max_short` are the
# largest long and short side whatever the orientation, a source smaller than the box keeps its
# own size, and every preset is made even when it comes out the same size as another.
DEFAULT_PRESETS: dict[str, tuple[Preset, ...]] = {
    "video": (
        Preset("web", "video", {"format": "mp4", "max_long": 1920, "max_short": 1080, "quality": "high"}),
        Preset("mobile", "video", {"format": "mp4", "max_long": 854, "max_short": 480, "quality": "medium"}),
        Preset("thumbnail", "image", {"format": "webp", "max_long": 640, "start": 2}),
        # An HLS ladder (Ittybit adaptive_video): rungs up to the source's size, copied whole into R2.
        Preset("hls", "adaptive_video", {"format": "hls", "max_long": 1920, "max_short": 1080, "quality": "medium"}),
    ),
    "image": (
        Preset("large", "image", {"format": "webp", "max_long": 2048}),
        Preset("thumbnail", "image", {"format": "webp", "max_long": 640}),
    ),
    "audio": (Preset("web", "audio", {"format": "mp3"}),),
}


# Submission order: what is quickest to make goes first, so a user sees something as soon as
# possible (a transcoder works through its queue in order, a few jobs at a time): stills, then
# sound, then moving pictures smallest first. A ladder goes before an MP4 of its top rung's size:
# its rungs play in every browser through the player, the MP4 is the download.
_KIND_RANK = {"image": 0, "audio": 1, "adaptive_video": 2, "video": 2}


def submission_rank(kind: str, options: dict[str, Any]) -> tuple[int, float, int]:
    """The sort key of one rendition's job (its kind and the options it will be sent with)."""
    width, height = options.get("width"), options.get("height")
    if _is_number(width) and _is_number(height):
        area = float(width) * float(height)
    elif _is_number(options.get("max_long")) and _is_number(options.get("max_short")):
        area = float(options["max_long"]) * float(options["max_short"])
    else:
        area = float("inf")  # size unknown: after the ones we can size
    return (_KIND_RANK.get(kind, 3), area, 0 if kind == "adaptive_video" else 1)


def _is_number(value: object) -> bool:
    # bool is an int subclass, but `"width": true` is a mistake, not a size.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_positive_int(where: str, key: str, value: object) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 16384):
        raise ValueError(f"{where}: option {key!r} must be a whole number of pixels from 1 to 16384")


def _check_options(where: str, kind: str, options: object) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise ValueError(f"{where}: 'options' must be an object")
    if kind == "adaptive_video":
        unknown = sorted(set(options) - _ADAPTIVE_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown option {unknown[0]!r} for an adaptive_video job")
    for key, value in options.items():
        if key == "format":
            if value not in _FORMATS[kind]:
                allowed = ", ".join(_FORMATS[kind])
                raise ValueError(f"{where}: format {value!r} is not one of {allowed} for a {kind} job")
        elif key in ("width", "height"):
            # A ceiling on that side of the displayed frame (common.rendition_sizing), never a target.
            _check_positive_int(where, key, value)
        elif key in ("max_long", "max_short") and kind != "audio":
            _check_positive_int(where, key, value)
        elif key == "quality":
            if value not in QUALITY_WORDS:
                allowed = ", ".join(sorted(QUALITY_WORDS))
                raise ValueError(f"{where}: quality {value!r} must be one of {allowed}")
        elif key == "fit":
            if value not in ("contain", "cover", "fill"):
                raise ValueError(f"{where}: fit {value!r} must be contain, cover or fill")
        elif key == "codec" and kind == "video":
            if value not in ("h264", "h265", "vp9", "av1"):
                raise ValueError(f"{where}: codec {value!r} must be h264, h265, vp9 or av1")
        elif key == "fps" and kind == "video":
            if not (_is_number(value) and 0 < value <= 240):
                raise ValueError(f"{where}: fps must be a number from 0 to 240")
        elif key in ("start", "end"):
            if not (_is_number(value) and value >= 0):
                raise ValueError(f"{where}: option {key!r} must be a number of seconds, 0 or more")
        else:
            # Unknown keys are refused so a typo ("widht") fails at deploy, not silently at Ittybit.
            raise ValueError(f"{where}: unknown option {key!r} for a {kind} job")
    try:
        bounds_from_options(options)  # max_short above max_long cannot be met
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if _is_number(options.get("start")) and _is_number(options.get("end")):
        if options["end"] <= options["start"]:
            raise ValueError(f"{where}: 'end' must be after 'start'")
    return dict(options)


def _presets_for_kind(media_kind: str, entries: object) -> tuple[Preset, ...]:
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"presets[{media_kind!r}] must be a non-empty list of presets")
    presets: list[Preset] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"presets[{media_kind!r}][{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object with name, kind and options")
        extra = set(entry) - {"name", "kind", "options"}
        if extra:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"{where}: name {name!r} must match [a-z0-9_-]{{1,32}}")
        if name in seen:
            raise ValueError(f"{where}: name {name!r} is used twice for {media_kind}")
        if name in RESERVED_NAMES:
            # Its Idempotency-Key would be the probe task's (processor.probe).
            raise ValueError(f"{where}: name {name!r} is reserved")
        seen.add(name)
        kind = entry.get("kind", media_kind)
        if kind not in JOB_KINDS_FOR_MEDIA[media_kind]:
            allowed = ", ".join(sorted(JOB_KINDS_FOR_MEDIA[media_kind]))
            raise ValueError(f"{where}: kind {kind!r} must be one of {allowed} for {media_kind} media")
        options = _check_options(f"{where} ({name})", kind, entry.get("options", {}))
        presets.append(Preset(name, kind, options))
    return tuple(presets)


def presets_from_var(value: str | None) -> dict[str, tuple[Preset, ...]]:
    """Presets from the RENDITION_PRESETS var (JSON); media kinds it leaves out keep the defaults."""
    if value is None or not value.strip():
        return dict(DEFAULT_PRESETS)
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"rendition presets are not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(data, dict):
        raise ValueError("rendition presets must be a JSON object keyed by media kind")
    unknown = set(data) - set(MEDIA_KINDS)
    if unknown:
        raise ValueError(
            f"rendition presets: unknown media kind(s) {', '.join(sorted(map(str, unknown)))}; "
            f"use {', '.join(MEDIA_KINDS)}"
        )
    presets = dict(DEFAULT_PRESETS)
    for media_kind, entries in data.items():
        presets[media_kind] = _presets_for_kind(media_kind, entries)
    return presets


def rendition_key(media_id: str, preset: Preset) -> str:
    """The R2 key a rendition is stored under: renditions/<media id>/<name>.<ext>; an HLS ladder's
    master playlist, renditions/<media id>/<name>/master.m3u8, with the whole ladder beside it."""
    if preset.kind == "adaptive_video":
        return ladder_prefix(media_id, preset.name) + MASTER_NAME
    return _rendition_key(media_id, preset.name, preset.output_extension())


def ladder_prefix(media_id: str, name: str) -> str:
    """The folder of an HLS rendition's ladder: renditions/<media id>/<name>/."""
    return _rendition_key(media_id, name) + "/"
