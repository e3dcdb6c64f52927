"""File names given by clients (API uploads) or taken from object keys (direct uploads), made safe.

One rule for both workers: the base name only (no folders), no control, format (bidi
overrides spoof names), line/paragraph separator or surrogate characters, at most 255
characters (a short extension is kept when a long name is cut), or None when nothing is left.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_FILE_NAME_CHARS", "clean_file_name"]

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
