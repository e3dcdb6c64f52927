from processor.queue_consumer import handle_message
from processor.r2_notifications import media_id_for_key
from tests.unit.processor_fakes import make_context

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200


def notification(key, action="PutObject", size=len(PNG)):
    return {"account": "local", "action": action, "bucket": "media-pipeline",
            "object": {"key": key, "size": size, "eTag": "e"}, "eventTime": "2026-01-01T00:00:00Z"}


async def test_a_direct_upload_becomes_media_under_originals_and_is_submitted():
    ctx = make_context()
    ctx.storage.objects["uploads/cat.png"] = (PNG, "image/png")
    decision = await handle_message(ctx, notification("uploads/cat.png"), 1, "media-pipeline-jobs")
    assert decision.action == "ack" and decision.what == "submitted"
    media_id = media_id_for_key("media-pipeline", "uploads/cat.png")
    row = ctx.db.rows("SELECT * FROM media WHERE id = ?", media_id)[0]
    assert row["r2_key"] == f"originals/{media_id}" and row["source"] == "r2" and row["kind"] == "image"
    assert row["name"] == "cat.png" and row["size"] == len(PNG) and row["content_type"] == "image/png"
    assert "uploads/cat.png" not in ctx.storage.objects
    assert ctx.storage.objects[f"originals/{media_id}"][0] == PNG
    assert len(ctx.itty.jobs) == 2  # large + thumbnail
    assert all(f"/files/originals/{media_id}?" in job["input"] for job in ctx.itty.jobs.values())
    # Redelivered (or reordered after the move): same record, no new jobs.
    again = await handle_message(ctx, notification("uploads/cat.png"), 1, "media-pipeline-jobs")
    assert again.action == "ack"
    assert len(ctx.db.rows("SELECT * FROM media")) == 1 and len(ctx.itty.jobs) == 2


async def test_a_copy_done_before_a_crash_is_finished_by_a_reconcile_message():
    ctx = make_context()
    ctx.storage.objects["uploads/a/b.png"] = (PNG, "image/png")
    media_id = media_id_for_key("media-pipeline", "uploads/a/b.png")
    ctx.db.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, source, created_at, updated_at)"
        " VALUES (?, 'uploads/a/b.png', 'a/b.png', 'image/png', 'image', 1, 'r2', 1, 1)", (media_id,))
    decision = await handle_message(ctx, {"type": "media.process", "media_id": media_id, "r2_key": "uploads/a/b.png",
                                          "reason": "reconcile"}, 1, "media-pipeline-jobs")
    assert decision.what == "submitted"
    assert ctx.db.rows("SELECT r2_key FROM media")[0]["r2_key"] == f"originals/{media_id}"
    assert set(ctx.storage.objects) == {f"originals/{media_id}"}


async def test_unsupported_files_deletes_and_other_prefixes_are_ignored():
    ctx = make_context()
    ctx.storage.objects["uploads/notes.txt"] = (b"hello world, not media", "text/plain")
    assert (await handle_message(ctx, notification("uploads/notes.txt"), 1, "q")).what == "unsupported"
    assert (await handle_message(ctx, notification("uploads/x.png", action="DeleteObject"), 1, "q")).what == "ignored_notification"
    assert (await handle_message(ctx, notification("renditions/x/web.mp4"), 1, "q")).what == "ignored_notification"
    assert (await handle_message(ctx, notification("uploads/gone.png"), 1, "q")).what == "gone"
    assert ctx.db.rows("SELECT * FROM media") == [] and ctx.itty.jobs == {}
    assert "uploads/notes.txt" in ctx.storage.objects
