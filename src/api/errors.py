"""The API's error type and the JSON body every error response carries."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ApiError", "error_body"]


class ApiError(Exception):
    """A client-facing failure: HTTP status, snake_case code, message, extra headers and fields."""

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
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def error_body(status: int, code: str, message: str, **extra: object) -> dict:
    """{"error": message, "code": code, ...extra}; status is the response's, not repeated."""
    return {"error": message, "code": code, **extra}
