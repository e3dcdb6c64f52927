"""The follow-up queue message that gets a finished rendition's output copied into R2.

The webhook (or the reconcile cron) only records Ittybit's answer and sends this; the
copy, which may take longer than a webhook sender waits, runs in the queue consumer.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.job_messages import body_mapping

__all__ = ["STORE_MESSAGE_TYPE", "StoreMessage", "parse_store_message", "store_message"]

STORE_MESSAGE_TYPE = "rendition.store"


@dataclass(frozen=True)
class StoreMessage:
    """Copy `output_url` (job `job_id`) into R2 as rendition `rendition` of `media_id`."""

    media_id: str
    rendition: str
    job_id: str
    output_url: str


def store_message(media_id: str, rendition: str, job_id: str, output_url: str) -> dict:
    """The JSON-ready body to send on the jobs queue."""
    return {
        "type": STORE_MESSAGE_TYPE,
        "media_id": media_id,
        "rendition": rendition,
        "job_id": job_id,
        "output_url": output_url,
    }


def parse_store_message(body: object) -> StoreMessage | None:
    """A StoreMessage from a queue body, or None when it is not one."""
    data = body_mapping(body)
    if data is None or data.get("type") != STORE_MESSAGE_TYPE:
        return None
    values = [data.get(name) for name in ("media_id", "rendition", "job_id", "output_url")]
    if not all(isinstance(value, str) and value for value in values):
        return None
    # The URL itself is judged by processor.output_urls when the message is consumed: a
    # refused one fails its rendition with the reason instead of leaving it processing.
    return StoreMessage(*values)
