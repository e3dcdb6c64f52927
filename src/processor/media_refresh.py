"""After any rendition changes: the media status from its renditions, then D1 and the KV cache."""

from __future__ import annotations

import json

from common.d1 import all_rows, first_row, run
from common.media_records import CACHE_TTL_SECONDS, SELECT_MEDIA, SELECT_RENDITIONS, media_cache_key, media_json
from processor.context import Context
from processor.media_state import aggregate_status, can_transition, failure_reason
from processor.rendition_store import SELECT_RENDITIONS_FOR_MEDIA, UPDATE_MEDIA_STATUS

__all__ = ["cache_media", "refresh_media"]


async def refresh_media(ctx: Context, media_id: str) -> dict | None:
    """Recompute the media status (never out of a final one), write it, refresh KV; the row or None."""
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        await ctx.kv.delete(media_cache_key(media_id))
        return None
    renditions = await all_rows(ctx.db, SELECT_RENDITIONS_FOR_MEDIA, media_id)
    if renditions:
        status = aggregate_status([row["status"] for row in renditions])
        if status != media["status"] and can_transition(media["status"], status):
            error = failure_reason(renditions) if status == "failed" else None
            await run(ctx.db, UPDATE_MEDIA_STATUS, status, error, ctx.now_ms(), media_id)
            media = await first_row(ctx.db, SELECT_MEDIA, media_id)
            if media is None:
                await ctx.kv.delete(media_cache_key(media_id))
                return None
            if media["status"] in ("completed", "failed"):
                ctx.log(f"processor: media {media_id} {media['status']}" + (f": {media['error']}" if media["error"] else ""))
    await cache_media(ctx, media)
    return media


async def cache_media(ctx: Context, media: dict) -> None:
    """Write `media:<id>` in KV from D1; removed again if the media was deleted meanwhile."""
    media_id = media["id"]
    rows = await all_rows(ctx.db, SELECT_RENDITIONS, media_id)
    await ctx.kv.put(
        media_cache_key(media_id),
        json.dumps(media_json(media, rows), separators=(",", ":")),
        expirationTtl=CACHE_TTL_SECONDS,
    )
    # A DELETE that ran between our read and our put would otherwise leave a ghost in the cache.
    if await first_row(ctx.db, SELECT_MEDIA, media_id) is None:
        await ctx.kv.delete(media_cache_key(media_id))
