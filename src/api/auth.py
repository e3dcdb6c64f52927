"""API-key authentication: X-API-Key or Authorization: Bearer, several keys for rotation."""

from __future__ import annotations

from collections.abc import Sequence

from common.secrets_compare import matches_any

__all__ = ["api_keys_from_vars", "is_authorized", "presented_key"]


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
