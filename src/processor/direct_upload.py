"""Files put straight into the bucket under the uploads prefix, announced by R2 event notifications.

The notification creates the media record, sniffed from the object's first bytes by a
ranged get; the object is then copied to originals/<id> (streamed) so /files/ only ever
serves originals/ and renditions/, the uploads/ object is deleted, and only then is the record
pointed at the copy (the record names the uploads/ key until nothing is left there, so a
reconcile finishes a move cut off at any step). From there on it is processed like an API upload.

Identity: the id is derived from the bucket, the key and the object's ETag (see
common.ids.media_id_for_object), so a repeated or reordered notification of one object
finds the same record, and a different object put at the same key later is a media item of
its own. Every read of the uploads/ key checks the ETag of what it read: the sniff and the
copy never take another object's bytes for this record, and the uploads/ key is deleted only
while it still holds the object this record was made from (R2 has no conditional delete, so
the check and the delete are two calls; see docs/reliability.md).
"""

from __future__ import annotations

from common.d1 import batch, first_row, run
from common.events import MEDIA_CREATED, event_id, publish, upload_events
from common.ids import media_id_for_key, media_id_for_object
from common.keys import clean_file_name, original_key
from common.media_kinds import SNIFF_BYTES, sniff
from common.media_records import FINAL, INSERT_MEDIA, SELECT_MEDIA, cache_media
from common.messages import ObjectCreated
from processor.job_status import refresh_media
from processor.settings import Context
from processor.sql import DELETE_UNMOVED_MEDIA, SELECT_MEDIA_BY_R2_KEY, SET_MEDIA_R2_KEY, UPDATE_MEDIA_STATUS

__all__ = ["ensure_original", "record_direct_upload"]

_GONE_REASON = "the uploaded object was deleted or replaced before it could be processed"


def _upload_name(key: str) -> str | None:
    """The name a direct upload keeps: the key's base name, cleaned as API upload names are."""
    return clean_file_name(key)


async def record_direct_upload(ctx: Context, created: ObjectCreated) -> tuple[str, dict | None]:
    """Create (or find) the media record of a direct upload and move it under originals/.

    Returns (what happened, the media row or None when there is nothing to process). What
    happened is "busy" when another record still holds the key and this message should be
    tried again later.
    """
    media_id = media_id_for_object(created.bucket, created.key, created.etag)
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is not None and media["status"] == "failed" and media["r2_key"] == created.key:
        # Failed before its copy because the object had gone. A redelivered notification
        # changes nothing; the same object put there again starts afresh.
        if created.etag is None or await ctx.storage.etag(created.key) != created.etag:
            return "gone", None
        await _drop_unmoved(ctx, media, "its object is back at the key")
        media = None
    if media is None:
        media = await _legacy_record(ctx, created)
    if media is None:
        head = await ctx.storage.read_head(created.key, SNIFF_BYTES, created.etag)
        if head is None:
            # Deleted, or replaced by another object (which has a notification of its own).
            return "gone", None
        first_bytes, size = head
        sniffed = sniff(first_bytes)
        if sniffed is None:
            ctx.log(f"processor: {created.key} is not a supported image, video or audio file; left alone")
            return "unsupported", None
        values = (media_id, created.key, _upload_name(created.key), sniffed.content_type, sniffed.kind, size, "r2")
        media = await _insert(ctx, values)
        if media is None:
            holder = await first_row(ctx.db, SELECT_MEDIA_BY_R2_KEY, created.key)
            if holder is not None and holder["id"] != media_id:
                # What we just read at this key has our ETag, so the holder's object is no longer
                # there: it was replaced before it could be copied. Its record can never be
                # processed; drop it so this object gets the key.
                await _drop_unmoved(ctx, holder, "another object replaced it before it was copied")
                media = await _insert(ctx, values)
            if media is None:
                return "busy", None
        ctx.log(f"processor: direct upload {created.key} is media {media_id} ({sniffed.content_type})")
    media = await ensure_original(ctx, media, created.key, created.etag)
    return ("recorded", media) if media is not None else ("gone", None)


async def _insert(ctx: Context, values: tuple) -> dict | None:
    now = ctx.now_ms()
    media_id, key, name, content_type, kind, size, source = values
    row = {"id": media_id, "r2_key": key, "name": name, "content_type": content_type, "kind": kind, "size": size,
           "status": "pending", "error": None, "source": source, "created_at": now, "updated_at": now}
    # The record and the upload's events in one transaction; the events only if the insert took
    # (the key may be another record's), with ids of their own (a repeat records nothing twice).
    changes = await batch(ctx.db, [(INSERT_MEDIA, *values, now, now), *upload_events(row, "direct", now, if_recorded=True)])
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is not None and changes[-1]:
        await publish(ctx.events_queue, [event_id(media_id, MEDIA_CREATED)], ctx.log)
    return media


async def _legacy_record(ctx: Context, created: ObjectCreated) -> dict | None:
    """A record made before the ETag was part of the id, still waiting at this key (in flight
    across a deploy): it is this notification's record, as it was then."""
    legacy = await first_row(ctx.db, SELECT_MEDIA, media_id_for_key(created.bucket, created.key))
    if legacy is None or legacy["r2_key"] != created.key or legacy["status"] in FINAL:
        return None
    return legacy


async def _drop_unmoved(ctx: Context, media: dict, why: str) -> None:
    """Delete a record that never reached originals/ (no renditions, no original of its own)."""
    await run(ctx.db, DELETE_UNMOVED_MEDIA, media["id"], media["r2_key"])
    ctx.log(f"processor: media {media['id']} at {media['r2_key']} dropped: {why}")
    await refresh_media(ctx, media["id"])  # clears the KV cache once the row is gone


async def _etag_of_record(ctx: Context, media_id: str, key: str, notified: str | None) -> str | None:
    """The ETag of the object this record was made from, when `key` still holds it; else None.

    The notification's ETag when it names this record; otherwise (a reconcile message) the
    ETag of what is at the key now, if the id derives from it. A key-only (older) id cannot
    tell objects apart: it takes what is there now, as it always did.
    """
    bucket = ctx.settings.bucket
    if notified is not None and media_id_for_object(bucket, key, notified) == media_id:
        return notified
    current = await ctx.storage.etag(key)
    if current is None:
        return None
    if media_id_for_object(bucket, key, current) == media_id or media_id == media_id_for_key(bucket, key):
        return current
    return None


async def _delete_upload_if_ours(ctx: Context, upload_key: str, etag: str) -> None:
    """Delete the uploads/ key only while it holds the object this record was copied from."""
    if await ctx.storage.etag(upload_key) == etag:
        await ctx.storage.delete([upload_key])


async def ensure_original(
    ctx: Context, media: dict, upload_key: str | None = None, etag: str | None = None
) -> dict | None:
    """Make sure a direct upload's file is under originals/<id> and its record points there.

    `upload_key` and `etag` come from the notification when there is one; a reconcile
    message has neither, and the record's r2_key is then the uploads/ key.
    """
    media_id = media["id"]
    target = original_key(media_id)
    bucket = ctx.settings.bucket
    if media["r2_key"] == target:
        if media.get("source") == "r2" and upload_key and upload_key != target:
            # A crash between re-pointing and deleting leaves the upload behind: delete it now,
            # but only if the key still holds this record's object, never a newer one.
            current = await ctx.storage.etag(upload_key)
            if current is not None and media_id_for_object(bucket, upload_key, current) == media_id:
                await ctx.storage.delete([upload_key])
        return media
    source = media["r2_key"]
    expected = await _etag_of_record(ctx, media_id, source, etag)
    # The copy checks the ETag of the very bytes it reads: never another object under this id.
    size = None if expected is None else await ctx.storage.copy_object(source, target, media["content_type"], expected)
    if size is None and not await ctx.storage.exists(target):
        # originals/<id> is only ever written from this record's object, so if it is there an
        # earlier attempt copied it; otherwise the object is gone.
        await run(ctx.db, UPDATE_MEDIA_STATUS, "failed", _GONE_REASON, ctx.now_ms(), media_id)
        await refresh_media(ctx, media_id)
        return None
    if expected is not None:
        # The upload goes before the record is re-pointed: until then the record names it, so a
        # crash at any step here leaves a record that a reconcile message finishes (the copy is
        # there, the upload is or is not), never an uploads/ object that nothing points at.
        await _delete_upload_if_ours(ctx, source, expected)
    await run(ctx.db, SET_MEDIA_R2_KEY, target, ctx.now_ms(), media_id, source)
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        # Deleted (or dropped for a newer object) while we copied: take the copy away again.
        await ctx.storage.delete([target])
        return None
    await cache_media(ctx.kv, ctx.db, media)
    return media
