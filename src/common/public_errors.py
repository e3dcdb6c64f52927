"""Error texts fit for people: what went wrong, never where on a disk or behind which URL.

Texts that reach a stored reason (a media or rendition `error`, shown by the API) or a log
may come from Ittybit, from its emulator, from ffmpeg, or from an OSError: any of them can
quote an absolute file path (``/var/lib/ittybit/inputs/job_1/input: Invalid data ...``) or
a URL whose path and query are a capability (a signed ``/files/`` URL). So:

* ``scrub_urls`` replaces each URL by ``<host>`` (its host and a non-default port);
* ``without_paths`` replaces each absolute path of two or more segments (``/a/b``,
  ``C:\\a\\b``) by ``<path>``; one segment (``/jobs``) and relative words such as
  ``mp4/h264`` or ``16/9`` are kept;
* ``public_reason`` does both, collapses whitespace and bounds the length.

Pure: no runtime imports, importable by CPython 3.11.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["MAX_REASON_CHARS", "host_label", "public_reason", "scrub_urls", "without_paths"]

MAX_REASON_CHARS = 500

_DEFAULT_PORTS = {"https": 443, "http": 80}
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*")
# An absolute POSIX path: a slash not glued to a word or a dot before it (so `mp4/h264`,
# `./x` and `a.b/c` are not paths), then at least two segments.
_POSIX_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:'\"<>()\[\]{},;]+/)+[^\s:'\"<>()\[\]{},;]*")
# A home-relative path (~/x/y) and a Windows one (C:\x\y or C:/x/y).
_HOME_PATH = re.compile(r"(?<![\w.])~/(?:[^\s/:'\"<>()\[\]{},;]+/)*[^\s:'\"<>()\[\]{},;]+")
_WINDOWS_PATH = re.compile(r"(?<![\w])[A-Za-z]:[\\/](?:[^\s\\/:'\"<>()\[\]{},;]+[\\/])+[^\s\\/:'\"<>()\[\]{},;]*")


def host_label(url: str) -> str:
    """The host (and a non-default port) of a URL, for error texts; never its path or query."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "an unreadable URL"
    if not host:
        return "an unreadable URL"
    if ":" in host:
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    return f"{host}:{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else host


def scrub_urls(text: object) -> str:
    """`text` with every URL in it replaced by its host (for logs and stored errors)."""
    return _URL_IN_TEXT.sub(lambda match: f"<{host_label(match.group(0))}>", str(text))


def without_paths(text: object) -> str:
    """`text` with every absolute file-system path (two segments or more) replaced by ``<path>``."""
    out = _WINDOWS_PATH.sub("<path>", str(text))
    out = _HOME_PATH.sub("<path>", out)
    return _POSIX_PATH.sub("<path>", out)


def public_reason(text: object, limit: int = MAX_REASON_CHARS) -> str:
    """A one-line reason for people: no URL beyond its host, no path, at most `limit` characters."""
    cleaned = without_paths(scrub_urls(text))
    return " ".join(cleaned.split())[:limit]
