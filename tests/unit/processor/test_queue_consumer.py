"""processor.queue_consumer: retry delays, dead letters (give_up), and the rendition copies it runs after a webhook."""

import pytest

from common.media_records import SELECT_RENDITIONS
from common.messages import parse_message
from common.ids import media_id_for_object
from processor.queue_consumer import (
    MAX_QUEUE_DELAY,
    MAX_REQUEUES,
    REQUEUE_FIRST_DELAY,
    give_up,
    requeue_delay,
    retry_delay,
)
from processor.reconcile import reconcile
from tests.unit.fakes import NOW, insert_media, make_context
from tests.unit.processor.test_webhook_handler import MEDIA, deliver, media, rows, run_queue, submitted


@pytest.mark.parametrize(("attempts", "expected"), [(0, 2), (1, 2), (2, 4), (3, 8), (5, 32), (8, 256), (9, 300), (500, 300)])
def test_exponential_with_cap(attempts, expected):
    assert retry_delay(attempts) == expected


def test_retry_after_is_a_minimum():
    assert retry_delay(1, retry_after=30) == 30
    assert retry_delay(6, retry_after=3) == 64
    assert retry_delay(1, retry_after=0.2) == 2
    assert retry_delay(1, retry_after=7.1) == 8


def test_retry_after_may_exceed_cap_but_not_the_queue_limit():
    assert retry_delay(1, retry_after=900) == 900
    assert retry_delay(1, retry_after=10**9) == MAX_QUEUE_DELAY == 43200
    assert retry_delay(1, cap=10**6) == 2
    assert retry_delay(40, cap=10**6) == MAX_QUEUE_DELAY


def test_at_least_one_second():
    assert retry_delay(1, base=1) == 1
    assert retry_delay(3, base=0, cap=0) == 1
    assert retry_delay(1, retry_after=float("nan")) == 2
    assert retry_delay(1, retry_after=-5) == 2


# Dead letters (give_up).


async def test_a_dead_letter_fails_the_media_with_the_last_error_unless_final():
    ctx = make_context(give_up_after_seconds=3600)
    ctx.clock = lambda: NOW + 3600  # the media is an hour old: past GIVE_UP_AFTER_SECONDS
    insert_media(ctx, MEDIA, kind="audio")
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, attempts, error, created_at, updated_at)"
        " VALUES (?, 'web', 'audio', '{}', 7, 'rate limited', 1, 1)", (MEDIA,))
    body = {"type": "media.process", "media_id": MEDIA, "r2_key": "x", "reason": "upload"}
    assert await give_up(ctx, parse_message(body), 1) == "failed"
    row = ctx.db.rows("SELECT status, error FROM media")[0]
    assert row == {"status": "failed", "error": "gave up after 7 attempts: rate limited"}
    assert ctx.db.rows("SELECT status FROM renditions")[0]["status"] == "failed"
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "failed"
    assert await give_up(ctx, parse_message(body), 1) == "already_final"
    assert await give_up(ctx, parse_message({"junk": 1}), 1) == "unknown"


async def test_a_dead_letter_leaves_young_media_for_the_reconcile_which_queues_it_again():
    ctx = make_context(give_up_after_seconds=3600, reconcile_after_seconds=60)
    insert_media(ctx, MEDIA, kind="audio", status="processing")
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, attempts, error, created_at, updated_at)"
        " VALUES (?, 'web', 'audio', '{}', 7, 'ittybit: HTTP 503', 1, 1)", (MEDIA,))
    body = {"type": "media.process", "media_id": MEDIA, "r2_key": "x", "reason": "upload"}
    ctx.clock = lambda: NOW + 3599  # one second short of GIVE_UP_AFTER_SECONDS
    assert await give_up(ctx, parse_message(body), 7) == "left_for_reconcile"
    assert ctx.db.rows("SELECT status FROM media")[0]["status"] == "processing"
    assert ctx.db.rows("SELECT status FROM renditions")[0]["status"] == "pending"
    result = await reconcile(ctx)
    assert result.requeued == 1
    assert ctx.jobs.sent[-1]["media_id"] == MEDIA and ctx.jobs.sent[-1]["reason"] == "reconcile"


def _notification(**extra):
    return {"account": "a", "action": "PutObject", "bucket": "media-pipeline", "eventTime": "2026-12-01T00:00:00Z",
            "object": {"key": "uploads/clip.mp4", "size": 1234, "eTag": "abc123"}, **extra}


async def test_a_dead_lettered_notification_with_no_record_goes_back_to_the_queue_later_each_time():
    ctx = make_context()
    message = parse_message(_notification())
    assert await give_up(ctx, message, 7) == "requeued"
    [sent] = ctx.jobs.sent
    assert ctx.jobs.delays == [REQUEUE_FIRST_DELAY]
    again = parse_message(sent)
    # The same object (so the same media id when it is recorded), counted.
    assert (again.bucket, again.key, again.etag, again.size, again.requeued) == \
        (message.bucket, message.key, message.etag, message.size, 1)
    for n in range(2, MAX_REQUEUES + 1):
        assert await give_up(ctx, parse_message(ctx.jobs.sent[-1]), 7) == "requeued"
        assert parse_message(ctx.jobs.sent[-1]).requeued == n
    assert ctx.jobs.delays == [requeue_delay(n) for n in range(1, MAX_REQUEUES + 1)]
    assert ctx.jobs.delays[1] == 2 * REQUEUE_FIRST_DELAY and max(ctx.jobs.delays) == MAX_QUEUE_DELAY
    lines = []
    ctx.log = lines.append
    assert await give_up(ctx, parse_message(ctx.jobs.sent[-1]), 7) == "missing"
    assert len(ctx.jobs.sent) == MAX_REQUEUES and "uploads/clip.mp4" in lines[-1]


async def test_a_dead_lettered_notification_whose_record_exists_is_given_up_as_before():
    ctx = make_context(give_up_after_seconds=3600)
    message = parse_message(_notification())
    insert_media(ctx, media_id_for_object(message.bucket, message.key, message.etag), kind="video")
    assert await give_up(ctx, message, 7) == "left_for_reconcile"
    assert ctx.jobs.sent == []


# Rendition copies (rendition.store messages) after the webhook.


async def test_a_media_deleted_during_the_copy_leaves_no_file():
    ctx = await submitted()
    job = ctx.itty.finish(rows(ctx)["web"]["job_id"], "https://out.test/w")
    ctx.storage.outputs["https://out.test/w"] = b"abc"
    await deliver(ctx, job)

    async def delete_media():
        ctx.db.conn.execute("DELETE FROM renditions WHERE media_id = ?", (MEDIA,))
        ctx.db.conn.execute("DELETE FROM media WHERE id = ?", (MEDIA,))
        ctx.kv.data.clear()

    ctx.storage.on_store = delete_media
    decisions = await run_queue(ctx)
    assert decisions[0].what == "deleted_meanwhile"
    assert not any(key.startswith("renditions/") for key in ctx.storage.objects)
    assert f"media:{MEDIA}" not in ctx.kv.data


async def test_a_failed_copy_retries_the_message_and_notes_the_error():
    ctx = await submitted()
    job = ctx.itty.finish(rows(ctx)["web"]["job_id"], "https://out.test/w")
    await deliver(ctx, job)
    ctx.storage.fail_fetch = OSError("connection reset")
    decisions = await run_queue(ctx)
    assert decisions[0].action == "retry"
    assert "connection reset" in rows(ctx)["web"]["error"] and rows(ctx)["web"]["status"] == "processing"


async def test_a_media_refresh_that_fails_after_the_copy_is_finished_by_the_retry():
    ctx = await submitted()
    ctx.storage.outputs["https://out.test/w"] = b"ID3"
    await deliver(ctx, ctx.itty.finish(rows(ctx)["web"]["job_id"], "https://out.test/w"))
    store = ctx.jobs.sent[:]
    # One D1 failure between the rendition's final write and the media's status update.
    ctx.db.fail_once(SELECT_RENDITIONS, RuntimeError("D1_ERROR: storage reset"))
    assert [d.action for d in await run_queue(ctx)] == ["retry"]
    assert rows(ctx)["web"]["status"] == "completed" and media(ctx)["status"] == "processing"
    ctx.jobs.sent = store  # the queue delivers the message again
    assert [d.what for d in await run_queue(ctx)] == ["already_final"]
    assert media(ctx)["status"] == "completed"
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "completed"
