"""The dead-letter queue: a message that exhausted its retries.

Its media item is failed once it is older than GIVE_UP_AFTER_SECONDS (a day by default), so
nothing stays pending forever; a younger one is left as it is, and the reconcile cron queues
it again, so an Ittybit outage longer than one message's retries does not fail uploads.
"""

from __future__ import annotations

from common.d1 import all_rows, first_row, run
from common.public_errors import public_reason
from common.job_messages import parse_job_message
from common.media_records import SELECT_MEDIA
from processor.context import Context
from processor.media_refresh import refresh_media
from processor.probe import SELECT_PROBE
from processor.r2_notifications import media_id_for_object, parse_notification
from processor.rendition_store import FAIL_OPEN_RENDITIONS, SELECT_RENDITIONS_FOR_MEDIA, UPDATE_MEDIA_STATUS
from processor.store_messages import parse_store_message

__all__ = ["dead_letter_media_id", "give_up", "give_up_reason"]


def dead_letter_media_id(body: object, uploads_prefix: str) -> str | None:
    """The media item a dead message was about, whatever its shape."""
    job = parse_job_message(body)
    if job is not None:
        return job.media_id
    store = parse_store_message(body)
    if store is not None:
        return store.media_id
    created = parse_notification(body, uploads_prefix)
    if created is not None:
        return media_id_for_object(created.bucket, created.key, created.etag)
    return None


def give_up_reason(renditions: list[dict], attempts: int | None, probe: dict | None = None) -> str:
    """'gave up after N attempts: <last error>' from the renditions' retry notes (or, before any
    rendition exists, the note of the source's probe that never finished)."""
    open_rows = [r for r in renditions if r.get("status") not in ("completed", "failed")]
    noted = sorted((r for r in open_rows if r.get("error")), key=lambda r: r.get("updated_at") or 0)
    if not noted and probe is not None and probe.get("status") == "pending":
        noted = [{"error": probe.get("error") or "the probe of the source never finished"}]
    # The notes are ours, but quote Ittybit's and the network's words: clean them again.
    last_error = public_reason(noted[-1]["error"]) if noted else "the queue message kept failing"
    tries = max([int(r.get("attempts") or 0) for r in open_rows] + [int(attempts or 0)])
    counted = f"{tries} attempts" if tries else "repeated attempts"
    return f"gave up after {counted}: {last_error}"[:500]


async def give_up(ctx: Context, body: object, attempts: int | None = None) -> str:
    """Mark the message's media item failed unless it is already final; returns what happened."""
    media_id = dead_letter_media_id(body, ctx.settings.uploads_prefix)
    if media_id is None:
        return "unknown"
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        return "missing"
    if media["status"] in ("completed", "failed"):
        return "already_final"
    renditions = await all_rows(ctx.db, SELECT_RENDITIONS_FOR_MEDIA, media_id)
    probe = await first_row(ctx.db, SELECT_PROBE, media_id)
    reason = give_up_reason(renditions, attempts, probe)
    now = ctx.now_ms()
    if now - int(media["created_at"]) < ctx.settings.give_up_after_seconds * 1000:
        # Young: most likely Ittybit is down for a while. The reconcile cron queues media left
        # pending again (after RECONCILE_AFTER_SECONDS), so it completes once Ittybit is back.
        ctx.log(f"processor: media {media_id} left for the reconcile cron: {reason}")
        return "left_for_reconcile"
    await run(ctx.db, FAIL_OPEN_RENDITIONS, reason, now, media_id)
    await run(ctx.db, UPDATE_MEDIA_STATUS, "failed", reason, now, media_id)
    ctx.log(f"processor: media {media_id} failed: {reason}")
    await refresh_media(ctx, media_id)
    return "failed"
