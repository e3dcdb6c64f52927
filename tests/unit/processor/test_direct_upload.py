import json

import pytest

from processor.queue_consumer import handle_message
from common.ids import media_id_for_key, media_id_for_object
from processor.webhook_handler import handle_webhook
from processor.webhook_signature import sign
from tests.unit.fakes import NOW, SECRET, FakeStorage, make_context

BUCKET = "media-pipeline"
QUEUE = "media-pipeline-jobs"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
PNG_A = b"\x89PNG\r\n\x1a\n" + b"A" * 200
PNG_B = b"\x89PNG\r\n\x1a\n" + b"B" * 300


def notification(key, data=PNG, action="PutObject"):
    """What R2 sends for an object put at `key`: its size and ETag."""
    return {"account": "local", "action": action, "bucket": BUCKET,
            "object": {"key": key, "size": len(data), "eTag": FakeStorage.etag_of(data)},
            "eventTime": "2026-01-01T00:00:00Z"}


def put(ctx, key, data):
    """A client's PUT at `key`: the object, and the notification R2 sends for it."""
    ctx.storage.objects[key] = (data, "image/png")
    return notification(key, data)


def id_of(key, data):
    return media_id_for_object(BUCKET, key, FakeStorage.etag_of(data))


async def deliver(ctx, body, attempts=1):
    return await handle_message(ctx, body, attempts, QUEUE)


def media_rows(ctx):
    return {row["id"]: row for row in ctx.db.rows("SELECT * FROM media")}


def job_keys(ctx):
    return [r.headers["idempotency-key"] for r in ctx.itty.transport.requests
            if r.method == "POST" and r.url.endswith("/jobs")]


async def complete(ctx, media_id, label):
    """Ittybit finishes every job of `media_id` with outputs whose bytes say `label`; the webhooks
    and the copies they queue run."""
    rows = ctx.db.rows("SELECT name, job_id FROM renditions WHERE media_id = ?", media_id)
    for row in rows:
        url = f"https://out.test/{row['job_id']}/{row['name']}"
        ctx.storage.outputs[url] = f"{label} {row['name']}".encode()
        raw = json.dumps(ctx.itty.finish(row["job_id"], url)).encode()
        webhook_id = f"msg_{row['job_id']}"
        headers = {"webhook-id": webhook_id, "webhook-timestamp": str(int(NOW)),
                   "webhook-signature": sign(SECRET, webhook_id, int(NOW), raw)}
        assert (await handle_webhook(ctx, headers, raw))["received"] is True  # a 200: errors raise HttpError
    sent, ctx.jobs.sent = ctx.jobs.sent, []
    for body in sent:
        assert (await deliver(ctx, body)).action == "ack"
    assert media_rows(ctx)[media_id]["status"] == "completed"


async def delete_as_the_api_does(ctx, media_id):
    """DELETE /api/media/{id}: the original and the renditions from R2, then the rows, then KV."""
    row = media_rows(ctx)[media_id]
    outputs = [r["output_key"] for r in ctx.db.rows("SELECT output_key FROM renditions WHERE media_id = ?", media_id)]
    await ctx.storage.delete([row["r2_key"], *outputs])
    ctx.db.conn.execute("DELETE FROM renditions WHERE media_id = ?", (media_id,))
    ctx.db.conn.execute("DELETE FROM media WHERE id = ?", (media_id,))
    await ctx.kv.delete(f"media:{media_id}")


async def test_a_direct_upload_becomes_media_under_originals_and_is_submitted():
    ctx = make_context()
    ctx.storage.objects["uploads/cat.png"] = (PNG, "image/png")
    decision = await handle_message(ctx, notification("uploads/cat.png"), 1, "media-pipeline-jobs")
    assert decision.action == "ack" and decision.what == "submitted"
    media_id = id_of("uploads/cat.png", PNG)
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
    uploaded = ctx.db.rows("SELECT type, data FROM events WHERE media_id = ? AND type LIKE 'media.%' ORDER BY seq",
                           media_id)
    assert [e["type"] for e in uploaded] == ["media.uploaded", "media.created"]  # once, with the record
    assert json.loads(uploaded[0]["data"])["way"] == "direct"


async def test_a_copy_done_before_a_crash_is_finished_by_a_reconcile_message():
    ctx = make_context()
    ctx.storage.objects["uploads/a/b.png"] = (PNG, "image/png")
    media_id = id_of("uploads/a/b.png", PNG)
    ctx.db.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, source, created_at, updated_at)"
        " VALUES (?, 'uploads/a/b.png', 'b.png', 'image/png', 'image', 1, 'r2', 1, 1)", (media_id,))
    decision = await handle_message(ctx, {"type": "media.process", "media_id": media_id, "r2_key": "uploads/a/b.png",
                                          "reason": "reconcile"}, 1, "media-pipeline-jobs")
    assert decision.what == "submitted"
    assert ctx.db.rows("SELECT r2_key FROM media")[0]["r2_key"] == f"originals/{media_id}"
    assert set(ctx.storage.objects) == {f"originals/{media_id}"}


async def test_a_record_made_before_the_etag_was_in_the_id_still_completes_its_move():
    ctx = make_context()
    ctx.storage.objects["uploads/old.png"] = (PNG, "image/png")
    legacy = media_id_for_key(BUCKET, "uploads/old.png")
    ctx.db.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, source, created_at, updated_at)"
        " VALUES (?, 'uploads/old.png', 'old.png', 'image/png', 'image', 1, 'r2', 1, 1)", (legacy,))
    # Its notification, redelivered after the deploy, finds it (no second item).
    assert (await deliver(ctx, notification("uploads/old.png"))).what == "submitted"
    assert list(media_rows(ctx)) == [legacy]
    assert set(ctx.storage.objects) == {f"originals/{legacy}"} and len(ctx.itty.jobs) == 2


async def test_unsupported_files_deletes_and_other_prefixes_are_ignored():
    ctx = make_context()
    ctx.storage.objects["uploads/notes.txt"] = (b"hello world, not media", "text/plain")
    assert (await handle_message(ctx, notification("uploads/notes.txt", b"hello world, not media"), 1, "q")).what == "unsupported"
    assert (await handle_message(ctx, notification("uploads/x.png", action="DeleteObject"), 1, "q")).what == "ignored_notification"
    assert (await handle_message(ctx, notification("renditions/x/web.mp4"), 1, "q")).what == "ignored_notification"
    assert (await handle_message(ctx, notification("uploads/gone.png"), 1, "q")).what == "gone"
    assert ctx.db.rows("SELECT * FROM media") == [] and ctx.itty.jobs == {}
    assert "uploads/notes.txt" in ctx.storage.objects


async def test_a_different_object_at_a_processed_key_becomes_a_media_item_of_its_own():
    ctx = make_context()
    assert (await deliver(ctx, put(ctx, "uploads/x.png", PNG_A))).what == "submitted"
    first = id_of("uploads/x.png", PNG_A)
    before = media_rows(ctx)[first]
    assert (await deliver(ctx, put(ctx, "uploads/x.png", PNG_B))).what == "submitted"
    second = id_of("uploads/x.png", PNG_B)
    assert second != first
    rows = media_rows(ctx)
    assert set(rows) == {first, second}
    assert rows[first] == before  # the first item is untouched
    assert ctx.storage.objects[f"originals/{first}"][0] == PNG_A
    assert ctx.storage.objects[f"originals/{second}"][0] == PNG_B  # B was copied before its upload was deleted
    assert rows[second]["size"] == len(PNG_B) and rows[second]["name"] == "x.png"
    assert "uploads/x.png" not in ctx.storage.objects
    inputs = sorted(job["input"].split("?")[0] for job in ctx.itty.jobs.values())
    assert inputs == sorted([f"https://api.test/files/originals/{first}"] * 2 + [f"https://api.test/files/originals/{second}"] * 2)


async def test_a_repeated_notification_of_the_first_object_does_not_delete_a_newer_one():
    ctx = make_context()
    first_notice = put(ctx, "uploads/x.png", PNG_A)
    await deliver(ctx, first_notice)
    second_notice = put(ctx, "uploads/x.png", PNG_B)
    # A's notification again (redelivered, or reordered after B's put): the key holds B now.
    assert (await deliver(ctx, first_notice)).action == "ack"
    assert ctx.storage.objects["uploads/x.png"][0] == PNG_B
    assert len(media_rows(ctx)) == 1 and len(ctx.itty.jobs) == 2
    assert (await deliver(ctx, second_notice)).what == "submitted"
    assert ctx.storage.objects[f"originals/{id_of('uploads/x.png', PNG_B)}"][0] == PNG_B
    assert len(media_rows(ctx)) == 2 and len(ctx.itty.jobs) == 4


async def test_a_leftover_of_the_same_object_after_a_crash_is_deleted_by_the_redelivery():
    ctx = make_context()
    notice = put(ctx, "uploads/x.png", PNG_A)
    media_id = id_of("uploads/x.png", PNG_A)
    # Copied and re-pointed, then the isolate died before the uploads/ key was deleted.
    ctx.storage.objects[f"originals/{media_id}"] = (PNG_A, "image/png")
    ctx.db.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, source, created_at, updated_at)"
        " VALUES (?, ?, 'x.png', 'image/png', 'image', ?, 'r2', 1, 1)", (media_id, f"originals/{media_id}", len(PNG_A)))
    assert (await deliver(ctx, notice)).what == "submitted"
    assert set(ctx.storage.objects) == {f"originals/{media_id}"} and len(media_rows(ctx)) == 1


@pytest.mark.parametrize("dies_at", ["delete", "re-point"])
async def test_a_move_cut_off_at_any_step_is_finished_by_a_reconcile_without_its_notification(dies_at):
    # The isolate dies after the copy, at the upload's delete or at the re-point, and the
    # notification is lost with it (local queues are in memory). The record must still name the
    # uploads/ key, so the reconcile (which knows no upload key) finishes the move: no object
    # under uploads/ is left that no record points at (a later DELETE could never reach it).
    ctx = make_context()
    notice = put(ctx, "uploads/x.png", PNG_A)
    media_id = id_of("uploads/x.png", PNG_A)
    died = RuntimeError("isolate killed")
    if dies_at == "re-point":
        ctx.db.fail_once("SET r2_key", died)
    else:
        storage_delete = ctx.storage.delete

        async def die_before_the_upload_is_deleted(keys):
            if "uploads/x.png" in keys:
                raise died
            await storage_delete(keys)
        ctx.storage.delete = die_before_the_upload_is_deleted
    assert (await deliver(ctx, notice)).action == "retry"
    ctx.storage.delete = FakeStorage.delete.__get__(ctx.storage)  # the restarted isolate
    reconcile = {"type": "media.process", "media_id": media_id, "r2_key": "uploads/x.png", "reason": "reconcile"}
    assert (await deliver(ctx, reconcile)).what == "submitted"
    assert media_rows(ctx)[media_id]["r2_key"] == f"originals/{media_id}"
    assert set(ctx.storage.objects) == {f"originals/{media_id}"}
    assert ctx.storage.objects[f"originals/{media_id}"][0] == PNG_A


async def test_an_object_replaced_before_its_copy_never_lands_under_the_first_id():
    ctx = make_context()
    first_notice = put(ctx, "uploads/x.png", PNG_A)
    replaced = []

    async def overwrite_once(source):
        if not replaced:
            replaced.append(put(ctx, source, PNG_B))  # B lands between A's sniff and A's copy

    ctx.storage.on_copy = overwrite_once
    assert (await deliver(ctx, first_notice)).what == "gone"
    first, second = id_of("uploads/x.png", PNG_A), id_of("uploads/x.png", PNG_B)
    assert f"originals/{first}" not in ctx.storage.objects  # never B's bytes under A's id
    assert ctx.storage.objects["uploads/x.png"][0] == PNG_B  # and B is not deleted
    assert media_rows(ctx)[first]["status"] == "failed" and ctx.itty.jobs == {}
    # B's own notification: B becomes the item, A's record (which can never be processed) goes.
    assert (await deliver(ctx, replaced[0])).what == "submitted"
    assert set(media_rows(ctx)) == {second}
    assert ctx.storage.objects[f"originals/{second}"][0] == PNG_B and "uploads/x.png" not in ctx.storage.objects
    assert ctx.kv.json(f"media:{first}") is None


async def test_a_newer_object_takes_the_key_from_a_record_that_never_got_its_copy():
    ctx = make_context()
    first = id_of("uploads/x.png", PNG_A)
    # A was recorded, then the isolate died before its copy; then B was put at the key.
    ctx.db.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, source, created_at, updated_at)"
        " VALUES (?, 'uploads/x.png', 'x.png', 'image/png', 'image', ?, 'r2', 1, 1)", (first, len(PNG_A)))
    second_notice = put(ctx, "uploads/x.png", PNG_B)
    # The reconcile's message for A must not take B's bytes.
    reconcile = {"type": "media.process", "media_id": first, "r2_key": "uploads/x.png", "reason": "reconcile"}
    assert (await deliver(ctx, reconcile)).what == "gone"
    assert f"originals/{first}" not in ctx.storage.objects and ctx.storage.objects["uploads/x.png"][0] == PNG_B
    # B's notification is not blocked by A's record holding the key.
    assert (await deliver(ctx, second_notice)).what == "submitted"
    second = id_of("uploads/x.png", PNG_B)
    assert set(media_rows(ctx)) == {second}
    assert ctx.storage.objects[f"originals/{second}"][0] == PNG_B


async def test_a_notification_for_a_key_another_pending_record_holds_is_dropped_cleanly():
    ctx = make_context()
    first = id_of("uploads/x.png", PNG_A)
    ctx.db.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, status, source, created_at, updated_at)"
        " VALUES (?, 'uploads/x.png', 'x.png', 'image/png', 'image', ?, 'pending', 'r2', 1, 1)", (first, len(PNG_A)))
    second_notice = put(ctx, "uploads/x.png", PNG_B)
    ctx.db.fail_once("INSERT INTO media ", RuntimeError("D1 hiccup"))  # the record and its events: none
    assert (await deliver(ctx, second_notice)).action == "retry"
    assert ctx.db.rows("SELECT media_id FROM events") == []
    assert (await deliver(ctx, second_notice)).what == "submitted"
    assert set(media_rows(ctx)) == {id_of("uploads/x.png", PNG_B)}
    # The first try's insert did nothing (the key was the other record's): no events for it then.
    assert {e["media_id"] for e in ctx.db.rows("SELECT media_id FROM events")} == {id_of("uploads/x.png", PNG_B)}


async def test_a_deleted_item_put_again_with_other_bytes_gets_its_own_record_keys_and_renditions():
    ctx = make_context()
    await deliver(ctx, put(ctx, "uploads/x.png", PNG_A))
    first = id_of("uploads/x.png", PNG_A)
    await complete(ctx, first, "output of A")
    first_keys, first_jobs = set(job_keys(ctx)), set(ctx.itty.jobs)
    await delete_as_the_api_does(ctx, first)

    assert (await deliver(ctx, put(ctx, "uploads/x.png", PNG_B))).what == "submitted"
    second = id_of("uploads/x.png", PNG_B)
    assert second != first and set(media_rows(ctx)) == {second}
    second_keys = set(job_keys(ctx)) - first_keys
    assert len(second_keys) == 2 and len(job_keys(ctx)) == 4  # new keys, no replay of A's
    rows = ctx.db.rows("SELECT name, job_id, status FROM renditions WHERE media_id = ?", second)
    assert {r["job_id"] for r in rows}.isdisjoint(first_jobs) and all(r["status"] == "processing" for r in rows)
    await complete(ctx, second, "output of B")
    for name, ext in (("large", "webp"), ("thumbnail", "webp")):
        assert ctx.storage.objects[f"renditions/{second}/{name}.{ext}"][0] == f"output of B {name}".encode()
    assert ctx.storage.objects[f"originals/{second}"][0] == PNG_B


async def test_a_record_made_again_under_the_same_id_gets_new_idempotency_keys_and_new_jobs():
    ctx = make_context()
    await deliver(ctx, put(ctx, "uploads/x.png", PNG_A))
    media_id = id_of("uploads/x.png", PNG_A)
    await complete(ctx, media_id, "output of the first")
    first_keys, first_jobs = set(job_keys(ctx)), set(ctx.itty.jobs)
    await delete_as_the_api_does(ctx, media_id)

    ctx.clock = lambda: NOW + 60  # the same bytes put at the same key again, a minute later
    assert (await deliver(ctx, put(ctx, "uploads/x.png", PNG_A))).what == "submitted"
    assert list(media_rows(ctx)) == [media_id]  # same object, same id...
    assert set(job_keys(ctx)) - first_keys and len(set(job_keys(ctx))) == 4  # ...but keys of its own
    rows = ctx.db.rows("SELECT job_id, status FROM renditions WHERE media_id = ?", media_id)
    assert {r["job_id"] for r in rows}.isdisjoint(first_jobs)  # no replay of the old jobs
    assert all(r["status"] == "processing" for r in rows) and ctx.jobs.sent == []
    # A redelivery of the new record's message still makes no second job.
    await deliver(ctx, {"type": "media.process", "media_id": media_id, "r2_key": "x", "reason": "upload"})
    assert len(ctx.itty.jobs) == 4


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("uploads/photos/2026/cat.png", "cat.png"),
        ("uploads/a\\b\\c.png", "c.png"),
        ("uploads/evil\u202egnp.exe.png", "evilgnp.exe.png"),
        ("uploads/bell\x07\x00\x1f.png", "bell.png"),
        ("uploads/line\u2028break.png", "linebreak.png"),
        ("uploads/" + "n" * 1000 + ".png", "n" * 251 + ".png"),
        ("uploads/dir/..", None),
        ("uploads/\u200b\u200e", None),
    ],
)
async def test_direct_upload_names_are_cleaned_as_api_upload_names_are(key, name):
    ctx = make_context()
    assert (await deliver(ctx, put(ctx, key, PNG))).what == "submitted"
    (row,) = media_rows(ctx).values()
    assert row["name"] == name
