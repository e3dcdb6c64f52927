"""HLS playlists read and judged (both workers): master and media playlists parsed, hostile
ones refused, and every file of a ladder named by its path inside the ladder.

A ladder is stored under `renditions/<id>/hls/` exactly as Ittybit laid it out (`master.m3u8`,
`720p/stream.m3u8`, `720p/segment-0.ts`, ...), playlists unchanged, so every URI in them must
be relative and stay inside the ladder: the signed playback path (`/hls/<token>/<id>/...`)
then reaches every variant and segment without rewriting a playlist. Refused
(`PlaylistError`, its text safe to show): no `#EXTM3U` first line, an absolute URI (a scheme,
`//host`, `/path`), `..` or `.` segments, a query or fragment, a backslash or a character
outside `[A-Za-z0-9._-]` in a path segment, more than MAX_DEPTH folders, a media playlist
without `#EXT-X-ENDLIST` (only whole VOD ladders are copied), more than MAX_SEGMENTS segments
in one playlist or MAX_VARIANTS variants, a playlist over MAX_PLAYLIST_BYTES, an encrypted
one (`#EXT-X-KEY` other than NONE: its key URI would be a capability), alternate renditions
with their own URI (`#EXT-X-MEDIA` with `URI=`), and durations that are not finite positive
numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = [
    "CONTENT_TYPES",
    "MAX_DEPTH",
    "MAX_PLAYLIST_BYTES",
    "MAX_SEGMENTS",
    "MAX_TOTAL_SEGMENTS",
    "MAX_VARIANTS",
    "MASTER_NAME",
    "MasterPlaylist",
    "MediaPlaylist",
    "PlaylistError",
    "Segment",
    "Variant",
    "content_type",
    "is_playlist",
    "join",
    "ladder_path",
    "parse_master",
    "parse_media",
]

MASTER_NAME = "master.m3u8"
# A two-hour film at 2-second segments is 3,600 segments; 20,000 is over 11 hours at 2 s.
MAX_SEGMENTS = 20_000
MAX_VARIANTS = 12
# Across the whole ladder: bounds the number of copy messages of one rendition.
MAX_TOTAL_SEGMENTS = 100_000
# A playlist of 20,000 segments is about 1 MB; anything far larger is not a playlist of ours.
MAX_PLAYLIST_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 3
MAX_SEGMENT_SECONDS = 600.0

CONTENT_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
    "aac": "audio/aac",
    "vtt": "text/vtt",
}

_SEGMENT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


class PlaylistError(ValueError):
    """A playlist we refuse to store or serve; the text says why (no URLs in it)."""


@dataclass(frozen=True)
class Variant:
    """One rung of a master playlist: its playlist's path in the ladder and what it declares."""

    uri: str
    bandwidth: int
    width: int | None = None
    height: int | None = None
    codecs: str | None = None


@dataclass(frozen=True)
class MasterPlaylist:
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float


@dataclass(frozen=True)
class MediaPlaylist:
    """A VOD media playlist: its segments (paths relative to the playlist) and extra files
    (an `#EXT-X-MAP` init segment)."""

    segments: tuple[Segment, ...]
    target_duration: int
    maps: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)

    def files(self) -> list[str]:
        """Every file this playlist names, init segments first, each once, in order."""
        seen: dict[str, None] = {}
        for uri in (*self.maps, *(s.uri for s in self.segments)):
            seen.setdefault(uri, None)
        return list(seen)


def ladder_path(uri: str) -> str:
    """`uri` as a path inside the ladder, or PlaylistError when it is absolute or escapes it."""
    if not isinstance(uri, str) or not uri or len(uri) > 512:
        raise PlaylistError("a playlist URI is empty or too long")
    if ":" in uri or uri.startswith("/") or "\\" in uri:
        raise PlaylistError("a playlist URI is absolute (only relative URIs inside the ladder are accepted)")
    if "?" in uri or "#" in uri:
        raise PlaylistError("a playlist URI has a query or fragment")
    parts = uri.split("/")
    if len(parts) > MAX_DEPTH + 1:
        raise PlaylistError(f"a playlist URI is more than {MAX_DEPTH} folders deep")
    for part in parts:
        if part in ("", ".", ".."):
            raise PlaylistError("a playlist URI has an empty, '.' or '..' segment")
        if not _SEGMENT_NAME.fullmatch(part):
            raise PlaylistError("a playlist URI has characters outside A-Z a-z 0-9 . _ -")
    return uri


def join(playlist_path: str, uri: str) -> str:
    """The ladder path of `uri` as found in the playlist at `playlist_path` (both checked)."""
    folder = playlist_path.rpartition("/")[0]
    return ladder_path(f"{folder}/{ladder_path(uri)}" if folder else ladder_path(uri))


def content_type(path: str) -> str:
    """The MIME type of a ladder file, by its extension."""
    return CONTENT_TYPES.get(path.rpartition(".")[2].lower(), "application/octet-stream")


def is_playlist(path: str) -> bool:
    return path.lower().endswith(".m3u8")


def _lines(text: str | bytes) -> list[str]:
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_PLAYLIST_BYTES:
            raise PlaylistError(f"the playlist is over {MAX_PLAYLIST_BYTES} bytes")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise PlaylistError("the playlist is not UTF-8 text") from None
    if len(text) > MAX_PLAYLIST_BYTES:
        raise PlaylistError(f"the playlist is over {MAX_PLAYLIST_BYTES} bytes")
    text = text.removeprefix("\ufeff")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not an HLS playlist: the first line is not #EXTM3U")
    return lines


def _attributes(text: str) -> dict[str, str]:
    return {name: value.strip('"') for name, value in _ATTRIBUTE.findall(text)}


def _positive_int(value: str | None, what: str, maximum: int = 10**10) -> int:
    if value is None or not (value.isascii() and value.isdigit()) or not 0 < int(value) <= maximum:
        raise PlaylistError(f"{what} is not a positive whole number")
    return int(value)


def _check_key(line: str) -> None:
    method = _attributes(line.partition(":")[2]).get("METHOD", "")
    if method != "NONE":
        raise PlaylistError("encrypted playlists (#EXT-X-KEY) are not accepted")


def parse_master(text: str | bytes, path: str = MASTER_NAME) -> MasterPlaylist:
    """The variants of a master playlist, their URIs as ladder paths."""
    lines = _lines(text)
    variants: list[Variant] = []
    pending: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXTINF") or line.startswith("#EXT-X-TARGETDURATION"):
            raise PlaylistError("a media playlist was given where the master playlist was expected")
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = _attributes(line.partition(":")[2])
        elif line.startswith("#EXT-X-MEDIA:"):
            if "URI" in _attributes(line.partition(":")[2]):
                raise PlaylistError("alternate renditions with their own playlist (#EXT-X-MEDIA URI) are not accepted")
        elif line.startswith("#EXT-X-I-FRAME-STREAM-INF") or line.startswith("#EXT-X-SESSION-KEY"):
            raise PlaylistError(f"{line.partition(':')[0]} is not accepted")
        elif line.startswith("#"):
            continue
        else:
            if pending is None:
                raise PlaylistError("a URI in the master playlist has no #EXT-X-STREAM-INF before it")
            resolution = pending.get("RESOLUTION")
            width = height = None
            if resolution is not None:
                w, _, h = resolution.lower().partition("x")
                width, height = _positive_int(w, "RESOLUTION", 16384), _positive_int(h, "RESOLUTION", 16384)
            variants.append(Variant(
                uri=join(path, line),
                bandwidth=_positive_int(pending.get("BANDWIDTH"), "BANDWIDTH"),
                width=width,
                height=height,
                codecs=pending.get("CODECS") or None,
            ))
            pending = None
            if len(variants) > MAX_VARIANTS:
                raise PlaylistError(f"the master playlist has more than {MAX_VARIANTS} variants")
    if not variants:
        raise PlaylistError("the master playlist names no variant")
    if len({v.uri for v in variants}) != len(variants):
        raise PlaylistError("the master playlist names one variant playlist twice")
    return MasterPlaylist(tuple(variants))


def _duration(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise PlaylistError("a segment duration is not a number") from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SEGMENT_SECONDS):
        raise PlaylistError("a segment duration is not a positive number of seconds")
    return seconds


def parse_media(text: str | bytes, path: str) -> MediaPlaylist:
    """A VOD media playlist at ladder path `path`: its segments as ladder paths."""
    lines = _lines(text)
    segments: list[Segment] = []
    maps: list[str] = []
    target: int | None = None
    duration: float | None = None
    ended = False
    for line in lines[1:]:
        if ended:
            raise PlaylistError("the playlist goes on after #EXT-X-ENDLIST")
        if line.startswith("#EXT-X-STREAM-INF"):
            raise PlaylistError("a master playlist was given where a media playlist was expected")
        if line.startswith("#EXTINF:"):
            duration = _duration(line.partition(":")[2].partition(",")[0].strip())
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = _positive_int(line.partition(":")[2].strip(), "#EXT-X-TARGETDURATION", 3600)
        elif line.startswith("#EXT-X-KEY:"):
            _check_key(line)
        elif line.startswith("#EXT-X-MAP:"):
            uri = _attributes(line.partition(":")[2]).get("URI")
            if uri is None:
                raise PlaylistError("#EXT-X-MAP has no URI")
            maps.append(join(path, uri))
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#"):
            continue
        else:
            if duration is None:
                raise PlaylistError("a segment has no #EXTINF before it")
            segments.append(Segment(join(path, line), duration))
            duration = None
            if len(segments) > MAX_SEGMENTS:
                raise PlaylistError(f"the playlist has more than {MAX_SEGMENTS} segments")
    if not ended:
        raise PlaylistError("the playlist has no #EXT-X-ENDLIST (only whole VOD ladders are accepted)")
    if not segments:
        raise PlaylistError("the playlist names no segment")
    if target is None:
        raise PlaylistError("the playlist has no #EXT-X-TARGETDURATION")
    return MediaPlaylist(tuple(segments), target, tuple(dict.fromkeys(maps)))
