"""GET /api/stats reads media_status_counts (schema.sql), kept by triggers on media, instead of
COUNT(*) over every media row (docs/scale.md section 4): the counts must equal what COUNT(*)
would answer after any sequence of inserts, status changes and deletes, and applying the schema
again (or for the first time over an older database) recounts."""

import random
import sqlite3
from pathlib import Path

import pytest

from common.media_records import DELETE_MEDIA, INSERT_MEDIA, STATS, stats_json

SCHEMA = (Path(__file__).resolve().parents[3] / "schema.sql").read_text()
STATUSES = ("pending", "processing", "completed", "failed")
# What STATS answered before the counts table: one pass over media.
COUNT_STAR = (
    "SELECT COUNT(*) AS total,"
    " COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,"
    " COALESCE(SUM(CASE WHEN status = 'processing' THEN 1 ELSE 0 END), 0) AS processing,"
    " COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS completed,"
    " COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed"
    " FROM media"
)


@pytest.fixture
def db():
    connection = sqlite3.connect(":memory:", isolation_level=None)  # transactions as D1's: explicit
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    connection.executescript(SCHEMA)
    yield connection
    connection.close()


def insert(db, media_id):
    return db.execute(INSERT_MEDIA, (media_id, f"originals/{media_id}", "x.png", "image/png", "image", 1,
                                     "api", 1, 1)).rowcount


def stats(db):
    return dict(db.execute(STATS).fetchone())


def truth(db):
    return dict(db.execute(COUNT_STAR).fetchone())


def test_an_empty_library_counts_zero(db):
    assert stats(db) == truth(db) == dict.fromkeys(("total", *STATUSES), 0)


def test_inserts_status_changes_and_deletes_move_the_counts(db):
    insert(db, "a")
    insert(db, "b")
    assert insert(db, "a") == 0  # a duplicate inserts nothing and counts nothing
    db.execute("UPDATE media SET status = 'processing' WHERE id = 'a'")
    db.execute("UPDATE media SET status = 'processing' WHERE id = 'a'")  # no change, no count
    db.execute("UPDATE media SET updated_at = 9 WHERE id = 'b'")  # another column, no count
    db.execute("UPDATE media SET status = 'completed' WHERE id = 'a'")
    assert stats(db) == {"total": 2, "pending": 1, "processing": 0, "completed": 1, "failed": 0}
    db.execute(DELETE_MEDIA, ("a",))
    assert stats(db) == truth(db) == {"total": 1, "pending": 1, "processing": 0, "completed": 0, "failed": 0}


def test_a_transaction_rolled_back_leaves_the_counts_alone(db):
    insert(db, "a")
    db.execute("BEGIN")
    db.execute("UPDATE media SET status = 'failed' WHERE id = 'a'")
    insert(db, "b")
    db.execute("ROLLBACK")
    assert stats(db) == truth(db) == {"total": 1, "pending": 1, "processing": 0, "completed": 0, "failed": 0}


def test_the_counts_equal_count_star_after_random_work(db):
    rng = random.Random(16)
    ids = []
    for step in range(2000):
        action = rng.random()
        if action < 0.4 or not ids:
            media_id = f"m{step}"
            if insert(db, media_id):
                ids.append(media_id)
        elif action < 0.85:
            db.execute("UPDATE media SET status = ? WHERE id = ?", (rng.choice(STATUSES), rng.choice(ids)))
        else:
            db.execute(DELETE_MEDIA, (ids.pop(rng.randrange(len(ids))),))
    assert stats(db) == truth(db)
    assert stats_json(stats(db))["total"] == len(ids)


def test_applying_the_schema_again_recounts(db):
    insert(db, "a")
    insert(db, "b")
    db.execute("UPDATE media_status_counts SET n = 40 WHERE status = 'pending'")  # drifted by hand
    db.executescript(SCHEMA)
    assert stats(db) == truth(db) == {"total": 2, "pending": 2, "processing": 0, "completed": 0, "failed": 0}


def test_a_database_from_before_the_counts_gets_them_when_the_schema_is_applied():
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    connection.executescript(SCHEMA)
    insert(connection, "a")
    insert(connection, "b")
    connection.execute("UPDATE media SET status = 'failed' WHERE id = 'b'")
    # An older database: the same media, no counts table and no triggers.
    for trigger in ("insert", "update", "delete"):
        connection.execute(f"DROP TRIGGER media_status_counts_{trigger}")
    connection.execute("DROP TABLE media_status_counts")
    connection.executescript(SCHEMA)
    assert stats(connection) == truth(connection) == {
        "total": 2, "pending": 1, "processing": 0, "completed": 0, "failed": 1}


def test_stats_reads_a_row_per_status_not_the_library(db):
    for n in range(500):
        insert(db, f"m{n}")
    plan = " ".join(row["detail"] for row in db.execute(f"EXPLAIN QUERY PLAN {STATS}"))
    assert "media_status_counts" in plan and " media" not in plan.replace("media_status_counts", "")
