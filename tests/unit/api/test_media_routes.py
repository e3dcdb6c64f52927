"""api.media_routes: GET /api/media/{id} treats KV as a cache (a failing or unreadable KV never
fails the request); the list query of GET /api/media and its cursors."""

import asyncio
import base64
import json
from types import SimpleNamespace

import pytest

from api.media_routes import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListQuery,
    decode_cursor,
    encode_cursor,
    link_lifetime,
    media_record,
    parse_list_query,
    remove_media,
)
from common.errors import HttpError
from common.media_records import media_cache_key
from tests.unit.fakes import FakeD1, FakeKV

MEDIA_ID = "01m8260crbhwnnknazydz3ek9n"


class BrokenKV(FakeKV):
    """Local KV under two workerds sometimes fails a read (a value file gone mid-read)."""

    async def get(self, key):
        raise RuntimeError("internal error; reference = abc")

    async def put(self, key, value, expirationTtl=None):
        raise RuntimeError("internal error; reference = def")


def _env(kv, status="completed"):
    db = FakeD1()
    db.conn.execute(
        "INSERT INTO media (id, r2_key, content_type, kind, size, status, created_at, updated_at)"
        " VALUES (?, ?, 'image/png', 'image', 10, ?, 1, 1)", (MEDIA_ID, f"originals/{MEDIA_ID}", status))
    return SimpleNamespace(DB=db, METADATA=kv, PUBLIC_API_URL="http://api.test")


def test_a_failing_kv_read_and_write_is_a_miss_served_from_d1(capsys):
    record, cache = asyncio.run(media_record(_env(BrokenKV()), MEDIA_ID))
    assert (record["id"], record["status"], cache) == (MEDIA_ID, "completed", "miss")
    logged = capsys.readouterr().out
    assert "KV cache read failed" in logged and "KV cache write failed" in logged


def test_a_miss_is_cached_and_then_served_as_a_hit():
    kv = FakeKV()
    env = _env(kv)
    first, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "miss" and json.loads(kv.data[media_cache_key(MEDIA_ID)])["id"] == MEDIA_ID
    second, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "hit" and second["id"] == first["id"]


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_a_record_in_progress_is_read_from_d1_and_never_cached(status):
    # KV takes one write a second to a key: only final records, which never change, are cached.
    kv = FakeKV()
    env = _env(kv, status)
    for _ in range(2):
        record, how = asyncio.run(media_record(env, MEDIA_ID))
        assert how == "miss" and record["status"] == status
    assert kv.data == {}


def test_an_entry_in_progress_left_in_kv_is_a_miss():
    kv = FakeKV()
    env = _env(kv, "processing")
    kv.data[media_cache_key(MEDIA_ID)] = json.dumps({"id": MEDIA_ID, "status": "pending", "renditions": []})
    record, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "miss" and record["status"] == "processing"


def test_expires_in_sets_how_long_the_signed_links_stay_valid_and_bad_values_are_400():
    import re
    import time

    env = _env(FakeKV())
    env.URL_SIGNING_SECRET = "s3cret"
    default, _ = asyncio.run(media_record(env, MEDIA_ID))
    longer, _ = asyncio.run(media_record(env, MEDIA_ID, link_lifetime("172800")))
    expiry = lambda record: int(re.search(r"expires=(\d+)", record["signed_url"])[1])  # noqa: E731
    assert abs(expiry(default) - (time.time() + 900)) < 30  # SIGNED_URL_TTL's default
    assert abs(expiry(longer) - (time.time() + 172800)) < 30
    assert link_lifetime(None) is None and link_lifetime("604800") == 604800
    for bad in ("0", "-5", "604801", "1e3", "", " 60", "99999999"):
        with pytest.raises(HttpError) as caught:
            link_lifetime(bad)
        assert (caught.value.status, caught.value.code) == (400, "invalid_expires_in")


def test_an_unreadable_cache_entry_is_a_miss():
    kv = FakeKV()
    kv.data[media_cache_key(MEDIA_ID)] = "{not json"
    record, how = asyncio.run(media_record(_env(kv), MEDIA_ID))
    assert how == "miss" and record["id"] == MEDIA_ID


class DeleteDuringPutKV(FakeKV):
    """A DELETE /api/media/{id} that commits D1 and deletes the key between the GET's
    SELECT and its KV put (the put itself lands afterwards)."""

    def __init__(self, db_holder):
        super().__init__()
        self.db_holder = db_holder

    async def put(self, key, value, expirationTtl=None):
        env = self.db_holder[0]
        if hasattr(env, "DB"):
            self.db_holder[0] = None
            await remove_media(env, MEDIA_ID)
        await super().put(key, value, expirationTtl)


class FakeBucket:
    async def delete(self, keys):
        pass

    async def list(self, options):
        return SimpleNamespace(objects=[], truncated=False)


def test_a_get_racing_a_delete_leaves_no_deleted_record_in_kv():
    holder = [None]
    kv = DeleteDuringPutKV(holder)
    env = _env(kv)
    env.MEDIA = FakeBucket()
    holder[0] = env
    record, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "miss" and record["id"] == MEDIA_ID  # read before the delete committed
    assert holder[0] is None, "the delete did not run inside the put"
    assert env.DB.rows("SELECT id FROM media") == []
    assert media_cache_key(MEDIA_ID) not in kv.data
    with pytest.raises(HttpError) as error:
        asyncio.run(media_record(env, MEDIA_ID))
    assert error.value.status == 404


class FailingRecheckD1(FakeD1):
    """D1 answers the GET's reads, then fails the re-check after the KV put."""

    def __init__(self):
        super().__init__()
        self.fail_selects_after = None

    def prepare(self, sql):
        statement = super().prepare(sql)
        if self.fail_selects_after is not None and sql.lstrip().upper().startswith("SELECT"):
            if self.fail_selects_after == 0:
                async def broken():
                    raise RuntimeError("D1_ERROR: storage reset")
                statement.first = broken
            self.fail_selects_after -= 1
        return statement


def test_a_failed_recheck_drops_the_cache_entry(capsys):
    kv = FakeKV()
    env = _env(kv)
    env.DB = db = FailingRecheckD1()
    db.conn.execute(
        "INSERT INTO media (id, r2_key, content_type, kind, size, status, created_at, updated_at)"
        " VALUES (?, ?, 'image/png', 'image', 10, 'failed', 1, 1)", (MEDIA_ID, f"originals/{MEDIA_ID}"))
    db.fail_selects_after = 2  # SELECT_MEDIA and SELECT_RENDITIONS pass, the re-check fails
    record, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "miss" and record["id"] == MEDIA_ID
    assert media_cache_key(MEDIA_ID) not in kv.data
    assert "KV cache re-check failed" in capsys.readouterr().out


# The list query of GET /api/media: status, limit, cursors.


def test_defaults():
    assert parse_list_query({}) == ListQuery(
        status=None, cursor=None, limit=DEFAULT_LIMIT
    )
    assert DEFAULT_LIMIT == 20 and MAX_LIMIT == 100


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("pending", "pending"),
        ("queued", "pending"),
        ("processing", "processing"),
        ("completed", "completed"),
        ("processed", "completed"),
        ("failed", "failed"),
        ("FAILED", "failed"),
        (" Completed ", "completed"),
        ("", None),
    ],
)
def test_status(word, status):
    assert parse_list_query({"status": word}).status == status


@pytest.mark.parametrize(
    ("value", "limit"), [("1", 1), ("20", 20), ("100", 100), (" 7 ", 7), ("", 20)]
)
def test_limit(value, limit):
    assert parse_list_query({"limit": value}).limit == limit


def test_cursor():
    token = encode_cursor(1_760_000_000_000, "01jc5xq7m3r8a9b2c4d6e8f0gh")
    assert parse_list_query({"cursor": token}).cursor == (
        1_760_000_000_000,
        "01jc5xq7m3r8a9b2c4d6e8f0gh",
    )
    assert parse_list_query({"cursor": ""}).cursor is None


@pytest.mark.parametrize(
    ("params", "code", "mentions"),
    [
        ({"status": "done"}, "invalid_status", "pending"),
        ({"status": "pending,failed"}, "invalid_status", "status"),
        ({"limit": "0"}, "invalid_limit", "100"),
        ({"limit": "101"}, "invalid_limit", "100"),
        ({"limit": "-1"}, "invalid_limit", "limit"),
        ({"limit": "ten"}, "invalid_limit", "limit"),
        ({"limit": "1.5"}, "invalid_limit", "limit"),
        ({"limit": "99999999999999999999"}, "invalid_limit", "limit"),
        ({"limit": "２０"}, "invalid_limit", "limit"),
        ({"cursor": "garbage!"}, "invalid_cursor", "cursor"),
        ({"cursor": "eyJhIjoxfQ"}, "invalid_cursor", "cursor"),
    ],
)
def test_bad_values_are_400_with_a_clear_message(params, code, mentions):
    with pytest.raises(HttpError) as caught:
        parse_list_query(params)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert mentions in caught.value.message


def test_unknown_parameters_are_ignored():
    assert parse_list_query({"foo": "bar", "limit": "5"}) == ListQuery(None, None, 5)


# Cursors: encode_cursor / decode_cursor.


@pytest.mark.parametrize(
    ("created_at", "media_id"),
    [
        (0, "a"),
        (1_760_000_000_123, "01jc5xq7m3r8a9b2c4d6e8f0gh"),
        (5, 'id with spaces/and"quotes'),
        (7, "é"),
    ],
)
def test_round_trip(created_at, media_id):
    token = encode_cursor(created_at, media_id)
    assert decode_cursor(token) == (created_at, media_id)
    assert set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_tokens_differ_by_position():
    assert encode_cursor(1, "a") != encode_cursor(2, "a") != encode_cursor(1, "b")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "!!!",
        "abc=",  # padding is not part of our tokens
        "a b",
        "a" * 1000,
        b64(b"not json"),
        b64(b"\xff\xfe"),
        b64(b"{}"),
        b64(b"[]"),
        b64(b"[1]"),
        b64(b'[1, "a", 3]'),
        b64(b'["1", "a"]'),
        b64(b'[1.5, "a"]'),
        b64(b'[true, "a"]'),
        b64(b'[-1, "a"]'),
        b64(b"[1, 2]"),
        b64(b'[1, ""]'),
        b64(json.dumps([1, "x" * 200]).encode()),
        b64(b'[1, "a"]'),  # readable but not our canonical spelling (spaces)
        b64(b'[01,"a"]'),
        encode_cursor(1, "a") + "A",
        encode_cursor(1, "a")[:-1],
        None,
        42,
    ],
)
def test_decode_rejects_anything_malformed(value):
    with pytest.raises(ValueError):
        decode_cursor(value)


@pytest.mark.parametrize("created_at", [2**48, 2**53, 2**63, 10**30])
def test_a_time_past_48_bits_is_refused(created_at):
    # Canonical (encode_cursor made it), but D1 cannot bind ints of 2**53 and above from
    # Pyodide (they become BigInt): the cursor must be a 400, not reach the query.
    with pytest.raises(ValueError):
        decode_cursor(encode_cursor(created_at, "01"))


def test_the_largest_48_bit_time_is_accepted():
    assert decode_cursor(encode_cursor(2**48 - 1, "01")) == (2**48 - 1, "01")


def test_a_hand_made_huge_cursor_is_a_400_invalid_cursor():
    from common.errors import HttpError
    from api.media_routes import parse_list_query

    with pytest.raises(HttpError) as error:
        parse_list_query({"cursor": "WzkyMjMzNzIwMzY4NTQ3NzU4MDgsIjAxIl0"})  # [2**63,"01"]
    assert (error.value.status, error.value.code) == (400, "invalid_cursor")


# The dashboard's filters: kind and name search; the per-day counts.


def test_kind_and_name_query_are_parsed_and_bounded():
    query = parse_list_query({"kind": " Video ", "q": "  holiday "})
    assert (query.kind, query.q) == ("video", "holiday")
    assert parse_list_query({"kind": "", "q": " "}).kind is None
    assert parse_list_query({"q": "x" * 48}).q == "x" * 48  # the pattern %x…x% is D1's 50 bytes
    for params, code in (({"kind": "pdf"}, "invalid_kind"), ({"q": "x" * 49}, "invalid_query"),
                         ({"q": "%" * 25}, "invalid_query"), ({"q": "é" * 25}, "invalid_query")):
        with pytest.raises(HttpError) as caught:
            parse_list_query(params)
        assert caught.value.status == 400 and caught.value.code == code


def test_the_name_search_matches_text_not_wildcards():
    import sqlite3

    from common.media_records import list_query

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE media (id, name, kind, status, created_at)")
    names = ["Holiday.mp4", "100%_done.png", "1000_done.png", "back\\slash.jpg", "other.mp3"]
    db.executemany("INSERT INTO media VALUES (?, ?, ?, 'pending', ?)",
                   [(str(n), name, "video" if name.endswith("mp4") else "image", n) for n, name in enumerate(names)])

    def found(text, kind=None):
        sql, params = list_query(None, None, 10, kind=kind, name_contains=text)
        sql = "SELECT media.name FROM media" + sql.split("LEFT JOIN media_metadata mm ON mm.media_id = media.id", 1)[1]
        return sorted(row[0] for row in db.execute(sql, params))

    assert found("holiday") == ["Holiday.mp4"]          # ASCII case-insensitive
    assert found("%_") == ["100%_done.png"]             # % and _ match themselves
    assert found("k\\s") == ["back\\slash.jpg"]
    assert found("done", kind="video") == []
    assert found("done", kind="image") == sorted(["1000_done.png", "100%_done.png"])


def test_the_day_window_covers_today_and_the_days_before_in_utc():
    from api.media_routes import day_window
    from common.media_records import daily_json

    since, days = day_window(1_764_590_400, 3)  # 2025-12-01T12:00:00Z
    assert days == ["2025-11-29", "2025-11-30", "2025-12-01"]
    assert since == 1_764_374_400_000  # 2025-11-29T00:00:00Z in ms
    rows = [{"day": "2025-11-30", "uploads": 4, "failed": 1}]
    assert daily_json(rows, days) == [
        {"day": "2025-11-29", "uploads": 0, "failed": 0},
        {"day": "2025-11-30", "uploads": 4, "failed": 1},
        {"day": "2025-12-01", "uploads": 0, "failed": 0},
    ]
