"""The KV cache of media JSON, as the API uses it: only a cache, so a KV failure is logged
and read as a miss, never a failed request (D1 holds the record)."""

import json

from common.media_records import CACHE_TTL_SECONDS, media_cache_key


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


async def uncache_record(env, media_id: str) -> None:
    """Drop the cached record (absent is fine)."""
    try:
        await env.METADATA.delete(media_cache_key(media_id))
    except Exception as error:
        _log("delete", media_id, error)


def _log(action: str, media_id: str, error: Exception) -> None:
    print(f"api: KV cache {action} failed for {media_id}: {type(error).__name__}")
