import sqlite3
from pathlib import Path

import pytest

from common.media_records import (
    COUNT_PENDING_BEFORE,
    DELETE_MEDIA,
    DELETE_PROBE,
    DELETE_RENDITIONS,
    INSERT_MEDIA,
    SELECT_MEDIA,
    SELECT_RENDITIONS,
    STATS,
    iso_time,
    list_query,
    media_cache_key,
    media_json,
    split_page,
    stats_json,
)

SCHEMA = (Path(__file__).resolve().parents[3] / "schema.sql").read_text()


@pytest.fixture
def db():
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    # D1 enforces foreign keys; plain SQLite needs asking.
    connection.execute("PRAGMA foreign_keys = ON")
    connection.executescript(SCHEMA)
    yield connection
    connection.close()


def insert(db, media_id, created_at, status="pending", kind="image", source="api"):
    cursor = db.execute(
        INSERT_MEDIA,
        (
            media_id,
            f"originals/{media_id}",
            f"{media_id}.png",
            "image/png",
            kind,
            10,
            source,
            created_at,
            created_at,
        ),
    )
    if status != "pending":
        db.execute("UPDATE media SET status = ? WHERE id = ?", (status, media_id))
    return cursor.rowcount


def add_rendition(db, media_id, name, status="pending"):
    db.execute(
        "INSERT INTO renditions (media_id, name, kind, status, created_at, updated_at)"
        " VALUES (?, ?, 'image', ?, 1, 1)",
        (media_id, name, status),
    )


def rows(db, sql, params=()):
    return [dict(row) for row in db.execute(sql, params).fetchall()]


def test_schema_applies_twice(db):
    db.executescript(SCHEMA)


def test_insert_and_select(db):
    assert insert(db, "m1", 1_700_000_000_123) == 1
    [row] = rows(db, SELECT_MEDIA, ("m1",))
    assert row == {
        "id": "m1",
        "r2_key": "originals/m1",
        "name": "m1.png",
        "content_type": "image/png",
        "kind": "image",
        "size": 10,
        "status": "pending",
        "error": None,
        "source": "api",
        "created_at": 1_700_000_000_123,
        "updated_at": 1_700_000_000_123,
        # Not probed yet: the original's facts are unknown.
        **dict.fromkeys(("width", "height", "rotation", "duration", "fps", "video_codec", "audio_codec")),
        "metadata": None,  # no media_metadata row
    }
    assert rows(db, SELECT_MEDIA, ("nope",)) == []


def test_insert_is_idempotent_on_id_and_key(db):
    assert insert(db, "m1", 1) == 1
    assert insert(db, "m1", 2) == 0
    # Same R2 key under another id: a redelivered R2 event must not duplicate.
    cursor = db.execute(
        INSERT_MEDIA, ("m2", "originals/m1", None, "video/mp4", "video", 5, "r2", 3, 3)
    )
    assert cursor.rowcount == 0
    assert rows(db, "SELECT id, created_at FROM media") == [
        {"id": "m1", "created_at": 1}
    ]


def test_insert_still_enforces_checks(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            INSERT_MEDIA,
            ("m1", "originals/m1", None, "text/plain", "text", 1, "api", 1, 1),
        )


def test_renditions_sorted_and_deleted(db):
    insert(db, "m1", 1)
    insert(db, "m2", 2)
    for name in ("thumbnail", "mobile", "web"):
        add_rendition(db, "m1", name)
    add_rendition(db, "m2", "web")
    # In insertion (preset) order; the public JSON sorts them by name.
    found = rows(db, SELECT_RENDITIONS, ("m1",))
    assert [row["name"] for row in found] == ["thumbnail", "mobile", "web"]
    assert [r["name"] for r in media_json(rows(db, SELECT_MEDIA, ("m1",))[0], found)["renditions"]] == [
        "mobile",
        "thumbnail",
        "web",
    ]

    db.execute(DELETE_RENDITIONS, ("m1",))
    db.execute(DELETE_MEDIA, ("m1",))
    assert rows(db, SELECT_MEDIA, ("m1",)) == []
    assert rows(db, SELECT_RENDITIONS, ("m1",)) == []
    assert len(rows(db, SELECT_RENDITIONS, ("m2",))) == 1


def test_delete_media_cascades_to_renditions(db):
    insert(db, "m1", 1)
    add_rendition(db, "m1", "web")
    add_rendition(db, "m1", "thumbnail")
    db.execute(DELETE_MEDIA, ("m1",))
    assert rows(db, "SELECT * FROM renditions") == []


def test_queue_position_counts_pending_items_at_or_before(db):
    insert(db, "a", 100)
    insert(db, "b", 200)
    insert(db, "c", 200)  # same millisecond: the id breaks the tie
    insert(db, "d", 300)
    insert(db, "z", 50, status="processing")  # not waiting
    insert(db, "y", 60, status="completed")

    def position(media_id, created_at):
        return db.execute(COUNT_PENDING_BEFORE, (created_at, media_id)).fetchone()[
            "position"
        ]

    assert position("a", 100) == 1
    assert position("b", 200) == 2
    assert position("c", 200) == 3
    assert position("d", 300) == 4


def test_stats_counts_every_status_in_one_row(db):
    assert dict(db.execute(STATS).fetchone()) == {
        "total": 0,
        "pending": 0,
        "processing": 0,
        "completed": 0,
        "failed": 0,
    }
    for index, status in enumerate(
        ["pending"] * 3 + ["processing"] * 2 + ["completed"] * 4 + ["failed"]
    ):
        insert(db, f"m{index}", index, status=status)
    row = dict(db.execute(STATS).fetchone())
    assert row == {
        "total": 10,
        "pending": 3,
        "processing": 2,
        "completed": 4,
        "failed": 1,
    }
    assert stats_json(row) == {
        "total": 10,
        "pending": 3,
        "processing": 2,
        "processed": 4,
        "completed": 4,
        "failed": 1,
    }


def test_stats_json_tolerates_missing_and_null():
    assert stats_json(None) == dict.fromkeys(
        ("total", "pending", "processing", "processed", "completed", "failed"), 0
    )
    assert stats_json({"total": "3", "pending": None})["total"] == 3


def seed_listing(db):
    # 25 items, several sharing a millisecond, statuses cycling.
    statuses = ["pending", "processing", "completed", "failed", "completed"]
    expected = []
    for index in range(25):
        media_id = f"m{index:02d}"
        created_at = 1000 + index // 3
        insert(db, media_id, created_at, status=statuses[index % 5])
        expected.append((created_at, media_id, statuses[index % 5]))
    expected.sort(reverse=True)
    return expected


def walk(db, status, limit):
    seen, cursor, pages = [], None, 0
    while pages <= 30:  # 25 rows: more pages means the cursor is not advancing
        sql, params = list_query(status, cursor, limit)
        fetched = rows(db, sql, params)
        assert len(fetched) <= limit + 1
        page, cursor = split_page(fetched, limit)
        seen.extend(page)
        pages += 1
        if cursor is None:
            return seen, pages
    raise AssertionError("pagination did not terminate")


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 24, 25, 100])
def test_list_pages_newest_first_without_gaps_or_repeats(db, limit):
    expected = seed_listing(db)
    seen, pages = walk(db, None, limit)
    assert [(row["created_at"], row["id"]) for row in seen] == [
        (c, i) for c, i, _ in expected
    ]
    assert pages == max(1, -(-25 // limit))


@pytest.mark.parametrize("status", ["pending", "processing", "completed", "failed"])
def test_list_filters_by_status_across_pages(db, status):
    expected = seed_listing(db)
    seen, _ = walk(db, status, 2)
    assert [row["id"] for row in seen] == [i for _, i, s in expected if s == status]
    assert {row["status"] for row in seen} == {status}


def test_list_query_parameters():
    sql, params = list_query(None, None, 20)
    assert "WHERE" not in sql and params == [21]
    assert sql.endswith("ORDER BY media.created_at DESC, media.id DESC LIMIT ?")
    sql, params = list_query("failed", (5, "m1"), 10)
    assert params == ["failed", 5, 5, "m1", 11]
    assert sql.count("?") == len(params)


def test_list_on_empty_table(db):
    sql, params = list_query("pending", None, 5)
    assert split_page(rows(db, sql, params), 5) == ([], None)


def test_split_page():
    fetched = [{"id": f"m{i}", "created_at": 10 - i} for i in range(4)]
    assert split_page(fetched, 3) == (fetched[:3], (8, "m2"))
    assert split_page(fetched, 4) == (fetched, None)
    assert split_page(fetched, 5) == (fetched, None)


def test_media_cache_key():
    assert media_cache_key("01abc") == "media:01abc"


@pytest.mark.parametrize(
    ("epoch_ms", "iso"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        (1_700_000_000_999, "2023-11-14T22:13:20.999Z"),
        (None, None),
    ],
)
def test_iso_time(epoch_ms, iso):
    assert iso_time(epoch_ms) == iso


def test_media_json(db):
    insert(db, "m1", 1_700_000_000_123)
    db.execute(
        "UPDATE media SET updated_at = ?, error = ? WHERE id = 'm1'",
        (1_700_000_000_500, "why"),
    )
    add_rendition(db, "m1", "web", status="completed")
    add_rendition(db, "m1", "thumbnail")
    db.execute(
        "UPDATE renditions SET job_id = 'job_1', content_type = 'video/mp4', width = 1920,"
        " height = 1080, duration = 2.5, size = 99, output_key = 'renditions/m1/web.mp4',"
        " output_url = 'https://ittybit.example/x' WHERE name = 'web'"
    )
    [media] = rows(db, SELECT_MEDIA, ("m1",))
    renditions = rows(db, SELECT_RENDITIONS, ("m1",))
    body = media_json(media, list(reversed(renditions)))
    assert body == {
        "id": "m1",
        "name": "m1.png",
        "kind": "image",
        "content_type": "image/png",
        "size": 10,
        "status": "pending",
        "error": "why",
        "source": "api",
        "original_key": "originals/m1",
        "created_at": "2023-11-14T22:13:20.123Z",
        "updated_at": "2023-11-14T22:13:20.500Z",
        **dict.fromkeys(("width", "height", "orientation", "duration", "fps", "codec")),
        "metadata": {},
        "renditions": [
            {
                "name": "thumbnail",
                "kind": "image",
                "status": "pending",
                "job_id": None,
                "content_type": None,
                "width": None,
                "height": None,
                "duration": None,
                "size": None,
                "error": None,
                "output_key": None,
                "url": None,
            },
            {
                "name": "web",
                "kind": "image",
                "status": "completed",
                "job_id": "job_1",
                "content_type": "video/mp4",
                "width": 1920,
                "height": 1080,
                "duration": 2.5,
                "size": 99,
                "error": None,
                "output_key": "renditions/m1/web.mp4",
                "url": None,
            },
        ],
    }


def test_media_json_without_renditions_or_optional_fields():
    body = media_json({"id": "m1", "r2_key": "k", "created_at": 0}, [])
    assert body["renditions"] == [] and body["original_key"] == "k"
    assert body["updated_at"] is None and body["name"] is None


def probe(db, media_id, status="completed", **facts):
    columns = ", ".join(["media_id", "status", "created_at", "updated_at", *facts])
    marks = ", ".join("?" * (4 + len(facts)))
    db.execute(f"INSERT INTO media_probes ({columns}) VALUES ({marks})", (media_id, status, 1, 1, *facts.values()))


@pytest.mark.parametrize(
    ("kind", "facts", "expected"),
    [
        ("video", {"width": 1080, "height": 1920, "rotation": 90, "duration": 2.0, "fps": 29.97, "video_codec": "h264",
                   "audio_codec": "aac"},
         {"width": 1080, "height": 1920, "orientation": "portrait", "duration": 2.0, "fps": 29.97, "codec": "h264"}),
        ("image", {"width": 640, "height": 480, "video_codec": "mjpeg", "fps": 25.0, "duration": 0.04},
         {"width": 640, "height": 480, "orientation": "landscape", "duration": None, "fps": None, "codec": None}),
        ("audio", {"duration": 3.5, "audio_codec": "mp3"},
         {"width": None, "height": None, "orientation": None, "duration": 3.5, "fps": None, "codec": None}),
        ("image", {"width": 500, "height": 500},
         {"width": 500, "height": 500, "orientation": "square", "duration": None, "fps": None, "codec": None}),
    ],
)
def test_media_json_shows_the_original_s_facts_once_probed(db, kind, facts, expected):
    insert(db, "m1", 1, kind=kind)
    probe(db, "m1", **facts)
    [media] = rows(db, SELECT_MEDIA, ("m1",))
    body = media_json(media, [])
    assert {key: body[key] for key in expected} == expected
    sql, params = list_query(None, None, 5)
    [listed] = rows(db, sql, params)
    assert {key: media_json(listed, [])[key] for key in expected} == expected


def test_a_pending_probe_shows_nothing_and_the_listing_filters_on_the_media_status(db):
    insert(db, "m1", 1, status="completed")
    probe(db, "m1", status="pending")  # its own status must not be confused with the media's
    [media] = rows(db, SELECT_MEDIA, ("m1",))
    assert media["status"] == "completed" and media_json(media, [])["width"] is None
    sql, params = list_query("completed", (2, "zz"), 5)
    assert [row["id"] for row in rows(db, sql, params)] == ["m1"]
    assert rows(db, *list_query("pending", None, 5)) == []


def test_the_probe_goes_with_its_media(db):
    insert(db, "m1", 1)
    insert(db, "m2", 2)
    probe(db, "m1", width=2, height=2)
    probe(db, "m2", width=2, height=2)
    db.execute(DELETE_PROBE, ("m1",))
    db.execute(DELETE_MEDIA, ("m1",))
    db.execute(DELETE_MEDIA, ("m2",))  # ON DELETE CASCADE where foreign keys are enforced
    assert rows(db, "SELECT * FROM media_probes") == []
