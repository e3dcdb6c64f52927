"""The errors of both workers: the one error type, its JSON body, the catalogue of error
codes; and error texts fit for people: what went wrong, never where on a disk or behind which URL.

Raise `HttpError` anywhere in a handler; the worker's dispatch (common.routing) turns it
into `{"error": "<sentence>", "code": "<code>", ...extra}` with its status and headers.
Every code is one of ERROR_CODES, which the OpenAPI document (api.openapi_spec) also uses,
so a code the document names is a code the workers answer, and the reverse.

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
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = [
    "ERROR_CODES",
    "MAX_REASON_CHARS",
    "HttpError",
    "error_body",
    "host_label",
    "public_reason",
    "scrub_urls",
    "without_paths",
]

# code -> what it means. Both workers' answers; the processor's are the webhook's and its 500.
ERROR_CODES: dict[str, str] = {
    # any route
    "unauthorized": "no valid API key (or signed URL, for files, or dashboard session)",
    "cross_site_refused": "a request signed in by the session cookie without the dashboard's Origin and X-Requested-With",
    "not_found": "no such route, record or file",
    "method_not_allowed": "the path exists, not with this method (Allow lists the methods)",
    "config_error": "a variable of the worker's configuration is invalid (the message names it)",
    "internal_error": "our failure",
    # uploads
    "empty_body": "the upload has no bytes",
    "invalid_content_length": "Content-Length is not one non-negative integer",
    "incomplete_body": "the body ended before its Content-Length, or could not be read",
    "file_too_large": "past MAX_FILE_SIZE",
    "unsupported_media_type": "the first bytes are no supported image, video or audio format",
    "media_type_mismatch": "Content-Type contradicts the first bytes",
    "queue_unavailable": "the job queue refused the message; nothing was stored",
    "storage_unavailable": "R2 refused the file after it was received; nothing was stored (Retry-After)",
    "busy": "every part buffer of the isolate stayed busy (Retry-After)",
    # resumable uploads (tus) and one-time upload URLs
    "tus_version_unsupported": "Tus-Resumable is missing or not 1.0.0 (Tus-Version lists what is)",
    "invalid_tus_header": "Upload-Length, Upload-Offset or Upload-Defer-Length is missing, malformed or contradictory",
    "invalid_metadata": "Upload-Metadata is not comma-separated `key base64` pairs of UTF-8 text",
    "metadata_too_large": "Upload-Metadata is over 4 KiB",
    "invalid_checksum": "Upload-Checksum is not `<algorithm> <base64 digest>`",
    "checksum_algorithm_unsupported": "Upload-Checksum names an algorithm we do not offer (Tus-Checksum-Algorithm)",
    "checksum_mismatch": "the chunk does not match Upload-Checksum; it was not kept (460)",
    "offset_mismatch": "Upload-Offset is not the upload's offset (the answer's Upload-Offset is)",
    "length_exceeded": "the bytes go past the upload's Upload-Length",
    "upload_locked": "another request is writing to this upload, or this one lost its lock; retry",
    "upload_expired": "the upload expired before its last byte",
    "upload_terminated": "the upload was terminated (DELETE)",
    "upload_failed": "the upload was refused by its first bytes",
    "upload_complete": "the upload is complete: its media item is deleted at /api/media/{id}",
    "upload_token_used": "the one-time upload URL has already created its upload",
    "upload_token_expired": "the one-time upload URL has expired",
    "kind_not_allowed": "the file is a kind its one-time upload URL does not allow",
    # listing
    "invalid_status": "status is not a known status word",
    "invalid_limit": "limit is not an integer in range",
    "invalid_cursor": "cursor is not one this API gave out",
    "invalid_kind": "kind is not image, video or audio",
    "invalid_expires_in": "expires_in is not whole seconds from 1 to 604800 (7 days)",
    "invalid_query": "q (text the name contains) is over 48 bytes of UTF-8 (D1's LIKE limit)",
    "invalid_days": "days is not an integer from 1 to 90",
    # events and webhook endpoints
    "invalid_event_type": "type is not an event type",
    "invalid_media_id": "media_id is not a media id",
    "invalid_webhook": "a webhook endpoint's url (https only), events, description or overlap is not acceptable",
    # files
    "file_changed": "the object was replaced while it was being read",
    "playback_forbidden": "the HLS playback token is wrong, expired, or for another media item",
    # the processor's webhook
    "invalid_signature": "missing, malformed, stale or wrong Standard Webhooks signature",
    "invalid_body": "signed, but not a job object or event",
    "too_large": "the webhook body is over its limit",
    "not_configured": "ITTYBIT_WEBHOOK_SECRET is not set",
}


class HttpError(Exception):
    """A client-facing failure: HTTP status, a code of ERROR_CODES, message, extra headers and fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict:
        """The JSON body for this error."""
        return error_body(self.status, self.code, self.message, **self.extra)

    def __repr__(self) -> str:
        return f"HttpError({self.status}, {self.code!r}, {self.message!r})"


def error_body(status: int, code: str, message: str, **extra: object) -> dict:
    """{"error": message, "code": code, ...extra}; status is the response's, not repeated."""
    return {"error": message, "code": code, **extra}


# Error texts fit for people: no file-system path, no URL beyond its host.

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
