"""Where files live in R2, the /files/ URL path that serves each one (and the way back from a
path to its key), and file names made safe (both workers).

Originals are `originals/<media id>` (direct uploads are copied there from `uploads/`);
renditions are `renditions/<media id>/<name>.<ext>`. `/files/` (and the seed's `/images/`)
serves these two prefixes only: `resolve_file_key` maps a URL path to its R2 key, refusing
anything outside originals/ and renditions/ however it is encoded.

File names given by clients (API uploads) or taken from object keys (direct uploads) follow
one rule for both workers (`clean_file_name`): the base name only (no folders), no control,
format (bidi overrides spoof names), line/paragraph separator or surrogate characters, at
most 255 characters (a short extension is kept when a long name is cut), or None when
nothing is left.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

__all__ = [
    "FILES_ROUTE_PREFIX",
    "FILE_PREFIXES",
    "MAX_FILE_NAME_CHARS",
    "MAX_KEY_BYTES",
    "EVENT_ARCHIVE_PREFIX",
    "ORIGINALS_PREFIX",
    "RENDITIONS_PREFIX",
    "STASH_PREFIX",
    "clean_file_name",
    "file_path",
    "original_key",
    "rendition_key",
    "renditions_prefix",
    "resolve_file_key",
    "stash_prefix",
]

ORIGINALS_PREFIX = "originals/"
RENDITIONS_PREFIX = "renditions/"
# Never served: the bytes a resumable upload's PATCH left after its last whole part
# (tus/<upload id>/<offset>, api.resumable_uploads), and events' data past the retention
# window (events/<media id>/<first seq>.json, common.event_archive).
STASH_PREFIX = "tus/"
EVENT_ARCHIVE_PREFIX = "events/"
# The top-level folders /files/ serves (and nothing else).
FILE_PREFIXES = ("originals", "renditions")
FILES_ROUTE_PREFIX = "/files/"


def original_key(media_id: str) -> str:
    """Where a media item's original lives: originals/<id>."""
    return ORIGINALS_PREFIX + media_id


def renditions_prefix(media_id: str) -> str:
    """The folder of one media item's renditions: renditions/<id>/."""
    return f"{RENDITIONS_PREFIX}{media_id}/"


def stash_prefix(upload_id: str) -> str:
    """The folder of one resumable upload's stashes: tus/<upload id>/."""
    return f"{STASH_PREFIX}{upload_id}/"


def rendition_key(media_id: str, name: str, extension: str | None = None) -> str:
    """renditions/<id>/<name>.<ext> (or without the extension when it is unknown)."""
    return renditions_prefix(media_id) + (f"{name}.{extension}" if extension else name)


def file_path(key: str) -> str:
    """The encoded URL path that serves `key`: "/files/" + key, percent-encoded but for "/"."""
    return FILES_ROUTE_PREFIX + quote(key, safe="/")


# URL paths of /files/ (and the seed's /images/) back to R2 keys, refusing anything outside
# originals/ and renditions/ however it is encoded.

MAX_KEY_BYTES = 1024  # R2's limit on key length.

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# An encoded separator would let one URL segment become two keys' worth of path.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
# Unicode categories no key of ours contains: controls, format (bidi, zero-width),
# line/paragraph separators, surrogates, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def resolve_file_key(raw_path: str) -> str | None:
    """The R2 key for the still-encoded path after the route prefix, or None to answer 404."""
    if not isinstance(raw_path, str) or not raw_path:
        return None
    if _ENCODED_SEPARATOR.search(raw_path):
        return None
    key = _percent_decode(raw_path)
    if key is None or not _is_safe_key(key):
        return None
    # Decoding once is the contract, but a key that would turn into a traversal
    # if something downstream decoded it again is refused as well.
    again = _percent_decode(key, lenient=True)
    if again != key and (
        again is None or _ENCODED_SEPARATOR.search(key) or not _is_safe_key(again)
    ):
        return None
    return key


def _percent_decode(text: str, lenient: bool = False) -> str | None:
    """Decode %XX escapes once into UTF-8 text; None for a stray % or invalid UTF-8."""
    if not lenient and "%" in _ESCAPE.sub("", text):
        return None
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    decoded = _ESCAPE.sub(
        lambda found: chr(int(found.group(1), 16)), raw.decode("latin-1")
    )
    try:
        return decoded.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return None


def _is_safe_key(key: str) -> bool:
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        return False
    if key.startswith("/") or "\\" in key:
        return False
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in key):
        return False
    # Compatibility forms (fullwidth dot and solidus, one- and two-dot leaders)
    # become "." or "/" under NFKC; no key of ours needs them.
    if unicodedata.normalize("NFKC", key) != key:
        return False
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return False
    return len(segments) >= 2 and segments[0] in FILE_PREFIXES


# File names given by clients or taken from object keys, made safe.

MAX_FILE_NAME_CHARS = 255

# Keep an extension this short when a long name is cut to size.
_MAX_KEPT_EXTENSION = 16
# Control, format (bidi overrides spoof names), separators and surrogates.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_SEPARATORS = re.compile(r"[/\\]")


def clean_file_name(name: str | None) -> str | None:
    """A base name with no control characters, at most 255 characters, or None."""
    if not name:
        return None
    name = _SEPARATORS.split(name)[-1]
    name = "".join(
        char for char in name if unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    name = name.strip()
    if name in ("", ".", ".."):
        return None
    if len(name) > MAX_FILE_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= _MAX_KEPT_EXTENSION:
            name = (
                stem[: MAX_FILE_NAME_CHARS - len(extension) - 1].rstrip()
                + "."
                + extension
            )
        else:
            name = name[:MAX_FILE_NAME_CHARS].rstrip()
    return name
