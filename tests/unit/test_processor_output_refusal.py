"""A refused output URL fails its rendition at once with a reason naming the host only, and
no output URL reaches renditions.error, media.error or the log."""

from processor.output_urls import OutputRefused
from processor.queue_consumer import handle_message
from processor.webhook_handler import handle_webhook
from processor.webhook_signature import sign
from tests.unit.processor_fakes import NOW, SECRET, insert_media, make_context, submit

import json

MEDIA = "01cccccccccccccccccccccccc"
SECRET_PATH = "/private/job/output.mp3?X-Amz-Signature=s3cr3t"


async def _completed_with(url, logs=None):
    """An audio media item (one rendition, `web`) whose job Ittybit reports done at `url`."""
    ctx = make_context()
    if logs is not None:
        ctx.log = logs.append
    insert_media(ctx, MEDIA, kind="audio")
    await submit(ctx, MEDIA)
    job_id = ctx.db.rows("SELECT job_id FROM renditions WHERE media_id = ?", MEDIA)[0]["job_id"]
    raw = json.dumps(ctx.itty.finish(job_id, url)).encode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW)),
               "webhook-signature": sign(SECRET, "msg_1", int(NOW), raw)}
    answer = await handle_webhook(ctx, headers, raw)
    assert answer["result"] == "store_queued"  # a 200: errors raise HttpError
    return ctx


async def _consume(ctx):
    sent, ctx.jobs.sent = ctx.jobs.sent, []
    return [await handle_message(ctx, body, 1, "media-pipeline-jobs") for body in sent]


def _rendition(ctx):
    return ctx.db.rows("SELECT * FROM renditions WHERE media_id = ?", MEDIA)[0]


def _media(ctx):
    return ctx.db.rows("SELECT * FROM media WHERE id = ?", MEDIA)[0]


async def test_an_output_on_another_host_fails_the_rendition_without_fetching_it():
    ctx = await _completed_with(f"https://evil.example{SECRET_PATH}")  # nothing in storage.outputs: a fetch would raise
    decisions = await _consume(ctx)
    assert [(d.action, d.what) for d in decisions] == [("ack", "output_refused")]
    row = _rendition(ctx)
    assert row["status"] == "failed"
    assert row["error"] == "output refused: the output host evil.example is not in ITTYBIT_OUTPUT_HOSTS"
    assert _media(ctx)["status"] == "failed" and "evil.example" in _media(ctx)["error"]
    assert "s3cr3t" not in _media(ctx)["error"] and "/private" not in _media(ctx)["error"]
    assert not any(key.startswith("renditions/") for key in ctx.storage.objects)
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "failed"


async def test_plain_http_and_our_own_api_host_are_refused():
    for url in (f"http://out.test{SECRET_PATH}", f"https://api.test/files/originals/01x?expires=1&signature=s3cr3t"):
        ctx = await _completed_with(url)
        assert [d.what for d in await _consume(ctx)] == ["output_refused"]
        assert _rendition(ctx)["status"] == "failed" and "s3cr3t" not in _rendition(ctx)["error"]


async def test_a_refusal_from_the_fetch_itself_fails_the_rendition():
    # R2Storage raises OutputRefused for a redirect off the host or a declared length over the limit.
    ctx = await _completed_with(f"https://out.test{SECRET_PATH}")
    ctx.storage.fail_fetch = OutputRefused("the output on out.test answered HTTP 302, a redirect to evil.example"
                                           " (redirects are followed only within the same host)")
    assert [d.what for d in await _consume(ctx)] == ["output_refused"]
    row = _rendition(ctx)
    assert row["status"] == "failed" and "HTTP 302, a redirect to evil.example" in row["error"]
    assert _media(ctx)["status"] == "failed"


async def test_a_refusal_leaves_a_final_rendition_alone():
    ctx = await _completed_with(f"https://evil.example{SECRET_PATH}")
    store = ctx.jobs.sent[:]
    ctx.db.conn.execute("UPDATE renditions SET status = 'completed' WHERE media_id = ?", (MEDIA,))
    ctx.jobs.sent = store
    assert [d.what for d in await _consume(ctx)] == ["already_final"]
    assert _rendition(ctx)["status"] == "completed"


async def test_failed_copies_log_the_output_host_only():
    logs = []
    ctx = await _completed_with(f"https://out.test{SECRET_PATH}", logs)
    ctx.storage.fail_fetch = OSError(f"network lost while reading https://out.test{SECRET_PATH}")
    assert [d.action for d in await _consume(ctx)] == ["retry"]
    logged = "\n".join(logs)
    assert "<out.test>" in logged
    assert "s3cr3t" not in logged and "/private" not in logged
