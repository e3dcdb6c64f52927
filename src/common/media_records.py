"""Media records in D1: their statuses, SQL statements, pagination and public JSON; and the KV
cache of media JSON (`media:<id>`), the one writer both workers use.

The cache is only a cache: D1 holds the record, and GET /api/media/{id} reads D1 on a miss. One
error policy for both workers: a KV failure never fails the caller's work. A failed read is a
miss; a failed put is logged and the entry is then deleted, so the cache answers a miss
rather than an older record; a failed delete is logged. Every write of a record read from
D1 is re-checked against D1 afterwards: a DELETE that commits D1 and deletes the key between
our SELECT and our put would otherwise leave the deleted record in KV for CACHE_TTL_SECONDS.
When the re-check itself fails the entry is dropped too: a miss costs one D1 read, a ghost
costs five minutes of wrong answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from common import d1

__all__ = [
    "CACHE_TTL_SECONDS",
    "COUNT_PENDING_BEFORE",
    "DELETE_HLS_CHUNKS",
    "DELETE_HLS_LADDERS",
    "DELETE_MEDIA",
    "DELETE_MEDIA_METADATA",
    "DELETE_PROBE",
    "DELETE_PROBE_FAILURES",
    "DELETE_RENDITIONS",
    "SELECT_HLS_LADDERS",
    "FINAL",
    "INSERT_MEDIA",
    "INSERT_MEDIA_METADATA",
    "INSERT_MEDIA_RETURNING",
    "MEDIA_COLUMNS",
    "MEDIA_EXISTS",
    "PROBE_COLUMNS",
    "RENDITION_COLUMNS",
    "RENDITION_FIELDS",
    "SELECT_MEDIA",
    "SELECT_RENDITIONS",
    "DAILY_STATS",
    "MAX_LIKE_PATTERN_BYTES",
    "contains_pattern",
    "STATS",
    "STATUSES",
    "daily_json",
    "cache_media",
    "cache_read_record",
    "cache_record",
    "cacheable",
    "iso_time",
    "list_query",
    "media_cache_key",
    "media_json",
    "read_cached",
    "split_page",
    "stats_json",
    "uncache_record",
]

# The status words of media, rendition and probe rows; a final one never changes again.
STATUSES = ("pending", "processing", "completed", "failed")
FINAL = frozenset({"completed", "failed"})

MEDIA_COLUMNS = "id, r2_key, name, content_type, kind, size, status, error, source, created_at, updated_at"

# Parameters: id, r2_key, name, content_type, kind, size, source, created_at, updated_at.
# DO NOTHING on a duplicate id or r2_key, so a redelivered R2 event is harmless;
# the caller reads meta.changes to know whether it inserted.
INSERT_MEDIA = (
    "INSERT INTO media (id, r2_key, name, content_type, kind, size, status, source,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)

# INSERT_MEDIA that also returns the stored row (none when it did nothing).
INSERT_MEDIA_RETURNING = f"{INSERT_MEDIA} RETURNING {MEDIA_COLUMNS}"

# What the original's probe found (table media_probes, issue 17), joined onto a media row:
# all NULL until the probe completed. No name clashes with MEDIA_COLUMNS.
PROBE_COLUMNS = (
    "p.width AS width, p.height AS height, p.rotation AS rotation, p.duration AS duration,"
    " p.fps AS fps, p.video_codec AS video_codec, p.audio_codec AS audio_codec"
)
_MEDIA_COLUMNS_QUALIFIED = ", ".join(f"media.{column.strip()}" for column in MEDIA_COLUMNS.split(","))
_WITH_PROBE = (
    f"SELECT {_MEDIA_COLUMNS_QUALIFIED}, {PROBE_COLUMNS}, mm.metadata AS metadata"
    " FROM media LEFT JOIN media_probes p ON p.media_id = media.id"
    " LEFT JOIN media_metadata mm ON mm.media_id = media.id"
)

# The client's own key/value pairs of a media item (a resumable upload's Upload-Metadata, or
# what the backend gave its one-time upload URL): media_id, JSON object of strings.
INSERT_MEDIA_METADATA = "INSERT INTO media_metadata (media_id, metadata) VALUES (?, ?) ON CONFLICT DO NOTHING"
DELETE_MEDIA_METADATA = "DELETE FROM media_metadata WHERE media_id = ?"

# Parameters: id. The media row with its probe's facts.
SELECT_MEDIA = f"{_WITH_PROBE} WHERE media.id = ?"

# Parameters: id. Whether the media row is still there (a re-check after a write that raced a DELETE).
MEDIA_EXISTS = "SELECT 1 AS found FROM media WHERE id = ?"

RENDITION_COLUMNS = (
    "media_id, name, kind, options, job_id, status, output_key, output_url, content_type,"
    " width, height, duration, size, error, attempts, submitted_at, created_at, updated_at"
)

# Parameters: media id. In preset order (rows of one media share created_at; rowid keeps
# insertion order); media_json sorts them by name for the public JSON.
SELECT_RENDITIONS = f"SELECT {RENDITION_COLUMNS} FROM renditions WHERE media_id = ? ORDER BY created_at, rowid"

# Parameters: media id. ON DELETE CASCADE covers this too, but only where
# foreign keys are enforced; run it first, in the same batch as DELETE_MEDIA.
DELETE_RENDITIONS = "DELETE FROM renditions WHERE media_id = ?"

# Parameters: media id. As DELETE_RENDITIONS: in the batch before DELETE_MEDIA.
DELETE_PROBE = "DELETE FROM media_probes WHERE media_id = ?"
# Parameters: media id. The count of its failed probes (processor.probe), as DELETE_PROBE.
DELETE_PROBE_FAILURES = "DELETE FROM probe_failures WHERE media_id = ?"

# Parameters: media id. An HLS rendition's ladder facts and copy progress (processor.hls_copy).
DELETE_HLS_LADDERS = "DELETE FROM hls_ladders WHERE media_id = ?"
DELETE_HLS_CHUNKS = "DELETE FROM hls_copy_chunks WHERE media_id = ?"

# Parameters: media id. The ladder facts of a media item's HLS renditions (the newest job's).
SELECT_HLS_LADDERS = (
    "SELECT rendition, job_id, rungs, segment_count, playlist_bytes, duration, chunks FROM hls_ladders"
    " WHERE media_id = ? ORDER BY created_at"
)

# Parameters: media id. The tus upload the item was made from (its name, metadata and content type)
# and the one-time URL that created it: they go with the item, and the upload URL then answers 404.
# The token first: it is found through the upload row.
DELETE_UPLOAD_TOKENS = "DELETE FROM upload_tokens WHERE upload_id IN (SELECT id FROM uploads WHERE media_id = ?)"
DELETE_UPLOADS = "DELETE FROM uploads WHERE media_id = ?"
# The resumable uploads that made a media item (their stashes go with it).
SELECT_UPLOAD_IDS = "SELECT id FROM uploads WHERE media_id = ?"

# Parameters: id.
DELETE_MEDIA = "DELETE FROM media WHERE id = ?"

# Parameters: created_at, id of the item. Its 1-based place among pending items
# (itself included), oldest first; ids break ties within one millisecond.
COUNT_PENDING_BEFORE = (
    "SELECT COUNT(*) AS position FROM media WHERE status = 'pending'"
    " AND (created_at < ?1 OR (created_at = ?1 AND id <= ?2))"
)

# No parameters. Every figure from media_status_counts (schema.sql: kept by triggers on media in
# the transaction of each change), four rows read however large the library: COUNT(*) over
# media read every row (docs/scale.md section 4).
STATS = (
    "SELECT COALESCE(SUM(n), 0) AS total,"
    " COALESCE(SUM(CASE WHEN status = 'pending' THEN n ELSE 0 END), 0) AS pending,"
    " COALESCE(SUM(CASE WHEN status = 'processing' THEN n ELSE 0 END), 0) AS processing,"
    " COALESCE(SUM(CASE WHEN status = 'completed' THEN n ELSE 0 END), 0) AS completed,"
    " COALESCE(SUM(CASE WHEN status = 'failed' THEN n ELSE 0 END), 0) AS failed"
    " FROM media_status_counts"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

RENDITION_FIELDS = (
    "name",
    "kind",
    "status",
    "job_id",
    "content_type",
    "width",
    "height",
    "duration",
    "size",
    "error",
    "output_key",
)


# How long KV keeps a cached media JSON; every status change rewrites it sooner.
CACHE_TTL_SECONDS = 300


def media_cache_key(media_id: str) -> str:
    """The KV key that caches one media item's JSON."""
    return "media:" + media_id


def iso_time(epoch_ms: int | None) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds, e.g. 2026-01-02T03:04:05.678Z."""
    if epoch_ms is None:
        return None
    # Integer arithmetic: float seconds would round some milliseconds wrongly.
    moment = _EPOCH + timedelta(milliseconds=int(epoch_ms))
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def orientation(width: object, height: object) -> str | None:
    """portrait, landscape or square for a displayed size; None when unknown."""
    if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
        return None
    if width == height:
        return "square"
    return "portrait" if height > width else "landscape"


def _source_facts(media: Mapping) -> dict:
    """The original's displayed size, duration (video, audio), frame rate and codec (video): None until probed."""
    kind = media.get("kind")
    width, height = media.get("width"), media.get("height")
    return {
        "width": width,
        "height": height,
        "orientation": orientation(width, height),
        "duration": media.get("duration") if kind in ("video", "audio") else None,
        "fps": media.get("fps") if kind == "video" else None,
        "codec": media.get("video_codec") if kind == "video" else None,
    }


def _metadata(text: object) -> dict:
    """The stored metadata JSON as a dict; {} when there is none."""
    if not isinstance(text, str) or not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def media_json(media: Mapping, renditions: Sequence[Mapping]) -> dict:
    """The public JSON of a media row and its rendition rows (rendition urls left None)."""
    return {
        "id": media["id"],
        "name": media.get("name"),
        "kind": media.get("kind"),
        "content_type": media.get("content_type"),
        "size": media.get("size"),
        "status": media.get("status"),
        "error": media.get("error"),
        "source": media.get("source"),
        "original_key": media.get("r2_key"),
        "created_at": iso_time(media.get("created_at")),
        "updated_at": iso_time(media.get("updated_at")),
        **_source_facts(media),
        "metadata": _metadata(media.get("metadata")),
        "renditions": [
            {**{field: row.get(field) for field in RENDITION_FIELDS}, "url": None}
            for row in sorted(renditions, key=lambda row: row.get("name") or "")
        ],
    }


# D1 refuses a LIKE pattern over 50 bytes ("LIKE or GLOB pattern too complex").
MAX_LIKE_PATTERN_BYTES = 50


def contains_pattern(text: str) -> str:
    """The LIKE pattern (ESCAPE '\\') of names containing `text`: `%`, `_` and `\\` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_query(
    status: str | None, cursor: tuple[int, str] | None, limit: int,
    *, kind: str | None = None, name_contains: str | None = None,
) -> tuple[str, list]:
    """SQL and parameters for one page, newest first, after `cursor`; fetches limit + 1 rows.

    `kind` filters on the kind; `name_contains` keeps names holding that text (ASCII
    case-insensitive, as SQLite's LIKE; `%` and `_` in it match themselves).
    """
    conditions: list[str] = []
    params: list = []
    if status is not None:
        conditions.append("media.status = ?")
        params.append(status)
    if kind is not None:
        conditions.append("media.kind = ?")
        params.append(kind)
    if name_contains:
        conditions.append("media.name LIKE ? ESCAPE '\\'")
        params.append(contains_pattern(name_contains))
    if cursor is not None:
        created_at, media_id = cursor
        # Expanded keyset form: it uses the (created_at DESC, id DESC) indexes everywhere.
        conditions.append("(media.created_at < ? OR (media.created_at = ? AND media.id < ?))")
        params.extend([created_at, created_at, media_id])
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # Qualified: media_probes has a status and a created_at of its own.
    sql = f"{_WITH_PROBE}{where} ORDER BY media.created_at DESC, media.id DESC LIMIT ?"
    params.append(limit + 1)
    return sql, params


def split_page(
    rows: Sequence[Mapping], limit: int
) -> tuple[list, tuple[int, str] | None]:
    """Split the limit + 1 rows of list_query into the page and the next cursor (or None)."""
    page = list(rows[:limit])
    if len(rows) <= limit or not page:
        return page, None
    last = page[-1]
    return page, (int(last["created_at"]), str(last["id"]))


# Parameters: since (epoch ms). Uploads and failures per UTC day of the item's upload.
DAILY_STATS = (
    "SELECT date(created_at / 1000, 'unixepoch') AS day, COUNT(*) AS uploads,"
    " SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed"
    " FROM media WHERE created_at >= ? GROUP BY day ORDER BY day"
)


def daily_json(rows: Sequence[Mapping], days: Sequence[str]) -> list[dict]:
    """One entry per day of `days` (YYYY-MM-DD, oldest first), zeros where nothing was uploaded."""
    by_day = {str(row["day"]): row for row in rows}
    return [
        {"day": day, "uploads": int((by_day.get(day) or {}).get("uploads") or 0),
         "failed": int((by_day.get(day) or {}).get("failed") or 0)}
        for day in days
    ]


def stats_json(row: Mapping | None) -> dict:
    """The public counts from the STATS row; processed repeats completed for seed clients."""
    row = row or {}

    def count(name: str) -> int:
        return int(row.get(name) or 0)

    return {
        "total": count("total"),
        "pending": count("pending"),
        "processing": count("processing"),
        "processed": count("completed"),
        "completed": count("completed"),
        "failed": count("failed"),
    }


# The KV cache of media JSON (media:<id>): a KV failure never fails the caller's work (see above).


async def read_cached(kv, media_id: str) -> str | None:
    """The cached JSON text, or None on a miss or a failed read."""
    try:
        return await kv.get(media_cache_key(media_id))
    except Exception as error:
        _log("read", media_id, error)
        return None


def cacheable(record: Mapping) -> bool:
    """Only final records are cached: a final record never changes again, so one write per item
    is enough (KV takes one write a second to a key; the processor's refreshes after each
    rendition used to rewrite media:<id> up to 3 times within a second, and a refused write left
    the older entry in place: docs/scale.md section 4). Items in progress are read from D1."""
    return record.get("status") in FINAL


async def cache_record(kv, media_id: str, record: dict) -> None:
    """Cache a final record (without its per-answer URLs) for CACHE_TTL_SECONDS; others are not cached."""
    if not cacheable(record):
        return
    try:
        await kv.put(media_cache_key(media_id), json.dumps(record, separators=(",", ":")),
                     expirationTtl=CACHE_TTL_SECONDS)
    except Exception as error:
        _log("write", media_id, error)
        await uncache_record(kv, media_id)


async def cache_read_record(kv, db, media_id: str, record: dict) -> None:
    """Cache a final record read from D1, then drop it again if the row is gone by now."""
    if not cacheable(record):
        return
    await cache_record(kv, media_id, record)
    try:
        still_there = await d1.first_row(db, MEDIA_EXISTS, media_id) is not None
    except Exception as error:
        _log("re-check", media_id, error)
        still_there = False
    if not still_there:
        await uncache_record(kv, media_id)


async def cache_media(kv, db, media: Mapping) -> None:
    """Cache a media row read from D1 with its renditions (read here), re-checked as above."""
    renditions = await d1.all_rows(db, SELECT_RENDITIONS, media["id"])
    await cache_read_record(kv, db, media["id"], media_json(media, renditions))


async def uncache_record(kv, media_id: str) -> None:
    """Drop the cached record (absent is fine)."""
    try:
        await kv.delete(media_cache_key(media_id))
    except Exception as error:
        _log("delete", media_id, error)


def _log(action: str, media_id: str, error: Exception) -> None:
    print(f"KV cache {action} failed for {media_id}: {type(error).__name__}")
