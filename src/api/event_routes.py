"""The event log: GET /api/media/{id}/events (one item's timeline, oldest first) and
GET /api/events?type=&media_id=&cursor=&limit= (across items). Events: common.events; data
older than the retention window is read back from R2 (common.event_archive)."""

from __future__ import annotations

from common import d1
from common.errors import HttpError
from common.event_archive import restore_data
from common.events import DEFAULT_LIMIT, MAX_LIMIT, TYPES, decode_cursor, encode_cursor, event_json, list_query
from common.ids import is_media_id
from common.media_records import MEDIA_EXISTS
from common.responses import json_response
from common.routing import query_params

__all__ = ["list_events", "media_events"]


def _limit(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not text.isdigit() or len(text) > 4 or not 1 <= int(text) <= MAX_LIMIT:
        raise HttpError(400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return int(text)


def _after(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return decode_cursor(text)
    except ValueError:
        raise HttpError(400, "invalid_cursor", "cursor is not one this API gave out; start again without it.") from None


async def _page(env, media_id: str | None, kind: str | None, query: dict) -> dict:
    limit = _limit(query.get("limit"))
    sql, params = list_query(media_id, kind, _after(query.get("cursor")), limit)
    rows = await d1.all_rows(env.DB, sql, *params)
    page = await restore_data(env.DB, env.MEDIA, rows[:limit])  # data past the retention window is in R2
    return {
        "items": [event_json(row) for row in page],
        "next_cursor": encode_cursor(page[-1]["seq"]) if len(rows) > limit and page else None,
    }


async def media_events(request, env, params):
    """GET /api/media/{id}/events: the item's timeline (kept after a delete); 404 for an id never seen."""
    media_id = params["id"]
    if not is_media_id(media_id):
        raise HttpError(404, "not_found", f"No media with id {media_id!r}.")
    body = await _page(env, media_id, None, query_params(request))
    if not body["items"] and await d1.first_row(env.DB, MEDIA_EXISTS, media_id) is None:
        raise HttpError(404, "not_found", f"No media with id {media_id!r}.")
    return json_response(body)


async def list_events(request, env, params):
    """GET /api/events: events across items, oldest first, by type and media id."""
    query = query_params(request)
    kind = (query.get("type") or "").strip() or None
    if kind is not None and kind not in TYPES:
        raise HttpError(400, "invalid_event_type", f"type must be one of: {', '.join(TYPES)}.")
    media_id = (query.get("media_id") or "").strip() or None
    if media_id is not None and not is_media_id(media_id):
        raise HttpError(400, "invalid_media_id", "media_id is not a media id.")
    return json_response(await _page(env, media_id, kind, query))
