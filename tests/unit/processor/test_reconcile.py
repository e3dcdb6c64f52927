from processor.ittybit_client import RejectedError
from processor.reconcile import reconcile
from tests.unit.fakes import NOW, insert_media, make_context, submit

MEDIA = "01cccccccccccccccccccccccc"


async def finished_job_without_a_webhook():
    """An audio item submitted at NOW whose one job Ittybit has finished (no webhook came): ctx, job id."""
    ctx = make_context(reconcile_after_seconds=60)
    insert_media(ctx, MEDIA, kind="audio")
    await submit(ctx, MEDIA)
    job_id = ctx.db.rows("SELECT job_id FROM renditions")[0]["job_id"]
    ctx.itty.finish(job_id, "https://out.test/o")
    return ctx, job_id


async def test_a_job_whose_webhook_never_came_is_read_back_and_its_copy_queued():
    ctx, job_id = await finished_job_without_a_webhook()
    assert (await reconcile(ctx)).jobs_checked == 0  # too recent
    ctx.clock = lambda: NOW + 61
    result = await reconcile(ctx)
    assert result.jobs_checked == 1 and result.outcomes == {"store_queued": 1}
    assert ctx.jobs.sent[-1]["type"] == "rendition.store" and ctx.jobs.sent[-1]["job_id"] == job_id


async def test_a_completed_job_whose_copy_is_under_way_is_not_copied_twice_until_the_copy_may_be_lost():
    ctx, _ = await finished_job_without_a_webhook()
    ctx.clock = lambda: NOW + 61
    assert (await reconcile(ctx)).outcomes == {"store_queued": 1}
    stores = [m for m in ctx.jobs.sent if m["type"] == "rendition.store"]
    ctx.clock = lambda: NOW + 90  # the copy is still queued (slow, not lost): asking again copies nothing
    assert (await reconcile(ctx)).outcomes == {"store_pending": 1}
    assert [m for m in ctx.jobs.sent if m["type"] == "rendition.store"] == stores
    ctx.clock = lambda: NOW + 122  # RECONCILE_AFTER_SECONDS after it was queued: the copy may be lost
    assert (await reconcile(ctx)).outcomes == {"store_queued": 1}
    assert len([m for m in ctx.jobs.sent if m["type"] == "rendition.store"]) == len(stores) + 1


async def test_a_pending_media_is_queued_again():
    ctx = make_context(reconcile_after_seconds=60)
    insert_media(ctx, MEDIA)
    ctx.clock = lambda: NOW + 61
    result = await reconcile(ctx)
    assert result.requeued == 1
    assert ctx.jobs.sent == [{"type": "media.process", "media_id": MEDIA, "r2_key": f"originals/{MEDIA}",
                              "reason": "reconcile"}]
    queued = ctx.db.rows("SELECT type, data FROM events WHERE media_id = ?", MEDIA)
    assert queued == [{"type": "media.queued", "data": '{"reason":"reconcile","why":"still pending"}'}]
    ctx.clock = lambda: NOW + 122
    await reconcile(ctx)  # a later pass that sends it again is a later entry on the timeline
    assert len(ctx.db.rows("SELECT id FROM events WHERE type = 'media.queued'")) == 2


async def test_a_job_ittybit_no_longer_knows_is_submitted_again():
    ctx = make_context(reconcile_after_seconds=60)
    insert_media(ctx, MEDIA, kind="audio")
    await submit(ctx, MEDIA)
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
    [queued] = ctx.db.rows("SELECT data FROM events WHERE type = 'media.queued'")
    assert "Ittybit lost the" in queued["data"]
    await submit(ctx, MEDIA)
    new_job = ctx.db.rows("SELECT job_id FROM renditions")[0]["job_id"]
    assert new_job is not None and list(ctx.itty.jobs) == [new_job]  # created again, once
    assert ctx.db.rows("SELECT status FROM media")[0]["status"] == "processing"


async def test_a_job_lost_again_and_again_is_not_submitted_again_past_the_give_up_age():
    ctx = make_context(reconcile_after_seconds=60, give_up_after_seconds=3600)
    insert_media(ctx, MEDIA, kind="audio")
    await submit(ctx, MEDIA)
    clock = NOW
    for _ in range(3):  # Ittybit forgets each job: each is made again while the rendition is young
        clock += 61
        ctx.clock = lambda at=clock: at
        ctx.itty.jobs.clear()
        ctx.itty.by_key.clear()
        assert (await reconcile(ctx)).lost_jobs == 1
        await submit(ctx, MEDIA)
        assert ctx.db.rows("SELECT status FROM renditions")[0]["status"] == "processing"
    sent = len(ctx.jobs.sent)
    ctx.clock = lambda: NOW + 3600  # the rendition is now as old as GIVE_UP_AFTER_SECONDS
    ctx.itty.jobs.clear()
    ctx.itty.by_key.clear()
    result = await reconcile(ctx)
    assert result.lost_jobs == 1 and result.errors == 0
    row = ctx.db.rows("SELECT job_id, status, error FROM renditions")[0]
    assert row["status"] == "failed" and row["job_id"] is not None
    assert row["error"].startswith(f"Ittybit no longer knows job {row['job_id']}, and the rendition was first submitted 60 min ago")
    assert len(ctx.jobs.sent) == sent  # no media.process message: nothing submitted again
    assert ctx.db.rows("SELECT status FROM media")[0]["status"] == "failed"


def _rendition(ctx, media_id, name, status, error=None):
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, status, error, created_at, updated_at)"
        " VALUES (?, ?, 'video', '{}', ?, ?, 1, 1)", (media_id, name, status, error))


async def test_a_media_left_processing_with_every_rendition_final_gets_its_status():
    ctx = make_context(reconcile_after_seconds=60)
    failed = "01dddddddddddddddddddddddd"
    busy = "01eeeeeeeeeeeeeeeeeeeeeeee"
    for media_id in (MEDIA, failed, busy):
        insert_media(ctx, media_id, status="processing")
    _rendition(ctx, MEDIA, "web", "completed")
    _rendition(ctx, MEDIA, "thumbnail", "completed")
    _rendition(ctx, failed, "web", "completed")
    _rendition(ctx, failed, "thumbnail", "failed", "no video stream")
    _rendition(ctx, busy, "web", "completed")
    _rendition(ctx, busy, "thumbnail", "processing")  # the stuck-job poll's business, not this repair's
    ctx.clock = lambda: NOW + 61
    result = await reconcile(ctx)
    assert result.repaired == 2
    statuses = {r["id"]: (r["status"], r["error"]) for r in ctx.db.rows("SELECT id, status, error FROM media")}
    assert statuses == {MEDIA: ("completed", None), failed: ("failed", "thumbnail: no video stream"),
                        busy: ("processing", None)}
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "completed"
    assert (await reconcile(ctx)).repaired == 0


async def _submit(ctx, media_id, at):
    ctx.clock = lambda: at
    insert_media(ctx, media_id, kind="audio")
    await submit(ctx, media_id)
    return ctx.db.rows("SELECT job_id FROM renditions WHERE media_id = ?", media_id)[0]["job_id"]


def _media_id(n: int) -> str:
    return f"01{n:024d}"


async def test_jobs_that_never_settle_do_not_starve_a_newer_job_whose_webhook_was_lost():
    ctx = make_context(reconcile_after_seconds=60)
    stuck = [await _submit(ctx, _media_id(n), NOW) for n in range(60)]
    for job_id in stuck:
        ctx.itty.jobs[job_id]["status"] = "processing"  # Ittybit says so forever
    newer = await _submit(ctx, _media_id(99), NOW + 10)
    ctx.itty.finish(newer, "https://out.test/new")  # done, but its webhook never came
    polled = []
    for run in (1, 2):
        ctx.clock = lambda: NOW + 600 + run * 300
        result = await reconcile(ctx)
        assert result.jobs_checked == 50
        polled.append(result.outcomes)
    # Run 1: the 50 oldest. Run 2: the 11 never polled first (the newer job among them), then 39 more.
    assert polled == [{"processing": 50}, {"processing": 49, "store_queued": 1}]
    assert ctx.jobs.sent[-1]["type"] == "rendition.store" and ctx.jobs.sent[-1]["job_id"] == newer
    polls = ctx.db.rows("SELECT polls, COUNT(*) AS n FROM job_polls GROUP BY polls ORDER BY polls")
    assert polls == [{"polls": 1, "n": 22}, {"polls": 2, "n": 39}]  # every one of the 61 jobs polled


async def test_a_job_past_its_poll_bound_is_given_up_with_a_reason_and_its_media_fails():
    ctx = make_context(reconcile_after_seconds=60, reconcile_max_polls=3)
    job_id = await _submit(ctx, MEDIA, NOW)
    ctx.itty.jobs[job_id]["status"] = "processing"
    for run in (1, 2):
        ctx.clock = lambda: NOW + 60 + run * 300
        assert (await reconcile(ctx)).given_up == 0
        assert ctx.db.rows("SELECT status FROM renditions")[0]["status"] == "processing"
    ctx.clock = lambda: NOW + 60 + 3 * 300
    assert (await reconcile(ctx)).given_up == 1
    row = ctx.db.rows("SELECT status, error FROM renditions")[0]
    assert row["status"] == "failed"
    assert row["error"].startswith(f"gave up on Ittybit job {job_id} after 3 poll(s)")
    assert "still reports it processing" in row["error"] and "://" not in row["error"]
    media = ctx.db.rows("SELECT status, error FROM media")[0]
    assert media["status"] == "failed" and f"web: gave up on Ittybit job {job_id}" in media["error"]
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "failed"
    assert ctx.db.rows("SELECT * FROM job_polls") == []  # pruned: the job is no longer open
    assert (await reconcile(ctx)).jobs_checked == 0


async def test_a_job_whose_poll_keeps_failing_is_given_up_once_older_than_the_give_up_age():
    ctx = make_context(reconcile_after_seconds=60, give_up_after_seconds=3600)
    job_id = await _submit(ctx, MEDIA, NOW)

    async def refused(job):
        raise RejectedError("key revoked, see https://ittybit.test/keys", status=403, kind="forbidden")

    ctx.client.get_job = refused
    ctx.clock = lambda: NOW + 3599
    result = await reconcile(ctx)
    assert (result.errors, result.given_up) == (1, 0)
    ctx.clock = lambda: NOW + 3600
    result = await reconcile(ctx)
    assert (result.errors, result.given_up) == (1, 1)
    error = ctx.db.rows("SELECT error FROM renditions")[0]["error"]
    assert error == f"gave up on Ittybit job {job_id} after 2 poll(s) over 60 min without a final status " \
                    "(GET /jobs answered 403)"
    assert ctx.db.rows("SELECT status FROM media")[0]["status"] == "failed"
