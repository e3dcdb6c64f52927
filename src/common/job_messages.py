"""The queue message the API worker sends the processor for each media item."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MESSAGE_TYPE", "JobMessage", "body_mapping", "job_message", "parse_job_message"]

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


def body_mapping(body: object) -> Mapping | None:
    """A queue body as a mapping: as sent, or from the JSON text other producers may send;
    None when it is neither (deeply nested text is as unreadable as bad text)."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    return body if isinstance(body, Mapping) else None


def parse_job_message(body: object) -> JobMessage | None:
    """Read a queue body back into a JobMessage, or None when it is not one."""
    data = body_mapping(body)
    if data is None or data.get("type") != MESSAGE_TYPE:
        return None
    media_id = data.get("media_id")
    r2_key = data.get("r2_key")
    reason = data.get("reason", "upload")
    if not all(
        isinstance(value, str) and value for value in (media_id, r2_key, reason)
    ):
        return None
    return JobMessage(media_id=media_id, r2_key=r2_key, reason=reason)
