"""The source is probed before its renditions, which are sized from it and never exceed it (issue 17)."""

import dataclasses
import json
import math

import pytest
from hypothesis import given, strategies as st

from common.messages import parse_message
from processor.ittybit_client import idempotency_key, TransportResponse
from processor.presets import presets_from_var
from processor.probe import parse_fps, ProbeResult, read_probe, SourceInfo
from processor.queue_consumer import give_up, handle_message
from processor.reconcile import reconcile
from processor.settings import settings_from_env
from tests.unit.fakes import NOW, PROBE_FILE, insert_media, make_context


MEDIA = "01aaaaaaaaaaaaaaaaaaaaaaaa"


QUEUE = "media-pipeline-jobs"


MESSAGE = {"type": "media.process", "media_id": MEDIA, "r2_key": f"originals/{MEDIA}"}


async def process(ctx, attempts=1):
    return await handle_message(ctx, MESSAGE, attempts, QUEUE)


def requests(ctx, path):
    return [r for r in ctx.itty.transport.requests if r.url.split("?")[0].rstrip("/").endswith(path)
            or f"{path}/" in r.url]


def job_options(ctx):
    return {r.json()["metadata"]["rendition"]: r.json()["options"] for r in requests(ctx, "/jobs") if r.method == "POST"}


def sizes(ctx):
    return {name: (o.get("width"), o.get("height")) for name, o in job_options(ctx).items()}


def rows(ctx, table="renditions"):
    return ctx.db.rows(f"SELECT * FROM {table} WHERE {'id' if table == 'media' else 'media_id'} = ?", MEDIA)


async def test_the_probe_comes_first_and_sizes_never_exceed_the_source():
    ctx = make_context()
    insert_media(ctx, MEDIA)
    decision = await process(ctx)
    assert decision.action == "ack"
    methods = [(r.method, r.url.rsplit("/", 1)[-1]) for r in ctx.itty.transport.requests]
    assert methods[0] == ("POST", "tasks") and all(m == ("POST", "jobs") for m in methods[1:])
    probe = requests(ctx, "/tasks")[0]
    body = probe.json()
    assert body["kind"] == "probe" and body["metadata"] == {"media_id": MEDIA, "rendition": "probe"}
    assert body["input"].startswith(f"https://api.test/files/originals/{MEDIA}?expires=")
    assert probe.headers["idempotency-key"] == idempotency_key(MEDIA, "probe", int(NOW * 1000))
    # A 1280x720 source: web keeps 1280x720 (its box is 1920x1080), mobile and thumbnail shrink.
    assert job_options(ctx) == {
        "web": {"format": "mp4", "quality": "high", "width": 1280, "height": 720, "fit": "fill"},
        "mobile": {"format": "mp4", "quality": "medium", "width": 854, "height": 480, "fit": "fill"},
        "thumbnail": {"format": "webp", "start": 2, "width": 640, "height": 360, "fit": "fill"},
        # The HLS ladder's top rung is bounded by the source too (never above 1280x720).
        "hls": {"format": "hls", "quality": "medium", "width": 1280, "height": 720, "fit": "fill"},
    }
    # The row holds the very options the job was made with.
    assert {r["name"]: json.loads(r["options"]) for r in rows(ctx)} == job_options(ctx)
    (stored,) = rows(ctx, "media_probes")
    assert (stored["status"], stored["width"], stored["height"], stored["fps"], stored["video_codec"]) == (
        "completed", 1280, 720, 30.0, "h264")
    # In progress, the record is read from D1 (only final records are cached in KV).
    assert ctx.kv.json(f"media:{MEDIA}") is None


async def test_a_portrait_source_gets_portrait_renditions():
    ctx = make_context()
    ctx.itty.probe_file = {**PROBE_FILE, "width": 1080, "height": 1920, "rotation": 90}
    insert_media(ctx, MEDIA)
    await process(ctx)
    assert sizes(ctx) == {"web": (1080, 1920), "mobile": (480, 854), "thumbnail": (360, 640), "hls": (1080, 1920)}


async def test_a_small_image_keeps_its_own_size():
    ctx = make_context()
    ctx.itty.probe_file = {"object": "file", "kind": "image", "format": "jpeg", "width": 320, "height": 240,
                           "codec": "mjpeg"}
    insert_media(ctx, MEDIA, kind="image")
    await process(ctx)
    # Not skipped although equal: every preset name is always there.
    assert sizes(ctx) == {"large": (320, 240), "thumbnail": (320, 240)}
    from common.media_records import SELECT_MEDIA, media_json

    (row,) = ctx.db.rows(SELECT_MEDIA, MEDIA)
    served = media_json(row, [])  # in progress, GET /api/media/{id} builds it from D1 like this
    assert (served["width"], served["codec"], served["fps"], served["duration"]) == (320, None, None, None)


async def test_a_redelivered_message_replays_the_same_bodies_even_after_the_presets_changed():
    ctx = make_context()
    insert_media(ctx, MEDIA)
    await process(ctx)
    first = job_options(ctx)
    assert await process(ctx) == await process(ctx)
    assert len(requests(ctx, "/tasks")) == 1  # the stored probe is used, not asked again
    assert len(ctx.itty.jobs) == 4  # web, mobile, thumbnail, hls
    # A lost job (Ittybit forgot it) is made again: with the row's options, not the new presets'.
    ctx.db.conn.execute("UPDATE renditions SET job_id = NULL, status = 'pending' WHERE name = 'mobile'")
    ctx.db.conn.execute("UPDATE media SET status = 'pending'")
    ctx.settings = dataclasses.replace(ctx.settings, presets=presets_from_var(json.dumps(
        {"video": [{"name": "mobile", "kind": "video", "options": {"max_long": 320}}]})))
    ctx.itty.by_key.clear()
    await process(ctx)
    posts = [r.json() for r in requests(ctx, "/jobs") if r.method == "POST"]
    assert posts[-1]["metadata"]["rendition"] == "mobile" and posts[-1]["options"] == first["mobile"]


def probe_keys(ctx):
    return [r.headers["idempotency-key"] for r in requests(ctx, "/tasks") if r.method == "POST"]


async def test_an_unreadable_source_fails_the_media_after_its_probes_without_a_path_and_makes_no_job():
    ctx = make_context()
    ctx.itty.probe_file = None
    ctx.itty.probe_error = "/var/lib/emu/inputs/task_1/input: Invalid data found when processing input"
    insert_media(ctx, MEDIA)
    # PROBE_ATTEMPTS (3) probes, each a new task under a key of its own, the n-th new ask n x 20 s later.
    first, second = await process(ctx, attempts=1), await process(ctx, attempts=2)
    assert (first.action, first.what, first.delay) == ("retry", "probe failed (1 of 3)", 20)
    assert (second.action, second.what, second.delay) == ("retry", "probe failed (2 of 3)", 40)
    (pending,) = rows(ctx, "media_probes")
    assert (pending["status"], pending["task_id"]) == ("pending", None)
    assert pending["error"] == "probe 2 of 3 failed: <path>: Invalid data found when processing input"
    assert rows(ctx, "media")[0]["status"] == "pending"
    decision = await process(ctx, attempts=3)
    assert decision.action == "ack" and decision.what == "unreadable"
    assert probe_keys(ctx) == [idempotency_key(MEDIA, name, int(NOW * 1000)) for name in ("probe", "probe#2", "probe#3")]
    assert len(ctx.itty.tasks) == 3 and rows(ctx, "probe_failures")[0]["failures"] == 3
    (media,) = rows(ctx, "media")
    assert media["status"] == "failed"
    assert media["error"] == "the source could not be read: <path>: Invalid data found when processing input"
    assert rows(ctx) == [] and requests(ctx, "/jobs") == []
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "failed"
    # Redelivered: nothing more is asked.
    asked = len(ctx.itty.transport.requests)
    assert (await process(ctx)).action == "ack" and len(ctx.itty.transport.requests) == asked


async def test_a_probe_that_failed_for_a_moment_is_asked_again_and_the_media_completes():
    # The crash test's case: Ittybit could not fetch the source while the API restarted.
    ctx = make_context()
    ctx.itty.probe_file = None
    ctx.itty.probe_error = "input download failed: Remote end closed connection without response"
    insert_media(ctx, MEDIA)
    assert (await process(ctx)).what == "probe failed (1 of 3)"
    ctx.itty.probe_file = dict(PROBE_FILE)
    assert (await process(ctx, attempts=2)).action == "ack"
    assert rows(ctx, "media_probes")[0]["status"] == "completed"
    assert rows(ctx, "probe_failures")[0]["failures"] == 1
    assert len(ctx.itty.jobs) == 4 and rows(ctx, "media")[0]["status"] == "processing"


async def test_one_failed_probe_is_counted_once_however_often_its_message_comes_back():
    ctx = make_context()
    ctx.itty.probe_file = None
    insert_media(ctx, MEDIA)
    ctx.itty.probe_status = "processing"
    await process(ctx)  # task_1 created, still running: its id is noted
    ctx.itty.finish_probe("task_1")
    before = rows(ctx, "media_probes")[0]
    # Two deliveries that both read the row while it still named task_1 (a duplicate delivery).
    from processor.probe import ensure_probe
    from common.media_records import SELECT_MEDIA

    (media,) = ctx.db.rows(SELECT_MEDIA, MEDIA)
    for _ in range(2):
        step = await ensure_probe(ctx, media)
        assert step.action == "retry"
        ctx.db.conn.execute("UPDATE media_probes SET task_id = ? WHERE media_id = ?", (before["task_id"], MEDIA))
    assert rows(ctx, "probe_failures")[0]["failures"] == 1
    ctx.db.conn.execute("UPDATE media_probes SET task_id = NULL WHERE media_id = ?", (MEDIA,))
    ctx.itty.probe_status = "completed"
    ctx.itty.probe_file = dict(PROBE_FILE)
    assert (await process(ctx)).action == "ack"
    assert probe_keys(ctx) == [idempotency_key(MEDIA, name, int(NOW * 1000)) for name in ("probe", "probe#2")]


async def test_probe_attempts_one_makes_the_first_failed_probe_final():
    ctx = make_context(probe_attempts=1)
    ctx.itty.probe_file = None
    insert_media(ctx, MEDIA)
    assert (await process(ctx)).what == "unreadable"
    assert len(ctx.itty.tasks) == 1 and rows(ctx, "media")[0]["status"] == "failed"


async def test_deleting_the_media_takes_its_probe_failures_along():
    from types import SimpleNamespace

    from api.media_routes import remove_media

    class Bucket:
        async def delete(self, keys):
            pass

        async def list(self, options):
            return SimpleNamespace(objects=[], truncated=False)

    ctx = make_context()
    ctx.itty.probe_file = None
    insert_media(ctx, MEDIA)
    await process(ctx)
    assert len(rows(ctx, "probe_failures")) == 1
    # The fake D1 enforces no foreign keys: the delete's own statement must take the row.
    await remove_media(SimpleNamespace(DB=ctx.db, METADATA=ctx.kv, MEDIA=Bucket()), MEDIA)
    assert rows(ctx, "probe_failures") == [] and rows(ctx, "media_probes") == []


async def test_a_probe_still_running_is_asked_for_again_by_id():
    ctx = make_context()
    ctx.itty.probe_status = "processing"
    insert_media(ctx, MEDIA)
    decision = await process(ctx, attempts=1)
    assert decision.action == "retry" and decision.delay == 2
    (stored,) = rows(ctx, "media_probes")
    assert (stored["status"], stored["task_id"]) == ("pending", "task_1")
    assert rows(ctx) == [] and rows(ctx, "media")[0]["status"] == "pending"
    assert (await process(ctx, attempts=2)).delay == 4
    ctx.itty.finish_probe("task_1")
    assert (await process(ctx, attempts=3)).action == "ack"
    assert [(r.method, r.url.rsplit("/", 1)[-1]) for r in requests(ctx, "/tasks")] == [
        ("POST", "tasks"), ("GET", "task_1"), ("GET", "task_1")]
    assert len(ctx.itty.jobs) == 4  # web, mobile, thumbnail, hls


async def test_transient_probe_errors_retry_with_backoff_and_retry_after():
    ctx = make_context()
    ctx.itty.probe_fail_next = [
        TransportResponse.json(503, {"message": "down for /srv/itty/x maintenance"}),
        TransportResponse.json(429, {"message": "slow down"}, {"retry-after": "40"}),
    ]
    insert_media(ctx, MEDIA)
    first = await process(ctx, attempts=3)
    assert (first.action, first.delay) == ("retry", 8)
    assert rows(ctx, "media_probes")[0]["error"] == "probing the source: down for <path> maintenance"
    second = await process(ctx, attempts=1)
    assert second.action == "retry" and second.delay >= 40
    assert rows(ctx) == []
    assert (await process(ctx, attempts=2)).action == "ack" and len(ctx.itty.jobs) == 4  # web, mobile, thumbnail, hls


async def test_an_account_problem_retries_and_another_refusal_fails_the_media():
    ctx = make_context()
    ctx.itty.probe_fail_next = [TransportResponse.json(401, {"message": "bad key"})]
    insert_media(ctx, MEDIA)
    assert (await process(ctx)).action == "retry"
    ctx.itty.probe_fail_next = [TransportResponse.json(400, {"kind": "invalid_input", "message": "unsupported input"})]
    assert (await process(ctx)).what == "unreadable"
    (media,) = rows(ctx, "media")
    assert media["status"] == "failed"
    assert media["error"] == "the source could not be read: Ittybit rejected the probe (400 invalid_input): unsupported input"
    assert requests(ctx, "/jobs") == []


async def test_a_forgotten_task_is_created_again_under_the_same_key():
    ctx = make_context()
    ctx.itty.probe_status = "processing"
    insert_media(ctx, MEDIA)
    await process(ctx)
    ctx.itty.tasks.clear()
    ctx.itty.task_keys.clear()
    ctx.itty.probe_status = "completed"
    assert (await process(ctx)).action == "ack"
    keys = {r.headers.get("idempotency-key") for r in requests(ctx, "/tasks") if r.method == "POST"}
    assert keys == {idempotency_key(MEDIA, "probe", int(NOW * 1000))}
    assert rows(ctx, "media_probes")[0]["status"] == "completed"


async def test_a_one_pixel_video_fails_its_video_renditions_with_the_reason():
    ctx = make_context()
    ctx.itty.probe_file = {**PROBE_FILE, "width": 1, "height": 1}
    insert_media(ctx, MEDIA)
    await process(ctx)
    by_name = {r["name"]: r for r in rows(ctx)}
    assert by_name["web"]["status"] == by_name["mobile"]["status"] == "failed"
    assert "too small for a 4:2:0 video rendition" in by_name["web"]["error"]
    assert sizes(ctx) == {"thumbnail": (1, 1)}


async def test_without_the_probe_the_boxes_are_sent():
    ctx = make_context(probe_sources=False)
    insert_media(ctx, MEDIA)
    await process(ctx)
    assert requests(ctx, "/tasks") == []
    assert job_options(ctx)["web"] == {"format": "mp4", "quality": "high", "width": 1920, "height": 1080, "fit": "contain"}


def test_the_probe_switch_is_read_from_the_env():
    class Env:
        PROBE_SOURCES = "false"

    assert settings_from_env(Env()).probe_sources is False
    assert settings_from_env(object()).probe_sources is True
    Env.PROBE_SOURCES = "maybe"
    try:
        settings_from_env(Env())
    except ValueError as error:
        assert "PROBE_SOURCES" in str(error)
    else:
        raise AssertionError("a bad PROBE_SOURCES must be refused")


async def test_a_probe_that_never_finished_is_requeued_by_the_reconcile_and_named_by_the_dead_letter():
    ctx = make_context(reconcile_after_seconds=60)
    ctx.itty.probe_fail_next = [TransportResponse.json(503, {"message": "unavailable"})]
    insert_media(ctx, MEDIA)
    assert (await process(ctx)).action == "retry"
    ctx.clock = lambda: NOW + 120
    result = await reconcile(ctx)
    assert result.requeued == 1 and ctx.jobs.sent[-1]["media_id"] == MEDIA
    # Past the give-up age, the dead letter fails it with the probe's note.
    ctx.clock = lambda: NOW + ctx.settings.give_up_after_seconds + 1
    assert await give_up(ctx, parse_message(MESSAGE), 6) == "failed"
    assert rows(ctx, "media")[0]["error"] == "gave up after 6 attempts: probing the source: unavailable"


# Reading Ittybit's probe answer (both shapes), and that any JSON is read without error.


FILE = {
    "object": "file", "kind": "video", "format": "mp4", "width": 1080, "height": 1920, "rotation": 90,
    "duration": 2.0, "fps": 29.97, "codec": "h264", "audio_codec": "aac", "filesize": 12345,
}


def test_a_completed_task_with_a_file_output():
    result = read_probe({"id": "task_1", "object": "task", "kind": "probe", "status": "completed", "error": None,
                         "output": FILE})
    assert result == ProbeResult("task_1", "completed", None, SourceInfo(1080, 1920, 90, 2.0, 29.97, "h264", "aac", "mp4"))
    assert result.is_final


def test_a_bare_file_object():
    result = read_probe({**FILE, "id": "file_1"})
    assert result.status == "completed" and result.source.width == 1080 and result.source.video_codec == "h264"
    # No "object", no status: still a file when it carries a file's fields.
    assert read_probe({"width": 640, "height": 480}).source == SourceInfo(640, 480)


def test_codecs_object_fps_fraction_and_negative_rotation():
    result = read_probe({"status": "succeeded", "output": [{"width": "1920", "height": 1080.0, "rotation": -90,
                                                             "frame_rate": "30000/1001",
                                                             "codecs": {"video": "HEVC", "audio": "opus"}}]})
    assert result.source == SourceInfo(1920, 1080, 270, None, 29.97, "hevc", "opus")


def test_an_orientation_that_contradicts_the_sides_swaps_them():
    # Some APIs give the stored size and a rotation; their orientation word tells the displayed one.
    assert read_probe({**FILE, "width": 1920, "height": 1080, "orientation": "portrait"}).source.width == 1080
    assert read_probe({**FILE, "width": 1080, "height": 1920, "orientation": "portrait"}).source.width == 1080


def test_failed_and_still_running_tasks():
    failed = read_probe({"id": "task_2", "status": "failed",
                         "error": {"message": "/data/inputs/task_2/input: Invalid data found when processing input"}})
    assert failed == ProbeResult("task_2", "failed", "<path>: Invalid data found when processing input")
    assert read_probe({"id": "t", "status": "failed"}).error == "the source could not be probed"
    assert read_probe({"id": "t", "status": "processing"}) == ProbeResult("t", "processing")
    assert read_probe({"id": "t", "status": "queued"}).status == "pending"
    assert not read_probe({"id": "t", "status": "pending"}).is_final


@pytest.mark.parametrize(
    "fields",
    [
        {"width": 0, "height": 10},
        {"width": -5, "height": 10},
        {"width": 1.5, "height": 10},
        {"width": True, "height": 10},
        {"width": 10 ** 9, "height": 10},
        {"width": 640},  # one side alone sizes nothing
        {"width": "wide", "height": "tall"},
    ],
)
def test_nonsense_sizes_are_unknown(fields):
    source = read_probe({"object": "file", **fields}).source
    assert (source.width, source.height) == (None, None)


def test_nonsense_other_fields_are_unknown():
    source = read_probe({"object": "file", "width": 2, "height": 2, "duration": -1, "fps": "0/0", "rotation": 45,
                         "codec": "h264; rm -rf /", "format": "x" * 100}).source
    assert source == SourceInfo(2, 2)


@pytest.mark.parametrize(
    ("value", "fps"),
    [(25, 25.0), ("30", 30.0), ("30000/1001", 29.97), ("24000/1001", 23.976), (0, None), ("1/0", None),
     ("nan", None), (float("inf"), None), (5000, None), ("a/b", None), (None, None), ([30], None)],
)
def test_parse_fps(value, fps):
    assert parse_fps(value) == fps


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)


_keys = st.sampled_from(["id", "object", "status", "error", "output", "width", "height", "rotation", "duration",
                         "fps", "frame_rate", "codec", "audio_codec", "codecs", "format", "orientation", "file"])


_probe_like = st.recursive(
    _json,
    lambda children: st.dictionaries(_keys, children, max_size=10),
    max_leaves=40,
)


@given(_json | _probe_like)
def test_any_json_is_read_without_error_into_sane_values(obj):
    result = read_probe(obj)
    assert result.status in ("pending", "processing", "completed", "failed")
    assert (result.source is not None) == (result.status == "completed")
    if result.status == "failed":
        assert result.error and "\n" not in result.error
    source = result.source
    if source is not None:
        assert (source.width is None) == (source.height is None)
        if source.width is not None:
            assert 0 < source.width <= 1 << 20 and 0 < source.height <= 1 << 20
            assert isinstance(source.width, int) and isinstance(source.height, int)
        assert source.rotation in (0, 90, 180, 270)
        assert source.duration is None or (math.isfinite(source.duration) and source.duration >= 0)
        assert source.fps is None or 0 < source.fps <= 1000
        for name in (source.video_codec, source.audio_codec, source.format):
            assert name is None or (len(name) <= 64 and " " not in name)
