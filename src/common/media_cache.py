"""The KV cache of media JSON (`media:<id>`), the one writer both workers use.

Only a cache: D1 holds the record, and GET /api/media/{id} reads D1 on a miss. One error
policy for both workers: a KV failure never fails the caller's work. A failed read is a
miss; a failed put is logged and the entry is then deleted, so the cache answers a miss
rather than an older record; a failed delete is logged. Every write of a record read from
D1 is re-checked against D1 afterwards: a DELETE that commits D1 and deletes the key between
our SELECT and our put would otherwise leave the deleted record in KV for CACHE_TTL_SECONDS.
When the re-check itself fails the entry is dropped too: a miss costs one D1 read, a ghost
costs five minutes of wrong answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from common import d1
from common.media_records import CACHE_TTL_SECONDS, MEDIA_EXISTS, SELECT_RENDITIONS, media_cache_key, media_json

__all__ = ["cache_media", "cache_read_record", "cache_record", "read_cached", "uncache_record"]


async def read_cached(kv, media_id: str) -> str | None:
    """The cached JSON text, or None on a miss or a failed read."""
    try:
        return await kv.get(media_cache_key(media_id))
    except Exception as error:
        _log("read", media_id, error)
        return None


async def cache_record(kv, media_id: str, record: dict) -> None:
    """Cache the record (without its per-answer URLs) for CACHE_TTL_SECONDS."""
    try:
        await kv.put(media_cache_key(media_id), json.dumps(record, separators=(",", ":")),
                     expirationTtl=CACHE_TTL_SECONDS)
    except Exception as error:
        _log("write", media_id, error)
        await uncache_record(kv, media_id)


async def cache_read_record(kv, db, media_id: str, record: dict) -> None:
    """Cache a record read from D1, then drop it again if the row is gone by now."""
    await cache_record(kv, media_id, record)
    try:
        still_there = await d1.first_row(db, MEDIA_EXISTS, media_id) is not None
    except Exception as error:
        _log("re-check", media_id, error)
        still_there = False
    if not still_there:
        await uncache_record(kv, media_id)


async def cache_media(kv, db, media: Mapping) -> None:
    """Cache a media row read from D1 with its renditions (read here), re-checked as above."""
    renditions = await d1.all_rows(db, SELECT_RENDITIONS, media["id"])
    await cache_read_record(kv, db, media["id"], media_json(media, renditions))


async def uncache_record(kv, media_id: str) -> None:
    """Drop the cached record (absent is fine)."""
    try:
        await kv.delete(media_cache_key(media_id))
    except Exception as error:
        _log("delete", media_id, error)


def _log(action: str, media_id: str, error: Exception) -> None:
    print(f"KV cache {action} failed for {media_id}: {type(error).__name__}")
