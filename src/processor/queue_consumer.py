"""The queue consumer: one decision (ack, or retry after a delay) per message, never per batch.

Three message shapes arrive on the jobs queue (common.messages): `media.process` from the
API worker (or the reconcile cron), `rendition.store` from the webhook, and R2 event
notifications for direct uploads. The dead-letter queue gets whichever of them ran out of
retries: its media item is failed once it is older than GIVE_UP_AFTER_SECONDS (a day by
default), so nothing stays pending forever; a younger one is left as it is, and the
reconcile cron queues it again, so an Ittybit outage longer than one message's retries
does not fail uploads. A direct upload's notification dead-lettered before its record
existed is sent back to the jobs queue with a growing delay (`requeue_notification`).
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass

from common.d1 import all_rows, first_row, run
from common.errors import public_reason, scrub_urls
from common.ids import media_id_for_object
from common.keys import original_key
from common.media_records import FINAL, SELECT_MEDIA, SELECT_RENDITIONS
from common.messages import CopyMessage, IgnoredNotification, JobMessage, ObjectCreated, StoreMessage, parse_message
from processor.direct_upload import ensure_original, record_direct_upload
from processor.hls_copy import copy_chunk
from processor.ittybit_client import OutputRefused
from processor.job_status import refresh_media
from processor.probe import ensure_probe
from processor.renditions import refuse_output, store_or_refuse
from processor.settings import Context
from processor.sql import FAIL_OPEN_RENDITIONS, SELECT_PROBE, UPDATE_MEDIA_STATUS
from processor.submission import submit_renditions

__all__ = [
    "MAX_QUEUE_DELAY",
    "MAX_REQUEUES",
    "REQUEUE_FIRST_DELAY",
    "Decision",
    "give_up",
    "give_up_reason",
    "handle_message",
    "is_dead_letter_queue",
    "requeue_delay",
    "requeue_notification",
    "retry_delay",
]

# Cloudflare Queues refuses a retry delay above 12 hours.
MAX_QUEUE_DELAY = 43_200


def retry_delay(attempts: int, retry_after: float | None = None, base: int = 2, cap: int = 300) -> int:
    """Seconds for `message.retry(delaySeconds=...)`: base**attempts up to cap, at least Retry-After."""
    exponent = min(max(int(attempts), 1), 32)
    delay = min(base**exponent, cap)
    if retry_after is not None and retry_after == retry_after and retry_after > 0:
        # The server's own word beats our guess, even above our cap.
        delay = max(delay, math.ceil(min(retry_after, MAX_QUEUE_DELAY)))
    return int(max(1, min(delay, MAX_QUEUE_DELAY)))


@dataclass(frozen=True)
class Decision:
    """ack, or retry after `delay` seconds; `what` says why (logs and tests)."""

    action: str
    what: str
    delay: int = 0

    @classmethod
    def ack(cls, what: str) -> Decision:
        return cls("ack", what)

    @classmethod
    def retry(cls, what: str, attempts: int, retry_after: float | None = None, *, cap: int) -> Decision:
        return cls("retry", what, retry_delay(attempts, retry_after, cap=cap))


def is_dead_letter_queue(queue_name: str) -> bool:
    """True for the dead-letter queue (named <queue>-dlq)."""
    return str(queue_name or "").endswith("-dlq")


async def process_media(ctx: Context, media_id: str, attempts: int, media: dict | None = None) -> Decision:
    """Probe the source, then submit the renditions of one media item (after moving a direct
    upload into place). `media` is its row when the caller has just read it."""
    if media is None:
        media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        return Decision.ack("missing")  # deleted meanwhile
    if media["source"] == "r2" and media["r2_key"] != original_key(media_id):
        media = await ensure_original(ctx, media)
        if media is None:
            return Decision.ack("gone")
    if media["status"] in FINAL:
        return Decision.ack("final")
    if ctx.settings.probe_sources:
        step = await ensure_probe(ctx, media)
        if step.action == "retry":
            return Decision.retry(step.what, attempts, step.retry_after, cap=ctx.settings.retry_max_seconds)
        if step.action == "stop":
            return Decision.ack(step.what)
        probe = step.probe
    else:
        probe = await first_row(ctx.db, SELECT_PROBE, media_id)
    submission = await submit_renditions(ctx, media, probe)
    if submission.retry:
        return Decision.retry(
            f"ittybit: {submission.error}", attempts, submission.retry_after, cap=ctx.settings.retry_max_seconds
        )
    return Decision.ack(submission.state)


async def _consume(ctx: Context, message: object, attempts: int) -> Decision:
    cap = ctx.settings.retry_max_seconds
    match message:
        case StoreMessage():
            return Decision.ack(await store_or_refuse(ctx, message))
        case CopyMessage():
            try:
                return Decision.ack(await copy_chunk(ctx, message))
            except OutputRefused as refused:
                return Decision.ack(await refuse_output(ctx, StoreMessage(
                    message.media_id, message.rendition, message.job_id, message.base_url), refused.reason))
        case JobMessage(media_id=media_id):
            return await process_media(ctx, media_id, attempts)
        case ObjectCreated(bucket=bucket) if bucket != ctx.settings.bucket:
            return Decision.ack("other_bucket")
        case ObjectCreated():
            what, media = await record_direct_upload(ctx, message)
            if what == "busy":  # another record still holds the key for a moment: try again
                return Decision.retry(what, attempts, cap=cap)
            if media is None:
                return Decision.ack(what)
            return await process_media(ctx, media["id"], attempts, media)
        case IgnoredNotification():
            return Decision.ack("ignored_notification")
    return Decision.ack("unknown")


async def handle_message(ctx: Context, body: object, attempts: int, queue_name: str) -> Decision:
    """The decision for one message; an unexpected error retries that message alone, with backoff."""
    try:
        message = parse_message(body, ctx.settings.uploads_prefix)
        if is_dead_letter_queue(queue_name):
            return Decision.ack(await give_up(ctx, message, attempts))
        if message is None:
            ctx.log(f"processor: unknown message on {queue_name}: {scrub_urls(str(body)[:200])}")
        return await _consume(ctx, message, attempts)
    except Exception as error:
        # Error texts may quote an output URL (a capability): logs keep its host only.
        ctx.log(f"processor: message failed (attempt {attempts}), will retry: {type(error).__name__}: {scrub_urls(error)}")
        ctx.log(scrub_urls(traceback.format_exc()))
        return Decision.retry(f"error: {type(error).__name__}", attempts, cap=ctx.settings.retry_max_seconds)


def dead_letter_media_id(message: object) -> str | None:
    """The media item a dead message was about, whatever its shape."""
    match message:
        case JobMessage(media_id=media_id) | StoreMessage(media_id=media_id) | CopyMessage(media_id=media_id):
            return media_id
        case ObjectCreated(bucket=bucket, key=key, etag=etag):
            return media_id_for_object(bucket, key, etag)
    return None


def give_up_reason(renditions: list[dict], attempts: int | None, probe: dict | None = None) -> str:
    """'gave up after N attempts: <last error>' from the renditions' retry notes (or, before any
    rendition exists, the note of the source's probe that never finished)."""
    open_rows = [r for r in renditions if r.get("status") not in FINAL]
    noted = sorted((r for r in open_rows if r.get("error")), key=lambda r: r.get("updated_at") or 0)
    if not noted and probe is not None and probe.get("status") == "pending":
        noted = [{"error": probe.get("error") or "the probe of the source never finished"}]
    # The notes are ours, but quote Ittybit's and the network's words: clean them again.
    last_error = public_reason(noted[-1]["error"]) if noted else "the queue message kept failing"
    tries = max([int(r.get("attempts") or 0) for r in open_rows] + [int(attempts or 0)])
    counted = f"{tries} attempts" if tries else "repeated attempts"
    return f"gave up after {counted}: {last_error}"[:500]


# A direct upload's notification that ran out of retries before its record existed (D1 or R2
# down for longer than the retries last): nothing else knows the object is there, so the
# dead-letter queue sends it back to the jobs queue, later each time (10 min, 20 min, ... 12 h:
# 57 hours of waits in all, besides each round's own retries), then gives it up with a log line
# naming the key.
REQUEUE_FIRST_DELAY = 600
MAX_REQUEUES = 10


def requeue_delay(requeued: int) -> int:
    """Seconds before the `requeued`-th resend (1-based) of a dead-lettered notification."""
    return min(REQUEUE_FIRST_DELAY * 2 ** max(0, requeued - 1), MAX_QUEUE_DELAY)


async def requeue_notification(ctx: Context, message: ObjectCreated) -> str:
    """Send a dead-lettered notification with no record back to the jobs queue, with a delay."""
    if message.requeued >= MAX_REQUEUES:
        ctx.log(f"processor: gave up the direct upload {message.key}: its notification was dead-lettered"
                f" {message.requeued + 1} times; it stays in the bucket (put it again to retry)")
        return "missing"
    count = message.requeued + 1
    delay = requeue_delay(count)
    await ctx.jobs.send(message.notification(count), delaySeconds=delay)
    ctx.log(f"processor: the notification of {message.key} was dead-lettered before its record existed;"
            f" sent again in {delay} s ({count} of {MAX_REQUEUES})")
    return "requeued"


async def give_up(ctx: Context, message: object, attempts: int | None = None) -> str:
    """A dead-lettered message: mark its media item failed unless it is already final (or
    still young, see the module docstring); returns what happened."""
    media_id = dead_letter_media_id(message)
    if media_id is None:
        return "unknown"
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        if isinstance(message, ObjectCreated):
            return await requeue_notification(ctx, message)
        return "missing"
    if media["status"] in FINAL:
        return "already_final"
    renditions = await all_rows(ctx.db, SELECT_RENDITIONS, media_id)
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
