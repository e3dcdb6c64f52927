"""Media records: get (KV first, D1 on a miss), list, delete, stats: the handlers and what they
read; and the query of GET /api/media: status filter, cursor and page size, and the opaque cursors.

A cursor is the (created_at, id) of the last item shown, as a canonical base64url token.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from api.settings import settings_from_env
from common import d1
from common.errors import HttpError
from common.events import deleted_event, publish
from common.ids import is_media_id
from common.keys import file_path, renditions_prefix, stash_prefix
from common.media_records import (
    DELETE_HLS_CHUNKS,
    DELETE_HLS_LADDERS,
    DELETE_MEDIA,
    DELETE_MEDIA_METADATA,
    DELETE_PROBE,
    DELETE_PROBE_FAILURES,
    DELETE_RENDITIONS,
    DELETE_UPLOAD_TOKENS,
    DELETE_UPLOADS,
    SELECT_HLS_LADDERS,
    SELECT_MEDIA,
    SELECT_RENDITIONS,
    SELECT_UPLOAD_IDS,
    DAILY_STATS,
    STATS,
    cache_read_record,
    cacheable,
    daily_json,
    list_query,
    media_cache_key,
    media_json,
    read_cached,
    split_page,
    stats_json,
)
from common.playback_tokens import playback_of
from common.r2_streams import delete_keys, keys_under
from common.responses import json_response
from common.routing import query_params
from common.url_signing import signed_url

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_CREATED_AT",
    "MAX_LIMIT",
    "STATUS_ALIASES",
    "ListQuery",
    "decode_cursor",
    "delete_media",
    "encode_cursor",
    "get_media",
    "list_media",
    "media_page",
    "media_record",
    "parse_list_query",
    "remove_media",
    "stats",
    "with_urls",
]


MAX_LINK_SECONDS = 7 * 24 * 3600


def link_lifetime(raw: str | None) -> int | None:
    """`expires_in`: how long the answer's signed file links stay valid, 1 s to 7 days (None: the
    SIGNED_URL_TTL default); 400 invalid_expires_in otherwise."""
    if raw is None:
        return None
    if not re.fullmatch(r"[1-9][0-9]{0,6}", raw) or int(raw) > MAX_LINK_SECONDS:
        raise HttpError(400, "invalid_expires_in", f"expires_in must be whole seconds from 1 to {MAX_LINK_SECONDS}.")
    return int(raw)


async def get_media(request, env, params):
    """GET /api/media/{id}: the record with its file URLs, X-Cache saying where it came from."""
    lifetime = link_lifetime(query_params(request).get("expires_in"))
    record, cache = await media_record(env, params["id"], lifetime)
    return json_response(record, 200, {"x-cache": cache})


async def list_media(request, env, params):
    """GET /api/media: a page of records."""
    return json_response(await media_page(env, query_params(request)))


async def delete_media(request, env, params):
    """DELETE /api/media/{id}."""
    return json_response(await remove_media(env, params["id"]))


async def stats(request, env, params):
    """GET /api/stats: the counts, in one query."""
    return json_response(stats_json(await d1.first_row(env.DB, STATS)))


MAX_DAYS = 90


def day_window(now: float, days: int) -> tuple[int, list[str]]:
    """The first millisecond of the oldest of the last `days` UTC days, and those days' dates."""
    import datetime

    today = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date()
    first = today - datetime.timedelta(days=days - 1)
    start = datetime.datetime(first.year, first.month, first.day, tzinfo=datetime.timezone.utc)
    return int(start.timestamp() * 1000), [(first + datetime.timedelta(days=n)).isoformat() for n in range(days)]


def _days(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return 14
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise HttpError(400, "invalid_days", f"days must be an integer from 1 to {MAX_DAYS}.")
    return int(text)


async def daily_stats(request, env, params):
    """GET /api/stats/daily?days=: uploads and failures per UTC day (by upload day), oldest first."""
    days = _days(query_params(request).get("days"))
    since, dates = day_window(time.time(), days)
    rows = await d1.all_rows(env.DB, DAILY_STATS, since)
    return json_response({"days": daily_json(rows, dates)})


def _not_found(media_id: str) -> HttpError:
    return HttpError(404, "not_found", f"No media with id {media_id!r}.")


async def media_record(env, media_id: str, link_seconds: int | None = None) -> tuple[dict, str]:
    """The media JSON and where it came from ("hit" or "miss")."""
    if not is_media_id(media_id):
        raise _not_found(media_id)
    cached = await read_cached(env.METADATA, media_id)
    if cached is not None:
        try:
            record = json.loads(cached)
        except (ValueError, TypeError, AttributeError):
            record = None  # an unreadable cache entry is a miss; D1 is the record
        # Only final records are cached; an entry in progress (written before that rule) is a miss.
        if isinstance(record, dict) and cacheable(record):
            if _needs_ladders(record.get("renditions") or []):
                # The processor caches the record without its ladder facts: add them once, cache again.
                _add_ladders(record, await d1.all_rows(env.DB, SELECT_HLS_LADDERS, media_id))
                await cache_read_record(env.METADATA, env.DB, media_id, record)
            return with_urls(env, record, link_seconds), "hit"
    row = await d1.first_row(env.DB, SELECT_MEDIA, media_id)
    if row is None:
        raise _not_found(media_id)
    renditions = await d1.all_rows(env.DB, SELECT_RENDITIONS, media_id)
    record = media_json(row, renditions)
    if _needs_ladders(record["renditions"]):
        _add_ladders(record, await d1.all_rows(env.DB, SELECT_HLS_LADDERS, media_id))
    await cache_read_record(env.METADATA, env.DB, media_id, record)
    return with_urls(env, record, link_seconds), "miss"


def _needs_ladders(renditions: list) -> bool:
    """Whether a completed HLS rendition still lacks its `ladder` facts."""
    return any(isinstance(r, dict) and r.get("kind") == "adaptive_video" and r.get("status") == "completed"
               and "ladder" not in r for r in renditions)


def _add_ladders(record: dict, ladders: list[dict]) -> None:
    """An HLS rendition's `ladder`: its rungs, segment count, total size and duration (the
    facts its copy recorded, processor.hls_copy), for the job that made the stored ladder."""
    facts = {(row["rendition"], row["job_id"]): row for row in ladders}
    for rendition in record.get("renditions", []):
        if rendition.get("kind") != "adaptive_video" or rendition.get("status") != "completed":
            continue
        row = facts.get((rendition.get("name"), rendition.get("job_id")))
        if row is None:
            rendition["ladder"] = None  # looked for, not there: not asked again at each cache hit
            continue
        rungs = [{k: r.get(k) for k in ("name", "width", "height", "bandwidth", "codecs", "segments", "duration")}
                 for r in json.loads(row["rungs"] or "[]")]
        rendition["ladder"] = {"rungs": rungs, "segment_count": row["segment_count"],
                               "total_size": rendition.get("size"), "duration": row["duration"]}


def with_urls(env, record: dict, link_seconds: int | None = None) -> dict:
    """Add file URLs at answer time (signed ones expire, so they are never cached), signed for
    `link_seconds` (default SIGNED_URL_TTL)."""
    settings = settings_from_env(env)
    base, secret = settings.public_api_url, settings.url_signing_secret
    expires = int(time.time()) + (link_seconds or settings.signed_url_ttl)

    def links(key):
        path = file_path(key)
        signed = signed_url(base, path, secret, expires) if secret else None
        return f"{base}{path}", signed

    record = dict(record)
    if record.get("original_key"):
        record["url"], record["signed_url"] = links(record["original_key"])
    renditions = []
    for rendition in record.get("renditions", []):
        rendition = dict(rendition)
        if rendition.get("output_key") and rendition.get("status") == "completed":
            rendition["url"], rendition["signed_url"] = links(rendition["output_key"])
        renditions.append(rendition)
    record["renditions"] = renditions
    record["playback"] = playback_of(record, base, secret, int(time.time()), settings.hls_playback_ttl)
    return record


async def media_page(env, params: dict) -> dict:
    """A page of media, newest first, with an opaque cursor to the next."""
    query = parse_list_query(params)
    sql, sql_params = list_query(query.status, query.cursor, query.limit, kind=query.kind, name_contains=query.q)
    rows = await d1.all_rows(env.DB, sql, *sql_params)
    page, next_cursor = split_page(rows, query.limit)
    return {
        "items": [_summary(row) for row in page],
        "next_cursor": encode_cursor(*next_cursor) if next_cursor else None,
    }


def _summary(row) -> dict:
    """A list item: the record without its renditions (GET /api/media/{id} has them)."""
    summary = media_json(row, [])
    del summary["renditions"]
    return summary


async def remove_media(env, media_id: str) -> dict:
    """Remove the original, every rendition and any stash its tus upload left from R2, then
    the rows, then the cache entry.

    R2 goes first: deletes there are idempotent, so a failure half-way leaves the record
    in place and a repeated DELETE finishes the job.
    """
    if not is_media_id(media_id):
        raise _not_found(media_id)
    row = await d1.first_row(env.DB, SELECT_MEDIA, media_id)
    if row is None:
        raise _not_found(media_id)
    renditions = await d1.all_rows(env.DB, SELECT_RENDITIONS, media_id)
    keys = {row["r2_key"]} | {r["output_key"] for r in renditions if r.get("output_key")}
    keys |= await keys_under(env.MEDIA, renditions_prefix(media_id))
    for upload in await d1.all_rows(env.DB, SELECT_UPLOAD_IDS, media_id):  # a stash left by a tus upload
        keys |= await keys_under(env.MEDIA, stash_prefix(upload["id"]))
    await delete_keys(env.MEDIA, sorted(keys))  # an HLS ladder has more than one call's 1,000
    deleted = deleted_event(row, renditions, int(time.time() * 1000))
    await d1.batch(env.DB, [(DELETE_RENDITIONS, media_id), (DELETE_PROBE, media_id), (DELETE_PROBE_FAILURES, media_id),
                            (DELETE_MEDIA_METADATA, media_id),
                            (DELETE_HLS_LADDERS, media_id), (DELETE_HLS_CHUNKS, media_id),
                            (DELETE_UPLOAD_TOKENS, media_id), (DELETE_UPLOADS, media_id),
                            (DELETE_MEDIA, media_id), deleted])
    await env.METADATA.delete(media_cache_key(media_id))
    await publish(getattr(env, "WEBHOOKS", None), [deleted[1]])
    return {"deleted": media_id, "objects_deleted": len(keys)}


# The query of GET /api/media: status filter, cursor and page size; and the opaque cursors.

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAX_CURSOR_CHARS = 256
_MAX_ID_CHARS = 128
# created_at is milliseconds in the id's 48-bit timestamp. A larger int would reach the D1
# bind, where Pyodide makes ints of 2**53 and above a BigInt that D1 refuses (a 500).
MAX_CREATED_AT = 2**48 - 1


def encode_cursor(created_at: int, media_id: str) -> str:
    """An opaque, URL-safe token for the position after (created_at, media_id)."""
    raw = json.dumps(
        [int(created_at), media_id], separators=(",", ":"), ensure_ascii=True
    )
    return base64.urlsafe_b64encode(raw.encode("ascii")).rstrip(b"=").decode("ascii")


def decode_cursor(value: str) -> tuple[int, str]:
    """The (created_at, media_id) in a cursor; ValueError for anything we did not make."""
    if not isinstance(value, str) or len(value) > _MAX_CURSOR_CHARS:
        raise ValueError("cursor is not a string of sensible length")
    if not _BASE64URL.fullmatch(value):
        raise ValueError("cursor is not base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        decoded = json.loads(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("cursor is not readable") from error
    if not (isinstance(decoded, list) and len(decoded) == 2):
        raise ValueError("cursor has the wrong shape")
    created_at, media_id = decoded
    # bool is an int subclass; JSON true must not pass as a timestamp.
    if type(created_at) is not int or not 0 <= created_at <= MAX_CREATED_AT:
        raise ValueError("cursor time is not a 48-bit non-negative integer")
    if not isinstance(media_id, str) or not media_id or len(media_id) > _MAX_ID_CHARS:
        raise ValueError("cursor id is not a short string")
    # Only canonical tokens: one position, one spelling.
    if encode_cursor(created_at, media_id) != value:
        raise ValueError("cursor is not canonical")
    return created_at, media_id


DEFAULT_LIMIT = 20
MAX_LIMIT = 100

# Stored status words, plus the words the seed and the upload answer use for them.
STATUS_ALIASES = {
    "pending": "pending",
    "queued": "pending",
    "processing": "processing",
    "completed": "completed",
    "processed": "completed",
    "failed": "failed",
}

_DIGITS = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class ListQuery:
    """A validated list request: stored status or None for all, cursor or None, limit."""

    status: str | None
    cursor: tuple[int, str] | None
    limit: int
    kind: str | None = None
    q: str | None = None  # text the name contains


def parse_list_query(params: Mapping[str, str]) -> ListQuery:
    """Validate the query parameters; HttpError 400 with a clear message for bad values."""
    return ListQuery(
        status=_status(params.get("status")),
        cursor=_cursor(params.get("cursor")),
        limit=_limit(params.get("limit")),
        kind=_kind(params.get("kind")),
        q=_name_query(params.get("q")),
    )


KINDS = ("image", "video", "audio")
MAX_QUERY_CHARS = 48  # and at most 48 bytes once escaped: D1's LIKE patterns stop at 50 bytes


def _kind(value: str | None) -> str | None:
    word = (value or "").strip().lower()
    if not word:
        return None
    if word not in KINDS:
        raise HttpError(400, "invalid_kind", f"kind must be one of: {', '.join(KINDS)}.")
    return word


def _name_query(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    from common.media_records import MAX_LIKE_PATTERN_BYTES, contains_pattern

    if len(text) > MAX_QUERY_CHARS or len(contains_pattern(text).encode("utf-8")) > MAX_LIKE_PATTERN_BYTES:
        raise HttpError(400, "invalid_query", f"q must be at most {MAX_QUERY_CHARS} bytes of UTF-8"
                        " (`%`, `_` and `\\` count twice).")
    return text


def _status(value: str | None) -> str | None:
    word = (value or "").strip().lower()
    if not word:
        return None
    if word not in STATUS_ALIASES:
        choices = ", ".join(STATUS_ALIASES)
        raise HttpError(400, "invalid_status", f"status must be one of: {choices}.")
    return STATUS_ALIASES[word]


def _cursor(value: str | None) -> tuple[int, str] | None:
    if value is None or not value.strip():
        return None
    try:
        return decode_cursor(value.strip())
    except ValueError:
        raise HttpError(
            400,
            "invalid_cursor",
            "cursor is not one this API gave out; start again without it.",
        ) from None


def _limit(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise HttpError(
            400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}."
        )
    return int(text)
