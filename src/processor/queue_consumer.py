"""The queue consumer: one decision (ack, or retry after a delay) per message, never per batch.

Three message shapes arrive on the jobs queue: `media.process` from the API worker (or the
reconcile cron), `rendition.store` from the webhook, and R2 event notifications for direct
uploads. The dead-letter queue gets whichever of them ran out of retries.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from common.d1 import first_row
from common.job_messages import parse_job_message
from common.media_records import SELECT_MEDIA
from processor.backoff import retry_delay
from processor.context import Context
from processor.dead_letters import give_up
from processor.direct_upload import ensure_original, original_key, record_direct_upload
from processor.r2_notifications import is_notification, parse_notification
from processor.rendition_copy import store_rendition
from processor.job_status import JobOutcome
from processor.outcomes import apply_outcome
from processor.output_urls import OutputRefused, scrub_urls
from processor.probe import ensure_probe
from processor.store_messages import StoreMessage, parse_store_message
from processor.submission import submit_renditions

__all__ = ["Decision", "handle_message", "is_dead_letter_queue"]


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


async def process_media(ctx: Context, media_id: str, attempts: int) -> Decision:
    """Probe the source, then submit the renditions of one media item (after moving a direct
    upload into place)."""
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        return Decision.ack("missing")  # deleted meanwhile
    if media["source"] == "r2" and media["r2_key"] != original_key(media_id):
        media = await ensure_original(ctx, media)
        if media is None:
            return Decision.ack("gone")
    if media["status"] in ("completed", "failed"):
        return Decision.ack("final")
    if ctx.settings.probe_sources:
        step = await ensure_probe(ctx, media)
        if step.action == "retry":
            return Decision.retry(step.what, attempts, step.retry_after, cap=ctx.settings.retry_max_seconds)
        if step.action == "stop":
            return Decision.ack(step.what)
    submission = await submit_renditions(ctx, media_id)
    if submission.retry:
        return Decision.retry(
            f"ittybit: {submission.error}", attempts, submission.retry_after, cap=ctx.settings.retry_max_seconds
        )
    return Decision.ack(submission.state)


async def refuse_output(ctx: Context, store: StoreMessage, reason: str) -> str:
    """Fail the rendition whose output URL (or its answer) was refused: a retry would get the
    same answer. The same rules as any job report apply (final rows and other jobs untouched)."""
    ctx.log(f"processor: output of {store.media_id}/{store.rendition} refused: {reason}")
    outcome = JobOutcome(job_id=store.job_id, status="failed", error=f"output refused: {reason}",
                         metadata={"media_id": store.media_id, "rendition": store.rendition})
    what = await apply_outcome(ctx, outcome)
    return "output_refused" if what == "failed" else what


async def _dispatch(ctx: Context, body: object, attempts: int, queue_name: str) -> Decision:
    if is_dead_letter_queue(queue_name):
        return Decision.ack(await give_up(ctx, body, attempts))
    store = parse_store_message(body)
    if store is not None:
        try:
            ctx.settings.output_policy.check(store.output_url)  # before any fetch; R2Storage checks the answer
            return Decision.ack(await store_rendition(ctx, store))
        except OutputRefused as refused:
            return Decision.ack(await refuse_output(ctx, store, refused.reason))
    job = parse_job_message(body)
    if job is not None:
        return await process_media(ctx, job.media_id, attempts)
    if is_notification(body):
        created = parse_notification(body, ctx.settings.uploads_prefix)
        if created is None:
            return Decision.ack("ignored_notification")
        if created.bucket != ctx.settings.bucket:
            return Decision.ack("other_bucket")
        what, media = await record_direct_upload(ctx, created)
        if what == "busy":  # another record still holds the key for a moment: try again
            return Decision.retry(what, attempts, cap=ctx.settings.retry_max_seconds)
        if media is None:
            return Decision.ack(what)
        return await process_media(ctx, media["id"], attempts)
    ctx.log(f"processor: unknown message on {queue_name}: {scrub_urls(str(body)[:200])}")
    return Decision.ack("unknown")


async def handle_message(ctx: Context, body: object, attempts: int, queue_name: str) -> Decision:
    """The decision for one message; an unexpected error retries that message alone, with backoff."""
    try:
        return await _dispatch(ctx, body, attempts, queue_name)
    except Exception as error:
        # Error texts may quote an output URL (a capability): logs keep its host only.
        ctx.log(f"processor: message failed (attempt {attempts}), will retry: {type(error).__name__}: {scrub_urls(error)}")
        ctx.log(scrub_urls(traceback.format_exc()))
        return Decision.retry(f"error: {type(error).__name__}", attempts, cap=ctx.settings.retry_max_seconds)
