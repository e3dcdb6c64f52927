"""GET /api/media/{id} treats KV as a cache: a failing or unreadable KV never fails the request."""

import asyncio
import json
from types import SimpleNamespace

from api.media_routes import get_media
from common.media_records import media_cache_key
from tests.unit.processor_fakes import FakeD1, FakeKV

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
    record, cache = asyncio.run(get_media(_env(BrokenKV()), MEDIA_ID))
    assert (record["id"], record["status"], cache) == (MEDIA_ID, "pending", "miss")
    logged = capsys.readouterr().out
    assert "KV cache read failed" in logged and "KV cache write failed" in logged


def test_a_miss_is_cached_and_then_served_as_a_hit():
    kv = FakeKV()
    env = _env(kv)
    first, how = asyncio.run(get_media(env, MEDIA_ID))
    assert how == "miss" and json.loads(kv.data[media_cache_key(MEDIA_ID)])["id"] == MEDIA_ID
    second, how = asyncio.run(get_media(env, MEDIA_ID))
    assert how == "hit" and second["id"] == first["id"]


def test_an_unreadable_cache_entry_is_a_miss():
    kv = FakeKV()
    kv.data[media_cache_key(MEDIA_ID)] = "{not json"
    record, how = asyncio.run(get_media(_env(kv), MEDIA_ID))
    assert how == "miss" and record["id"] == MEDIA_ID
