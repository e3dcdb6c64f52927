"""The KV cache of media JSON, as the API uses it: only a cache, so a KV failure is logged
and read as a miss, never a failed request (D1 holds the record)."""

import json

from common import d1
from common.media_records import CACHE_TTL_SECONDS, SELECT_MEDIA, media_cache_key


async def read_cached(env, media_id: str) -> str | None:
    """The cached JSON text, or None on a miss or a failed read."""
    try:
        return await env.METADATA.get(media_cache_key(media_id))
    except Exception as error:
        _log("read", media_id, error)
        return None


async def cache_record(env, media_id: str, record: dict) -> None:
    """Cache the record (without its per-answer URLs) for CACHE_TTL_SECONDS."""
    try:
        await env.METADATA.put(media_cache_key(media_id), json.dumps(record), expirationTtl=CACHE_TTL_SECONDS)
    except Exception as error:
        _log("write", media_id, error)


async def cache_read_record(env, media_id: str, record: dict) -> None:
    """Cache a record read from D1, then drop it again if the row is gone by now.

    A DELETE that commits D1 and deletes the key between our SELECT and our put would
    otherwise leave the deleted record in KV for CACHE_TTL_SECONDS (the processor's
    `cache_media` re-checks the same way). When the re-check itself fails, the entry is
    dropped too: a miss costs one D1 read, a ghost costs five minutes of wrong answers.
    """
    await cache_record(env, media_id, record)
    try:
        still_there = await d1.first_row(env.DB, SELECT_MEDIA, media_id) is not None
    except Exception as error:
        _log("re-check", media_id, error)
        still_there = False
    if not still_there:
        await uncache_record(env, media_id)


async def uncache_record(env, media_id: str) -> None:
    """Drop the cached record (absent is fine)."""
    try:
        await env.METADATA.delete(media_cache_key(media_id))
    except Exception as error:
        _log("delete", media_id, error)


def _log(action: str, media_id: str, error: Exception) -> None:
    print(f"api: KV cache {action} failed for {media_id}: {type(error).__name__}")
