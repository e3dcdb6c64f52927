"""Where files live in R2, and the /files/ URL path that serves each one (both workers).

Originals are `originals/<media id>` (direct uploads are copied there from `uploads/`);
renditions are `renditions/<media id>/<name>.<ext>`. `/files/` serves these two prefixes
only (api.file_keys decodes and checks the path).
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = [
    "FILES_ROUTE_PREFIX",
    "FILE_PREFIXES",
    "ORIGINALS_PREFIX",
    "RENDITIONS_PREFIX",
    "file_path",
    "original_key",
    "rendition_key",
    "renditions_prefix",
]

ORIGINALS_PREFIX = "originals/"
RENDITIONS_PREFIX = "renditions/"
# The top-level folders /files/ serves (and nothing else).
FILE_PREFIXES = ("originals", "renditions")
FILES_ROUTE_PREFIX = "/files/"


def original_key(media_id: str) -> str:
    """Where a media item's original lives: originals/<id>."""
    return ORIGINALS_PREFIX + media_id


def renditions_prefix(media_id: str) -> str:
    """The folder of one media item's renditions: renditions/<id>/."""
    return f"{RENDITIONS_PREFIX}{media_id}/"


def rendition_key(media_id: str, name: str, extension: str | None = None) -> str:
    """renditions/<id>/<name>.<ext> (or without the extension when it is unknown)."""
    return renditions_prefix(media_id) + (f"{name}.{extension}" if extension else name)


def file_path(key: str) -> str:
    """The encoded URL path that serves `key`: "/files/" + key, percent-encoded but for "/"."""
    return FILES_ROUTE_PREFIX + quote(key, safe="/")
