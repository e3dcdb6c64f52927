import json
from types import SimpleNamespace

import pytest

from common.errors import HttpError
from common.media_records import SELECT_RENDITIONS
from processor.queue_consumer import handle_message
from processor.webhook_handler import (
    MAX_WEBHOOK_BYTES,
    handle_webhook as _handle_webhook,
    parse_webhook,
    read_body,
    refuse_before_reading,
)
from processor.webhook_signature import sign
from tests.unit.fakes import NOW, SECRET, insert_media, make_context, submit


MEDIA = "01bbbbbbbbbbbbbbbbbbbbbbbb"


def signed(body: dict, webhook_id="msg_1", timestamp=int(NOW), secret=SECRET):
    raw = json.dumps(body).encode()
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, webhook_id, timestamp, raw)}, raw


def rows(ctx):
    return {r["name"]: r for r in ctx.db.rows("SELECT * FROM renditions WHERE media_id = ?", MEDIA)}


def media(ctx):
    return ctx.db.rows("SELECT * FROM media WHERE id = ?", MEDIA)[0]


async def submitted(kind="audio"):
    ctx = make_context()
    insert_media(ctx, MEDIA, kind=kind)
    await submit(ctx, MEDIA)
    return ctx


async def deliver(ctx, job, webhook_id="msg_1", **kwargs):
    headers, raw = signed(job, webhook_id, **kwargs)
    return await handle_webhook(ctx, headers, raw)


async def answer_of(call):
    """The status and JSON body a call answers: its dict (200) or the HttpError it raises."""
    try:
        return SimpleNamespace(status=200, body=await call)
    except HttpError as error:
        return SimpleNamespace(status=error.status, body=error.body())


async def handle_webhook(ctx, headers, body):
    return await answer_of(_handle_webhook(ctx, headers, body))


def refused(headers):
    """What refuse_before_reading answers: None when the body is worth reading."""
    try:
        return refuse_before_reading(headers)
    except HttpError as error:
        return SimpleNamespace(status=error.status, body=error.body())


class Stream:
    """A request body stream of `data` in 64 KiB chunks."""

    def __init__(self, data):
        self.chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
        self.cancelled = False

    def getReader(self):
        stream = self

        class Reader:
            async def read(self):
                if not stream.chunks:
                    return SimpleNamespace(done=True, value=None)
                chunk = stream.chunks.pop(0)
                return SimpleNamespace(done=False, value=SimpleNamespace(to_bytes=lambda: chunk))

            async def cancel(self):
                stream.cancelled = True

        return Reader()


async def run_queue(ctx):
    sent, ctx.jobs.sent = ctx.jobs.sent, []
    return [await handle_message(ctx, body, 1, "media-pipeline-jobs") for body in sent]


async def test_success_queues_the_copy_and_the_copy_completes_the_media():
    ctx = await submitted()
    job_id = rows(ctx)["web"]["job_id"]
    job = ctx.itty.finish(job_id, "https://out.test/web.mp3")
    ctx.storage.outputs["https://out.test/web.mp3"] = b"ID3" + b"\0" * 100
    answer = await deliver(ctx, job)
    assert answer.status == 200 and answer.body["result"] == "store_queued"
    assert rows(ctx)["web"]["status"] == "processing"  # not completed before the copy
    assert ctx.jobs.sent == [{"type": "rendition.store", "media_id": MEDIA, "rendition": "web",
                              "job_id": job_id, "output_url": "https://out.test/web.mp3"}]
    decisions = await run_queue(ctx)
    assert [d.what for d in decisions] == ["stored"]
    row = rows(ctx)["web"]
    assert row["status"] == "completed" and row["size"] == 103 and row["output_key"] == f"renditions/{MEDIA}/web.mp3"
    assert row["content_type"] == "audio/mpeg"
    assert ctx.storage.objects[f"renditions/{MEDIA}/web.mp3"][0].startswith(b"ID3")
    assert media(ctx)["status"] == "completed"
    assert ctx.kv.json(f"media:{MEDIA}")["renditions"][0]["status"] == "completed"


async def test_a_small_output_is_copied_by_the_webhook_itself_without_a_queue_hop():
    ctx = await submitted()
    job_id = rows(ctx)["web"]["job_id"]
    ctx.storage.outputs["https://out.test/small.mp3"] = b"ID3" + b"\0" * 100
    job = ctx.itty.finish(job_id, "https://out.test/small.mp3", filesize=103)
    answer = await deliver(ctx, job)
    assert answer.status == 200 and answer.body["result"] == "stored"
    assert ctx.jobs.sent == []  # no rendition.store message
    row = rows(ctx)["web"]
    assert row["status"] == "completed" and row["size"] == 103
    assert ctx.storage.objects[f"renditions/{MEDIA}/web.mp3"][0] == b"ID3" + b"\0" * 100
    assert media(ctx)["status"] == "completed"
    assert ctx.kv.json(f"media:{MEDIA}")["renditions"][0]["status"] == "completed"
    stored = ctx.db.rows("SELECT COUNT(*) AS n FROM events WHERE media_id = ? AND type = 'rendition.stored'", MEDIA)
    assert stored[0]["n"] == 1
    # Ittybit delivering it again (a new webhook id, as after a lost answer) changes nothing.
    assert (await deliver(ctx, job, webhook_id="msg_2")).body["result"] == "already_final"
    assert ctx.jobs.sent == [] and rows(ctx)["web"] == row


async def test_a_small_output_whose_copy_fails_in_the_webhook_is_queued_and_the_queue_completes_it():
    ctx = await submitted()
    logs = []
    ctx.log = logs.append
    job_id = rows(ctx)["web"]["job_id"]
    ctx.storage.outputs["https://out.test/small.mp3"] = b"ID3" + b"\0" * 100
    ctx.storage.fail_fetch = OSError("connection reset")
    answer = await deliver(ctx, ctx.itty.finish(job_id, "https://out.test/small.mp3", filesize=103))
    assert answer.status == 200 and answer.body["result"] == "store_queued"
    assert rows(ctx)["web"]["status"] == "processing"
    assert [m["type"] for m in ctx.jobs.sent] == ["rendition.store"]
    assert any("queued instead: OSError" in line for line in logs)
    ctx.storage.fail_fetch = None
    assert [d.what for d in await run_queue(ctx)] == ["stored"]
    assert rows(ctx)["web"]["status"] == "completed" and media(ctx)["status"] == "completed"


async def test_a_small_output_on_a_host_not_allowed_is_refused_by_the_webhook_without_a_fetch():
    ctx = await submitted()
    ctx.storage.fail_fetch = AssertionError("fetched")
    job = ctx.itty.finish(rows(ctx)["web"]["job_id"], "https://evil.example/o.mp3?sig=s3cr3t", filesize=10)
    answer = await deliver(ctx, job)
    assert answer.status == 200 and answer.body["result"] == "output_refused"
    row = rows(ctx)["web"]
    assert row["status"] == "failed" and "evil.example" in row["error"] and "s3cr3t" not in row["error"]
    assert ctx.jobs.sent == [] and media(ctx)["status"] == "failed"


async def test_a_repeated_webhook_id_is_200_duplicate_and_changes_nothing():
    ctx = await submitted()
    job = ctx.itty.finish(rows(ctx)["web"]["job_id"], "https://out.test/a")
    assert (await deliver(ctx, job)).status == 200
    before = (rows(ctx), media(ctx), ctx.db.rows("SELECT * FROM webhook_deliveries"))
    answer = await deliver(ctx, job)
    # Standard Webhooks senders retry (and may disable the endpoint) on any non-2xx.
    assert (answer.status, answer.body) == (200, {"received": True, "duplicate": True})
    assert len(ctx.jobs.sent) == 1
    assert (rows(ctx), media(ctx), ctx.db.rows("SELECT * FROM webhook_deliveries")) == before


def test_missing_signature_headers_are_refused_before_the_body_is_read():
    headers, _ = signed({"id": "job"})
    assert refused(headers) is None
    assert refused({k.upper(): v for k, v in headers.items()}) is None
    svix = {name.replace("webhook-", "svix-"): value for name, value in headers.items()}
    assert refused(svix) is None
    for name in headers:
        for without in ({k: v for k, v in headers.items() if k != name}, {**headers, name: " "}):
            answer = refused(without)
            assert answer is not None and (answer.status, answer.body["code"]) == (401, "invalid_signature")
    answer = refused({})
    assert answer.status == 401 and "webhook-signature" in answer.body["error"]
    too_large = refused({**headers, "content-length": str(MAX_WEBHOOK_BYTES + 1)})
    assert too_large is not None and too_large.status == 413
    assert refused({**headers, "content-length": str(MAX_WEBHOOK_BYTES)}) is None


async def test_bad_signatures_and_stale_timestamps_are_401_and_touch_nothing():
    ctx = await submitted()
    job = ctx.itty.finish(rows(ctx)["web"]["job_id"], "https://out.test/a")
    before = rows(ctx)
    for kwargs in ({"secret": "whsec_" + "d3Jvbmc="}, {"timestamp": int(NOW) - 301}, {"timestamp": int(NOW) + 301}):
        assert (await deliver(ctx, job, **kwargs)).status == 401
    headers, raw = signed(job)
    assert (await handle_webhook(ctx, {}, raw)).status == 401
    assert (await handle_webhook(ctx, headers, raw.replace(b"completed", b"failed"))).status == 401
    assert rows(ctx) == before and ctx.jobs.sent == []
    assert ctx.db.rows("SELECT * FROM webhook_deliveries") == []


async def test_bad_bodies():
    ctx = await submitted()
    headers, raw = signed({"nothing": "here"})
    assert (await handle_webhook(ctx, headers, raw)).status == 400
    # The one size check is the read's: a body over the limit is refused while it is read.
    too_long = Stream(b"x" * (MAX_WEBHOOK_BYTES + 1))
    answer = await answer_of(read_body(too_long, MAX_WEBHOOK_BYTES))
    assert (answer.status, answer.body["code"]) == (413, "too_large") and too_long.cancelled
    assert await read_body(Stream(b"x" * MAX_WEBHOOK_BYTES), MAX_WEBHOOK_BYTES) == b"x" * MAX_WEBHOOK_BYTES
    assert await read_body(None, MAX_WEBHOOK_BYTES) == b""
    signed_headers, _ = signed({"id": "job"})
    assert refused({**signed_headers, "content-length": str(MAX_WEBHOOK_BYTES + 1)}).status == 413
    assert refused({**signed_headers, "content-length": "10"}) is None and refused(signed_headers) is None


async def test_failure_is_final_and_a_late_success_cannot_undo_it():
    ctx = await submitted()
    job_id = rows(ctx)["web"]["job_id"]
    failed = dict(ctx.itty.finish(job_id, error="input is not a readable media file"))
    assert (await deliver(ctx, failed, "msg_f")).status == 200
    assert rows(ctx)["web"]["status"] == "failed"
    assert media(ctx)["status"] == "failed" and "not a readable media file" in media(ctx)["error"]
    late = ctx.itty.finish(job_id, "https://out.test/late")
    answer = await deliver(ctx, late, "msg_late")
    assert answer.status == 200 and answer.body["result"] == "already_final"
    assert rows(ctx)["web"]["status"] == "failed" and ctx.jobs.sent == []


async def test_out_of_order_processing_after_completion_changes_nothing():
    ctx = await submitted()
    job_id = rows(ctx)["web"]["job_id"]
    job = dict(ctx.itty.finish(job_id, "https://out.test/w"))
    ctx.storage.outputs["https://out.test/w"] = b"abc"
    await deliver(ctx, job, "msg_done")
    await run_queue(ctx)
    stale = {**job, "status": "processing", "output": None, "tasks": []}
    answer = await deliver(ctx, stale, "msg_old")
    assert answer.body["result"] == "already_final"
    assert rows(ctx)["web"]["status"] == "completed" and media(ctx)["status"] == "completed"


async def test_event_envelopes_and_a_webhook_before_the_job_id_was_stored():
    ctx = make_context()
    insert_media(ctx, MEDIA, kind="audio")
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, output_key, created_at, updated_at)"
        " VALUES (?, 'web', 'audio', '{}', ?, 1, 1)", (MEDIA, f"renditions/{MEDIA}/web.mp3"))
    event = {"id": "evt_1", "object": "event", "kind": "job.succeeded", "data": {
        "id": "job_x", "object": "job", "status": "succeeded", "output": "https://out.test/x",
        "metadata": {"media_id": MEDIA, "rendition": "web"}}}
    answer = await deliver(ctx, event)
    assert answer.body["result"] == "store_queued"
    row = rows(ctx)["web"]
    assert row["job_id"] == "job_x" and row["submitted_at"] is not None


async def test_handling_failure_forgets_the_delivery_so_the_retry_counts():
    ctx = await submitted()
    job = ctx.itty.finish(rows(ctx)["web"]["job_id"], "https://out.test/a")

    async def broken(body):
        raise RuntimeError("queue down")

    ctx.jobs.send = broken
    try:
        await deliver(ctx, job)
    except RuntimeError:
        pass
    assert ctx.db.rows("SELECT * FROM webhook_deliveries") == []


async def test_a_media_refresh_that_fails_after_a_failed_job_is_finished_by_the_webhook_retry():
    ctx = await submitted()
    job = ctx.itty.finish(rows(ctx)["web"]["job_id"], error="no audio stream")
    ctx.db.fail_once(SELECT_RENDITIONS, RuntimeError("D1_ERROR: storage reset"))
    try:
        await deliver(ctx, job)
    except RuntimeError:
        pass
    assert rows(ctx)["web"]["status"] == "failed" and media(ctx)["status"] == "processing"
    answer = await deliver(ctx, job)  # the sender retries (the delivery was forgotten)
    assert answer.body["result"] == "already_final"
    assert media(ctx)["status"] == "failed" and "no audio stream" in media(ctx)["error"]


# Parsing the webhook body (parse_webhook) and reading it (read_body).


def test_limit():
    assert MAX_WEBHOOK_BYTES == 1_048_576


def test_bare_job():
    body = json.dumps({"id": "job_1", "object": "job", "status": "succeeded", "output": "https://cdn.test/a.mp4"}).encode()
    outcome = parse_webhook(body)
    assert (outcome.job_id, outcome.status, outcome.output_url) == ("job_1", "completed", "https://cdn.test/a.mp4")


def test_bare_task():
    body = json.dumps({"id": "task_1", "object": "task", "status": "error", "error": "bad input"}).encode()
    outcome = parse_webhook(body)
    assert (outcome.job_id, outcome.task_id, outcome.status, outcome.error) == ("task_1", "task_1", "failed", "bad input")


def test_event_envelope():
    body = json.dumps({
        "id": "evt_1", "object": "event", "kind": "task.succeeded", "created_at": 1,
        "data": {"id": "task_2", "object": "task", "job_id": "job_2", "status": "succeeded", "output": {"url": "https://cdn.test/t.webp", "width": 640}},
    }).encode()
    outcome = parse_webhook(body)
    assert (outcome.job_id, outcome.status, outcome.width) == ("job_2", "completed", 640)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b"[]", b'"job"', b'{"object": "job"}', b'{"object": "event", "data": {}}'])
def test_invalid_bodies(body):
    with pytest.raises(ValueError):
        parse_webhook(body)


async def test_too_large():
    from common.errors import HttpError

    body = b'{"id": "job_1", "pad": "' + b"x" * MAX_WEBHOOK_BYTES + b'"}'
    with pytest.raises(HttpError) as caught:  # refused while read, before it is parsed
        await read_body(Stream(body), MAX_WEBHOOK_BYTES)
    assert (caught.value.status, caught.value.code) == (413, "too_large")


def test_deeply_nested_json_is_invalid_not_a_recursion_error():
    import pytest

    from processor.webhook_handler import parse_webhook

    with pytest.raises(ValueError, match="not valid JSON"):
        parse_webhook(b"[" * 100_000 + b"]" * 100_000)


# ---- events (common.events) recorded along the way, never twice --------------------------------


def event_types(ctx):
    return [r["type"] for r in ctx.db.rows("SELECT type FROM events WHERE media_id = ? ORDER BY seq", MEDIA)]


async def test_the_timeline_and_the_public_events_of_a_rendition_and_its_media_are_recorded_once():
    ctx = await submitted()
    ctx.events_queue = events_queue = type(ctx.jobs)()
    job_id = rows(ctx)["web"]["job_id"]
    job = ctx.itty.finish(job_id, "https://out.test/web.mp3")
    ctx.storage.outputs["https://out.test/web.mp3"] = b"ID3" + b"\0" * 100
    await deliver(ctx, job)
    await deliver(ctx, job, webhook_id="msg_2")  # Ittybit sends it again under another id
    await run_queue(ctx)
    expected = ["job.submitted", "ittybit.webhook", "ittybit.webhook", "rendition.stored", "rendition.ready",
                "media.ready"]
    assert event_types(ctx) == expected
    # The copy message again, and every refresh after: nothing new, nothing published twice.
    from common.messages import store_message

    await handle_message(ctx, store_message(MEDIA, "web", job_id, "https://out.test/web.mp3"), 2, "media-pipeline-jobs")
    from processor.job_status import refresh_media

    await refresh_media(ctx, MEDIA)
    assert event_types(ctx) == expected
    published = [i for m in events_queue.sent for i in m["event_ids"]]
    ready = ctx.db.rows("SELECT id, data FROM events WHERE type IN ('rendition.ready', 'media.ready') ORDER BY seq")
    assert published == [r["id"] for r in ready]
    rendition_data, media_data = (json.loads(r["data"]) for r in ready)
    assert rendition_data["rendition"]["name"] == "web" and rendition_data["rendition"]["status"] == "completed"
    assert media_data["status"] == "completed" and media_data["renditions"][0]["status"] == "completed"


async def test_a_failed_job_records_rendition_failed_and_media_failed_with_the_reason():
    ctx = await submitted()
    job = {"id": rows(ctx)["web"]["job_id"], "object": "job", "status": "failed", "error": "no audio stream",
           "metadata": {"media_id": MEDIA, "rendition": "web"}}
    await deliver(ctx, job)
    assert event_types(ctx)[-2:] == ["rendition.failed", "media.failed"]
    [failed] = ctx.db.rows("SELECT data FROM events WHERE type = 'media.failed'")
    assert "no audio stream" in json.loads(failed["data"])["error"]


async def test_a_final_status_is_written_in_one_transaction_with_its_event():
    """The media.failed insert fails: the status write is undone with it (one D1 batch), so a
    final state is never recorded without its event; the message's repeat records both."""
    ctx = await submitted()
    job = {"id": rows(ctx)["web"]["job_id"], "object": "job", "status": "failed", "error": "no audio stream",
           "metadata": {"media_id": MEDIA, "rendition": "web"}}
    from processor.job_status import refresh_media

    ctx.db.fail_once("status = COALESCE(?7, status)", RuntimeError("D1 hiccup"))
    with pytest.raises(RuntimeError, match="D1 hiccup"):
        await deliver(ctx, job)
    assert rows(ctx)["web"]["status"] == "failed"  # the rendition's own write went through
    [media] = ctx.db.rows("SELECT status FROM media WHERE id = ?", MEDIA)
    assert media["status"] != "failed" and "media.failed" not in event_types(ctx)
    await refresh_media(ctx, MEDIA)
    [media] = ctx.db.rows("SELECT status FROM media WHERE id = ?", MEDIA)
    assert media["status"] == "failed" and event_types(ctx).count("media.failed") == 1
