"""Apply what Ittybit reports about a job (webhook, reconcile poll or replayed create) to D1.

A success is not final yet: the rendition stays `processing` with Ittybit's output facts
recorded, and a `rendition.store` message gets the file copied into R2 by the queue
consumer; only that copy completes it. A failure is final at once. Final rows never change,
but a report about one still refreshes its media (the refresh after the final write may have
failed), so a retried delivery repairs what the first one left half done.
"""

from __future__ import annotations

from common.d1 import batch, first_row
from processor.context import Context
from processor.job_status import JobOutcome
from processor.media_refresh import refresh_media
from processor.rendition_store import (
    ADOPT_JOB,
    MARK_MEDIA_PROCESSING,
    RECORD_OUTCOME_FOR_RENDITION,
    SELECT_RENDITION,
    SELECT_RENDITION_BY_JOB,
)
from processor.store_messages import store_message

__all__ = ["apply_outcome"]

_FINAL = ("completed", "failed")


async def _find_rendition(ctx: Context, outcome: JobOutcome) -> dict | None:
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
    row = await _find_rendition(ctx, outcome)
    if row is None:
        return "unknown"
    if row["job_id"] and row["job_id"] != outcome.job_id:
        return "other_job"
    if row["status"] in _FINAL:
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
        await batch(ctx.db, [
            adopt,
            processing,
            (RECORD_OUTCOME_FOR_RENDITION, outcome.job_id, "processing", None, outcome.output_url, None,
             outcome.width, outcome.height, outcome.duration, outcome.filesize, None, now, media_id, name),
        ])
        await ctx.jobs.send(store_message(media_id, name, outcome.job_id, outcome.output_url))
        return "store_queued"
    error = outcome.error or (
        "Ittybit reported success without an output URL" if outcome.status == "completed" else "the Ittybit job failed"
    )
    await batch(ctx.db, [
        adopt,
        (RECORD_OUTCOME_FOR_RENDITION, outcome.job_id, "failed", None, None, None,
         None, None, None, None, " ".join(str(error).split())[:500], now, media_id, name),
    ])
    await refresh_media(ctx, media_id)
    return "failed"

