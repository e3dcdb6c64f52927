"""common.events: ids, statements, payloads, cursors; one row per change in D1."""

from __future__ import annotations

import asyncio
import json

import pytest

from common import d1
from common.events import (
    INSERT_RETRY_EVENT,
    MEDIA_CREATED,
    PUBLIC_TYPES,
    decode_cursor,
    deleted_event,
    encode_cursor,
    event_id,
    event_json,
    event_statement,
    list_query,
    payload,
    payload_bytes,
    publish,
    upload_events,
)
from tests.unit.fakes import FakeD1, FakeQueue

NOW = 1_800_000_000_000
MEDIA = {"id": "01m8260crbhwnnknazydz3ek9n", "name": "a.png", "kind": "image", "content_type": "image/png",
         "size": 10, "status": "pending", "source": "api", "r2_key": "originals/x", "created_at": NOW,
         "updated_at": NOW, "metadata": '{"order": "42"}'}


def test_event_ids_are_stable_and_differ_by_what_they_announce():
    first = event_id("m1", "rendition.ready", "web", "job_1")
    assert first == event_id("m1", "rendition.ready", "web", "job_1")
    assert first.startswith("evt_") and len(first) == 36
    others = {event_id("m1", "rendition.ready", "web", "job_2"), event_id("m1", "rendition.ready", "mobile", "job_1"),
              event_id("m2", "rendition.ready", "web", "job_1"), event_id("m1", "rendition.failed", "web", "job_1")}
    assert first not in others and len(others) == 4


def test_a_public_event_waits_to_be_published_and_a_timeline_entry_does_not():
    public = event_statement("m1", MEDIA_CREATED, {"a": 1}, NOW)
    timeline = event_statement("m1", "media.queued", {}, NOW)
    assert public[-1] is None and timeline[-1] == NOW
    with pytest.raises(ValueError):
        event_statement("m1", "media.exploded", {}, NOW)


def test_a_repeated_insert_records_one_event():
    db = FakeD1()
    statements = upload_events(MEDIA, "tus", NOW)
    assert asyncio.run(d1.batch(db, statements)) == [1, 1]
    assert asyncio.run(d1.batch(db, upload_events(MEDIA, "tus", NOW + 5))) == [0, 0]
    rows = db.rows("SELECT type, data FROM events ORDER BY seq")
    assert [r["type"] for r in rows] == ["media.uploaded", "media.created"]
    assert json.loads(rows[0]["data"]) == {"size": 10, "way": "tus", "name": "a.png", "content_type": "image/png"}
    created = json.loads(rows[1]["data"])
    assert created["id"] == MEDIA["id"] and created["metadata"] == {"order": "42"} and created["renditions"] == []
    with pytest.raises(ValueError):
        upload_events(MEDIA, "carrier pigeon", NOW)


def test_one_retry_entry_per_counted_attempt():
    db = FakeD1()
    db.conn.execute("INSERT INTO media (id, r2_key, content_type, kind, size, created_at, updated_at)"
                    " VALUES ('m1', 'originals/m1', 'video/mp4', 'video', 1, 0, 0)")
    db.conn.execute("INSERT INTO renditions (media_id, name, kind, attempts, error, created_at, updated_at)"
                    " VALUES ('m1', 'web', 'video', 2, 'Ittybit 503', 0, 0)")
    assert asyncio.run(d1.run(db, INSERT_RETRY_EVENT, NOW, "m1", "web")) == 1
    assert asyncio.run(d1.run(db, INSERT_RETRY_EVENT, NOW, "m1", "web")) == 0  # the same message again
    [row] = db.rows("SELECT id, type, data FROM events")
    assert row["type"] == "job.retry" and row["id"] == "evt_retry_m1_web_2"
    assert json.loads(row["data"]) == {"rendition": "web", "attempts": 2, "reason": "Ittybit 503"}


def test_the_payload_is_the_standard_webhooks_shape_and_the_same_bytes_every_time():
    _, eid, media_id, kind, data, created, _ = event_statement(MEDIA["id"], "media.ready", {"id": "x", "b": 2}, NOW)
    row = {"id": eid, "media_id": media_id, "type": kind, "data": data, "created_at": created}
    assert payload(row) == {"type": "media.ready", "timestamp": "2027-01-15T08:00:00.000Z", "data": {"id": "x", "b": 2}}
    assert payload_bytes(row) == payload_bytes(dict(row)) and b" " not in payload_bytes(row)
    listed = event_json(row)
    assert listed["public"] is True and listed["id"] == eid


def test_media_deleted_carries_the_item_as_it_was():
    statement = deleted_event({**MEDIA, "status": "completed"}, [{"name": "web", "status": "completed"}], NOW)
    data = json.loads(statement[4])
    assert statement[3] == "media.deleted" and data["status"] == "completed" and data["renditions"][0]["name"] == "web"


def test_cursors_round_trip_and_refuse_what_we_did_not_make():
    assert decode_cursor(encode_cursor(12345)) == 12345
    for bad in ("", "!!", "ZTAx", encode_cursor(5) + "=", "a" * 41, "eC0x", "ZTU"[:-1]):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_list_query_filters_and_pages_by_seq():
    sql, params = list_query("m1", "media.ready", 7, 20)
    assert "media_id = ?" in sql and "type = ?" in sql and "seq > ?" in sql and sql.endswith("ORDER BY seq LIMIT ?")
    assert params == ["m1", "media.ready", 7, 21]


def test_publishing_never_raises():
    queue = FakeQueue()
    asyncio.run(publish(queue, ["evt_1"]))
    assert queue.sent == [{"type": "events.publish", "event_ids": ["evt_1"]}]

    class Broken:
        async def send(self, body):
            raise RuntimeError("queue down")

    lines = []
    asyncio.run(publish(Broken(), ["evt_1"], lines.append))
    assert lines and "the cron will" in lines[0]
    asyncio.run(publish(None, ["evt_1"]))  # no binding: nothing to do
    assert set(PUBLIC_TYPES) >= {"media.created", "media.ready", "media.failed", "media.deleted"}
