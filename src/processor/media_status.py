"""A media item's status from its renditions, and writing it: D1, then the KV cache.

Called after anything changes a rendition (a job report, a copy into R2, a rejection, a
give-up): the status is recomputed from the rendition rows, written only forward and never
out of a final status (the SQL guards that too), and `media:<id>` in KV rewritten from the
row, or removed once the row is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from common.d1 import all_rows, first_row, run
from common.media_records import FINAL, SELECT_MEDIA, SELECT_RENDITIONS, cache_read_record, media_json, uncache_record
from processor.context import Context
from processor.sql import UPDATE_MEDIA_STATUS

__all__ = ["aggregate_status", "can_transition", "failure_reason", "refresh_media"]

_RANK = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}
_MAX_ERROR_CHARS = 300


def aggregate_status(rendition_statuses: Sequence[str]) -> str:
    """The media status: pending (none started), processing, completed (all succeeded) or failed."""
    statuses = list(rendition_statuses)
    if not statuses or all(s == "pending" for s in statuses):
        return "pending"
    if any(s not in FINAL for s in statuses):
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
    if old in FINAL:
        return old == new
    return _RANK[new] >= _RANK[old]


async def refresh_media(ctx: Context, media_id: str) -> dict | None:
    """Recompute the media status (never out of a final one), write it, refresh KV; the row or None.

    Reads the media row and its renditions once; after a status write that changed the row
    the row is updated here (the write sets exactly status, error and updated_at) instead
    of being read again.
    """
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        await uncache_record(ctx.kv, media_id)
        return None
    renditions = await all_rows(ctx.db, SELECT_RENDITIONS, media_id)
    if renditions:
        status = aggregate_status([row["status"] for row in renditions])
        if status != media["status"] and can_transition(media["status"], status):
            error = failure_reason(renditions) if status == "failed" else None
            now = ctx.now_ms()
            if await run(ctx.db, UPDATE_MEDIA_STATUS, status, error, now, media_id):
                media.update(status=status, error=error, updated_at=now)
            else:  # final meanwhile, or deleted: take what D1 holds now
                media = await first_row(ctx.db, SELECT_MEDIA, media_id)
                if media is None:
                    await uncache_record(ctx.kv, media_id)
                    return None
            if media["status"] in FINAL:
                ctx.log(f"processor: media {media_id} {media['status']}" + (f": {media['error']}" if media["error"] else ""))
    await cache_read_record(ctx.kv, ctx.db, media_id, media_json(media, renditions))
    return media
