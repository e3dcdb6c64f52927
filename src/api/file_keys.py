"""Map /files/ (and seed /images/) URL paths to R2 keys, refusing anything outside
originals/ and renditions/ however it is encoded."""

from __future__ import annotations

import re
import unicodedata

from common.keys import FILE_PREFIXES, FILES_ROUTE_PREFIX, file_path

__all__ = [
    "FILES_ROUTE_PREFIX",
    "FILE_PREFIXES",
    "MAX_KEY_BYTES",
    "file_path",
    "resolve_file_key",
]

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
