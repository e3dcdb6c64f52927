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
