"""Webhook bodies from Ittybit: size limit and parsing into a JobOutcome."""

from __future__ import annotations

import json

from processor.job_status import JobOutcome, outcome_from_job

__all__ = ["MAX_WEBHOOK_BYTES", "WebhookTooLarge", "parse_webhook"]

# Job objects are a few KB; a megabyte leaves room for many tasks and refuses abuse.
MAX_WEBHOOK_BYTES = 1_048_576


class WebhookTooLarge(ValueError):
    """The body is over MAX_WEBHOOK_BYTES (answer 413)."""


def parse_webhook(body: bytes) -> JobOutcome:
    """The outcome in a webhook body: a bare job, a bare task or an event envelope."""
    if len(body) > MAX_WEBHOOK_BYTES:
        raise WebhookTooLarge(f"webhook body is over {MAX_WEBHOOK_BYTES} bytes")
    try:
        data = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("webhook body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("webhook body must be a JSON object")
    return outcome_from_job(data)
