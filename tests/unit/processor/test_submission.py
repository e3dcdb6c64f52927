import pytest

from processor.ittybit_client import idempotency_key
from processor.ittybit_client import TransportResponse
from processor.queue_consumer import handle_message
from tests.unit.fakes import NOW, insert_media, make_context, submit

MEDIA = "01aaaaaaaaaaaaaaaaaaaaaaaa"


def renditions(ctx):
    return {r["name"]: r for r in ctx.db.rows("SELECT * FROM renditions WHERE media_id = ?", MEDIA)}


def media(ctx):
    return ctx.db.rows("SELECT * FROM media WHERE id = ?", MEDIA)[0]


async def test_one_job_per_preset_with_deterministic_keys_and_signed_input():
    ctx = make_context()
    insert_media(ctx, MEDIA)
    result = await submit(ctx, MEDIA)
    assert result.submitted == 4 and not result.retry
    rows = renditions(ctx)
    assert set(rows) == {"web", "mobile", "thumbnail", "hls"}
    assert all(r["status"] == "processing" and r["job_id"] for r in rows.values())
    assert rows["web"]["output_key"] == f"renditions/{MEDIA}/web.mp4"
    assert rows["hls"]["output_key"] == f"renditions/{MEDIA}/hls/master.m3u8"
    assert rows["hls"]["kind"] == "adaptive_video"
    requests = ctx.itty.transport.requests
    assert sorted(r.headers["idempotency-key"] for r in requests) == sorted(
        idempotency_key(MEDIA, n, int(NOW * 1000)) for n in ("web", "mobile", "thumbnail", "hls"))
    # Quickest first, so the thumbnail is not queued behind the 1080p MP4 at Ittybit.
    assert [r.json()["metadata"]["rendition"] for r in requests] == ["thumbnail", "mobile", "hls", "web"]
    body = requests[0].json()
    assert body["metadata"] == {"media_id": MEDIA, "rendition": "thumbnail"}
    assert body["webhook_url"] == "https://proc.test/webhooks/ittybit"
    assert body["input"].startswith(f"https://api.test/files/originals/{MEDIA}?expires=")
    assert media(ctx)["status"] == "processing"


async def test_a_redelivered_message_creates_no_second_job():
    ctx = make_context()
    insert_media(ctx, MEDIA)
    await submit(ctx, MEDIA)
    await submit(ctx, MEDIA)
    assert len(ctx.itty.jobs) == 4  # web, mobile, thumbnail, hls
    assert len(ctx.itty.transport.requests) == 4  # renditions with a job id are not submitted again


async def test_rate_limited_rendition_is_retried_with_retry_after_then_submitted_once():
    ctx = make_context()
    insert_media(ctx, MEDIA)
    ctx.itty.fail_next = [TransportResponse.json(429, {"kind": "rate_limited", "message": "slow down"},
                                                 {"retry-after": "30"})]
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 1, "media-pipeline-jobs")
    assert decision.action == "retry" and decision.delay >= 30
    rows = renditions(ctx)
    assert sum(1 for r in rows.values() if r["job_id"] is None) == 1
    pending = next(r for r in rows.values() if r["job_id"] is None)
    assert pending["attempts"] == 1 and "slow down" in pending["error"]
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 2, "media-pipeline-jobs")
    assert decision.action == "ack"
    assert len(ctx.itty.jobs) == 4  # web, mobile, thumbnail, hls
    assert all(r["job_id"] for r in renditions(ctx).values())


async def test_server_errors_and_network_failures_retry_with_backoff():
    ctx = make_context()
    insert_media(ctx, MEDIA, kind="audio")
    ctx.itty.fail_next = [TransportResponse.json(503, {"kind": "server_error", "message": "down"})]
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 3, "q")
    assert decision.action == "retry" and decision.delay == 8


async def test_retry_max_seconds_caps_the_backoff():
    ctx = make_context(retry_max_seconds=5)
    insert_media(ctx, MEDIA, kind="audio")
    ctx.itty.fail_next = [TransportResponse.json(503, {"kind": "server_error", "message": "down"})]
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 3, "q")
    assert decision.action == "retry" and decision.delay == 5


async def test_a_rejected_job_fails_its_rendition_with_ittybits_message():
    ctx = make_context()
    insert_media(ctx, MEDIA, kind="audio")
    ctx.itty.fail_next = [TransportResponse.json(400, {"kind": "invalid_input", "message": "bad option"})]
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 1, "q")
    assert decision.action == "ack"
    row = renditions(ctx)["web"]
    assert row["status"] == "failed" and "bad option" in row["error"]
    assert media(ctx)["status"] == "failed" and "web: " in media(ctx)["error"]
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "failed"


@pytest.mark.parametrize("status", [401, 402, 403])
async def test_an_account_problem_retries_instead_of_failing(status):
    ctx = make_context()
    insert_media(ctx, MEDIA, kind="audio")
    ctx.itty.fail_next = [TransportResponse.json(status, {"kind": "unauthorized", "message": "bad key"})]
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 1, "q")
    assert decision.action == "retry"
    assert renditions(ctx)["web"]["status"] == "pending"


async def test_a_deleted_media_is_acked_and_ignored():
    ctx = make_context()
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 1, "q")
    assert decision == decision.ack("missing")
    assert ctx.itty.transport.requests == []


async def test_an_unexpected_error_retries_that_message_only():
    ctx = make_context()
    insert_media(ctx, MEDIA)

    async def boom(*args, **kwargs):
        raise RuntimeError("d1 down")

    ctx.itty.transport.handler = None
    ctx.client.create_job = boom
    decision = await handle_message(ctx, {"type": "media.process", "media_id": MEDIA, "r2_key": "x"}, 1, "q")
    assert decision.action == "retry" and decision.delay == 2


async def test_s3_input_mode_sends_the_connection():
    ctx = make_context(input_mode="s3", connection_id="con_1", bucket="media-pipeline")
    insert_media(ctx, MEDIA, kind="audio")
    await submit(ctx, MEDIA)
    body = ctx.itty.transport.requests[0].json()
    assert body["input"] == f"s3://media-pipeline/originals/{MEDIA}" and body["connection_id"] == "con_1"
