"""Event payloads past the retention window, kept in R2 instead of D1 (docs/scale.md, section 4.3).

An event's `data` (for public events the whole media item as JSON) is most of what a media item
costs D1: about 13 KB of its 16 KB. Once an event is older than the retention window
(EVENT_RETENTION_DAYS, 30 by default: the window in which deliveries are kept and can be replayed)
and has no delivery still pending, the API's hourly cron moves its `data` to R2:

* the events of one media item that are due go into one object, `events/<media id>/<first seq>.json`
  (`{"media_id", "events": {"<event id>": {"seq", "data"}}}`, `data` the stored JSON text verbatim,
  so a payload rebuilt from it is byte for byte the one delivered before);
* then one D1 batch records where (`event_archives`: media id, first and last seq, key) and sets
  those events' `data` to '' (ARCHIVED): the row, its id, type and times stay, so the timeline,
  de-duplication by event id and the lists by type keep working from D1.

The put comes first and the batch second: a run stopped between them leaves an object no row
names, and the events keep their data and are archived again by the next run under the same key
(the first seq is the same, since nothing of theirs was cleared). Reading (`restore_data`) puts the
data back into rows that have ARCHIVED, one R2 get per archive object a page touches.

Media files are never in these objects: they are small (an item's events are about 13 KB).
Pure: no runtime imports (the bucket and database are the bindings, duck-typed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from common import d1
from common.keys import EVENT_ARCHIVE_PREFIX

__all__ = [
    "ARCHIVED",
    "ArchiveRun",
    "archive_due_events",
    "archive_key",
    "archive_object",
    "restore_data",
]

# `events.data` of an event whose data is in R2.
ARCHIVED = ""
# Events read per D1 query, and at most per run (an hourly run: 120,000 a day, about 6,600 media
# items at 18 events each; the pipeline's intended 100,000 items a month needs 3,300 a day).
PAGE = 500
MAX_PER_RUN = 5000
# D1 binds at most 100 parameters per statement.
IDS_PER_STATEMENT = 90

# Parameters: cutoff (epoch ms: created before it), limit. Uses the partial index
# events_to_archive, which holds only events whose data is still in D1.
SELECT_DUE = (
    "SELECT seq, id, media_id, data FROM events"
    " WHERE data != '' AND created_at < ?1 AND published_at IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = events.id AND d.status = 'pending')"
    " ORDER BY created_at, seq LIMIT ?2"
)
# Parameters: media_id, first_seq, last_seq, r2_key, events, bytes, created_at.
INSERT_ARCHIVE = (
    "INSERT INTO event_archives (media_id, first_seq, last_seq, r2_key, events, bytes, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (media_id, first_seq) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq),"
    " events = excluded.events, bytes = excluded.bytes"
)


def archive_key(media_id: str, first_seq: int) -> str:
    """Where the events of `media_id` archived together, the first of them `first_seq`, are kept."""
    return f"{EVENT_ARCHIVE_PREFIX}{media_id}/{int(first_seq)}.json"


def archive_object(media_id: str, rows: Sequence[Mapping]) -> str:
    """The JSON text of one archive object: each event's stored data text, by event id."""
    events = {row["id"]: {"seq": int(row["seq"]), "data": row["data"]} for row in rows}
    return json.dumps({"media_id": media_id, "events": events}, separators=(",", ":"), sort_keys=True)


def _clear_statement(seqs: Sequence[int]) -> tuple:
    marks = ", ".join("?" for _ in seqs)
    return (f"UPDATE events SET data = '' WHERE data != '' AND seq IN ({marks})", *seqs)


@dataclass
class ArchiveRun:
    """What one run moved: events, the media items they belong to (one object each), bytes."""

    events: int = 0
    objects: int = 0
    bytes: int = 0

    def as_dict(self) -> dict:
        return {"events": self.events, "objects": self.objects, "bytes": self.bytes}


async def archive_due_events(db, bucket, cutoff_ms: int, now_ms: int, *, max_events: int = MAX_PER_RUN,
                             page: int = PAGE) -> ArchiveRun:
    """Move the data of events created before `cutoff_ms` (and with no pending delivery) to R2,
    at most `max_events` of them; returns what was moved."""
    done = ArchiveRun()
    while done.events < max_events:
        rows = await d1.all_rows(db, SELECT_DUE, cutoff_ms, min(page, max_events - done.events))
        if not rows:
            break
        by_media: dict[str, list[Mapping]] = {}
        for row in rows:
            by_media.setdefault(row["media_id"], []).append(row)
        statements: list[tuple] = []
        for media_id, group in by_media.items():
            seqs = [int(row["seq"]) for row in group]
            key = archive_key(media_id, min(seqs))
            text = archive_object(media_id, group)
            await bucket.put(key, text, {"httpMetadata": {"contentType": "application/json"}})
            size = len(text.encode("utf-8"))
            statements.append((INSERT_ARCHIVE, media_id, min(seqs), max(seqs), key, len(seqs), size, now_ms))
            for start in range(0, len(seqs), IDS_PER_STATEMENT):
                statements.append(_clear_statement(seqs[start:start + IDS_PER_STATEMENT]))
            done.objects += 1
            done.bytes += size
        await d1.batch(db, statements)
        done.events += len(rows)
        if len(rows) < page:
            break
    return done


async def _archives_of(db, media_ids: Sequence[str]) -> dict[str, list[dict]]:
    """The archive rows of these media items, by media id, newest first."""
    found: dict[str, list[dict]] = {}
    ids = list(dict.fromkeys(media_ids))
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        chunk = ids[start:start + IDS_PER_STATEMENT]
        marks = ", ".join("?" for _ in chunk)
        sql = (f"SELECT media_id, first_seq, last_seq, r2_key FROM event_archives WHERE media_id IN ({marks})"
               " ORDER BY first_seq DESC")
        for row in await d1.all_rows(db, sql, *chunk):
            found.setdefault(row["media_id"], []).append(row)
    return found


async def _archived_events(bucket, key: str) -> dict:
    found = await bucket.get(key)
    if found is None:
        return {}
    try:
        value = json.loads(await found.text())
    except ValueError:
        return {}
    events = value.get("events") if isinstance(value, dict) else None
    return events if isinstance(events, dict) else {}


async def restore_data(db, bucket, rows: Sequence[Mapping], log=print) -> list[dict]:
    """`rows` (events with seq, id, media_id, data) with the data of archived ones read back from
    R2: one D1 query per 90 media items, one get per archive object the rows touch. An event
    whose archive cannot be read keeps ARCHIVED (logged; lists show its data as {}), never an
    error for the whole page."""
    restored = [dict(row) for row in rows]
    wanted = [row for row in restored if row.get("data") == ARCHIVED]
    if not wanted:
        return restored
    archives = await _archives_of(db, [row["media_id"] for row in wanted])
    objects: dict[str, dict] = {}
    for row in wanted:
        seq = int(row["seq"])
        keys = [a["r2_key"] for a in archives.get(row["media_id"], []) if a["first_seq"] <= seq <= a["last_seq"]]
        for key in keys:
            if key not in objects:
                objects[key] = await _archived_events(bucket, key)
            entry = objects[key].get(row["id"])
            if isinstance(entry, dict) and isinstance(entry.get("data"), str):
                row["data"] = entry["data"]
                break
        else:
            log(f"events: the archived data of event {row['id']} was not found in R2 ({len(keys)} archive(s))")
    return restored
