import json
import sqlite3
from pathlib import Path

import pytest

from common.media_records import INSERT_MEDIA, SELECT_RENDITIONS
from processor import sql

SCHEMA = Path(__file__).resolve().parents[3] / "schema.sql"
T0 = 1_700_000_000_000


@pytest.fixture
def db():
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys=ON")
    connection.executescript(SCHEMA.read_text())
    connection.executescript(SCHEMA.read_text())  # the schema is idempotent
    connection.execute(
        "INSERT INTO media (id, r2_key, content_type, kind, size, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("m1", "originals/m1", "video/mp4", "video", 100, T0, T0),
    )
    for name in ("web", "mobile", "thumbnail"):
        connection.execute(sql.INSERT_RENDITION, ("m1", name, "video", json.dumps({"format": "mp4"}), f"renditions/m1/{name}.mp4", T0, T0))
    yield connection
    connection.close()


def rendition(db, name, media_id="m1"):
    return db.execute("SELECT * FROM renditions WHERE media_id = ? AND name = ?", (media_id, name)).fetchone()


def outcome(status, job_id, name, *, url="https://cdn.test/o", error=None, at=T0 + 10):
    """A job report for rendition `name` of m1 through sql.record_outcome, as (sql, params) for execute."""
    statement = sql.record_outcome("m1", name, job_id=job_id, status=status, now=at, output_url=url,
                                   content_type="video/mp4", width=1920, height=1080, duration=12.5, size=999,
                                   error=error)
    return statement[0], statement[1:]


def test_insert_rendition_ignores_duplicates(db):
    changes = db.execute(sql.INSERT_RENDITION, ("m1", "web", "video", "{}", "x", T0 + 1, T0 + 1)).rowcount
    assert changes == 0
    row = rendition(db, "web")
    assert (row["status"], row["attempts"], row["options"], row["output_key"]) == ("pending", 0, '{"format": "mp4"}', "renditions/m1/web.mp4")


def test_insert_rendition_needs_its_media(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(sql.INSERT_RENDITION, ("nope", "web", "video", "{}", "x", T0, T0))


def test_select_renditions_in_preset_order(db):
    rows = db.execute(SELECT_RENDITIONS, ("m1",)).fetchall()
    assert [r["name"] for r in rows] == ["web", "mobile", "thumbnail"]
    assert set(rows[0].keys()) >= {"job_id", "status", "output_key", "error", "attempts", "submitted_at"}


def test_submit_then_complete(db):
    assert db.execute(sql.MARK_SUBMITTED, ("job_web", T0 + 5, T0 + 5, "m1", "web")).rowcount == 1
    row = rendition(db, "web")
    assert (row["job_id"], row["status"], row["submitted_at"]) == ("job_web", "processing", T0 + 5)
    assert db.execute(*outcome("completed", "job_web", "web")).rowcount == 1
    row = rendition(db, "web")
    assert (row["status"], row["output_url"], row["width"], row["height"], row["duration"], row["size"], row["error"]) == (
        "completed", "https://cdn.test/o", 1920, 1080, 12.5, 999, None,
    )
    assert row["output_key"] == "renditions/m1/web.mp4"
    assert db.execute(sql.SELECT_RENDITION_BY_JOB, ("job_web",)).fetchone()["name"] == "web"


def test_final_status_is_never_overwritten(db):
    db.execute(sql.MARK_SUBMITTED, ("job_web", T0, T0, "m1", "web"))
    db.execute(*outcome("completed", "job_web", "web"))
    # A late "failed" or "processing" delivery, a redelivered message, a rejection: all ignored.
    assert db.execute(*outcome("failed", "job_web", "web", url=None, error="late")).rowcount == 0
    assert db.execute(*outcome("processing", "job_web", "web")).rowcount == 0
    assert db.execute(sql.MARK_SUBMITTED, ("job_other", T0, T0, "m1", "web")).rowcount == 0
    assert db.execute(sql.MARK_REJECTED, ("nope", T0, "m1", "web")).rowcount == 0
    assert db.execute(sql.NOTE_RETRY, ("late retry", T0, "m1", "web")).rowcount == 0
    row = rendition(db, "web")
    assert (row["status"], row["job_id"], row["error"]) == ("completed", "job_web", None)


def test_failed_rendition_stays_failed(db):
    db.execute(sql.MARK_SUBMITTED, ("job_m", T0, T0, "m1", "mobile"))
    db.execute(*outcome("failed", "job_m", "mobile", url=None, error="no video stream"))
    assert db.execute(*outcome("completed", "job_m", "mobile")).rowcount == 0
    row = rendition(db, "mobile")
    assert (row["status"], row["error"], row["output_url"]) == ("failed", "no video stream", None)


def test_mark_rejected(db):
    assert db.execute(sql.MARK_REJECTED, ("Ittybit rejected the job (400 invalid_input): bad", T0 + 1, "m1", "thumbnail")).rowcount == 1
    row = rendition(db, "thumbnail")
    assert (row["status"], row["error"]) == ("failed", "Ittybit rejected the job (400 invalid_input): bad")


def test_record_outcome_for_rendition_before_job_id_is_known(db):
    assert db.execute(*outcome("completed", "job_t", "thumbnail")).rowcount == 1
    row = rendition(db, "thumbnail")
    assert (row["job_id"], row["status"]) == ("job_t", "completed")
    # MARK_SUBMITTED arriving afterwards cannot undo it.
    assert db.execute(sql.MARK_SUBMITTED, ("job_t", T0, T0, "m1", "thumbnail")).rowcount == 0


def test_note_retry_counts_attempts_and_keeps_the_last_error(db):
    db.execute(sql.NOTE_RETRY, ("first", T0 + 1, "m1", "web"))
    db.execute(sql.NOTE_RETRY, ("second", T0 + 2, "m1", "web"))
    assert (rendition(db, "web")["attempts"], rendition(db, "web")["error"]) == (2, "second")


def test_media_status_updates_only_from_non_final(db):
    assert db.execute(sql.MARK_MEDIA_PROCESSING, (T0 + 1, "m1")).rowcount == 1
    assert db.execute(sql.MARK_MEDIA_PROCESSING, (T0 + 2, "m1")).rowcount == 0
    assert db.execute(sql.UPDATE_MEDIA_STATUS, ("failed", "thumbnail: boom", T0 + 3, "m1")).rowcount == 1
    assert db.execute(sql.UPDATE_MEDIA_STATUS, ("completed", None, T0 + 4, "m1")).rowcount == 0
    media = db.execute("SELECT * FROM media WHERE id = ?", ("m1",)).fetchone()
    assert (media["status"], media["error"], media["updated_at"]) == ("failed", "thumbnail: boom", T0 + 3)


def test_webhook_delivery_dedup(db):
    assert db.execute(sql.INSERT_WEBHOOK_DELIVERY, ("msg_1", "job_web", T0)).rowcount == 1
    assert db.execute(sql.INSERT_WEBHOOK_DELIVERY, ("msg_1", "job_web", T0 + 1)).rowcount == 0
    assert db.execute(sql.DELETE_WEBHOOK_DELIVERY, ("msg_1",)).rowcount == 1
    assert db.execute(sql.INSERT_WEBHOOK_DELIVERY, ("msg_1", "job_web", T0 + 2)).rowcount == 1
    assert db.execute(sql.PRUNE_WEBHOOK_DELIVERIES, (T0 + 3,)).rowcount == 1


def test_select_stuck_jobs(db):
    db.execute(sql.MARK_SUBMITTED, ("job_old", T0, T0, "m1", "web"))
    db.execute(sql.MARK_SUBMITTED, ("job_new", T0 + 1000, T0 + 1000, "m1", "mobile"))
    db.execute(sql.MARK_SUBMITTED, ("job_done", T0, T0, "m1", "thumbnail"))
    db.execute(*outcome("completed", "job_done", "thumbnail"))
    rows = db.execute(sql.SELECT_STUCK_JOBS, (T0 + 500, 10)).fetchall()
    assert [(r["media_id"], r["name"], r["job_id"]) for r in rows] == [("m1", "web", "job_old")]
    assert db.execute(sql.SELECT_STUCK_JOBS, (T0 + 5000, 1)).fetchall()[0]["job_id"] == "job_old"


def add_media(db, media_id, status, updated_at):
    db.execute(
        "INSERT INTO media (id, r2_key, content_type, kind, size, status, created_at, updated_at) VALUES (?, ?, 'image/png', 'image', 1, ?, ?, ?)",
        (media_id, f"originals/{media_id}", status, updated_at, updated_at),
    )


def test_select_pending_media(db):
    add_media(db, "p_old", "pending", T0 - 100)  # message lost
    add_media(db, "p_new", "pending", T0 + 100)  # still young
    add_media(db, "proc_empty", "processing", T0 - 90)  # crashed before its renditions
    add_media(db, "proc_busy", "processing", T0 - 80)  # every rendition submitted: the stuck-job sweep's business
    db.execute(sql.INSERT_RENDITION, ("proc_busy", "large", "image", "{}", "k", T0, T0))
    db.execute(sql.MARK_SUBMITTED, ("job_busy", T0, T0, "proc_busy", "large"))
    add_media(db, "done", "completed", T0 - 70)
    # m1 (updated T0) is processing with pending renditions: its message died.
    db.execute(sql.MARK_MEDIA_PROCESSING, (T0 - 60, "m1"))
    rows = db.execute(sql.SELECT_PENDING_MEDIA, (T0, 10)).fetchall()
    assert [r["id"] for r in rows] == ["p_old", "proc_empty", "m1"]
    assert [r["id"] for r in db.execute(sql.SELECT_PENDING_MEDIA, (T0, 1)).fetchall()] == ["p_old"]
    assert set(rows[0].keys()) >= {"id", "r2_key", "kind", "status"}


def test_insert_media_from_notification_is_idempotent(db):
    params = ("r2abc", "uploads/a.mp4", "a.mp4", "video/mp4", "video", 42, "r2", T0, T0)
    assert db.execute(INSERT_MEDIA, params).rowcount == 1
    assert db.execute(INSERT_MEDIA, params).rowcount == 0
    media = db.execute("SELECT * FROM media WHERE id = ?", ("r2abc",)).fetchone()
    assert (media["source"], media["status"], media["r2_key"], media["size"]) == ("r2", "pending", "uploads/a.mp4", 42)


def test_deleting_media_cascades_to_renditions(db):
    db.execute("DELETE FROM media WHERE id = 'm1'")
    assert db.execute(SELECT_RENDITIONS, ("m1",)).fetchall() == []


def test_statements_use_only_question_mark_placeholders():
    for name in sql.__all__:
        text = getattr(sql, name)
        if callable(text):  # the keyword wrappers (record_outcome, record_probe) build statements
            continue
        assert ":" not in text.replace("::", "") and "$" not in text and "?1" not in text, name


def polls(db):
    return {r["name"]: (r["job_id"], r["polls"], r["last_polled_at"])
            for r in db.execute("SELECT * FROM job_polls ORDER BY name").fetchall()}


def test_record_poll_counts_per_job_and_starts_again_for_a_new_job(db):
    db.execute(sql.MARK_SUBMITTED, ("job_a", T0, T0, "m1", "web"))
    db.execute(sql.RECORD_POLL, (T0 + 1, "m1", "web", "job_a"))
    db.execute(sql.RECORD_POLL, (T0 + 2, "m1", "web", "job_a"))
    assert polls(db) == {"web": ("job_a", 2, T0 + 2)}
    db.execute(sql.RECORD_POLL, (T0 + 3, "m1", "web", "job_other"))  # not the rendition's job: no row
    db.execute(sql.RECORD_POLL, (T0 + 3, "m1", "gone", "job_a"))
    assert polls(db) == {"web": ("job_a", 2, T0 + 2)}
    db.execute(sql.RELEASE_LOST_JOB, ("lost", T0 + 4, "m1", "web", "job_a"))
    db.execute(sql.MARK_SUBMITTED, ("job_b", T0 + 5, T0 + 5, "m1", "web"))
    db.execute(sql.RECORD_POLL, (T0 + 6, "m1", "web", "job_b"))
    assert polls(db) == {"web": ("job_b", 1, T0 + 6)}


def test_stuck_jobs_come_least_recently_polled_first_with_their_poll_count(db):
    db.execute(sql.MARK_SUBMITTED, ("job_web", T0, T0, "m1", "web"))
    db.execute(sql.MARK_SUBMITTED, ("job_mobile", T0 + 1, T0 + 1, "m1", "mobile"))
    db.execute(sql.MARK_SUBMITTED, ("job_thumb", T0 + 2, T0 + 2, "m1", "thumbnail"))
    db.execute(sql.RECORD_POLL, (T0 + 20, "m1", "web", "job_web"))
    db.execute(sql.RECORD_POLL, (T0 + 10, "m1", "mobile", "job_mobile"))
    rows = db.execute(sql.SELECT_STUCK_JOBS, (T0 + 100, 10)).fetchall()
    assert [(r["job_id"], r["polls"]) for r in rows] == [("job_thumb", 0), ("job_mobile", 1), ("job_web", 1)]
    assert [r["job_id"] for r in db.execute(sql.SELECT_STUCK_JOBS, (T0 + 100, 1)).fetchall()] == ["job_thumb"]


def test_job_polls_go_with_their_rendition_and_are_pruned_once_the_job_is_not_open(db):
    db.execute(sql.MARK_SUBMITTED, ("job_web", T0, T0, "m1", "web"))
    db.execute(sql.MARK_SUBMITTED, ("job_mobile", T0, T0, "m1", "mobile"))
    db.execute(sql.RECORD_POLL, (T0 + 1, "m1", "web", "job_web"))
    db.execute(sql.RECORD_POLL, (T0 + 1, "m1", "mobile", "job_mobile"))
    db.execute(*outcome("completed", "job_mobile", "mobile"))
    assert db.execute(sql.PRUNE_JOB_POLLS).rowcount == 1
    assert list(polls(db)) == ["web"]
    db.execute("DELETE FROM renditions WHERE media_id = 'm1'")  # DELETE /api/media's batch
    db.execute("DELETE FROM media WHERE id = 'm1'")
    assert polls(db) == {}


def test_give_up_job_fails_only_that_open_job(db):
    db.execute(sql.MARK_SUBMITTED, ("job_web", T0, T0, "m1", "web"))
    assert db.execute(sql.GIVE_UP_JOB, ("gave up", T0 + 1, "m1", "web", "job_other")).rowcount == 0
    assert db.execute(sql.GIVE_UP_JOB, ("gave up", T0 + 1, "m1", "web", "job_web")).rowcount == 1
    assert (rendition(db, "web")["status"], rendition(db, "web")["error"]) == ("failed", "gave up")
    assert db.execute(sql.GIVE_UP_JOB, ("again", T0 + 2, "m1", "web", "job_web")).rowcount == 0


def test_select_unsettled_media_finds_open_media_whose_renditions_are_all_final(db):
    for name in ("web", "mobile", "thumbnail"):
        db.execute(sql.MARK_REJECTED, ("no", T0, "m1", name))  # m1: all final, still pending
    add_media(db, "open", "processing", T0 - 10)  # a rendition still open
    db.execute(sql.INSERT_RENDITION, ("open", "large", "image", "{}", "k", T0, T0))
    add_media(db, "none", "processing", T0 - 10)  # no renditions at all: SELECT_PENDING_MEDIA's business
    add_media(db, "done", "completed", T0 - 10)
    db.execute(sql.INSERT_RENDITION, ("done", "large", "image", "{}", "k", T0, T0))
    db.execute(sql.MARK_REJECTED, ("no", T0, "done", "large"))
    assert [r["id"] for r in db.execute(sql.SELECT_UNSETTLED_MEDIA, (T0 + 1, 10)).fetchall()] == ["m1"]
    assert db.execute(sql.SELECT_UNSETTLED_MEDIA, (T0, 10)).fetchall() == []  # not yet past the cutoff
