"""Rendition sizes that fit their source: presets are bounds, never targets.

A preset's size options are all maxima:

* ``max_long`` / ``max_short``: the largest long side and short side, whatever the
  orientation (``web`` is 1920/1080, so a portrait source fits 1080x1920);
* ``width`` / ``height``: kept for ``RENDITION_PRESETS`` written before bounds existed, and
  read as a ceiling on that side of the displayed frame, never as a target (were it a
  target, an override would bring the upscaling back).

The output keeps the source's aspect ratio (``fit`` contain, the default) or the box's
(``fit`` cover or fill, only when the box has both sides), and never exceeds the source's
own size. Video is even on both sides for 4:2:0 chroma. Only integer arithmetic is used,
so the result is exact and the same on CPython and Pyodide.

Ittybit then gets an explicit ``width`` AND ``height`` (see ``job_options``), so what it
does with a width above its input cannot matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BOUND_KEYS",
    "MAX_SOURCE_SIDE",
    "Bounds",
    "Planned",
    "Size",
    "TooSmallForVideo",
    "bounds_from_options",
    "display_size",
    "duplicate_of",
    "fit_size",
    "job_options",
    "needs_even",
    "rendition_size",
]

# Option keys that describe the box; job_options replaces them with the computed size.
BOUND_KEYS = frozenset({"max_long", "max_short", "width", "height"})
# The same limit as a preset's sizes in processor/presets.py.
MAX_BOUND = 16384
# A header claiming more than this per side is garbage or a decompression bomb.
MAX_SOURCE_SIDE = 1 << 20

_FITS = ("contain", "cover", "fill")


class TooSmallForVideo(ValueError):
    """A source (or box) side of one pixel cannot be encoded as 4:2:0 video without exceeding it."""


@dataclass(frozen=True)
class Size:
    """Pixels of a displayed frame."""

    width: int
    height: int

    @property
    def portrait(self) -> bool:
        return self.height > self.width


@dataclass(frozen=True)
class Bounds:
    """The largest box a rendition may fill; None leaves that side unbounded."""

    max_long: int | None = None
    max_short: int | None = None
    max_width: int | None = None
    max_height: int | None = None
    fit: str = "contain"

    def box_for(self, source: Size) -> tuple[int | None, int | None]:
        """The box's width and height for a source of this orientation (a square counts as landscape)."""
        # The short side is bounded by the long side's maximum too, so a cover or fill box
        # with only `max_long` and an explicit side cannot turn the long side past it.
        return self._oriented(source, _smallest(self.max_short, self.max_long))

    def shape_for(self, source: Size) -> tuple[int, int] | None:
        """The box's shape for cover and fill: None unless both of its sides are named."""
        box_w, box_h = self._oriented(source, self.max_short)
        if box_w is None or box_h is None:
            return None
        return self.box_for(source)  # type: ignore[return-value]

    def _oriented(self, source: Size, short: int | None) -> tuple[int | None, int | None]:
        along_width, along_height = (short, self.max_long) if source.portrait else (self.max_long, short)
        return _smallest(along_width, self.max_width), _smallest(along_height, self.max_height)


@dataclass(frozen=True)
class Planned:
    """One rendition about to be submitted, for ``duplicate_of``."""

    name: str
    kind: str  # the Ittybit job kind: video, image or audio
    output_format: str
    options: Mapping[str, Any]
    size: Size | None


def _smallest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bound(options: Mapping[str, Any], key: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if not (_is_int(value) and 0 < value <= MAX_BOUND):
        raise ValueError(f"option {key!r} must be a whole number of pixels from 1 to {MAX_BOUND}, not {value!r}")
    return value


def bounds_from_options(options: Mapping[str, Any]) -> Bounds:
    """The box a preset's options describe; ValueError for a bad value."""
    max_long = _bound(options, "max_long")
    max_short = _bound(options, "max_short")
    if max_long is not None and max_short is not None and max_short > max_long:
        raise ValueError(f"option 'max_short' ({max_short}) must not exceed 'max_long' ({max_long})")
    fit = options.get("fit", "contain")
    if fit not in _FITS:
        raise ValueError(f"fit {fit!r} must be contain, cover or fill")
    return Bounds(max_long, max_short, _bound(options, "width"), _bound(options, "height"), fit)


def _source_side(name: str, value: object) -> int:
    if not (_is_int(value) and 0 < value <= MAX_SOURCE_SIDE):
        raise ValueError(f"source {name} must be a whole number of pixels from 1 to {MAX_SOURCE_SIDE}, not {value!r}")
    return value


def display_size(width: object, height: object, rotation: object = 0) -> Size | None:
    """The displayed frame of a source stored ``width`` x ``height`` and turned by ``rotation`` degrees.

    None when both sides are None (size unknown); ValueError for anything else that is not
    a size. A phone video stored 1920x1080 with rotation 90 (or -90, 270) displays 1080x1920.
    """
    if width is None and height is None:
        return None
    w = _source_side("width", width)
    h = _source_side("height", height)
    if rotation is None:
        rotation = 0
    if not isinstance(rotation, (int, float)) or isinstance(rotation, bool) or rotation != rotation:
        raise ValueError(f"rotation must be a number of degrees, not {rotation!r}")
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, not {rotation!r}")
    quarter_turns = int(rotation // 90) % 4
    return Size(h, w) if quarter_turns % 2 else Size(w, h)


def needs_even(kind: str) -> bool:
    """Whether a job kind's output must be even on both sides (4:2:0 video)."""
    return kind in ("video", "adaptive_video")


def _floor_even(value: int) -> int:
    return value - value % 2


def _scaled(numerator: int, denominator: int, side: int, even: bool) -> int:
    """``side * numerator / denominator`` rounded to the nearest (even) whole number, at least 1 (2)."""
    if even:
        value = 2 * ((numerator * side + denominator) // (2 * denominator))
        return max(2, value)
    return max(1, (2 * numerator * side + denominator) // (2 * denominator))


def fit_size(source: Size, bounds: Bounds, *, even: bool = False) -> Size:
    """The largest size with the right aspect that fits both the box and the source.

    ``even`` rounds down to even sides (4:2:0 video); TooSmallForVideo when a source side
    is a single pixel, since 2 would exceed it.
    """
    box_w, box_h = bounds.box_for(source)
    shape = bounds.shape_for(source) if bounds.fit != "contain" else None
    if shape is not None:
        aspect_w, aspect_h = shape  # cover crops, fill stretches: the box's shape
    else:
        aspect_w, aspect_h = source.width, source.height
    cap_w = source.width if box_w is None else min(box_w, source.width)
    cap_h = source.height if box_h is None else min(box_h, source.height)
    if even:
        if source.width < 2 or source.height < 2:
            raise TooSmallForVideo(
                f"a {source.width}x{source.height} source is too small for a 4:2:0 video rendition (2x2 at least)"
            )
        if cap_w < 2 or cap_h < 2:
            raise TooSmallForVideo(f"a {box_w}x{box_h} box is too small for a 4:2:0 video rendition (2x2 at least)")
        cap_w, cap_h = _floor_even(cap_w), _floor_even(cap_h)
    # Whichever side reaches its cap first decides the scale; the other follows the aspect.
    if cap_w * aspect_h <= cap_h * aspect_w:
        return Size(cap_w, min(cap_h, _scaled(aspect_h, aspect_w, cap_w, even)))
    return Size(min(cap_w, _scaled(aspect_w, aspect_h, cap_h, even)), cap_h)


def rendition_size(
    kind: str,
    options: Mapping[str, Any],
    width: object,
    height: object,
    rotation: object = 0,
) -> Size | None:
    """The output size of a job of ``kind`` with a preset's ``options`` for a source of that size.

    None for audio and when the source's size is unknown (both None).
    """
    if kind == "audio":
        return None
    bounds = bounds_from_options(options)
    source = display_size(width, height, rotation)
    if source is None:
        return None
    return fit_size(source, bounds, even=needs_even(kind))


def job_options(options: Mapping[str, Any], size: Size | None) -> dict[str, Any]:
    """Ittybit options for a preset's ``options`` and the size computed for its source.

    With a size: the bound keys become an explicit ``width`` and ``height``, both no larger
    than the source. ``fit`` contain is sent as ``fill``: the size already has the source's
    aspect, and fill makes it exact on any implementation (contain may pad or lose a
    pixel to its own rounding). Cover and fill stay as they are.

    Without a size (unknown source, the degraded path): the box itself, oriented as a
    landscape, with ``fit`` contain; Ittybit may then scale a smaller source up, so callers
    should learn the size first.
    """
    out = {key: value for key, value in options.items() if key not in BOUND_KEYS}
    bounds = bounds_from_options(options)
    if size is not None:
        out["width"] = size.width
        out["height"] = size.height
        out["fit"] = "fill" if bounds.fit == "contain" else bounds.fit
        return out
    box_w, box_h = bounds.box_for(Size(2, 1))
    if box_w is not None:
        out["width"] = box_w
    if box_h is not None:
        out["height"] = box_h
    if box_w is not None or box_h is not None:
        out["fit"] = bounds.fit
    return out


def _box_area(plan: Planned) -> float:
    bounds = bounds_from_options(plan.options)
    box_w, box_h = bounds.box_for(plan.size or Size(2, 1))
    return (box_w or float("inf")) * (box_h or float("inf"))


_IGNORED_FOR_DUPLICATES = BOUND_KEYS | {"fit", "quality", "format"}


def _content_key(plan: Planned) -> tuple:
    others = sorted(
        (key, repr(value)) for key, value in plan.options.items() if key not in _IGNORED_FOR_DUPLICATES
    )
    return (plan.kind, plan.output_format, plan.size, tuple(others))


def duplicate_of(plans: Iterable[Planned]) -> dict[str, str]:
    """Which renditions would duplicate a larger one: ``{skipped name: kept name}``.

    Two renditions are duplicates when they have the same job kind, output format and
    computed size and differ in nothing but their bounds, fit and quality (for instance
    ``mobile`` and ``web`` of a 640x360 source). The one with the larger box is kept (the
    earlier on a tie), with its quality. Renditions of unknown size are never duplicates.
    """
    groups: dict[tuple, list[tuple[int, Planned]]] = {}
    for order, plan in enumerate(plans):
        if plan.size is None:
            continue
        groups.setdefault(_content_key(plan), []).append((order, plan))
    skipped: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        kept = min(members, key=lambda item: (-_box_area(item[1]), item[0]))[1]
        for _order, plan in members:
            if plan is not kept:
                skipped[plan.name] = kept.name
    return skipped
