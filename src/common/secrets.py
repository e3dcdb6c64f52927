"""Secrets: constant-time comparison (API keys, signatures), and API-key authentication
(X-API-Key or Authorization: Bearer, several keys for rotation)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

__all__ = ["api_keys_from_vars", "constant_time_equals", "has_api_key", "is_authorized", "matches_any", "presented_key"]


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two strings in time independent of where they differ."""
    # compare_digest on str refuses non-ASCII; bytes accept anything.
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def matches_any(given: str | None, candidates: Sequence[str]) -> bool:
    """Whether `given` equals one of `candidates`, checking all of them every time."""
    if not given:
        return False
    matched = False
    for candidate in candidates:
        # No early exit: the time taken must not reveal which key matched.
        equal = constant_time_equals(given, candidate)
        matched = matched or (equal and bool(candidate))
    return matched


# API keys.


def api_keys_from_vars(*values: str | None) -> tuple[str, ...]:
    """Every key in the given vars (each may list several, comma-separated), no empties."""
    keys: list[str] = []
    for value in values:
        for item in (value or "").split(","):
            key = item.strip()
            if key and key not in keys:
                keys.append(key)
    return tuple(keys)


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key a request presents: X-API-Key first, else an `Authorization: Bearer` token."""
    if x_api_key is not None and x_api_key.strip():
        return x_api_key.strip()
    if authorization is None:
        return None
    parts = authorization.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1].strip() or None


def is_authorized(presented: str | None, keys: Sequence[str]) -> bool:
    """Whether `presented` is one of `keys`, compared in constant time (never logged)."""
    return matches_any(presented, keys)


def has_api_key(headers, keys: Sequence[str]) -> bool:
    """Whether a request's headers (X-API-Key, else Authorization: Bearer) present one of `keys`."""
    return is_authorized(presented_key(headers.get("x-api-key"), headers.get("authorization")), keys)
