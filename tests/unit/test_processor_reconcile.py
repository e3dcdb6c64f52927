from processor.dead_letters import give_up
from processor.reconcile import reconcile
from processor.submission import submit_renditions
from tests.unit.processor_fakes import NOW, insert_media, make_context

MEDIA = "01cccccccccccccccccccccccc"


async def test_a_job_whose_webhook_never_came_is_read_back_and_its_copy_queued():
    ctx = make_context(reconcile_after_seconds=60)
    insert_media(ctx, MEDIA, kind="audio")
    await submit_renditions(ctx, MEDIA)
    job_id = ctx.db.rows("SELECT job_id FROM renditions")[0]["job_id"]
    ctx.itty.finish(job_id, "https://out.test/o")
    assert (await reconcile(ctx)).jobs_checked == 0  # too recent
    ctx.clock = lambda: NOW + 61
    result = await reconcile(ctx)
    assert result.jobs_checked == 1 and result.outcomes == {"store_queued": 1}
    assert ctx.jobs.sent[-1]["type"] == "rendition.store" and ctx.jobs.sent[-1]["job_id"] == job_id


async def test_a_pending_media_is_queued_again():
    ctx = make_context(reconcile_after_seconds=60)
    insert_media(ctx, MEDIA)
    ctx.clock = lambda: NOW + 61
    result = await reconcile(ctx)
    assert result.requeued == 1
    assert ctx.jobs.sent == [{"type": "media.process", "media_id": MEDIA, "r2_key": f"originals/{MEDIA}",
                              "reason": "reconcile"}]


async def test_a_dead_letter_fails_the_media_with_the_last_error_unless_final():
    ctx = make_context(give_up_after_seconds=3600)
    ctx.clock = lambda: NOW + 3600  # the media is an hour old: past GIVE_UP_AFTER_SECONDS
    insert_media(ctx, MEDIA, kind="audio")
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, attempts, error, created_at, updated_at)"
        " VALUES (?, 'web', 'audio', '{}', 7, 'rate limited', 1, 1)", (MEDIA,))
    body = {"type": "media.process", "media_id": MEDIA, "r2_key": "x", "reason": "upload"}
    assert await give_up(ctx, body, 1) == "failed"
    row = ctx.db.rows("SELECT status, error FROM media")[0]
    assert row == {"status": "failed", "error": "gave up after 7 attempts: rate limited"}
    assert ctx.db.rows("SELECT status FROM renditions")[0]["status"] == "failed"
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "failed"
    assert await give_up(ctx, body, 1) == "already_final"
    assert await give_up(ctx, {"junk": 1}, 1) == "unknown"


async def test_a_dead_letter_leaves_young_media_for_the_reconcile_which_queues_it_again():
    ctx = make_context(give_up_after_seconds=3600, reconcile_after_seconds=60)
    insert_media(ctx, MEDIA, kind="audio", status="processing")
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, attempts, error, created_at, updated_at)"
        " VALUES (?, 'web', 'audio', '{}', 7, 'ittybit: HTTP 503', 1, 1)", (MEDIA,))
    body = {"type": "media.process", "media_id": MEDIA, "r2_key": "x", "reason": "upload"}
    ctx.clock = lambda: NOW + 3599  # one second short of GIVE_UP_AFTER_SECONDS
    assert await give_up(ctx, body, 7) == "left_for_reconcile"
    assert ctx.db.rows("SELECT status FROM media")[0]["status"] == "processing"
    assert ctx.db.rows("SELECT status FROM renditions")[0]["status"] == "pending"
    result = await reconcile(ctx)
    assert result.requeued == 1
    assert ctx.jobs.sent[-1]["media_id"] == MEDIA and ctx.jobs.sent[-1]["reason"] == "reconcile"


async def test_a_job_ittybit_no_longer_knows_is_submitted_again():
    ctx = make_context(reconcile_after_seconds=60)
    insert_media(ctx, MEDIA, kind="audio")
    await submit_renditions(ctx, MEDIA)
    old_job = ctx.db.rows("SELECT job_id FROM renditions")[0]["job_id"]
    ctx.itty.jobs.clear()  # Ittybit forgot it (the emulator restarted, say): GET /jobs/{id} is a 404
    ctx.itty.by_key.clear()
    ctx.clock = lambda: NOW + 61
    result = await reconcile(ctx)
    assert result.lost_jobs == 1 and result.errors == 0
    row = ctx.db.rows("SELECT job_id, status, submitted_at FROM renditions")[0]
    assert row == {"job_id": None, "status": "pending", "submitted_at": None}
    assert ctx.jobs.sent[-1] == {"type": "media.process", "media_id": MEDIA, "r2_key": f"originals/{MEDIA}",
                                 "reason": "reconcile"}
    await submit_renditions(ctx, MEDIA)
    new_job = ctx.db.rows("SELECT job_id FROM renditions")[0]["job_id"]
    assert new_job is not None and list(ctx.itty.jobs) == [new_job]  # created again, once
    assert ctx.db.rows("SELECT status FROM media")[0]["status"] == "processing"
