"""POST /api/media: the raw body is the file; it goes to R2, D1, the queue and KV."""

import os
import time

from api.errors import ApiError
from api.media_cache import cache_record, uncache_record
from api.upload_rules import check_declared_length, declared_length, empty_body, file_name, max_file_size
from api.upload_stream import RequestBody, read_head, store_known_length, store_unknown_length
from common import d1
from common.ids import new_media_id
from common.job_messages import job_message
from common.media_kinds import SNIFF_BYTES, declared_matches, sniff
from common.media_records import COUNT_PENDING_BEFORE, DELETE_MEDIA, INSERT_MEDIA_RETURNING, SELECT_MEDIA, media_json


async def upload_media(request, env) -> tuple[int, dict]:
    """Store one upload; every step after the R2 put is undone if a later one fails."""
    limit = max_file_size(getattr(env, "MAX_FILE_SIZE", None))
    length = declared_length(request.headers.get("content-length"))
    check_declared_length(length, limit)  # 413 before a byte is read; 400 when 0
    stream = request.body
    if stream is None:
        raise empty_body()
    body = RequestBody(stream)
    head = await read_head(body, SNIFF_BYTES)
    if not head:
        raise empty_body()
    sniffed = sniff(head)
    declared = request.headers.get("content-type")
    if sniffed is None or not declared_matches(declared, sniffed):
        await body.cancel()
        raise _unsupported(declared, sniffed)

    now = int(time.time() * 1000)
    media_id = new_media_id(now, os.urandom(10))
    key = f"originals/{media_id}"
    name = file_name(request.headers.get)
    options = {
        "httpMetadata": {"contentType": sniffed.content_type},
        "customMetadata": {"media_id": media_id},
    }
    if length is not None:
        stored = await store_known_length(env.MEDIA, key, body, length, options)
    else:
        stored = await store_unknown_length(env.MEDIA, key, body, limit, options)
    size = int(stored.size)

    try:
        row = await d1.first_row(
            env.DB, INSERT_MEDIA_RETURNING, media_id, key, name, sniffed.content_type, sniffed.kind, size, "api",
            now, now,
        )
        # No row: a retried insert whose first attempt had landed (d1 retries lost connections).
        row = row or await d1.first_row(env.DB, SELECT_MEDIA, media_id)
        if row is None:
            raise RuntimeError(f"media {media_id} was not recorded")
    except BaseException:
        await env.MEDIA.delete(key)
        raise
    # Cache before queueing: once the job is queued the processor may update the record,
    # and its cache refresh must land after this first write, never before it.
    await cache_record(env, media_id, media_json(row, []))
    try:
        await env.JOBS.send(job_message(media_id, key))
    except BaseException as error:
        # Without its queue message the record would wait for the reconcile cron: undo instead.
        await d1.run(env.DB, DELETE_MEDIA, media_id)
        await uncache_record(env, media_id)
        await env.MEDIA.delete(key)
        raise ApiError(503, "queue_unavailable", "The job queue is unavailable; nothing was stored. Retry.") from error

    position = await d1.first_row(env.DB, COUNT_PENDING_BEFORE, now, media_id)
    return 202, {
        "id": media_id,
        "status": "queued",
        "queue_position": int(position["position"]) if position else 1,
        "kind": sniffed.kind,
        "content_type": sniffed.content_type,
        "size": size,
        "name": name,
        "links": {"self": f"/api/media/{media_id}", "original": f"/files/{key}"},
    }


def _unsupported(declared, sniffed) -> ApiError:
    if sniffed is None:
        return ApiError(
            415,
            "unsupported_media_type",
            "The file is not an image, video or audio format we recognise (judged by its first bytes).",
        )
    return ApiError(
        415,
        "media_type_mismatch",
        f"The body is {sniffed.content_type} but Content-Type says {declared}.",
        extra={"detected": sniffed.content_type},
    )
