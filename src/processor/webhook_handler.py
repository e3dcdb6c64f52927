"""POST /webhooks/ittybit: verify, de-duplicate, record. The copy into R2 is queued, not done here.

Answers: 200 recorded; 400 unreadable body; 401 bad or missing signature, or a timestamp
outside the 5-minute tolerance (a stale replay); 409 a webhook-id already handled (a replay,
or a duplicate delivery: nothing changes either way); 413 too large; 500 our failure, after
forgetting the webhook-id so the sender's retry is handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.d1 import run
from processor.context import Context
from processor.outcomes import apply_outcome
from processor.rendition_store import DELETE_WEBHOOK_DELIVERY, INSERT_WEBHOOK_DELIVERY
from processor.webhook_payload import MAX_WEBHOOK_BYTES, WebhookTooLarge, parse_webhook
from processor.webhook_signature import WebhookVerificationError, verify

__all__ = ["WebhookAnswer", "declared_too_large", "handle_webhook"]


@dataclass(frozen=True)
class WebhookAnswer:
    """The HTTP status and JSON body to answer."""

    status: int
    body: dict


def _error(status: int, code: str, message: str) -> WebhookAnswer:
    return WebhookAnswer(status, {"error": message, "code": code})


def declared_too_large(content_length: str | None) -> bool:
    """True when Content-Length alone says the body is over the limit (refuse before reading)."""
    return bool(content_length) and content_length.strip().isdigit() and int(content_length) > MAX_WEBHOOK_BYTES


async def handle_webhook(ctx: Context, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
    """Handle one delivery whose raw body has been read (at most MAX_WEBHOOK_BYTES + 1 bytes)."""
    if len(body) > MAX_WEBHOOK_BYTES:
        return _error(413, "too_large", f"webhook body is over {MAX_WEBHOOK_BYTES} bytes")
    if not ctx.settings.webhook_secret:
        ctx.log("processor: ITTYBIT_WEBHOOK_SECRET is not set; refusing webhooks")
        return _error(500, "not_configured", "webhook verification is not configured")
    try:
        webhook_id = verify(ctx.settings.webhook_secret, headers, body, int(ctx.clock()))
    except WebhookVerificationError as error:
        return _error(401, "invalid_signature", f"webhook rejected: {error.reason}")
    try:
        outcome = parse_webhook(body)
    except WebhookTooLarge as error:
        return _error(413, "too_large", str(error))
    except ValueError as error:
        return _error(400, "invalid_body", str(error))
    changes = await run(ctx.db, INSERT_WEBHOOK_DELIVERY, webhook_id, outcome.job_id, ctx.now_ms())
    if changes == 0:
        return _error(409, "duplicate_delivery", f"webhook {webhook_id} was already received")
    try:
        what = await apply_outcome(ctx, outcome)
    except Exception:
        # Forget the delivery so the sender's retry is processed, not refused as a duplicate.
        await run(ctx.db, DELETE_WEBHOOK_DELIVERY, webhook_id)
        raise
    ctx.log(f"processor: webhook {webhook_id} job {outcome.job_id} {outcome.status}: {what}")
    return WebhookAnswer(200, {"received": True, "job_id": outcome.job_id, "result": what})
