"""Cross-origin resource sharing: which origins may call the API, and preflight answers."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CorsConfigError", "CorsPolicy", "log_config_error_once", "policy_from_vars", "preflight", "response_headers"]

DEFAULT_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS")
DEFAULT_HEADERS = (
    "Content-Type",
    "Authorization",
    "X-API-Key",
    "X-File-Name",
    "Content-Disposition",
    "Range",
    "If-None-Match",
    "If-Match",
    # tus (api.resumable_uploads); X-Request-ID is what tus-js-client's addRequestId sends.
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Defer-Length",
    "Upload-Checksum",
    "X-Request-ID",
)
EXPOSED_HEADERS = (
    "ETag", "Content-Range", "Accept-Ranges", "Content-Length", "Location",
    "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Expires", "Upload-Defer-Length",
    "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm",
    "Media-Id", "Retry-After",
)
DEFAULT_MAX_AGE = 86400

# Request headers a browser sends without asking (CORS-safelisted, Fetch standard).
_SAFELISTED = frozenset({"accept", "accept-language", "content-language"})
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


class CorsConfigError(ValueError):
    """The CORS vars ask for something unsafe; the message names the vars only."""


WILDCARD_WITH_CREDENTIALS = (
    'CORS_ORIGINS "*" cannot be combined with CORS_CREDENTIALS true (every site could read'
    " credentialed answers): list the allowed origins in CORS_ORIGINS, or set"
    " CORS_CREDENTIALS false."
)

_logged_config_errors: set[str] = set()


def log_config_error_once(error: ValueError) -> None:
    """Print a config error (CorsConfigError, or another bad var of api.settings) once per isolate
    (every request answers it, the log need not)."""
    text = str(error)
    if text not in _logged_config_errors:
        _logged_config_errors.add(text)
        print(f"api: configuration error: {text}")


@dataclass(frozen=True)
class CorsPolicy:
    """Allowed origins ("*" for any), whether credentials are allowed, methods, headers.

    A wildcard with credentials is refused (CorsConfigError): browsers refuse "*" with
    credentials, so it could only be honoured by echoing every origin.
    """

    origins: tuple[str, ...]
    allow_credentials: bool = False
    methods: tuple[str, ...] = DEFAULT_METHODS
    headers: tuple[str, ...] = DEFAULT_HEADERS
    max_age: int = DEFAULT_MAX_AGE

    def __post_init__(self) -> None:
        if self.allow_credentials and "*" in self.origins:
            raise CorsConfigError(WILDCARD_WITH_CREDENTIALS)

    @property
    def any_origin(self) -> bool:
        """Whether every origin gets "*" (a wildcard, never with credentials)."""
        return "*" in self.origins

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, or None when refused."""
        if not origin:
            return None
        if self.any_origin:
            return "*"
        if origin.rstrip("/").lower() in self.origins:
            return origin
        return None


def policy_from_vars(origins: str | None, credentials: str | None) -> CorsPolicy:
    """A policy from the comma-separated origins var and a true/false credentials var.

    Credentials default to false. CorsConfigError for "*" with credentials: the app
    answers every request with a 500 config error naming the vars until it is fixed.
    """
    listed: list[str] = []
    for item in (origins or "").split(","):
        # Browsers send origins lowercase and without a path; configs are not always so tidy.
        origin = item.strip().rstrip("/").lower()
        if origin and origin not in listed:
            listed.append(origin)
    allow_credentials = (credentials or "").strip().lower() in _TRUE_WORDS
    return CorsPolicy(origins=tuple(listed), allow_credentials=allow_credentials)


def response_headers(policy: CorsPolicy, origin: str | None) -> dict:
    """CORS headers for an actual (non-preflight) response to a request from `origin`."""
    headers: dict[str, str] = {}
    if policy.any_origin:
        # The same answer for every request, so no Vary.
        allowed: str | None = "*"
    else:
        allowed = policy.allowed_origin(origin)
        if policy.origins:
            # The answer depends on Origin, so caches must key on it.
            headers["Vary"] = "Origin"
    if allowed is None:
        return headers
    headers["Access-Control-Allow-Origin"] = allowed
    if policy.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return headers


def preflight(
    policy: CorsPolicy,
    origin: str | None,
    request_method: str | None,
    request_headers: str | None,
) -> tuple[int, dict]:
    """Status and headers for an OPTIONS preflight: 204 when allowed, 403 and no CORS otherwise."""
    allowed = policy.allowed_origin(origin)
    method = (request_method or "").strip().upper()
    if allowed is None or not method or method not in policy.methods:
        return 403, {}
    allowed_headers = {name.lower() for name in policy.headers} | _SAFELISTED
    asked = [
        name.strip().lower()
        for name in (request_headers or "").split(",")
        if name.strip()
    ]
    if any(name not in allowed_headers for name in asked):
        return 403, {}
    headers = {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Methods": ", ".join(policy.methods),
        "Access-Control-Allow-Headers": ", ".join(policy.headers),
        "Access-Control-Max-Age": str(policy.max_age),
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    if policy.allow_credentials and allowed != "*":
        headers["Access-Control-Allow-Credentials"] = "true"
    return 204, headers
