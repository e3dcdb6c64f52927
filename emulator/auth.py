"""Bearer-key check, compared in constant time."""

import hmac

from emulator.errors import ApiError

__all__ = ["check_bearer"]


def check_bearer(header: str | None, api_key: str) -> None:
    """Raise 401 unless ``header`` is ``Bearer <api_key>``."""
    if not header:
        raise ApiError(401, "missing Authorization: Bearer <api key>", "unauthorized")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
        raise ApiError(401, "invalid API key", "unauthorized")
