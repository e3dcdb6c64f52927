"""The cron: repair what a lost webhook, a lost queue message or a half-done write left behind.

Jobs submitted longer ago than RECONCILE_AFTER_SECONDS and still open are asked for with
GET /jobs/{id} and their answer applied as a webhook's would be; a job Ittybit answers 404 for
(it no longer knows it) is forgotten and its media queued again, so the rendition gets a new job
instead of staying `processing` forever (but not once the rendition is GIVE_UP_AFTER_SECONDS old:
then it fails, so a job Ittybit keeps losing is not made again without end). Every poll,
answered or not, is counted with its time (table job_polls) and the least recently polled
jobs go first, so jobs that never settle rotate through BATCH_LIMIT instead of starving newer
ones; a job still open after RECONCILE_MAX_POLLS polls, or submitted longer than
GIVE_UP_AFTER_SECONDS ago, is given up: its rendition fails with the reason. Media whose
renditions are all final but whose own status is not (the refresh after the last final write
failed) get their status recomputed. Media still pending (or with
renditions never submitted) after RECONCILE_AFTER_SECONDS are queued again with reason "reconcile";
that includes media whose source probe never finished (a media item stays `pending` until its
probe is stored and its renditions submitted), and the message asks for the probe task again.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.d1 import all_rows, first_row, run
from common.events import event_statement
from common.media_records import SELECT_MEDIA
from common.messages import job_message
from processor.ittybit_client import IttybitError, RejectedError
from processor.job_status import outcome_from_job, refresh_media
from processor.renditions import apply_outcome
from processor.settings import Context
from processor.sql import (
    GIVE_UP_JOB,
    PRUNE_JOB_POLLS,
    PRUNE_WEBHOOK_DELIVERIES,
    RECORD_POLL,
    RELEASE_LOST_JOB,
    SELECT_PENDING_MEDIA,
    SELECT_STUCK_JOBS,
    SELECT_UNSETTLED_MEDIA,
)

__all__ = ["BATCH_LIMIT", "Reconciled", "reconcile"]

# Per cron run and per kind of repair; the next run (5 minutes later) takes the rest.
BATCH_LIMIT = 50
# What a poll can answer that leaves the job open: it counts towards giving the job up.
_STILL_OPEN = ("processing", "unchanged")
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
    given_up: int = 0
    repaired: int = 0


async def reconcile(ctx: Context) -> Reconciled:
    """One reconcile pass."""
    result = Reconciled(outcomes={})
    now = ctx.now_ms()
    cutoff = now - ctx.settings.reconcile_after_seconds * 1000
    for row in await all_rows(ctx.db, SELECT_STUCK_JOBS, cutoff, BATCH_LIMIT):
        result.jobs_checked += 1
        await _poll(ctx, row, now, result)
    # Before the requeue below: a pending media whose renditions are all final needs no new message.
    for media in await all_rows(ctx.db, SELECT_UNSETTLED_MEDIA, cutoff, BATCH_LIMIT):
        await refresh_media(ctx, media["id"])
        result.repaired += 1
    for media in await all_rows(ctx.db, SELECT_PENDING_MEDIA, cutoff, BATCH_LIMIT):
        await _queue_again(ctx, media["id"], media["r2_key"], now, "still pending")
        result.requeued += 1
    await run(ctx.db, PRUNE_WEBHOOK_DELIVERIES, now - DELIVERY_RETENTION_MS)
    await run(ctx.db, PRUNE_JOB_POLLS)
    ctx.log(
        f"processor: reconcile checked {result.jobs_checked} job(s) {result.outcomes}, "
        f"requeued {result.requeued} media, {result.lost_jobs} lost job(s) submitted again, {result.errors} error(s), "
        f"{result.given_up} job(s) given up, {result.repaired} media status(es) repaired"
    )
    return result


async def _poll(ctx: Context, row: dict, now: int, result: Reconciled) -> None:
    """Ask Ittybit about one open job and apply the answer; give the job up once past its bounds."""
    # Counted first, so a poll that fails (or whose isolate dies) still moves the job down the rotation.
    await run(ctx.db, RECORD_POLL, now, row["media_id"], row["name"], row["job_id"])
    polls = int(row["polls"] or 0) + 1
    try:
        job = await ctx.client.get_job(row["job_id"])
        outcome = outcome_from_job(job)
    except RejectedError as error:
        if error.status == 404:
            await _release_lost_job(ctx, row, now)
            result.lost_jobs += 1
            return
        result.errors += 1
        ctx.log(f"processor: reconcile could not read job {row['job_id']}: {error}")
        last = f"GET /jobs answered {error.status}"
    except IttybitError as error:
        result.errors += 1
        ctx.log(f"processor: reconcile could not read job {row['job_id']}: {error}")
        last = f"GET /jobs answered {error.status}" if error.status else "Ittybit could not be reached"
    except ValueError as error:
        result.errors += 1
        ctx.log(f"processor: reconcile could not read job {row['job_id']}: {error}")
        last = "its answer could not be read"
    else:
        outcome.job_id = row["job_id"]
        outcome.metadata.setdefault("media_id", row["media_id"])
        outcome.metadata.setdefault("rendition", row["name"])
        what = await apply_outcome(ctx, outcome)
        result.outcomes[what] = result.outcomes.get(what, 0) + 1
        if what not in _STILL_OPEN:
            return  # settled, or at least moving (its copy is queued)
        last = f"Ittybit still reports it {outcome.status}"
    if await _give_up_if_due(ctx, row, polls, now, last):
        result.given_up += 1


async def _give_up_if_due(ctx: Context, row: dict, polls: int, now: int, last: str) -> bool:
    """Fail a job's rendition after RECONCILE_MAX_POLLS polls or GIVE_UP_AFTER_SECONDS; True if it did."""
    settings = ctx.settings
    age_s = (now - int(row["submitted_at"] or now)) // 1000
    if polls < settings.reconcile_max_polls and age_s < settings.give_up_after_seconds:
        return False
    # Only facts of our own (no Ittybit text, which could hold URLs): the rendition's error is public.
    reason = (
        f"gave up on Ittybit job {row['job_id']} after {polls} poll(s) over {age_s // 60} min "
        f"without a final status ({last})"
    )
    return await _fail_job(ctx, row, reason, now)


async def _fail_job(ctx: Context, row: dict, reason: str, now: int) -> bool:
    """Fail the rendition of the job in `row` with `reason` (if it still has that job and is open); True if it did."""
    media_id, name = row["media_id"], row["name"]
    changed = await run(ctx.db, GIVE_UP_JOB, reason, now, media_id, name, row["job_id"])
    if changed:
        ctx.log(f"processor: reconcile: {media_id}/{name}: {reason}")
        await refresh_media(ctx, media_id)
    return bool(changed)


async def _release_lost_job(ctx: Context, row: dict, now: int) -> None:
    """Ittybit does not know the job (404): forget it on the rendition and queue its media again;
    unless the rendition was first submitted GIVE_UP_AFTER_SECONDS ago or more, which bounds how
    long jobs that Ittybit keeps losing are made again: then the rendition fails with the reason."""
    media_id, name, job_id = row["media_id"], row["name"], row["job_id"]
    age_s = (now - int(row.get("created_at") or now)) // 1000
    if age_s >= ctx.settings.give_up_after_seconds:
        reason = (f"Ittybit no longer knows job {job_id}, and the rendition was first submitted {age_s // 60} min ago"
                  f" ({int(row['attempts'] or 0)} earlier attempt(s)): not submitted again")
        await _fail_job(ctx, row, reason, now)
        return
    note = f"Ittybit no longer knows job {job_id}; submitting it again"
    changed = await run(ctx.db, RELEASE_LOST_JOB, note, now, media_id, name, job_id)
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    ctx.log(f"processor: reconcile: {media_id}/{name}: {note}")
    if changed and media is not None:
        await _queue_again(ctx, media_id, media["r2_key"], now, f"Ittybit lost the {name} job")


async def _queue_again(ctx: Context, media_id: str, r2_key: str, now: int, why: str) -> None:
    """Send the media's job message again and put it on the timeline (media.queued, reason
    "reconcile": one entry per pass that sent it; recorded after the queue took it)."""
    await ctx.jobs.send(job_message(media_id, r2_key, "reconcile"))
    await run(ctx.db, *event_statement(media_id, "media.queued", {"reason": "reconcile", "why": why}, now, "reconcile", now))
