"""Events: what happened to a media item, recorded in D1 with the state change they announce.

Two kinds share one table (`events`, schema.sql) and one timeline:

* public events, delivered to subscribed webhook endpoints (Standard Webhooks payload
  `{"type", "timestamp", "data"}`, `data` the media item as GET /api/media/{id} shows it,
  without its per-answer URLs): PUBLIC_TYPES;
* timeline entries for people (support, the dashboard): the upload and how it came, the
  queueing, each Ittybit job submitted or retried, each Ittybit webhook, each rendition stored.

Every event id is derived from what it announces (`event_id`), and every insert is
`ON CONFLICT DO NOTHING`: a queue message or an Ittybit webhook that repeats records nothing
twice. A public event is handed to the delivery queue by an `events.publish` message right
after it is recorded; `published_at` stays NULL until the processor has made its deliveries,
and its cron publishes what a lost message left behind.

Pure: no runtime imports, importable by CPython 3.11.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence

from common.media_records import iso_time, media_json

__all__ = [
    "DEFAULT_LIMIT",
    "DELETE_EVENT",
    "DELETE_MEDIA_EVENTS",
    "EVENT_COLUMNS",
    "INSERT_EVENT",
    "INSERT_EVENT_IF_MEDIA_STATUS",
    "INSERT_RETRY_EVENT",
    "MAX_LIMIT",
    "MEDIA_CREATED",
    "MEDIA_DELETED",
    "MEDIA_FAILED",
    "MEDIA_READY",
    "PUBLIC_TYPES",
    "PUBLISH_MESSAGE_TYPE",
    "RENDITION_FAILED",
    "RENDITION_READY",
    "SELECT_EVENT",
    "SELECT_UNPUBLISHED",
    "TIMELINE_TYPES",
    "TYPES",
    "UPLOAD_WAYS",
    "decode_cursor",
    "deleted_event",
    "encode_cursor",
    "event_id",
    "event_json",
    "event_statement",
    "event_statement_if_status",
    "list_query",
    "payload",
    "payload_bytes",
    "publish",
    "publish_message",
    "rendition_event_data",
    "upload_events",
]

MEDIA_CREATED = "media.created"
MEDIA_READY = "media.ready"
MEDIA_FAILED = "media.failed"
MEDIA_DELETED = "media.deleted"
RENDITION_READY = "rendition.ready"
RENDITION_FAILED = "rendition.failed"
PUBLIC_TYPES = (MEDIA_CREATED, MEDIA_READY, MEDIA_FAILED, MEDIA_DELETED, RENDITION_READY, RENDITION_FAILED)

# Timeline entries only (never delivered).
TIMELINE_TYPES = (
    "media.uploaded",      # size and way (single_request, tus, direct)
    "media.queued",        # the job message is on the queue
    "job.submitted",       # an Ittybit job per rendition: rendition, job id
    "job.retry",           # a rendition's submission or copy will be tried again: attempts, reason
    "ittybit.webhook",     # an Ittybit webhook was received: job id, status, what it did
    "rendition.stored",    # the output is in R2: key, size
)
TYPES = PUBLIC_TYPES + TIMELINE_TYPES
UPLOAD_WAYS = ("single_request", "tus", "direct")

PUBLISH_MESSAGE_TYPE = "events.publish"

EVENT_COLUMNS = "seq, id, media_id, type, data, created_at, published_at"

# id, media_id, type, data (JSON), created_at, published_at (NULL for a public event: to publish;
# created_at for a timeline entry, which is never delivered).
INSERT_EVENT = (
    "INSERT INTO events (id, media_id, type, data, created_at, published_at) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)

# A job.retry entry made from the rendition row that NOTE_RETRY has just counted (same batch):
# its id carries the attempt count, so one retry is one entry however often the message repeats.
# Parameters: created_at, media_id, name.
INSERT_RETRY_EVENT = (
    "INSERT INTO events (id, media_id, type, data, created_at, published_at)"
    " SELECT 'evt_retry_' || media_id || '_' || name || '_' || attempts, media_id, 'job.retry',"
    " json_object('rendition', name, 'attempts', attempts, 'reason', error), ?1, ?1"
    " FROM renditions WHERE media_id = ?2 AND name = ?3"
    " ON CONFLICT (id) DO NOTHING"
)

# The same insert, made only if the media row exists and holds `status` (any, for NULL) when it
# runs: an event goes in the batch that writes the state it announces, and only if the write took.
# Parameters: id, media_id, type, data, created_at, published_at, status.
INSERT_EVENT_IF_MEDIA_STATUS = (
    "INSERT INTO events (id, media_id, type, data, created_at, published_at)"
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM media WHERE id = ?2 AND status = COALESCE(?7, status))"
    " ON CONFLICT (id) DO NOTHING"
)

SELECT_EVENT = f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?"

# Parameters: created_at before which an unpublished event counts as left behind, limit.
SELECT_UNPUBLISHED = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE published_at IS NULL AND created_at < ? ORDER BY seq LIMIT ?"
)


def event_id(media_id: str, kind: str, *parts: object) -> str:
    """The stable id of the event `kind` of a media item, from what makes it unique (a rendition
    and its job, a webhook id); `evt_` and 32 hex digits (Standard Webhooks' webhook-id)."""
    text = "\x1f".join([media_id, kind, *(str(part) for part in parts)])
    return "evt_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def event_statement(media_id: str, kind: str, data: Mapping, now: int, *parts: object) -> tuple:
    """(INSERT_EVENT, params) for one event; its id is event_id(media_id, kind, *parts)."""
    if kind not in TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    published = None if kind in PUBLIC_TYPES else now
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return (INSERT_EVENT, event_id(media_id, kind, *parts), media_id, kind, text, now, published)


def event_statement_if_status(media_id: str, kind: str, data: Mapping, now: int, status: str | None,
                              *parts: object) -> tuple:
    """event_statement's insert, made only if the media row exists with `status` (any, for None)
    when it runs (INSERT_EVENT_IF_MEDIA_STATUS): for the batch that writes that state."""
    _, *params = event_statement(media_id, kind, data, now, *parts)
    return (INSERT_EVENT_IF_MEDIA_STATUS, *params, status)


def rendition_event_data(media: Mapping, rendition_name: str) -> dict:
    """`data` of a rendition.* event: the media item, and which of its renditions this is about."""
    data = dict(media)
    data["rendition"] = next(
        (dict(r) for r in media.get("renditions", []) if r.get("name") == rendition_name), {"name": rendition_name}
    )
    return data


def publish_message(event_ids: Sequence[str]) -> dict:
    """The JSON-ready `events.publish` body for the webhooks queue."""
    return {"type": PUBLISH_MESSAGE_TYPE, "event_ids": list(event_ids)}


def _data(row: Mapping) -> dict:
    try:
        value = json.loads(row.get("data") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def payload(row: Mapping) -> dict:
    """The Standard Webhooks payload of a public event row: type, timestamp, data."""
    return {"type": row["type"], "timestamp": iso_time(row["created_at"]), "data": _data(row)}


def payload_bytes(row: Mapping) -> bytes:
    """The body delivered for an event: the same bytes on every attempt (keys sorted)."""
    return json.dumps(payload(row), separators=(",", ":"), sort_keys=True).encode("utf-8")


def event_json(row: Mapping) -> dict:
    """An event as the API lists it."""
    return {
        "id": row["id"],
        "type": row["type"],
        "media_id": row["media_id"],
        "timestamp": iso_time(row["created_at"]),
        "public": row["type"] in PUBLIC_TYPES,
        "data": _data(row),
    }


# Lists: oldest first by seq (the table's rowid, in insertion order), a page at a time.

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,40}")


def encode_cursor(seq: int) -> str:
    """An opaque token for the position after event `seq`."""
    return base64.urlsafe_b64encode(f"e{int(seq)}".encode("ascii")).rstrip(b"=").decode("ascii")


def decode_cursor(value: str) -> int:
    """The seq in a cursor; ValueError for anything we did not make."""
    if not isinstance(value, str) or not _CURSOR.fullmatch(value):
        raise ValueError("cursor is not base64url")
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("cursor is not readable") from error
    if not re.fullmatch(r"e(0|[1-9][0-9]{0,15})", text):
        raise ValueError("cursor has the wrong shape")
    seq = int(text[1:])
    if encode_cursor(seq) != value:
        raise ValueError("cursor is not canonical")
    return seq


def list_query(media_id: str | None, kind: str | None, after: int | None, limit: int) -> tuple[str, list]:
    """SQL and parameters for one page of events, oldest first; fetches limit + 1 rows."""
    conditions, params = [], []
    if media_id is not None:
        conditions.append("media_id = ?")
        params.append(media_id)
    if kind is not None:
        conditions.append("type = ?")
        params.append(kind)
    if after is not None:
        conditions.append("seq > ?")
        params.append(after)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    params.append(limit + 1)
    return f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY seq LIMIT ?", params


async def publish(queue, event_ids: Sequence[str], log=print) -> None:
    """Hand public events to the delivery queue; a failure is logged, never raised (the
    processor's cron publishes events left unpublished), so sending never blocks the pipeline."""
    if not event_ids or queue is None:
        return
    try:
        await queue.send(publish_message(event_ids))
    except Exception as error:
        log(f"events: publishing {len(event_ids)} event(s) failed ({type(error).__name__}); the cron will")


# The events the API records (both workers' uploads go through these builders).

# Parameters: media_id. Only the undo of an upload that never was (its queue message refused).
DELETE_MEDIA_EVENTS = "DELETE FROM events WHERE media_id = ?"
# Parameters: id. Only a media.queued entry whose queue message was refused.
DELETE_EVENT = "DELETE FROM events WHERE id = ?"


def upload_events(row: Mapping, way: str, now: int, *, if_recorded: bool = False) -> list[tuple]:
    """media.uploaded (size, way, name) and media.created (the item) for a media row just inserted;
    with `if_recorded`, made only if the row is in D1 when they run (for the batch of an insert
    that may do nothing)."""
    if way not in UPLOAD_WAYS:
        raise ValueError(f"unknown upload way {way!r}")
    media_id = row["id"]
    uploaded = {"size": row.get("size"), "way": way, "name": row.get("name"), "content_type": row.get("content_type")}
    events = [
        event_statement(media_id, "media.uploaded", uploaded, now),
        event_statement(media_id, MEDIA_CREATED, media_json(row, []), now),
    ]
    if if_recorded:
        events = [(INSERT_EVENT_IF_MEDIA_STATUS, *params, None) for _, *params in events]
    return events


def deleted_event(media: Mapping, renditions: Sequence[Mapping], now: int) -> tuple:
    """media.deleted with the item as it was, for the batch that deletes its rows."""
    return event_statement(media["id"], MEDIA_DELETED, media_json(media, renditions), now)
