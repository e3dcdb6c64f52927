"""The query of GET /api/media: status filter, cursor and page size."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from api.cursors import decode_cursor
from api.errors import ApiError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "STATUS_ALIASES",
    "ListQuery",
    "parse_list_query",
]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

# Stored status words, plus the words the seed and the upload answer use for them.
STATUS_ALIASES = {
    "pending": "pending",
    "queued": "pending",
    "processing": "processing",
    "completed": "completed",
    "processed": "completed",
    "failed": "failed",
}

_DIGITS = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class ListQuery:
    """A validated list request: stored status or None for all, cursor or None, limit."""

    status: str | None
    cursor: tuple[int, str] | None
    limit: int


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    """Validate the query parameters; ApiError 400 with a clear message for bad values."""
    return ListQuery(
        status=_status(params.get("status")),
        cursor=_cursor(params.get("cursor")),
        limit=_limit(params.get("limit")),
    )


def _status(value: str | None) -> str | None:
    word = (value or "").strip().lower()
    if not word:
        return None
    if word not in STATUS_ALIASES:
        choices = ", ".join(STATUS_ALIASES)
        raise ApiError(400, "invalid_status", f"status must be one of: {choices}.")
    return STATUS_ALIASES[word]


def _cursor(value: str | None) -> tuple[int, str] | None:
    if value is None or not value.strip():
        return None
    try:
        return decode_cursor(value.strip())
    except ValueError:
        raise ApiError(
            400,
            "invalid_cursor",
            "cursor is not one this API gave out; start again without it.",
        ) from None


def _limit(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError(
            400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}."
        )
    return int(text)
