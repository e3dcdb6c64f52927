"""Idempotency-Key bookkeeping: a key remembers the body it first came with and what it created."""

import hashlib
import json
import time
from dataclasses import dataclass

from emulator.errors import ApiError

__all__ = ["IdempotencyKeys", "fingerprint"]


def fingerprint(body) -> str:
    """A stable digest of a parsed JSON body (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Entry:
    fingerprint: str
    object_id: str
    created_at: float


class IdempotencyKeys:
    """Keys per scope (``jobs``, ``connections``); not thread-safe, callers hold the store lock."""

    def __init__(self, ttl_s: float):
        self._ttl_s = ttl_s
        self._entries: dict[tuple[str, str], _Entry] = {}

    def lookup(self, scope: str, key: str, body_fingerprint: str, mismatch_status: int = 409) -> str | None:
        """The id created earlier under ``key``, None if the key is new; an error (409) if the body differs."""
        entry = self._entries.get((scope, key))
        if entry is None:
            return None
        if time.time() - entry.created_at > self._ttl_s:
            del self._entries[(scope, key)]
            return None
        if entry.fingerprint != body_fingerprint:
            kind = "conflict" if mismatch_status == 409 else "invalid_input"
            raise ApiError(mismatch_status, "Idempotency-Key was already used with a different request body", kind)
        return entry.object_id

    def remember(self, scope: str, key: str, body_fingerprint: str, object_id: str) -> None:
        self._entries[(scope, key)] = _Entry(body_fingerprint, object_id, time.time())

    def clear(self) -> None:
        self._entries.clear()
