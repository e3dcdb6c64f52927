"""The `rendition.store` step: stream a finished job's output into R2, then complete the rendition."""

from __future__ import annotations

import json

from common.d1 import first_row, run
from common.media_records import SELECT_MEDIA
from common.public_errors import public_reason
from processor.context import Context
from processor.media_refresh import refresh_media
from processor.presets import DEFAULT_PRESETS, Preset
from processor.rendition_store import NOTE_RETRY, RECORD_OUTCOME_FOR_RENDITION, SELECT_RENDITION
from processor.store_messages import StoreMessage

__all__ = ["store_rendition"]


def _content_type(ctx: Context, media_kind: str, row: dict) -> str:
    for preset in ctx.settings.presets.get(media_kind, DEFAULT_PRESETS.get(media_kind, ())):
        if preset.name == row["name"]:
            return preset.output_content_type()
    return Preset(row["name"], row["kind"], json.loads(row["options"] or "{}")).output_content_type()


async def store_rendition(ctx: Context, message: StoreMessage) -> str:
    """Copy the output into renditions/<media>/<name>.<ext> and record it; returns what happened.

    Raises whatever the copy raised (the consumer retries the message); notes the error
    on the rendition first so the dead-letter reason can tell it.
    """
    row = await first_row(ctx.db, SELECT_RENDITION, message.media_id, message.rendition)
    if row is None:
        return "missing"
    if row["status"] in ("completed", "failed"):
        # Perhaps the retry of a copy whose media refresh failed after the final write (a D1
        # error, an evicted isolate): finish that refresh, or the media stays `processing`.
        await refresh_media(ctx, message.media_id)
        return "already_final"
    if row["job_id"] and row["job_id"] != message.job_id:
        return "other_job"
    media = await first_row(ctx.db, SELECT_MEDIA, message.media_id)
    if media is None:
        return "missing"
    content_type = _content_type(ctx, media["kind"], row)
    key = row["output_key"] or f"renditions/{message.media_id}/{row['name']}"
    try:
        size = await ctx.storage.store_from_url(message.output_url, key, content_type, row["size"])
    except Exception as error:
        # The error may be an OSError or a fetch error quoting the output URL: people get neither.
        await run(ctx.db, NOTE_RETRY, public_reason(f"copying the output into R2 failed: {error}"), ctx.now_ms(),
                  message.media_id, message.rendition)
        raise
    # A DELETE of the media may have run while we copied: do not leave its file behind.
    if await first_row(ctx.db, SELECT_MEDIA, message.media_id) is None:
        await ctx.storage.delete([key])
        return "deleted_meanwhile"
    await run(
        ctx.db, RECORD_OUTCOME_FOR_RENDITION,
        message.job_id, "completed", key, message.output_url, content_type,
        None, None, None, size, None, ctx.now_ms(), message.media_id, message.rendition,
    )
    if await first_row(ctx.db, SELECT_MEDIA, message.media_id) is None:
        await ctx.storage.delete([key])
        return "deleted_meanwhile"
    await refresh_media(ctx, message.media_id)
    return "stored"
