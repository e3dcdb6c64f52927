"""POST /api/media: the raw body is the file; it goes to R2, D1, the queue and KV.

The body is streamed into R2 without being copied into Python (common.r2_streams, which the
processor stores outputs with too); this module turns the stream's outcomes into answers:
400 when the body breaks or ends early, 413 as soon as a chunked body passes the size limit,
503 with Retry-After when the isolate's part buffers for chunked bodies stay busy.
"""

import json
import os
import time

from api.settings import settings_from_env
from api.upload_rules import (
    check_declared_length,
    declared_length,
    empty_body,
    file_name,
    file_too_large,
    media_metadata,
)
from common import d1
from common.errors import HttpError
from common.events import (
    DELETE_EVENT,
    DELETE_MEDIA_EVENTS,
    MEDIA_CREATED,
    event_id,
    event_statement,
    publish,
    upload_events,
)
from common.ids import new_media_id
from common.keys import original_key
from common.messages import job_message
from common.media_kinds import SNIFF_BYTES, declared_matches, sniff
from common.media_records import (
    COUNT_PENDING_BEFORE,
    DELETE_MEDIA,
    DELETE_MEDIA_METADATA,
    INSERT_MEDIA,
    INSERT_MEDIA_METADATA,
)
from common.r2_streams import (
    BodyReader,
    PartBuffersBusy,
    StorageWriteError,
    StreamReadError,
    StreamTooLarge,
    put_in_parts,
    put_known_length,
)
from common.responses import json_response


class RequestBody(BodyReader):
    """A request body: refusing it releases the reader instead of cancelling the stream.

    The runtime discards what is left of a request body once the answer is sent. Cancelling
    it ourselves gains nothing, and would keep the local runtime from reading the rest
    before it answers, which the proxy of `wrangler dev` needs to pass a 413 or 415 on
    (docs/reliability.md, "A refused upload's 413").
    """

    async def cancel(self) -> None:
        try:
            self.reader.releaseLock()
        except Exception:
            pass


async def upload_media(request, env, params):
    """Store one upload (202 with Location); every step after the R2 put is undone if a later one fails."""
    status, body = await store_upload(request, env)
    return json_response(body, status, {"location": body["links"]["self"]})


async def store_upload(request, env) -> tuple[int, dict]:
    """The upload's status and JSON answer (HttpError for a refused one)."""
    limit = settings_from_env(env).max_file_size
    length = declared_length(request.headers.get("content-length"))
    check_declared_length(length, limit)  # 413 before a byte is read; 400 when 0
    metadata = media_metadata(request.headers.get("x-media-metadata"))
    stream = request.body
    if stream is None:
        raise empty_body()
    body = RequestBody(stream)
    try:
        head = await body.read_head(SNIFF_BYTES)
    except StreamReadError as error:
        raise _incomplete() from error
    if not head:
        raise empty_body()
    sniffed = sniff(head)
    declared = request.headers.get("content-type")
    if sniffed is None or not declared_matches(declared, sniffed):
        await body.cancel()
        raise _unsupported(declared, sniffed)

    now = int(time.time() * 1000)
    media_id = new_media_id(now, os.urandom(10))
    key = original_key(media_id)
    name = file_name(request.headers.get)
    options = {
        "httpMetadata": {"contentType": sniffed.content_type},
        "customMetadata": {"media_id": media_id},
    }
    stored = await store_body(env.MEDIA, key, body, length, limit, options)
    size = int(stored.size)

    await record_upload(env, media_id, key, name, sniffed.content_type, sniffed.kind, size, now, metadata=metadata)
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


async def record_upload(env, media_id: str, key: str, name: str | None, content_type: str, kind: str, size: int,
                        now: int, *, metadata: dict | None = None, undo_on_queue_failure: bool = True,
                        way: str = "single_request") -> dict:
    """Record an original that is whole in R2 (D1 row, its metadata, KV) and queue its job.

    Every step after the R2 put is undone if a later one fails (the object too), except, with
    `undo_on_queue_failure=False` (a finished resumable upload, too big to send again), a
    queue that refuses the message: then the media stays pending and the reconcile cron
    queues it. The upload's events (common.events: media.uploaded with its `way`, media.created,
    media.queued) are recorded with it and media.created is published. Returns the media row.
    """
    metadata_text = json.dumps(metadata, separators=(",", ":")) if metadata else None
    # The row as INSERT_MEDIA writes it (its probe columns all NULL until the processor probes).
    row = {"id": media_id, "r2_key": key, "name": name, "content_type": content_type, "kind": kind, "size": size,
           "status": "pending", "error": None, "source": "api", "created_at": now, "updated_at": now,
           "metadata": metadata_text}
    queued = event_statement(media_id, "media.queued", {"reason": "upload"}, now)
    statements = [(INSERT_MEDIA, media_id, key, name, content_type, kind, size, "api", now, now)]
    if metadata_text:
        statements.append((INSERT_MEDIA_METADATA, media_id, metadata_text))
    # One transaction: the record, its metadata and its events (ids of their own, so a batch that
    # d1 retries after a lost connection records nothing twice), or none of them.
    statements += [*upload_events(row, way, now), queued]
    try:
        await d1.batch(env.DB, statements)
    except BaseException:
        await env.MEDIA.delete(key)
        raise
    try:
        await env.JOBS.send(job_message(media_id, key))
    except BaseException as error:
        if not undo_on_queue_failure:
            print(f"api: queueing media {media_id} failed ({type(error).__name__}); the reconcile cron will queue it")
            try:  # its media.queued entry would claim a message the queue refused
                await d1.run(env.DB, DELETE_EVENT, queued[1])
            except Exception:
                pass
            return row
        # Without its queue message the record would wait for the reconcile cron: undo instead.
        await d1.batch(env.DB, [(DELETE_MEDIA_EVENTS, media_id), (DELETE_MEDIA_METADATA, media_id),
                                (DELETE_MEDIA, media_id)])
        await env.MEDIA.delete(key)
        raise HttpError(503, "queue_unavailable", "The job queue is unavailable; nothing was stored. Retry.") from error
    # media.created goes to the delivery queue only now: an upload undone above announces nothing.
    await publish(getattr(env, "WEBHOOKS", None), [event_id(media_id, MEDIA_CREATED)])
    return row


async def store_body(bucket, key: str, body: RequestBody, length: int | None, limit: int, options: dict):
    """Put the body into R2 as a stream: in one put of its declared length, else in parts
    (a chunked body), refused (413) as soon as it passes `limit`. Returns the R2 object."""
    try:
        if length is not None:
            chunks, stream = body.release()
            return await put_known_length(bucket, key, stream, length, options, head_chunks=chunks)
        return await put_in_parts(bucket, key, body, options, limit)
    except StreamTooLarge as error:
        raise file_too_large(limit) from error
    except PartBuffersBusy as error:  # too many chunked uploads at once in this isolate
        raise HttpError(503, "busy", "Too many uploads without a Content-Length at once; retry shortly, or send"
                        " Content-Length.", headers={"retry-after": str(error.retry_after)}) from error
    except StreamReadError as error:
        raise _incomplete() from error
    except StorageWriteError as error:
        print(f"api: R2 refused the put of {key}: {type(error.__cause__).__name__}")
        raise HttpError(503, "storage_unavailable", "Storage did not take the file; nothing was stored. Retry.",
                        headers={"retry-after": "1"}) from error


def _incomplete() -> HttpError:
    return HttpError(400, "incomplete_body", "The body ended before its Content-Length, or could not be read.")


def _unsupported(declared, sniffed) -> HttpError:
    if sniffed is None:
        return HttpError(
            415,
            "unsupported_media_type",
            "The file is not an image, video or audio format we recognise (judged by its first bytes).",
        )
    return HttpError(
        415,
        "media_type_mismatch",
        f"The body is {sniffed.content_type} but Content-Type says {declared}.",
        extra={"detected": sniffed.content_type},
    )
