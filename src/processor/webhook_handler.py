"""POST /webhooks/ittybit: verify, de-duplicate, record. The copy into R2 is queued, but for a
small output (a thumbnail), which this request copies itself (processor.renditions.apply_outcome_to).

Answers: 200 recorded; 200 `{"received": true, "duplicate": true}` for a webhook-id already
handled (a duplicate delivery, or a replay inside the tolerance: nothing changes; a 2xx
because Standard Webhooks senders retry any other status and may disable the endpoint);
400 unreadable body; 401 bad or missing signature (missing headers are refused before the
body is read), or a timestamp outside the 5-minute tolerance (a stale replay); 413 too
large (declared, or counted while reading: the one size check); 500 our failure, after
forgetting the webhook-id so the sender's retry is handled. Errors are common.errors'.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from common.d1 import batch, run
from common.errors import HttpError
from common.events import event_statement
from common.r2_streams import read_capped
from common.responses import json_response
from processor.job_status import JobOutcome, outcome_from_job
from processor.renditions import apply_outcome_to, find_rendition
from processor.settings import Context, settings_from_env
from processor.sql import DELETE_WEBHOOK_DELIVERY, INSERT_WEBHOOK_DELIVERY
from processor.webhook_signature import WebhookVerificationError, verify

__all__ = ["MAX_WEBHOOK_BYTES", "handle_webhook", "parse_webhook", "read_body", "receive_webhook", "refuse_before_reading"]

# Job objects are a few KB; a megabyte leaves room for many tasks and refuses abuse.
MAX_WEBHOOK_BYTES = 1_048_576
SIGNATURE_HEADERS = ("id", "timestamp", "signature")


def _too_large() -> HttpError:
    return HttpError(413, "too_large", f"webhook body is over {MAX_WEBHOOK_BYTES} bytes")


async def receive_webhook(request, env, params):
    """The route's handler: refuse what needs no body, read at most the limit, handle it."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    refuse_before_reading(headers)  # unsigned or declared too large: the body stays unread
    body = await read_body(request.body, MAX_WEBHOOK_BYTES)
    try:
        settings = settings_from_env(env)
    except ValueError as error:
        raise HttpError(500, "config_error", str(error)) from error
    # The bindings, the settings and R2 (a small output is copied by this request); no Ittybit client.
    # runtime_io is the runtime's (it imports js): imported here, where the runtime calls in.
    from processor.runtime_io import R2Storage

    ctx = Context(db=env.DB, kv=env.METADATA, jobs=env.JOBS, storage=R2Storage(env.MEDIA, settings.output_policy),
                  client=None, settings=settings, clock=time.time, events_queue=getattr(env, "WEBHOOKS", None))
    return json_response(await handle_webhook(ctx, headers, body))


def _has_signature_headers(headers: Mapping[str, str]) -> bool:
    """Whether webhook-id, -timestamp and -signature (or their svix- twins) are all non-empty.

    Only a pre-check: `verify` does the real one, and accepts nothing this refuses."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    return all(
        str(lowered.get(f"webhook-{name}") or lowered.get(f"svix-{name}") or "").strip()
        for name in SIGNATURE_HEADERS
    )


def refuse_before_reading(headers: Mapping[str, str]) -> None:
    """HttpError for what needs no body: 401 without the three signature headers, 413 when the
    declared length is over the limit; returns when the body is worth reading."""
    if not _has_signature_headers(headers):
        raise HttpError(401, "invalid_signature",
                        "webhook rejected: missing webhook-id, webhook-timestamp or webhook-signature header")
    declared = headers.get("content-length")
    if declared and declared.strip().isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _too_large()


async def read_body(stream, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it passes `limit` bytes (a chunked body has no Content-Length)."""
    body = await read_capped(stream, limit)
    if body is None:
        raise _too_large()
    return body


def _webhook_event(webhook_id: str, outcome: JobOutcome, row: dict | None, now: int) -> list[tuple]:
    """The timeline's `ittybit.webhook` entry (one per webhook-id), if the job names a media item."""
    media_id = row["media_id"] if row else outcome.metadata.get("media_id")
    name = row["name"] if row else outcome.metadata.get("rendition")
    if not isinstance(media_id, str) or not media_id:
        return []
    data = {"webhook_id": webhook_id, "job_id": outcome.job_id, "rendition": name, "status": outcome.status}
    return [event_statement(media_id, "ittybit.webhook", data, now, webhook_id)]


def parse_webhook(body: bytes) -> JobOutcome:
    """The outcome in a webhook body: a bare job, a bare task or an event envelope (ValueError if none)."""
    try:
        data = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("webhook body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("webhook body must be a JSON object")
    return outcome_from_job(data)


async def handle_webhook(ctx: Context, headers: Mapping[str, str], body: bytes) -> dict:
    """Handle one delivery whose raw body has been read (read_body kept it within the limit)."""
    if not ctx.settings.webhook_secret:
        ctx.log("processor: ITTYBIT_WEBHOOK_SECRET is not set; refusing webhooks")
        raise HttpError(500, "not_configured", "webhook verification is not configured")
    try:
        webhook_id = verify(ctx.settings.webhook_secret, headers, body, int(ctx.clock()))
    except WebhookVerificationError as error:
        raise HttpError(401, "invalid_signature", f"webhook rejected: {error.reason}") from None
    try:
        outcome = parse_webhook(body)
    except ValueError as error:
        raise HttpError(400, "invalid_body", str(error)) from None
    row = await find_rendition(ctx, outcome)
    # The webhook-id and its timeline entry (before what it causes) in one transaction: the
    # entry's id is derived from the webhook-id, so a duplicate delivery adds neither.
    now = ctx.now_ms()
    changes = await batch(ctx.db, [(INSERT_WEBHOOK_DELIVERY, webhook_id, outcome.job_id, now),
                                   *_webhook_event(webhook_id, outcome, row, now)])
    if changes[0] == 0:
        ctx.log(f"processor: webhook {webhook_id} already received; nothing changed")
        return {"received": True, "duplicate": True}
    try:
        what = await apply_outcome_to(ctx, outcome, row, store_inline=True)
    except Exception:
        # Forget the delivery so the sender's retry is processed, not refused as a duplicate.
        await run(ctx.db, DELETE_WEBHOOK_DELIVERY, webhook_id)
        raise
    ctx.log(f"processor: webhook {webhook_id} job {outcome.job_id} {outcome.status}: {what}")
    return {"received": True, "job_id": outcome.job_id, "result": what}
