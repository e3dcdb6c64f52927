"""API errors in Ittybit's shape: ``{"kind": ..., "message": ...}`` with an HTTP status."""

__all__ = ["ApiError", "KIND_BY_STATUS"]

KIND_BY_STATUS = {
    400: "invalid_input",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "invalid_input",
    422: "invalid_input",
    429: "rate_limited",
    500: "server_error",
    503: "server_error",
}


class ApiError(Exception):
    """An answer that reports an error; raised anywhere while handling a request."""

    def __init__(self, status: int, message: str, kind: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.kind = kind or KIND_BY_STATUS.get(status, "server_error" if status >= 500 else "invalid_input")
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        """The JSON error document."""
        return {"kind": self.kind, "message": self.message}
