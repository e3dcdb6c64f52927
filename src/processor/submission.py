"""Ask Ittybit for every rendition of one media item: one job per preset, each exactly once.

Rows first (INSERT OR IGNORE), then a job for each rendition without one, under the
deterministic Idempotency-Key of (media record, rendition), so a redelivered message or a retry
after a lost answer never makes a second job. Each row's options are the job's options,
computed once when the row is inserted from the preset's bounds and the probed source
(common.rendition_sizing: never above the source, orientation kept, explicit width AND
height), and the job is submitted with the row's options: a redelivered message replays
the identical body under the same key, even if the presets changed meanwhile. Without a
probe (PROBE_SOURCES off, or a source of unknown size) the box itself is sent. Transient failures (429, 5xx, network,
an account problem) leave the rendition pending and ask for the message to be retried;
any other refusal fails that rendition with Ittybit's message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from common.d1 import all_rows, batch, run
from common.errors import public_reason
from common.events import INSERT_RETRY_EVENT, event_statement
from common.media_records import FINAL, SELECT_RENDITIONS
from common.rendition_sizing import TooSmallForVideo, job_options, rendition_size
from processor.ittybit_client import RejectedError, RetryableError, idempotency_key
from processor.job_status import outcome_from_job, refresh_media
from processor.presets import Preset, rendition_key, submission_rank
from processor.renditions import apply_outcome
from processor.settings import Context
from processor.sql import (
    INSERT_RENDITION,
    MARK_MEDIA_PROCESSING,
    MARK_REJECTED,
    MARK_SUBMITTED,
    NOTE_RETRY,
    UPDATE_MEDIA_STATUS,
)

__all__ = ["Submission", "submit_renditions"]

@dataclass
class Submission:
    """What one pass did: `state` (final, submitted) and whether to retry the message."""

    state: str
    submitted: int = 0
    retry: bool = False
    retry_after: float | None = None
    error: str | None = None


def planned_options(preset: Preset, probe: dict | None) -> tuple[dict, str | None]:
    """The Ittybit options of one rendition for a probed source, and why it cannot be made (or None).

    Sized from the displayed size the probe stored (rotation already applied); unknown size
    (no probe, audio, or a probe that found none) sends the preset's box.
    """
    width = probe.get("width") if probe else None
    height = probe.get("height") if probe else None
    try:
        size = rendition_size(preset.kind, preset.options, width, height) if width and height else None
    except TooSmallForVideo as error:
        return job_options(preset.options, None), str(error)
    return job_options(preset.options, size), None


async def submit_renditions(ctx: Context, media: dict, probe: dict | None) -> Submission:
    """Create the rendition rows and the missing Ittybit jobs of one media item.

    `media` is its row as the caller just read it (not final), `probe` the source's probe
    row (or None): neither is read again here.
    """
    media_id = media["id"]
    now = ctx.now_ms()
    presets = ctx.settings.presets.get(media["kind"], ())
    if not presets:
        reason = f"no rendition presets for {media['kind']} media"
        await run(ctx.db, UPDATE_MEDIA_STATUS, "failed", reason, now, media_id)
        await refresh_media(ctx, media_id)
        return Submission("final", error=reason)
    if probe is not None and probe["status"] != "completed":
        probe = None
    plans = {p.name: planned_options(p, probe) for p in presets}
    await batch(ctx.db, [
        (INSERT_RENDITION, media_id, p.name, p.kind, json.dumps(plans[p.name][0], sort_keys=True),
         rendition_key(media_id, p), now, now)
        for p in presets
    ])
    rows = await all_rows(ctx.db, SELECT_RENDITIONS, media_id)
    # Quickest first (processor.presets.submission_rank): the thumbnail is not queued behind the web MP4.
    rows.sort(key=lambda row: submission_rank(row["kind"], json.loads(row["options"] or "{}")))
    result = Submission("submitted")
    for row in rows:
        if row["job_id"] or row["status"] in FINAL:
            continue
        name = row["name"]
        refusal = plans.get(name, (None, None))[1]
        if refusal is not None:
            ctx.log(f"processor: {media_id}/{name} cannot be made: {refusal}")
            await run(ctx.db, MARK_REJECTED, refusal, ctx.now_ms(), media_id, name)
            continue
        try:
            job = await ctx.client.create_job(
                row["kind"],
                ctx.settings.input_url(media["r2_key"], ctx.clock()),
                # The row's options, as computed when it was inserted: the same body on every retry.
                json.loads(row["options"] or "{}"),
                {"media_id": media_id, "rendition": name},
                ctx.settings.webhook_url,
                idempotency_key(media_id, name, media["created_at"]),
                ctx.settings.input_connection_id,
            )
        except RetryableError as error:
            await _note_retry(ctx, result, media_id, name, error.message, error.retry_after)
            continue
        except RejectedError as error:
            if error.account_problem:
                # The key or the plan is wrong, not this media: retry until someone fixes it.
                await _note_retry(ctx, result, media_id, name, error.reason, None)
            else:
                ctx.log(f"processor: {media_id}/{name} rejected: {error.reason}")
                await run(ctx.db, MARK_REJECTED, error.reason, ctx.now_ms(), media_id, name)
            continue
        job_id = job.get("id")
        if not isinstance(job_id, str) or not job_id:
            await _note_retry(ctx, result, media_id, name, "Ittybit answered a job without an id", None)
            continue
        now = ctx.now_ms()
        await batch(ctx.db, [
            (MARK_SUBMITTED, job_id, now, now, media_id, name),
            (MARK_MEDIA_PROCESSING, now, media_id),
            event_statement(media_id, "job.submitted", {"rendition": name, "job_id": job_id}, now, name, job_id),
        ])
        result.submitted += 1
        # A replayed create (same key) may answer a job that already finished.
        try:
            outcome = outcome_from_job(job)
        except ValueError:
            continue
        if outcome.is_final:
            outcome.job_id = job_id
            await apply_outcome(ctx, outcome)
    await refresh_media(ctx, media_id)
    return result


async def _note_retry(
    ctx: Context, result: Submission, media_id: str, name: str, message: str, retry_after: float | None
) -> None:
    message = public_reason(message)
    ctx.log(f"processor: {media_id}/{name} will be retried: {message}")
    now = ctx.now_ms()
    await batch(ctx.db, [(NOTE_RETRY, message, now, media_id, name), (INSERT_RETRY_EVENT, now, media_id, name)])
    result.retry = True
    result.error = message
    if retry_after is not None:
        result.retry_after = max(result.retry_after or 0.0, retry_after)
