"""POST /webhooks/ittybit: verify, de-duplicate, record. The copy into R2 is queued, not done here.

Answers: 200 recorded; 200 `{"received": true, "duplicate": true}` for a webhook-id already
handled (a duplicate delivery, or a replay inside the tolerance: nothing changes; a 2xx
because Standard Webhooks senders retry any other status and may disable the endpoint);
400 unreadable body; 401 bad or missing signature (missing headers are refused before the
body is read), or a timestamp outside the 5-minute tolerance (a stale replay); 413 too
large; 500 our failure, after forgetting the webhook-id so the sender's retry is handled.
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

__all__ = ["WebhookAnswer", "declared_too_large", "handle_webhook", "refuse_before_reading"]

SIGNATURE_HEADERS = ("id", "timestamp", "signature")


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


def _has_signature_headers(headers: Mapping[str, str]) -> bool:
    """Whether webhook-id, -timestamp and -signature (or their svix- twins) are all non-empty.

    Only a pre-check: `verify` does the real one, and accepts nothing this refuses."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    return all(
        str(lowered.get(f"webhook-{name}") or lowered.get(f"svix-{name}") or "").strip()
        for name in SIGNATURE_HEADERS
    )


def refuse_before_reading(headers: Mapping[str, str]) -> WebhookAnswer | None:
    """The answer that needs no body: 401 without the three signature headers, 413 when the
    declared length is over the limit; None when the body is worth reading."""
    if not _has_signature_headers(headers):
        return _error(401, "invalid_signature", "webhook rejected: missing webhook-id, webhook-timestamp or webhook-signature header")
    if declared_too_large(headers.get("content-length")):
        return _error(413, "too_large", f"webhook body is over {MAX_WEBHOOK_BYTES} bytes")
    return None


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
        ctx.log(f"processor: webhook {webhook_id} already received; nothing changed")
        return WebhookAnswer(200, {"received": True, "duplicate": True})
    try:
        what = await apply_outcome(ctx, outcome)
    except Exception:
        # Forget the delivery so the sender's retry is processed, not refused as a duplicate.
        await run(ctx.db, DELETE_WEBHOOK_DELIVERY, webhook_id)
        raise
    ctx.log(f"processor: webhook {webhook_id} job {outcome.job_id} {outcome.status}: {what}")
    return WebhookAnswer(200, {"received": True, "job_id": outcome.job_id, "result": what})
