"""Constant-time comparison of secrets (API keys, signatures)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

__all__ = ["constant_time_equals", "matches_any"]


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
