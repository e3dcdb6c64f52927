"""The cron: repair what a lost webhook or a lost queue message left behind.

Jobs submitted longer ago than RECONCILE_AFTER_SECONDS and still open are asked for with
GET /jobs/{id} and their answer applied as a webhook's would be; a job Ittybit answers 404 for
(it no longer knows it) is forgotten and its media queued again, so the rendition gets a new job
instead of staying `processing` forever. Media still pending (or with renditions never submitted)
after that long are queued again with reason "reconcile".
"""

from __future__ import annotations

from dataclasses import dataclass

from common.d1 import all_rows, first_row, run
from common.job_messages import job_message
from common.media_records import SELECT_MEDIA
from processor.context import Context
from processor.ittybit_client import IttybitError, RejectedError
from processor.job_status import outcome_from_job
from processor.outcomes import apply_outcome
from processor.rendition_store import (
    PRUNE_WEBHOOK_DELIVERIES,
    RELEASE_LOST_JOB,
    SELECT_PENDING_MEDIA,
    SELECT_STUCK_JOBS,
)

__all__ = ["BATCH_LIMIT", "Reconciled", "reconcile"]

# Per cron run; the next run (5 minutes later) takes the rest.
BATCH_LIMIT = 50
# Webhook ids are kept a day: far past the signature tolerance, so a replay is refused anyway.
DELIVERY_RETENTION_MS = 24 * 3600 * 1000


@dataclass
class Reconciled:
    """What one run did."""

    jobs_checked: int = 0
    outcomes: dict | None = None
    requeued: int = 0
    lost_jobs: int = 0
    errors: int = 0


async def reconcile(ctx: Context) -> Reconciled:
    """One reconcile pass."""
    result = Reconciled(outcomes={})
    now = ctx.now_ms()
    cutoff = now - ctx.settings.reconcile_after_seconds * 1000
    for row in await all_rows(ctx.db, SELECT_STUCK_JOBS, cutoff, BATCH_LIMIT):
        result.jobs_checked += 1
        try:
            job = await ctx.client.get_job(row["job_id"])
            outcome = outcome_from_job(job)
        except RejectedError as error:
            if error.status != 404:
                result.errors += 1
                ctx.log(f"processor: reconcile could not read job {row['job_id']}: {error}")
                continue
            await _release_lost_job(ctx, row, now)
            result.lost_jobs += 1
            continue
        except (IttybitError, ValueError) as error:
            result.errors += 1
            ctx.log(f"processor: reconcile could not read job {row['job_id']}: {error}")
            continue
        outcome.job_id = row["job_id"]
        outcome.metadata.setdefault("media_id", row["media_id"])
        outcome.metadata.setdefault("rendition", row["name"])
        what = await apply_outcome(ctx, outcome)
        result.outcomes[what] = result.outcomes.get(what, 0) + 1
    for media in await all_rows(ctx.db, SELECT_PENDING_MEDIA, cutoff, BATCH_LIMIT):
        await ctx.jobs.send(job_message(media["id"], media["r2_key"], "reconcile"))
        result.requeued += 1
    await run(ctx.db, PRUNE_WEBHOOK_DELIVERIES, now - DELIVERY_RETENTION_MS)
    ctx.log(
        f"processor: reconcile checked {result.jobs_checked} job(s) {result.outcomes}, "
        f"requeued {result.requeued} media, {result.lost_jobs} lost job(s) submitted again, {result.errors} error(s)"
    )
    return result


async def _release_lost_job(ctx: Context, row: dict, now: int) -> None:
    """Ittybit does not know the job (404): forget it on the rendition and queue its media again."""
    media_id, name, job_id = row["media_id"], row["name"], row["job_id"]
    note = f"Ittybit no longer knows job {job_id}; submitting it again"
    changed = await run(ctx.db, RELEASE_LOST_JOB, note, now, media_id, name, job_id)
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    ctx.log(f"processor: reconcile: {media_id}/{name}: {note}")
    if changed and media is not None:
        await ctx.jobs.send(job_message(media_id, media["r2_key"], "reconcile"))
