"""GET /api/media/{id} treats KV as a cache: a failing or unreadable KV never fails the request."""

import asyncio
import json
from types import SimpleNamespace

import pytest

from common.errors import HttpError
from api.media_routes import media_record, remove_media
from common.media_records import media_cache_key
from tests.unit.fakes import FakeD1, FakeKV

MEDIA_ID = "01m8260crbhwnnknazydz3ek9n"


class BrokenKV(FakeKV):
    """Local KV under two workerds sometimes fails a read (a value file gone mid-read)."""

    async def get(self, key):
        raise RuntimeError("internal error; reference = abc")

    async def put(self, key, value, expirationTtl=None):
        raise RuntimeError("internal error; reference = def")


def _env(kv):
    db = FakeD1()
    db.conn.execute(
        "INSERT INTO media (id, r2_key, content_type, kind, size, created_at, updated_at)"
        " VALUES (?, ?, 'image/png', 'image', 10, 1, 1)", (MEDIA_ID, f"originals/{MEDIA_ID}"))
    return SimpleNamespace(DB=db, METADATA=kv, PUBLIC_API_URL="http://api.test")


def test_a_failing_kv_read_and_write_is_a_miss_served_from_d1(capsys):
    record, cache = asyncio.run(media_record(_env(BrokenKV()), MEDIA_ID))
    assert (record["id"], record["status"], cache) == (MEDIA_ID, "pending", "miss")
    logged = capsys.readouterr().out
    assert "KV cache read failed" in logged and "KV cache write failed" in logged


def test_a_miss_is_cached_and_then_served_as_a_hit():
    kv = FakeKV()
    env = _env(kv)
    first, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "miss" and json.loads(kv.data[media_cache_key(MEDIA_ID)])["id"] == MEDIA_ID
    second, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "hit" and second["id"] == first["id"]


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
        "INSERT INTO media (id, r2_key, content_type, kind, size, created_at, updated_at)"
        " VALUES (?, ?, 'image/png', 'image', 10, 1, 1)", (MEDIA_ID, f"originals/{MEDIA_ID}"))
    db.fail_selects_after = 2  # SELECT_MEDIA and SELECT_RENDITIONS pass, the re-check fails
    record, how = asyncio.run(media_record(env, MEDIA_ID))
    assert how == "miss" and record["id"] == MEDIA_ID
    assert media_cache_key(MEDIA_ID) not in kv.data
    assert "KV cache re-check failed" in capsys.readouterr().out
