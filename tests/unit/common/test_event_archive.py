"""common.event_archive: events' data past the retention window moves to R2 and reads back the
same; pending deliveries, young and unpublished events stay; a run cut off anywhere loses nothing."""

from __future__ import annotations

import asyncio
import json

import pytest

from common.event_archive import ARCHIVED, SELECT_DUE, archive_due_events, archive_key, restore_data
from common.events import EVENT_COLUMNS, event_json, event_statement, list_query
from tests.unit.fakes import FakeD1, FakeTextBucket

DAY_MS = 86_400_000
NOW_MS = 1_800_000_000_000
OLD = NOW_MS - 40 * DAY_MS
CUTOFF = NOW_MS - 30 * DAY_MS


def run(coroutine):
    return asyncio.run(coroutine)


def add(db: FakeD1, media_id: str, kind: str, at: int, *parts, published: bool = True, data=None) -> str:
    data = data if data is not None else {"id": media_id, "status": "completed", "note": "é " + kind}
    sql, event_id, *params = event_statement(media_id, kind, data, at, *parts)
    db.conn.execute(sql, (event_id, *params))
    if published:
        db.conn.execute("UPDATE events SET published_at = ? WHERE id = ? AND published_at IS NULL", (at, event_id))
    return event_id


def add_delivery(db: FakeD1, event_id: str, status: str) -> None:
    db.conn.execute("INSERT INTO event_deliveries (id, event_id, endpoint_id, status, created_at, updated_at)"
                    " VALUES (?, ?, 'ep_1', ?, 0, 0)", (f"dlv_{event_id}", event_id, status))


def every_event(db: FakeD1) -> list[dict]:
    return db.rows(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY seq")


def library(db: FakeD1) -> dict[str, list[str]]:
    """Two old items with public and timeline events, one young item."""
    made = {}
    for media_id in ("m_a", "m_b"):
        made[media_id] = [add(db, media_id, "media.uploaded", OLD), add(db, media_id, "media.created", OLD),
                          add(db, media_id, "rendition.ready", OLD + 1, "web"), add(db, media_id, "media.ready", OLD + 2)]
    made["m_young"] = [add(db, "m_young", "media.created", NOW_MS - DAY_MS)]
    return made


def test_old_events_move_to_one_object_per_item_and_read_back_byte_for_byte():
    db, bucket = FakeD1(), FakeTextBucket()
    library(db)
    before = every_event(db)
    moved = run(archive_due_events(db, bucket, CUTOFF, NOW_MS))
    assert (moved.events, moved.objects) == (8, 2) and bucket.puts == 2
    after = every_event(db)
    assert [row["data"] for row in after if row["media_id"] != "m_young"] == [ARCHIVED] * 8
    assert [row for row in after if row["media_id"] == "m_young"] == [row for row in before if row["media_id"] == "m_young"]
    # Everything but the data is still in D1: ids, types, times.
    assert [{k: v for k, v in row.items() if k != "data"} for row in after] == \
        [{k: v for k, v in row.items() if k != "data"} for row in before]
    first_a = min(row["seq"] for row in before if row["media_id"] == "m_a")
    assert archive_key("m_a", first_a) in bucket.objects
    assert json.loads(bucket.objects[archive_key("m_a", first_a)])["media_id"] == "m_a"
    # Read back: the very text stored before, so a payload made from it is the one delivered.
    assert run(restore_data(db, bucket, after)) == before
    # A second run finds nothing more to move.
    assert run(archive_due_events(db, bucket, CUTOFF, NOW_MS)).events == 0 and bucket.puts == 2


def test_a_page_reads_each_archive_object_once():
    db, bucket = FakeD1(), FakeTextBucket()
    library(db)
    run(archive_due_events(db, bucket, CUTOFF, NOW_MS))
    sql, params = list_query("m_a", None, None, 50)
    page = run(restore_data(db, bucket, db.rows(sql, *params)))
    assert len(page) == 4 and all(json.loads(row["data"])["id"] == "m_a" for row in page)
    assert bucket.gets == 1


def test_pending_deliveries_unpublished_and_young_events_stay_in_d1():
    db, bucket = FakeD1(), FakeTextBucket()
    pending = add(db, "m_p", "media.ready", OLD)
    add_delivery(db, pending, "pending")
    failed = add(db, "m_p", "media.created", OLD - 1)
    add_delivery(db, failed, "failed")
    unpublished = add(db, "m_u", "media.ready", OLD, published=False)
    young = add(db, "m_y", "media.ready", CUTOFF + 1)
    assert run(archive_due_events(db, bucket, CUTOFF, NOW_MS)).events == 1
    data = {row["id"]: row["data"] for row in every_event(db)}
    assert data[failed] == ARCHIVED
    assert all(data[e] != ARCHIVED for e in (pending, unpublished, young))
    # Once delivered, the pending one goes in a later run, into an object of its own whose range
    # overlaps nothing wrongly: each event reads back its own data.
    db.conn.execute("UPDATE event_deliveries SET status = 'delivered' WHERE event_id = ?", (pending,))
    assert run(archive_due_events(db, bucket, CUTOFF, NOW_MS)).events == 1
    restored = {row["id"]: json.loads(row["data"]) for row in run(restore_data(db, bucket, every_event(db)))}
    assert restored[pending]["note"] == "é media.ready" and restored[failed]["note"] == "é media.created"
    assert len(bucket.objects) == 2


def test_a_refused_put_clears_nothing_and_the_next_run_archives_under_the_same_key():
    db, bucket = FakeD1(), FakeTextBucket()
    library(db)
    before = every_event(db)
    bucket.fail_puts = 1
    with pytest.raises(RuntimeError):
        run(archive_due_events(db, bucket, CUTOFF, NOW_MS))
    assert every_event(db) == before
    run(archive_due_events(db, bucket, CUTOFF, NOW_MS))
    assert run(restore_data(db, bucket, every_event(db))) == before


def test_a_run_stopped_between_the_put_and_the_batch_loses_nothing():
    db, bucket = FakeD1(), FakeTextBucket()
    library(db)
    before = every_event(db)
    db.fail_once("UPDATE events SET data = ''", RuntimeError("D1_ERROR: the isolate was stopped"))
    with pytest.raises(RuntimeError):
        run(archive_due_events(db, bucket, CUTOFF, NOW_MS))
    assert every_event(db) == before and db.rows("SELECT * FROM event_archives") == []
    keys = set(bucket.objects)
    run(archive_due_events(db, bucket, CUTOFF, NOW_MS))
    assert set(bucket.objects) == keys  # the same keys, written again
    assert run(restore_data(db, bucket, every_event(db))) == before


def test_a_run_is_bounded_and_pages_through_the_backlog():
    db, bucket = FakeD1(), FakeTextBucket()
    for n in range(25):
        add(db, f"m_{n:02d}", "media.ready", OLD + n)
    moved = run(archive_due_events(db, bucket, CUTOFF, NOW_MS, max_events=12, page=5))
    assert moved.events == 12 and moved.objects == 12
    assert run(archive_due_events(db, bucket, CUTOFF, NOW_MS, max_events=100, page=5)).events == 13
    assert all(row["data"] == ARCHIVED for row in every_event(db))


def test_an_archive_that_is_gone_is_logged_and_listed_with_empty_data():
    db, bucket = FakeD1(), FakeTextBucket()
    library(db)
    run(archive_due_events(db, bucket, CUTOFF, NOW_MS))
    bucket.objects.clear()
    lines = []
    rows = run(restore_data(db, bucket, every_event(db), log=lines.append))
    assert [row["data"] for row in rows if row["media_id"] == "m_a"] == [ARCHIVED] * 4
    assert len(lines) == 8 and "not found in R2" in lines[0]
    assert all(event_json(row)["data"] == {} for row in rows if row["media_id"] != "m_young")  # empty, not an error


def test_the_scan_for_due_events_uses_the_partial_index_of_unarchived_events():
    db = FakeD1()
    plan = " ".join(str(row["detail"]) for row in db.rows("EXPLAIN QUERY PLAN " + SELECT_DUE, CUTOFF, 10))
    assert "events_to_archive" in plan, plan
