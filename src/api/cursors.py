"""Opaque pagination cursors: the (created_at, id) of the last item shown."""

from __future__ import annotations

import base64
import json
import re

__all__ = ["decode_cursor", "encode_cursor"]

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
