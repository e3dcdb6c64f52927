"""Files put straight into the bucket under the uploads prefix, announced by R2 event notifications.

The notification creates the media record (the id is derived from the key, so a repeated
or reordered notification finds the same record), sniffed from the object's first bytes by
a ranged get; the object is then copied to originals/<id> (streamed) so /files/ only ever
serves originals/ and renditions/, the record is pointed at the copy, and only then is the
uploads/ object deleted. From there on it is processed like an API upload.
"""

from __future__ import annotations

import posixpath

from common.d1 import first_row, run
from common.media_kinds import SNIFF_BYTES, sniff
from common.media_records import INSERT_MEDIA, SELECT_MEDIA
from processor.context import Context
from processor.media_refresh import cache_media, refresh_media
from processor.r2_notifications import ObjectCreated, media_id_for_key
from processor.rendition_store import SET_MEDIA_R2_KEY, UPDATE_MEDIA_STATUS

__all__ = ["original_key", "record_direct_upload", "ensure_original"]


def original_key(media_id: str) -> str:
    """Where a media item's original lives: originals/<id>."""
    return f"originals/{media_id}"


def _upload_name(key: str, prefix: str) -> str:
    """The name a direct upload keeps: its key without the uploads prefix."""
    return key[len(prefix):] if prefix and key.startswith(prefix) else posixpath.basename(key)


async def record_direct_upload(ctx: Context, created: ObjectCreated) -> tuple[str, dict | None]:
    """Create (or find) the media record of a direct upload and move it under originals/.

    Returns (what happened, the media row or None when there is nothing to process).
    """
    media_id = media_id_for_key(created.bucket, created.key)
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        head = await ctx.storage.read_head(created.key, SNIFF_BYTES)
        if head is None:
            return "gone", None  # deleted before we got to it (or already moved and the row deleted)
        first_bytes, size = head
        sniffed = sniff(first_bytes)
        if sniffed is None:
            ctx.log(f"processor: {created.key} is not a supported image, video or audio file; left alone")
            return "unsupported", None
        now = ctx.now_ms()
        await run(
            ctx.db, INSERT_MEDIA, media_id, created.key, _upload_name(created.key, ctx.settings.uploads_prefix),
            sniffed.content_type, sniffed.kind, size, "r2", now, now,
        )
        media = await first_row(ctx.db, SELECT_MEDIA, media_id)
        if media is None:
            return "gone", None
        ctx.log(f"processor: direct upload {created.key} is media {media_id} ({sniffed.content_type})")
    media = await ensure_original(ctx, media, created.key)
    return ("recorded", media) if media is not None else ("gone", None)


async def ensure_original(ctx: Context, media: dict, upload_key: str | None = None) -> dict | None:
    """Make sure a direct upload's file is under originals/<id> and its record points there.

    `upload_key` is the uploads/ key when known (a notification); without it (a reconcile
    message) it is derived from the record's name and checked against the id.
    """
    media_id = media["id"]
    target = original_key(media_id)
    if media["r2_key"] == target:
        if media.get("source") == "r2":
            # A crash between re-pointing and deleting leaves the upload behind: delete it now.
            leftover = upload_key or _derived_upload_key(ctx, media)
            if leftover and leftover != target:
                await ctx.storage.delete([leftover])
        return media
    source = media["r2_key"]
    size = await ctx.storage.copy_object(source, target, media["content_type"])
    if size is None and not await ctx.storage.exists(target):
        reason = "the uploaded object disappeared before it could be processed"
        await run(ctx.db, UPDATE_MEDIA_STATUS, "failed", reason, ctx.now_ms(), media_id)
        await refresh_media(ctx, media_id)
        return None
    await run(ctx.db, SET_MEDIA_R2_KEY, target, ctx.now_ms(), media_id, source)
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        # Deleted while we copied: take the copy away again.
        await ctx.storage.delete([target])
        return None
    if media["r2_key"] == target:
        await ctx.storage.delete([source])
    await cache_media(ctx, media)
    return media


def _derived_upload_key(ctx: Context, media: dict) -> str | None:
    name = media.get("name")
    if not name:
        return None
    candidate = ctx.settings.uploads_prefix + name
    return candidate if media_id_for_key(ctx.settings.bucket, candidate) == media["id"] else None
