"""A media item's status from its renditions, and which status changes are allowed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["aggregate_status", "can_transition", "failure_reason"]

_FINAL = frozenset({"completed", "failed"})
_RANK = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}
_MAX_ERROR_CHARS = 300


def aggregate_status(rendition_statuses: Sequence[str]) -> str:
    """The media status: pending (none started), processing, completed (all succeeded) or failed."""
    statuses = list(rendition_statuses)
    if not statuses or all(s == "pending" for s in statuses):
        return "pending"
    if any(s not in _FINAL for s in statuses):
        return "processing"
    return "completed" if all(s == "completed" for s in statuses) else "failed"


def failure_reason(renditions: Sequence[Mapping]) -> str | None:
    """Why a media item failed, e.g. "thumbnail: no video stream; mobile: failed"; None if nothing failed."""
    parts = []
    for rendition in renditions:
        if rendition.get("status") != "failed":
            continue
        error = " ".join(str(rendition.get("error") or "failed").split())
        parts.append(f"{rendition.get('name')}: {error[:_MAX_ERROR_CHARS]}")
    return "; ".join(parts) or None


def can_transition(old: str, new: str) -> bool:
    """True when `old` may become `new`: only forward, and a final status never changes."""
    if old not in _RANK or new not in _RANK:
        return False
    if old in _FINAL:
        return old == new
    return _RANK[new] >= _RANK[old]
