"""The HLS ladder copy: planned from the playlists, split into bounded hls.copy messages,
idempotent, retried, and consistent when the media item is deleted half-way."""

import asyncio

import pytest

from processor import hls_copy
from processor.job_status import JobOutcome
from processor.renditions import apply_outcome
from processor.queue_consumer import handle_message
from processor.ittybit_client import OutputRefused
from tests.unit.fakes import insert_media, make_context, submit

MEDIA = "01aaaaaaaaaaaaaaaaaaaaaaaa"
BASE = "https://out.test/files/job_hls/"
PREFIX = f"renditions/{MEDIA}/hls/"
QUEUE = "media-pipeline-jobs"


def _media_playlist(count: int) -> bytes:
    body = "".join(f"#EXTINF:4.0,\nsegment-{i}.ts\n" for i in range(count - 1)) + "#EXTINF:2.5,\nsegment-last.ts\n"
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n{body}#EXT-X-ENDLIST\n".encode()


MASTER = (b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360,CODECS=\"avc1.42e01e,mp4a.40.2\"\n"
          b"360p/stream.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=1280x720,CODECS=\"avc1.42e01f\"\n"
          b"720p/stream.m3u8\n")


def _ladder(ctx, segments: int = 7, master: bytes = MASTER) -> int:
    """Ittybit's outputs for the ladder; returns the bytes of every segment."""
    outputs = ctx.storage.outputs
    outputs[BASE + "master.m3u8"] = master
    total = 0
    for rung in ("360p", "720p"):
        outputs[f"{BASE}{rung}/stream.m3u8"] = _media_playlist(segments)
        for name in [f"segment-{i}" for i in range(segments - 1)] + ["segment-last"]:
            data = f"{rung}/{name}".encode() * 10
            outputs[f"{BASE}{rung}/{name}.ts"] = data
            total += len(data)
    return total


async def _submitted(ctx):
    insert_media(ctx, MEDIA)
    await submit(ctx, MEDIA)
    row = ctx.db.rows("SELECT * FROM renditions WHERE media_id = ? AND name = 'hls'", MEDIA)[0]
    ctx.jobs.sent.clear()
    return row["job_id"]


async def _succeed(ctx, job_id):
    outcome = JobOutcome(job_id=job_id, status="completed", output_url=BASE + "master.m3u8", width=1280, height=720,
                         duration=26.5, filesize=12345, metadata={"media_id": MEDIA, "rendition": "hls"})
    assert await apply_outcome(ctx, outcome) == "store_queued"


async def _drain(ctx, times: int = 1, limit: int = 500):
    """Consume every queued message (each `times` times, as an at-least-once queue may)."""
    whats = []
    while ctx.jobs.sent and limit:
        body = ctx.jobs.sent.pop(0)
        for _ in range(times):
            decision = await handle_message(ctx, body, 1, QUEUE)
            assert decision.action == "ack", decision
            whats.append(decision.what)
        limit -= 1
    return whats


def _hls(ctx):
    return ctx.db.rows("SELECT * FROM renditions WHERE media_id = ? AND name = 'hls'", MEDIA)[0]


async def test_the_whole_ladder_is_copied_in_bounded_messages():
    ctx = make_context(hls_segments_per_message=3)
    segment_bytes = _ladder(ctx)
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    assert await _drain(ctx, limit=1) == ["ladder_planned"]
    copies = list(ctx.jobs.sent)
    assert len(copies) == 5 and all(m["type"] == "hls.copy" and len(m["paths"]) <= 3 for m in copies)
    assert _hls(ctx)["status"] == "processing"  # not before every segment is in R2
    whats = await _drain(ctx)
    assert whats.count("chunk_copied") == 4 and whats[-1] == "ladder_stored"
    keys = {k for k in ctx.storage.objects if k.startswith(PREFIX)}
    expected = {PREFIX + "master.m3u8"} | {f"{PREFIX}{r}/stream.m3u8" for r in ("360p", "720p")} | {
        f"{PREFIX}{u[len(BASE):]}" for u in ctx.storage.outputs if u.endswith(".ts")}
    assert keys == expected
    assert ctx.storage.objects[PREFIX + "master.m3u8"] == (MASTER, "application/vnd.apple.mpegurl")
    assert ctx.storage.objects[PREFIX + "720p/segment-0.ts"][1] == "video/mp2t"
    row = _hls(ctx)
    playlists = len(MASTER) + 2 * len(_media_playlist(7))
    assert row["status"] == "completed" and row["output_key"] == PREFIX + "master.m3u8"
    assert (row["width"], row["height"], row["size"]) == (1280, 720, segment_bytes + playlists)
    assert row["duration"] == 26.5
    (ladder,) = ctx.db.rows("SELECT * FROM hls_ladders WHERE media_id = ?", MEDIA)
    assert (ladder["segment_count"], ladder["chunks"]) == (14, 5) and ladder["sent_at"]
    assert '"height": 360' in ladder["rungs"] and '"segments": 7' in ladder["rungs"]
    # The ladder's rendition.ready (and media.ready once every rendition is) carry playback.hls, a
    # playback URL signed like GET /api/media/{id}'s; the KV record does not.
    import json

    from common.playback_tokens import TokenCheck, check_token

    (event,) = ctx.db.rows("SELECT data FROM events WHERE media_id = ? AND type = 'rendition.ready'"
                           " AND json_extract(data, '$.rendition.name') = 'hls'", MEDIA)
    playback = json.loads(event["data"])["playback"]
    token = playback["hls"].split("/hls/", 1)[1].split("/")[0]
    assert playback["hls"].startswith("https://api.test/hls/") and playback["hls"].endswith(f"/{MEDIA}/master.m3u8")
    assert check_token("sign", token, MEDIA, playback["expires_at"] - 60) == TokenCheck.OK
    assert playback["expires_at"] - ctx.clock() == pytest.approx(6 * 3600, abs=5)
    from common.media_records import media_cache_key

    # The other renditions are still pending: nothing is cached before the item is final (and the
    # final entry is cached without `playback`, which the API signs afresh on every answer).
    assert media_cache_key(MEDIA) not in ctx.kv.data


async def test_repeated_messages_copy_and_count_nothing_twice():
    ctx = make_context(hls_segments_per_message=4)
    _ladder(ctx)
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    body = ctx.jobs.sent[0]
    await _drain(ctx, limit=1)
    # The plan message again: its copies were all sent, so none is sent again.
    assert (await handle_message(ctx, body, 1, QUEUE)).what == "ladder_already_planned"
    whats = await _drain(ctx, times=2)
    assert "ladder_stored" in whats and whats[-1] == "already_final"
    assert len(ctx.db.rows("SELECT * FROM hls_copy_chunks WHERE media_id = ?", MEDIA)) == 4
    assert len(ctx.db.rows("SELECT * FROM events WHERE media_id = ? AND type = 'rendition.stored'", MEDIA)) == 1
    assert _hls(ctx)["status"] == "completed"


async def test_a_failed_segment_copy_is_retried_alone():
    ctx = make_context(hls_segments_per_message=5)
    _ladder(ctx)
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    await _drain(ctx, limit=1)
    first = ctx.jobs.sent.pop(0)
    ctx.storage.fail_fetch = OSError("connection reset by https://out.test/files/job_hls/secret")
    decision = await handle_message(ctx, first, 1, QUEUE)
    assert decision.action == "retry"
    row = _hls(ctx)
    assert row["status"] == "processing" and "out.test" in row["error"] and "secret" not in row["error"]
    ctx.storage.fail_fetch = None
    assert (await handle_message(ctx, first, 2, QUEUE)).what == "chunk_copied"
    assert (await _drain(ctx))[-1] == "ladder_stored"


async def test_hostile_playlists_fail_the_rendition_and_store_nothing():
    for master in (MASTER.replace(b"720p/stream.m3u8", b"https://evil.test/x.m3u8"),
                   MASTER.replace(b"720p/stream.m3u8", b"../../originals/x"),
                   MASTER.replace(b"#EXTM3U\n", b"")):
        ctx = make_context()
        _ladder(ctx, master=master)
        job_id = await _submitted(ctx)
        await _succeed(ctx, job_id)
        assert await _drain(ctx) == ["ladder_refused"]
        row = _hls(ctx)
        assert row["status"] == "failed" and row["error"].startswith("output refused") is False
        assert "HLS ladder refused" in row["error"] and "evil" not in row["error"]
        assert not [k for k in ctx.storage.objects if k.startswith(PREFIX)]


async def test_a_variant_without_endlist_is_refused():
    ctx = make_context()
    _ladder(ctx)
    ctx.storage.outputs[BASE + "360p/stream.m3u8"] = _media_playlist(3).replace(b"#EXT-X-ENDLIST\n", b"")
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    assert await _drain(ctx) == ["ladder_refused"]
    assert "ENDLIST" in _hls(ctx)["error"]


async def test_a_segment_on_another_host_is_refused():
    ctx = make_context()
    _ladder(ctx)
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    await _drain(ctx, limit=1)
    forged = dict(ctx.jobs.sent[0], base_url="https://evil.test/")
    assert (await handle_message(ctx, forged, 1, QUEUE)).what == "output_refused"
    assert _hls(ctx)["status"] == "failed"


async def test_a_delete_in_the_middle_of_the_copy_leaves_no_segment():
    ctx = make_context(hls_segments_per_message=2)
    _ladder(ctx)
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    await _drain(ctx, limit=2)  # the plan and one chunk

    deleted = []

    async def delete_media_now():
        # The API's DELETE runs while this chunk copies: it lists and removes the folder, then the rows.
        if deleted:
            return
        deleted.append(True)
        await ctx.storage.delete_prefix(f"renditions/{MEDIA}/")
        for table in ("renditions", "media_probes", "hls_ladders", "hls_copy_chunks"):
            ctx.db.conn.execute(f"DELETE FROM {table} WHERE media_id = ?", (MEDIA,))
        ctx.db.conn.execute("DELETE FROM media WHERE id = ?", (MEDIA,))

    ctx.storage.on_store = delete_media_now
    whats = await _drain(ctx)
    assert whats[0] == "deleted_meanwhile" and set(whats[1:]) == {"missing"}
    assert not [k for k in ctx.storage.objects if k.startswith(f"renditions/{MEDIA}/")]


async def test_a_copy_for_another_job_does_nothing():
    ctx = make_context()
    _ladder(ctx)
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    await _drain(ctx, limit=1)
    stale = dict(ctx.jobs.sent[0], job_id="job_old")
    assert (await handle_message(ctx, stale, 1, QUEUE)).what == "other_job"


async def test_a_dead_copy_message_names_its_media():
    from processor.queue_consumer import dead_letter_media_id
    from common.messages import parse_message

    ctx = make_context()
    _ladder(ctx)
    job_id = await _submitted(ctx)
    await _succeed(ctx, job_id)
    await _drain(ctx, limit=1)
    assert dead_letter_media_id(parse_message(ctx.jobs.sent[0])) == MEDIA


class _SlowStorage:
    """Each copy takes a few event-loop turns; segment-5 fails."""

    def __init__(self):
        self.in_flight = self.peak = 0
        self.started: list[str] = []

    async def store_from_url(self, url, key, content_type, size_hint=None):
        self.started.append(key)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        self.in_flight -= 1
        if key.endswith("segment-5.ts"):
            raise OSError("connection reset")
        return 10


async def test_a_chunk_copies_a_few_files_at_once_and_stops_starting_after_a_failure():
    ctx = make_context()
    ctx.storage = storage = _SlowStorage()
    paths = [f"360p/segment-{i}.ts" for i in range(12)]
    written: list[str] = []
    assert await hls_copy._copy_files(ctx, BASE, PREFIX, paths[:5], written) == 50
    assert storage.peak == hls_copy.COPY_CONCURRENCY and sorted(written) == sorted(PREFIX + p for p in paths[:5])
    storage.started.clear()
    written = []
    with pytest.raises(OSError):
        await hls_copy._copy_files(ctx, BASE, PREFIX, paths, written)
    assert storage.in_flight == 0  # nothing left running when the error is raised
    assert PREFIX + "360p/segment-5.ts" not in written
    assert len(storage.started) < len(paths)  # the files after the failure were not started
