"""An HLS rendition's ladder copied from Ittybit into R2 (`renditions/<id>/<name>/`), in bounded steps.

Copying (not Ittybit writing into R2 through an `s3://` connection) is the design: the
processor judges every playlist before anything is served (common.hls), the emulator need
not speak S3, and the same output-host policy as every other rendition applies.

1. `plan_ladder` (the rendition's `rendition.store` message, once its job succeeded): fetch
   the master playlist (the job's output URL) and each variant playlist (at most
   MAX_VARIANTS + 1 small fetches), refuse a hostile one (the rendition fails with the
   reason), store the playlists unchanged, record the ladder (`hls_ladders`) and send the
   `hls.copy` messages (processor.hls_plan: at most `hls_segments_per_message` files each,
   in sendBatch groups of 100). A redelivered plan message re-sends them only if the first
   did not record that it sent them all.
2. `copy_chunk` (each `hls.copy`): stream each file from Ittybit into R2 (never in Python
   memory), then record the chunk (`hls_copy_chunks`, once per chunk number). A failed copy
   raises: the consumer retries that message alone; files already put are simply put again.
   The chunk that finds every chunk recorded completes the rendition (size = every file,
   width and height of the top rung, duration) and refreshes the media item. Several may
   find it at once: the completion is a guarded update and its event has a fixed id.
3. A delete of the media item while chunks run: a chunk whose rendition row is gone does
   nothing, and one that finished its puts after the delete listed the folder deletes what
   it put; the hourly orphan sweep removes anything else under `renditions/<id>/`.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urljoin

from common.d1 import batch, first_row, run
from common.errors import public_reason
from common.events import INSERT_RETRY_EVENT, event_statement
from common.hls import (
    MASTER_NAME,
    MAX_PLAYLIST_BYTES,
    MAX_TOTAL_SEGMENTS,
    PlaylistError,
    content_type,
    ladder_path,
    parse_master,
    parse_media,
)
from common.media_records import FINAL
from common.messages import CopyMessage, StoreMessage
from processor.hls_plan import copy_message, plan_chunks, send_groups
from processor.job_status import JobOutcome, refresh_media
from processor.presets import ladder_prefix
from processor.settings import Context
from processor.sql import NOTE_RETRY, SELECT_RENDITION, record_outcome

__all__ = ["copy_chunk", "plan_ladder"]

INSERT_LADDER = """
INSERT INTO hls_ladders (media_id, rendition, job_id, rungs, segment_count, playlist_bytes, duration, chunks, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (media_id, rendition, job_id) DO NOTHING
"""
SELECT_LADDER = "SELECT * FROM hls_ladders WHERE media_id = ? AND rendition = ? AND job_id = ?"
MARK_LADDER_SENT = "UPDATE hls_ladders SET sent_at = ? WHERE media_id = ? AND rendition = ? AND job_id = ?"
INSERT_CHUNK = """
INSERT INTO hls_copy_chunks (media_id, rendition, job_id, chunk, files, bytes, done_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (media_id, rendition, job_id, chunk) DO NOTHING
"""
COUNT_CHUNKS = """
SELECT COUNT(*) AS done, COALESCE(SUM(bytes), 0) AS bytes, COALESCE(SUM(files), 0) AS files
FROM hls_copy_chunks WHERE media_id = ? AND rendition = ? AND job_id = ?
"""


def _base(url: str) -> str:
    """The folder URL the master playlist's relative URIs resolve against."""
    return url.rsplit("/", 1)[0] + "/"


async def plan_ladder(ctx: Context, message: StoreMessage, row: dict) -> str:
    """Step 1: the playlists fetched, judged and stored; the segment copies queued."""
    from processor.renditions import apply_outcome  # the module imports this one

    media_id, name, job_id = message.media_id, message.rendition, message.job_id
    prefix = ladder_prefix(media_id, name)
    base = _base(message.output_url)
    ladder = await first_row(ctx.db, SELECT_LADDER, media_id, name, job_id)
    try:
        master_text = await ctx.storage.fetch_small(message.output_url, MAX_PLAYLIST_BYTES)
        master = parse_master(master_text)
        playlists = {MASTER_NAME: master_text}
        files: list[str] = []
        rungs = []
        for variant in master.variants:
            text = await ctx.storage.fetch_small(urljoin(base, variant.uri), MAX_PLAYLIST_BYTES)
            media = parse_media(text, variant.uri)
            playlists[variant.uri] = text
            files.extend(media.files())
            rungs.append({"name": variant.uri.split("/")[0] if "/" in variant.uri else variant.uri,
                          "playlist": variant.uri, "width": variant.width, "height": variant.height,
                          "bandwidth": variant.bandwidth, "codecs": variant.codecs,
                          "segments": len(media.segments), "duration": round(media.duration, 3)})
            if len(files) > MAX_TOTAL_SEGMENTS:
                raise PlaylistError(f"the ladder has more than {MAX_TOTAL_SEGMENTS} segments")
        if set(files) & set(playlists):
            raise PlaylistError("a playlist names another playlist as a segment")
    except PlaylistError as refused:
        outcome = JobOutcome(job_id=job_id, status="failed", error=f"HLS ladder refused: {refused}",
                             metadata={"media_id": media_id, "rendition": name})
        ctx.log(f"processor: HLS ladder of {media_id}/{name} refused: {refused}")
        what = await apply_outcome(ctx, outcome)
        return "ladder_refused" if what == "failed" else what
    # Variants before the master: a reader finding the master finds its playlists.
    for path in sorted(playlists, key=lambda p: p == MASTER_NAME):
        await ctx.storage.put_bytes(prefix + path, playlists[path], content_type(path))
    chunks = plan_chunks(files, ctx.settings.hls_segments_per_message)
    if ladder is None:
        duration = max((r["duration"] for r in rungs), default=None)
        await run(ctx.db, INSERT_LADDER, media_id, name, job_id, json.dumps(rungs), len(dict.fromkeys(files)),
                  sum(len(t) for t in playlists.values()), duration, len(chunks), ctx.now_ms())
    elif ladder["sent_at"]:
        return "ladder_already_planned"
    messages = [copy_message(media_id, name, job_id, base, chunk, len(chunks)) for chunk in chunks]
    for group in send_groups(messages):
        await ctx.jobs.sendBatch([{"body": body} for body in group])
    await run(ctx.db, MARK_LADDER_SENT, ctx.now_ms(), media_id, name, job_id)
    ctx.log(f"processor: HLS ladder of {media_id}/{name}: {len(rungs)} rungs, {len(files)} files, "
            f"{len(chunks)} copy messages")
    return "ladder_planned"


# Files of one chunk copied at once: a ladder's segments are small and many, and one after
# another each waited for its own round trips (the copy was most of the time from a ladder's
# job to its playlist being served: bench/playable.py). Each copy streams; none is in memory.
COPY_CONCURRENCY = 4


async def _copy_files(ctx: Context, base_url: str, prefix: str, paths: list[str], written: list[str]) -> int:
    """Stream `paths` (relative to `base_url`) into R2 under `prefix`, a few at a time; the bytes stored.

    `written` gets each key put. The first failure stops the remaining files from starting
    and is raised once the copies under way have ended (none is left running).
    """
    pending = iter(paths)
    sizes: list[int] = []
    failures: list[BaseException] = []

    async def copier() -> None:
        for path in pending:
            if failures:
                return
            try:
                url = urljoin(base_url, path)
                ctx.settings.output_policy.check(url)
                sizes.append(await ctx.storage.store_from_url(url, prefix + path, content_type(path)))
                written.append(prefix + path)
            except Exception as error:  # noqa: BLE001 - raised below, after the others end
                failures.append(error)
                return

    await asyncio.gather(*(copier() for _ in range(min(COPY_CONCURRENCY, len(paths)))))
    if failures:
        raise failures[0]
    return sum(sizes)


async def copy_chunk(ctx: Context, message: CopyMessage) -> str:
    """Step 2: one chunk of files streamed into R2; the last chunk completes the rendition."""
    media_id, name, job_id = message.media_id, message.rendition, message.job_id
    row = await first_row(ctx.db, SELECT_RENDITION, media_id, name)
    if row is None:
        return "missing"  # deleted meanwhile: nothing to copy
    if row["status"] in FINAL:
        await refresh_media(ctx, media_id)
        return "already_final"
    if row["job_id"] and row["job_id"] != job_id:
        return "other_job"
    prefix = ladder_prefix(media_id, name)
    try:
        paths = [ladder_path(path) for path in message.paths]
    except PlaylistError:
        return "bad_message"  # never planned by us: nothing to retry
    written: list[str] = []
    try:
        size = await _copy_files(ctx, message.base_url, prefix, paths, written)
    except Exception as error:
        now = ctx.now_ms()
        await batch(ctx.db, [
            (NOTE_RETRY, public_reason(f"copying HLS segments into R2 failed: {error}"), now, media_id, name),
            (INSERT_RETRY_EVENT, now, media_id, name),
        ])
        raise
    now = ctx.now_ms()
    await run(ctx.db, INSERT_CHUNK, media_id, name, job_id, message.chunk, len(message.paths), size, now)
    if await first_row(ctx.db, SELECT_RENDITION, media_id, name) is None:
        # The media item was deleted while we copied: what we put must not stay.
        await ctx.storage.delete(written)
        return "deleted_meanwhile"
    counted = await first_row(ctx.db, COUNT_CHUNKS, media_id, name, job_id)
    if int(counted["done"]) < message.chunks:
        return "chunk_copied"
    return await _complete(ctx, message, int(counted["bytes"]), int(counted["files"]))


async def _complete(ctx: Context, message: CopyMessage, segment_bytes: int, files: int) -> str:
    media_id, name, job_id = message.media_id, message.rendition, message.job_id
    ladder = await first_row(ctx.db, SELECT_LADDER, media_id, name, job_id)
    if ladder is None:
        return "chunk_copied"  # cannot happen: the plan records the ladder before sending
    rungs = json.loads(ladder["rungs"])
    top = max(rungs, key=lambda r: (r.get("height") or 0) * (r.get("width") or 0), default={})
    key = ladder_prefix(media_id, name) + MASTER_NAME
    total = segment_bytes + int(ladder["playlist_bytes"])
    now = ctx.now_ms()
    stored = {"rendition": name, "job_id": job_id, "key": key, "size": total, "content_type": content_type(key),
              "rungs": len(rungs), "segments": files}
    await batch(ctx.db, [
        record_outcome(media_id, name, job_id=job_id, status="completed", now=now, output_key=key,
                       content_type=content_type(key), width=top.get("width"), height=top.get("height"),
                       duration=ladder["duration"], size=total),
        event_statement(media_id, "rendition.stored", stored, now, name, job_id),
    ])
    if await refresh_media(ctx, media_id) is None:
        await ctx.storage.delete_prefix(ladder_prefix(media_id, name))
        return "deleted_meanwhile"
    ctx.log(f"processor: HLS ladder of {media_id}/{name} stored: {files} files, {total} bytes")
    return "ladder_stored"
