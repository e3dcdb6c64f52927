"""The query of GET /api/media: status filter, cursor and page size; and the opaque cursors.

A cursor is the (created_at, id) of the last item shown, as a canonical base64url token.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from common.errors import HttpError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "STATUS_ALIASES",
    "MAX_CREATED_AT",
    "ListQuery",
    "decode_cursor",
    "encode_cursor",
    "parse_list_query",
]

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAX_CURSOR_CHARS = 256
_MAX_ID_CHARS = 128
# created_at is milliseconds in the id's 48-bit timestamp. A larger int would reach the D1
# bind, where Pyodide makes ints of 2**53 and above a BigInt that D1 refuses (a 500).
MAX_CREATED_AT = 2**48 - 1


def encode_cursor(created_at: int, media_id: str) -> str:
    """An opaque, URL-safe token for the position after (created_at, media_id)."""
    raw = json.dumps(
        [int(created_at), media_id], separators=(",", ":"), ensure_ascii=True
    )
    return base64.urlsafe_b64encode(raw.encode("ascii")).rstrip(b"=").decode("ascii")


def decode_cursor(value: str) -> tuple[int, str]:
    """The (created_at, media_id) in a cursor; ValueError for anything we did not make."""
    if not isinstance(value, str) or len(value) > _MAX_CURSOR_CHARS:
        raise ValueError("cursor is not a string of sensible length")
    if not _BASE64URL.fullmatch(value):
        raise ValueError("cursor is not base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        decoded = json.loads(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("cursor is not readable") from error
    if not (isinstance(decoded, list) and len(decoded) == 2):
        raise ValueError("cursor has the wrong shape")
    created_at, media_id = decoded
    # bool is an int subclass; JSON true must not pass as a timestamp.
    if type(created_at) is not int or not 0 <= created_at <= MAX_CREATED_AT:
        raise ValueError("cursor time is not a 48-bit non-negative integer")
    if not isinstance(media_id, str) or not media_id or len(media_id) > _MAX_ID_CHARS:
        raise ValueError("cursor id is not a short string")
    # Only canonical tokens: one position, one spelling.
    if encode_cursor(created_at, media_id) != value:
        raise ValueError("cursor is not canonical")
    return created_at, media_id


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
    """Validate the query parameters; HttpError 400 with a clear message for bad values."""
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
        raise HttpError(400, "invalid_status", f"status must be one of: {choices}.")
    return STATUS_ALIASES[word]


def _cursor(value: str | None) -> tuple[int, str] | None:
    if value is None or not value.strip():
        return None
    try:
        return decode_cursor(value.strip())
    except ValueError:
        raise HttpError(
            400,
            "invalid_cursor",
            "cursor is not one this API gave out; start again without it.",
        ) from None


def _limit(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise HttpError(
            400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}."
        )
    return int(text)
