"""Learn the original before sizing its renditions: one Ittybit probe task per media record.

Renditions are sized from the source (common.rendition_sizing) so that none exceeds it, and
what Ittybit does with a width above its input is not documented; so before any rendition
job the processor asks Ittybit's probe (POST /tasks {"kind": "probe"}) and records the
answer in `media_probes`:

* completed: the facts are stored (displayed size, rotation, duration, fps, codecs) and the
  renditions are submitted (whose refresh of the KV cache lets GET /api/media show them);
* failed (the source is not a readable media file): the media fails with Ittybit's reason,
  cleaned of paths and URLs, and no rendition job is made;
* still running: the row stays `pending` with the task id, and the message is retried
  (GET /tasks/{id} next time);
* 429/5xx/network errors and account problems (401/402/403): retried with the usual backoff,
  the error noted on the row for the dead-letter reason; another 4xx fails the media
  (the same request cannot succeed); a 404 for a known task forgets it (created again under
  the same Idempotency-Key).

Idempotent: the probe's Idempotency-Key is that of a rendition named "probe" (a reserved
preset name), a stored final row is never overwritten (every write is guarded by
status = 'pending'), and a redelivered message finds the row and goes straight on.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.d1 import first_row, run
from common.public_errors import public_reason
from processor.context import Context
from processor.ittybit_client import RejectedError, RetryableError, idempotency_key
from processor.media_status import refresh_media
from processor.source_info import ProbeResult, read_probe
from processor.sql import FORGET_PROBE_TASK, NOTE_PROBE_PENDING, SELECT_PROBE, UPDATE_MEDIA_STATUS, record_probe

__all__ = ["PROBE_NAME", "ProbeStep", "ensure_probe"]

PROBE_NAME = "probe"


@dataclass(frozen=True)
class ProbeStep:
    """What the probe step decided: go on and submit (`probe` is the stored row), retry, or stop."""

    action: str  # "submit", "retry" or "stop"
    what: str
    probe: dict | None = None
    retry_after: float | None = None


async def _note(ctx: Context, media_id: str, task_id: str | None, error: str | None) -> None:
    now = ctx.now_ms()
    await run(ctx.db, NOTE_PROBE_PENDING, media_id, task_id, error, now, now)


async def _ask(ctx: Context, media: dict, row: dict | None) -> dict:
    """The probe task: asked for by id when one is known, else created (replayed under its key)."""
    task_id = row.get("task_id") if row else None
    if task_id:
        try:
            return await ctx.client.get_task(task_id)
        except RejectedError as error:
            if error.status != 404:
                raise
            ctx.log(f"processor: probe task {task_id} of {media['id']} is unknown to Ittybit; asking again")
            await run(ctx.db, FORGET_PROBE_TASK, media["id"])
    return await ctx.client.probe(
        ctx.settings.input_url(media["r2_key"], ctx.clock()),
        {"media_id": media["id"], "rendition": PROBE_NAME},
        idempotency_key(media["id"], PROBE_NAME, media["created_at"]),
        ctx.settings.input_connection_id,
    )


async def _record(ctx: Context, media_id: str, result: ProbeResult) -> None:
    await run(ctx.db, *record_probe(media_id, status=result.status, task_id=result.task_id, source=result.source,
                                    error=result.error, now=ctx.now_ms()))


async def ensure_probe(ctx: Context, media: dict) -> ProbeStep:
    """Make sure the media's source is probed; say whether its renditions may be submitted now."""
    media_id = media["id"]
    row = await first_row(ctx.db, SELECT_PROBE, media_id)
    if row is not None and row["status"] == "completed":
        return ProbeStep("submit", "probed", row)
    if row is not None and row["status"] == "failed":
        # Normally its media is failed already; finish that if a write after the probe's was lost.
        return await _fail_media(ctx, media_id, row)
    try:
        answer = await _ask(ctx, media, row)
    except RetryableError as error:
        await _note(ctx, media_id, None, public_reason(f"probing the source: {error.message}"))
        return ProbeStep("retry", f"probe: {error.message}", retry_after=error.retry_after)
    except RejectedError as error:
        if error.account_problem:
            await _note(ctx, media_id, None, public_reason(f"probing the source: {error.reason}"))
            return ProbeStep("retry", f"probe: {error.reason}")
        result = ProbeResult(None, "failed", public_reason(error.reason.replace("the job", "the probe", 1)))
    else:
        result = read_probe(answer)
    if not result.is_final:
        await _note(ctx, media_id, result.task_id, None)
        return ProbeStep("retry", f"probe {result.status}")
    await _record(ctx, media_id, result)
    row = await first_row(ctx.db, SELECT_PROBE, media_id)
    if row is None:
        return ProbeStep("stop", "missing")  # the media was deleted meanwhile (the row cascaded)
    if row["status"] == "failed":
        return await _fail_media(ctx, media_id, row)
    # The submission that follows refreshes the media (GET /api/media then shows the facts).
    return ProbeStep("submit", "probed", row)


async def _fail_media(ctx: Context, media_id: str, row: dict) -> ProbeStep:
    """The source cannot be read: fail the media (a no-op once final) with the cleaned reason."""
    reason = public_reason(f"the source could not be read: {row['error'] or 'the probe failed'}")
    if await run(ctx.db, UPDATE_MEDIA_STATUS, "failed", reason, ctx.now_ms(), media_id):
        ctx.log(f"processor: media {media_id} failed: {reason}")
    await refresh_media(ctx, media_id)
    return ProbeStep("stop", "unreadable", row)
