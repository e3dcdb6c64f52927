"""A rendition after its job is submitted: Ittybit's reports applied, the output copied into R2.

A job report (webhook, reconcile poll or replayed create) goes through `apply_outcome`. A
success is not final yet: the rendition stays `processing` with Ittybit's output facts
recorded, and a `rendition.store` message gets the file copied into R2 by the queue
consumer (`store_rendition`); only that copy completes it. A small output reported by
Ittybit's webhook (a thumbnail) is copied by the webhook's own request instead, the first
file a user waits for without a queue hop in front of it. A failure is final at once, and
so is an output URL the policy refuses (`refuse_output`: a retry would get the same answer).
Final rows never change, but a report about one still refreshes its media (the refresh after
the final write may have failed), so a retried delivery repairs what the first one left half done.
"""

from __future__ import annotations

import json

from common.d1 import batch, first_row, run
from common.errors import public_reason
from common.events import INSERT_RETRY_EVENT, event_statement
from common.keys import rendition_key
from common.media_records import FINAL
from common.messages import StoreMessage, store_message
from processor.hls_copy import plan_ladder
from processor.ittybit_client import OutputRefused
from processor.job_status import JobOutcome, refresh_media
from processor.presets import Preset
from processor.settings import Context
from processor.sql import (
    ADOPT_JOB,
    MARK_MEDIA_PROCESSING,
    NOTE_RETRY,
    SELECT_RENDITION,
    SELECT_RENDITION_BY_JOB,
    record_outcome,
)

__all__ = [
    "INLINE_STORE_MAX_BYTES",
    "apply_outcome",
    "apply_outcome_to",
    "find_rendition",
    "refuse_output",
    "store_or_refuse",
    "store_rendition",
]

# Outputs up to this size are copied in the webhook's own request (see apply_outcome).
INLINE_STORE_MAX_BYTES = 2 * 1024 * 1024


async def find_rendition(ctx: Context, outcome: JobOutcome) -> dict | None:
    """The rendition a job report is about: by its job id, or by the job's metadata."""
    row = await first_row(ctx.db, SELECT_RENDITION_BY_JOB, outcome.job_id)
    if row is not None:
        return row
    # The job id is not stored yet (the webhook beat MARK_SUBMITTED): our metadata names the rendition.
    media_id = outcome.metadata.get("media_id")
    name = outcome.metadata.get("rendition")
    if not isinstance(media_id, str) or not isinstance(name, str):
        return None
    return await first_row(ctx.db, SELECT_RENDITION, media_id, name)


async def apply_outcome(ctx: Context, outcome: JobOutcome) -> str:
    """Record one job report; returns what happened (for logs and tests)."""
    return await apply_outcome_to(ctx, outcome, await find_rendition(ctx, outcome))


async def apply_outcome_to(ctx: Context, outcome: JobOutcome, row: dict | None, store_inline: bool = False) -> str:
    """apply_outcome for the rendition `row` the caller has just read (find_rendition).

    With `store_inline` (Ittybit's webhook) a small output (INLINE_STORE_MAX_BYTES, a
    thumbnail) is copied in this call instead of by a `rendition.store` message: the file a
    user waits on first skips a queue hop. If that copy fails it is queued as any other; if
    the isolate dies during it, the rendition stays `processing` with its output recorded and
    the reconcile cron's poll of the job queues the copy.
    """
    if row is None:
        return "unknown"
    if row["job_id"] and row["job_id"] != outcome.job_id:
        return "other_job"
    if row["status"] in FINAL:
        # Perhaps the retry of a failure whose media refresh did not happen (a D1 error, an
        # evicted isolate): refreshing is idempotent, so do it, or the media stays `processing`.
        await refresh_media(ctx, row["media_id"])
        return "already_final"
    media_id, name, now = row["media_id"], row["name"], ctx.now_ms()
    if outcome.status == "pending":
        return "unchanged"
    adopt = (ADOPT_JOB, outcome.job_id, now, now, media_id, name)
    processing = (MARK_MEDIA_PROCESSING, now, media_id)
    if outcome.status == "processing":
        await batch(ctx.db, [adopt, processing])
        return "processing"
    if outcome.status == "completed" and outcome.output_url:
        if _copy_under_way(ctx, row, outcome, now):
            return "store_pending"
        await batch(ctx.db, [
            adopt,
            processing,
            record_outcome(media_id, name, job_id=outcome.job_id, status="processing", now=now,
                           output_url=outcome.output_url, width=outcome.width, height=outcome.height,
                           duration=outcome.duration, size=outcome.filesize),
        ])
        store = StoreMessage(media_id, name, outcome.job_id, outcome.output_url)
        if store_inline and _small(row, outcome):
            recorded = {**row, "job_id": outcome.job_id, "status": "processing", "size": outcome.filesize}
            try:
                return await store_or_refuse(ctx, store, recorded)
            except Exception as error:  # the queue's copy retries it with backoff
                ctx.log(f"processor: copying {media_id}/{name} in the webhook failed, queued instead: "
                        f"{type(error).__name__}")
        await ctx.jobs.send(store_message(media_id, name, outcome.job_id, outcome.output_url))
        return "store_queued"
    error = outcome.error or (
        "Ittybit reported success without an output URL" if outcome.status == "completed" else "the Ittybit job failed"
    )
    await batch(ctx.db, [
        adopt,
        record_outcome(media_id, name, job_id=outcome.job_id, status="failed", now=now,
                       error=" ".join(str(error).split())[:500]),
    ])
    await refresh_media(ctx, media_id)
    return "failed"


def _copy_under_way(ctx: Context, row: dict, outcome: JobOutcome, now: int) -> bool:
    """Whether this very output was recorded (its copy started or queued) less than
    RECONCILE_AFTER_SECONDS ago: a reconcile poll of a job whose copy is merely slow, or a
    repeated webhook, would only copy it again. Older than that, the copy may have been lost
    (its message, its isolate), so it is queued again."""
    return (row["status"] == "processing" and row["job_id"] == outcome.job_id
            and row["output_url"] == outcome.output_url
            and now - int(row["updated_at"] or 0) < ctx.settings.reconcile_after_seconds * 1000)


def _small(row: dict, outcome: JobOutcome) -> bool:
    """An output Ittybit reports as at most INLINE_STORE_MAX_BYTES, of one file (a ladder has many)."""
    size = outcome.filesize
    return row["kind"] != "adaptive_video" and size is not None and 0 <= size <= INLINE_STORE_MAX_BYTES


async def store_or_refuse(ctx: Context, message: StoreMessage, row: dict | None = None) -> str:
    """The output policy, then the copy; an output URL the policy refuses fails the rendition."""
    try:
        ctx.settings.output_policy.check(message.output_url)  # before any fetch; R2Storage checks the answer
        return await store_rendition(ctx, message, row)
    except OutputRefused as refused:
        return await refuse_output(ctx, message, refused.reason)


def _content_type(row: dict) -> str:
    """The rendition's MIME type, from the options its job was made with (fixed at insert)."""
    return Preset(row["name"], row["kind"], json.loads(row["options"] or "{}")).output_content_type()


async def store_rendition(ctx: Context, message: StoreMessage, row: dict | None = None) -> str:
    """Copy the output into renditions/<media>/<name>.<ext> and record it; returns what happened.

    `row` is the rendition as the caller has just written it (the webhook's inline copy); a
    queued message reads it. Raises whatever the copy raised (the consumer retries the
    message); notes the error on the rendition first so the dead-letter reason can tell it.
    """
    if row is None:
        row = await first_row(ctx.db, SELECT_RENDITION, message.media_id, message.rendition)
    if row is None:
        return "missing"
    if row["status"] in FINAL:
        # Perhaps the retry of a copy whose media refresh failed after the final write (a D1
        # error, an evicted isolate): finish that refresh, or the media stays `processing`.
        await refresh_media(ctx, message.media_id)
        return "already_final"
    if row["job_id"] and row["job_id"] != message.job_id:
        return "other_job"
    if row["kind"] == "adaptive_video":
        # A ladder of many files: planned here, copied by hls.copy messages (processor.hls_copy).
        return await plan_ladder(ctx, message, row)
    content_type = _content_type(row)
    # renditions/<media>/<name>.<ext>, fixed when the row was inserted (older rows may lack it).
    key = row["output_key"] or rendition_key(message.media_id, row["name"])
    try:
        size = await ctx.storage.store_from_url(message.output_url, key, content_type, row["size"])
    except Exception as error:
        # The error may be an OSError or a fetch error quoting the output URL: people get neither.
        now = ctx.now_ms()
        await batch(ctx.db, [
            (NOTE_RETRY, public_reason(f"copying the output into R2 failed: {error}"), now, message.media_id,
             message.rendition),
            (INSERT_RETRY_EVENT, now, message.media_id, message.rendition),
        ])
        raise
    now = ctx.now_ms()
    stored = {"rendition": message.rendition, "job_id": message.job_id, "key": key, "size": size,
              "content_type": content_type}
    await batch(ctx.db, [
        record_outcome(message.media_id, message.rendition, job_id=message.job_id, status="completed", now=now,
                       output_key=key, output_url=message.output_url, content_type=content_type, size=size),
        event_statement(message.media_id, "rendition.stored", stored, now, message.rendition, message.job_id),
    ])
    # A DELETE of the media may have run while we copied (the write above then changed
    # nothing): the refresh finds no row, and the file must not be left behind.
    if await refresh_media(ctx, message.media_id) is None:
        await ctx.storage.delete([key])
        return "deleted_meanwhile"
    return "stored"


async def refuse_output(ctx: Context, store: StoreMessage, reason: str) -> str:
    """Fail the rendition whose output URL (or its answer) was refused: a retry would get the
    same answer. The same rules as any job report apply (final rows and other jobs untouched)."""
    ctx.log(f"processor: output of {store.media_id}/{store.rendition} refused: {reason}")
    outcome = JobOutcome(job_id=store.job_id, status="failed", error=f"output refused: {reason}",
                         metadata={"media_id": store.media_id, "rendition": store.rendition})
    what = await apply_outcome(ctx, outcome)
    return "output_refused" if what == "failed" else what
