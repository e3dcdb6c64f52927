"""The queue message the API worker sends the processor for each media item."""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["MESSAGE_TYPE", "JobMessage", "job_message", "parse_job_message"]

MESSAGE_TYPE = "media.process"


@dataclass(frozen=True)
class JobMessage:
    """A request to make the renditions of one media item."""

    media_id: str
    r2_key: str
    reason: str


def job_message(media_id: str, r2_key: str, reason: str = "upload") -> dict:
    """The JSON-ready body to send on the jobs queue."""
    return {
        "type": MESSAGE_TYPE,
        "media_id": media_id,
        "r2_key": r2_key,
        "reason": reason,
    }


def parse_job_message(body: object) -> JobMessage | None:
    """Read a queue body back into a JobMessage, or None when it is not one."""
    if isinstance(body, (str, bytes, bytearray)):
        # Producers other than ours may send the JSON as text.
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict) or body.get("type") != MESSAGE_TYPE:
        return None
    media_id = body.get("media_id")
    r2_key = body.get("r2_key")
    reason = body.get("reason", "upload")
    if not all(
        isinstance(value, str) and value for value in (media_id, r2_key, reason)
    ):
        return None
    return JobMessage(media_id=media_id, r2_key=r2_key, reason=reason)
