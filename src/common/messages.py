"""The messages on the jobs queue, parsed once into one tagged value.

Three shapes arrive: `media.process` from the API worker (or the reconcile cron),
`rendition.store` from the webhook (or the reconcile cron) once a job's output can be
copied into R2 (the copy may take longer than a webhook sender waits, so it runs in the
queue consumer), and R2 event notifications for files put straight into the bucket.
`parse_message` returns a JobMessage, a StoreMessage, an ObjectCreated, an
IgnoredNotification (a notification we do not act on), or None for anything else; the
consumer and the dead-letter handler each dispatch on it with one `match`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from common.ids import normalise_etag
from common.keys import ORIGINALS_PREFIX, RENDITIONS_PREFIX

__all__ = [
    "COPY_MESSAGE_TYPE",
    "CREATE_ACTIONS",
    "JOB_MESSAGE_TYPE",
    "MAX_COPY_PATHS",
    "STORE_MESSAGE_TYPE",
    "CopyMessage",
    "IgnoredNotification",
    "JobMessage",
    "Message",
    "ObjectCreated",
    "StoreMessage",
    "job_message",
    "parse_message",
    "store_message",
]

JOB_MESSAGE_TYPE = "media.process"
STORE_MESSAGE_TYPE = "rendition.store"
COPY_MESSAGE_TYPE = "hls.copy"
# The most files one hls.copy message may name (processor.hls_plan cuts a ladder's copy into them).
MAX_COPY_PATHS = 200
CREATE_ACTIONS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})

# The pipeline writes these itself; reacting to them would process our own output in a loop.
_OWN_PREFIXES = (ORIGINALS_PREFIX, RENDITIONS_PREFIX)


@dataclass(frozen=True)
class JobMessage:
    """A request to make the renditions of one media item."""

    media_id: str
    r2_key: str
    reason: str


@dataclass(frozen=True)
class StoreMessage:
    """Copy `output_url` (job `job_id`) into R2 as rendition `rendition` of `media_id`."""

    media_id: str
    rendition: str
    job_id: str
    output_url: str


@dataclass(frozen=True)
class ObjectCreated:
    """A new object in the bucket: where it is, how big, and which action made it."""

    bucket: str
    key: str
    size: int | None
    etag: str | None
    action: str
    # How many times the dead-letter queue has sent this notification back (processor.queue_consumer).
    requeued: int = 0

    def notification(self, requeued: int) -> dict:
        """This notification as R2 sends it (the fields the consumer reads), sent again for the
        `requeued`-th time."""
        return {"action": self.action, "bucket": self.bucket, "requeued": int(requeued),
                "object": {"key": self.key, "size": self.size, "eTag": self.etag}}


@dataclass(frozen=True)
class IgnoredNotification:
    """An R2 notification we do not act on: a delete, a folder marker, a key outside the prefix."""


@dataclass(frozen=True)
class CopyMessage:
    """Copy these files of an HLS ladder (chunk `chunk` of `chunks`) from below `base_url` into R2
    (processor.hls_copy); the paths are judged again when used."""

    media_id: str
    rendition: str
    job_id: str
    base_url: str
    chunk: int
    chunks: int
    paths: tuple[str, ...]


Message = JobMessage | StoreMessage | CopyMessage | ObjectCreated | IgnoredNotification


def job_message(media_id: str, r2_key: str, reason: str = "upload") -> dict:
    """The JSON-ready `media.process` body to send on the jobs queue."""
    return {"type": JOB_MESSAGE_TYPE, "media_id": media_id, "r2_key": r2_key, "reason": reason}


def store_message(media_id: str, rendition: str, job_id: str, output_url: str) -> dict:
    """The JSON-ready `rendition.store` body to send on the jobs queue."""
    return {
        "type": STORE_MESSAGE_TYPE,
        "media_id": media_id,
        "rendition": rendition,
        "job_id": job_id,
        "output_url": output_url,
    }


def _body_mapping(body: object) -> Mapping | None:
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


def _texts(data: Mapping, names: tuple[str, ...], defaults: Mapping[str, str] | None = None) -> list[str] | None:
    values = [data.get(name, (defaults or {}).get(name)) for name in names]
    return values if all(isinstance(value, str) and value for value in values) else None


def _is_notification(data: Mapping) -> bool:
    return (
        "type" not in data
        and isinstance(data.get("action"), str)
        and isinstance(data.get("bucket"), str)
        and isinstance(data.get("object"), Mapping)
    )


def _object_created(data: Mapping, prefix: str) -> ObjectCreated | None:
    """The created object of a create event under `prefix`; None for deletes, other keys or garbage."""
    action = data["action"]
    obj = data["object"]
    key = obj.get("key")
    bucket = data["bucket"]
    if action not in CREATE_ACTIONS or not bucket or not isinstance(key, str) or not key:
        return None
    # A key ending in "/" is a console "folder" marker, not a file.
    if key.endswith("/") or not key.startswith(prefix or "") or key.startswith(_OWN_PREFIXES):
        return None
    size = obj.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        size = None
    requeued = data.get("requeued", 0)
    if isinstance(requeued, bool) or not isinstance(requeued, int) or requeued < 0:
        requeued = 0
    return ObjectCreated(bucket=bucket, key=key, size=size, etag=normalise_etag(obj.get("eTag")), action=action,
                         requeued=requeued)


def parse_message(body: object, uploads_prefix: str = "uploads/") -> Message | None:
    """The message a queue body holds, or None when it is none of ours (logged, acked)."""
    data = _body_mapping(body)
    if data is None:
        return None
    kind = data.get("type")
    if kind == STORE_MESSAGE_TYPE:
        values = _texts(data, ("media_id", "rendition", "job_id", "output_url"))
        # The URL itself is judged (processor.ittybit_client.OutputPolicy) when the message is
        # consumed: a refused one fails its rendition with the reason instead of leaving it processing.
        return None if values is None else StoreMessage(*values)
    if kind == JOB_MESSAGE_TYPE:
        values = _texts(data, ("media_id", "r2_key", "reason"), {"reason": "upload"})
        return None if values is None else JobMessage(*values)
    if kind == COPY_MESSAGE_TYPE:
        return _copy_message(data)
    if _is_notification(data):
        return _object_created(data, uploads_prefix) or IgnoredNotification()
    return None


def _copy_message(data: Mapping) -> CopyMessage | None:
    texts = [data.get(k) for k in ("media_id", "rendition", "job_id", "base_url")]
    if not all(isinstance(t, str) and t for t in texts):
        return None
    chunk, chunks, paths = data.get("chunk"), data.get("chunks"), data.get("paths")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (chunk, chunks)):
        return None
    if not 0 <= chunk < chunks or not isinstance(paths, list) or not paths:
        return None
    if len(paths) > MAX_COPY_PATHS or not all(isinstance(p, str) for p in paths):
        return None
    return CopyMessage(*texts, chunk, chunks, tuple(paths))
