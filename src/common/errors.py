"""The one error type of both workers, its JSON body, and the catalogue of error codes.

Raise `HttpError` anywhere in a handler; the worker's dispatch (common.routing) turns it
into `{"error": "<sentence>", "code": "<code>", ...extra}` with its status and headers.
Every code is one of ERROR_CODES, which the OpenAPI document (api.openapi_spec) also uses,
so a code the document names is a code the workers answer, and the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ERROR_CODES", "HttpError", "error_body"]

# code -> what it means. Both workers' answers; the processor's are the webhook's and its 500.
ERROR_CODES: dict[str, str] = {
    # any route
    "unauthorized": "no valid API key (or signed URL, for files)",
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
    # files
    "file_changed": "the object was replaced while it was being read",
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
