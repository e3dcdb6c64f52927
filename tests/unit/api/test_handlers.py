"""The API's handlers in-process: real requests dispatched through api.app.handle (the route
table, auth, CORS headers) with fake bindings: D1 on sqlite with schema.sql, KV, an R2
bucket, a queue.

The SDK (`workers`) and `js` exist only in Pyodide: `workers.Response` is stubbed, and `js`
by just enough of Uint8Array/Blob/FixedLengthStream for common.r2_streams to stream a small
body. Not covered here (needs the real runtime): multipart uploads (bodies over PART_SIZE,
8 MiB), the runtime dropping the body of a HEAD answer (dispatch calls the GET handler; a
handler like /healthz still returns a body here), the part-buffer budget under concurrency,
and the SDK's own request/response conversions.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import types
from contextlib import contextmanager
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from tests.unit.fakes import FakeD1, FakeKV, FakeQueue

API_KEY = "test-key"
SECRET = "sign-secret"
MEDIA_ID = "01m8260crbhwnnknazydz3ek9n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 2


# ---- the SDK and js stubs -------------------------------------------------------------------


class _Headers:
    """Case-insensitive headers with the JS Headers' get/set."""

    def __init__(self, items=None):
        self._items = {name.lower(): str(value) for name, value in (items or {}).items()}

    def get(self, name, default=None):
        return self._items.get(name.lower(), default)

    def set(self, name, value):
        self._items[name.lower()] = str(value)

    def __contains__(self, name):
        return name.lower() in self._items

    def __getitem__(self, name):
        return self._items[name.lower()]


class _Response:
    def __init__(self, body, status=200, headers=None):
        self.body, self.status = body, status
        self.js_object = SimpleNamespace(headers=_Headers(headers))

    @property
    def headers(self):
        return self.js_object.headers

    def json(self):
        return json.loads(self.body)


class _U8:
    """A Uint8Array over a shared bytearray (subarray is a view, as in JS)."""

    def __init__(self, buffer, start=0, end=None):
        self.buffer, self.start = buffer, start
        self.end = len(buffer) if end is None else end

    @classmethod
    def new(cls, size):
        return cls(bytearray(size))

    @property
    def byteLength(self):
        return self.end - self.start

    def subarray(self, begin, end=None):
        end = self.byteLength if end is None else min(end, self.byteLength)
        return _U8(self.buffer, self.start + begin, self.start + end)

    def set(self, source, offset):
        data = source.to_bytes()
        at = self.start + offset
        self.buffer[at : at + len(data)] = data

    def to_bytes(self):
        return bytes(self.buffer[self.start : self.end])


class _Blob:
    def __init__(self, parts):
        self.data = b"".join(part.to_bytes() for part in parts)


class _FixedLengthStream:
    """Bytes written to `writable` must add up to `length`; `readable` is what R2 reads."""

    def __init__(self, length):
        self.length, self.data = length, bytearray()
        self.closed = asyncio.Event()
        self.error = None
        stream = self

        class Writable:
            owner = stream

            def getWriter(self):
                return SimpleNamespace(write=stream._write, releaseLock=lambda: None)

        self.writable = Writable()
        self.readable = self

    @classmethod
    def new(cls, length):
        return cls(length)

    async def _write(self, chunk):
        self.data += chunk.to_bytes()

    def close(self):
        if len(self.data) != self.length:
            self.error = TypeError("FixedLengthStream did not see all expected bytes before close()")
        self.closed.set()
        if self.error:
            raise self.error

    async def bytes(self):
        await self.closed.wait()
        if self.error:
            raise self.error
        return bytes(self.data)


def _fake_js():
    return types.SimpleNamespace(
        Uint8Array=_U8,
        Blob=SimpleNamespace(new=_Blob),
        Array=SimpleNamespace(of=lambda *items: list(items)),
        FixedLengthStream=_FixedLengthStream,
    )


class FakeBody:
    """A request body (ReadableStream) of `chunks`: a BYOB reader with readAtLeast, pipeTo.

    readAtLeast copies arriving chunks into the buffer until it holds `at_least` bytes (or the
    buffer is full, or the body ends), as workerd's does: it never waits for more chunks."""

    def __init__(self, chunks, fail_after=None):
        self.chunks = [bytes(chunk) for chunk in chunks if chunk]
        self.fail_after = fail_after  # raise once this many bytes were read (a broken body)
        self.read_total = 0
        self.locked = False
        self.cancelled = False

    def getReader(self, mode=None):
        assert mode == "byob" and not self.locked
        self.locked = True
        body = self

        class Reader:
            async def readAtLeast(self, at_least, buffer):
                if body.fail_after is not None and body.read_total >= body.fail_after:
                    raise RuntimeError("Network connection lost.")
                n = 0
                while body.chunks and n < at_least and n < buffer.byteLength:
                    if body.fail_after is not None and body.read_total >= body.fail_after:
                        break
                    chunk = body.chunks.pop(0)
                    take = min(len(chunk), buffer.byteLength - n)
                    if body.fail_after is not None:
                        take = min(take, body.fail_after - body.read_total)
                    if take < len(chunk):
                        body.chunks.insert(0, chunk[take:])
                    at = buffer.start + n
                    buffer.buffer[at : at + take] = chunk[:take]
                    n += take
                    body.read_total += take
                return SimpleNamespace(value=buffer.subarray(0, n), done=n == 0)

            def releaseLock(self):
                body.locked = False

            async def cancel(self):
                body.cancelled = True

        return Reader()

    async def pipeTo(self, writable):
        assert not self.locked
        target = writable.getWriter()
        for chunk in self.chunks:
            await target.write(_U8(bytearray(chunk)))
        self.chunks = []
        writable.owner.close()


class FakeBucket:
    """R2 as a dict of key -> (bytes, content type)."""

    def __init__(self):
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.fail_put = None

    async def put(self, key, value, options=None):
        if self.fail_put:
            raise self.fail_put
        data = value.data if isinstance(value, _Blob) else await value.bytes()
        content_type = ((options or {}).get("httpMetadata") or {}).get("contentType", "application/octet-stream")
        self.objects[key] = (bytes(data), content_type)
        return SimpleNamespace(key=key, size=len(data))

    async def createMultipartUpload(self, key, options=None):
        raise AssertionError("a small body never needs a multipart upload")

    async def delete(self, keys):
        for key in [keys] if isinstance(keys, str) else keys:
            self.objects.pop(key, None)

    async def list(self, options):
        prefix = options.get("prefix", "")
        keys = sorted(key for key in self.objects if key.startswith(prefix))
        return SimpleNamespace(objects=[SimpleNamespace(key=key) for key in keys], truncated=False, cursor=None)

    def _meta(self, key):
        data, content_type = self.objects[key]
        etag = f"etag-{len(data)}"
        return SimpleNamespace(key=key, size=len(data), etag=etag, httpEtag=f'"{etag}"',
                               httpMetadata={"contentType": content_type}, uploaded=None, data=data)

    async def head(self, key):
        return self._meta(key) if key in self.objects else None

    async def get(self, key, options=None):
        if key not in self.objects:
            return None
        meta = self._meta(key)
        meta.body = meta.data  # the stream; passed on as is
        return meta


# ---- fixtures -------------------------------------------------------------------------------


@contextmanager
def api_app_with(fake_js):
    """api.app imported afresh against the stubs (`fake_js` as `js`); afterwards every module it
    loaded is dropped and the ones it replaced are put back, so no other test sees the stubs."""
    before = dict(sys.modules)
    for name in list(sys.modules):
        if name.split(".")[0] in ("api", "common", "processor", "workers", "js"):
            del sys.modules[name]
    sys.modules["workers"] = types.SimpleNamespace(Response=_Response)
    sys.modules["js"] = fake_js
    try:
        import api.app

        yield api.app
    finally:
        for name in list(sys.modules):
            if name not in before:
                del sys.modules[name]
        sys.modules.update(before)


@pytest.fixture(scope="module")
def app():
    """api.app against the stubs, once for this module."""
    with api_app_with(_fake_js()) as module:
        yield module


@pytest.fixture
def env():
    return SimpleNamespace(
        DB=FakeD1(), METADATA=FakeKV(), MEDIA=FakeBucket(), JOBS=FakeQueue(),
        API_KEY=API_KEY, CORS_ORIGINS="*", PUBLIC_API_URL="https://api.test",
        URL_SIGNING_SECRET=SECRET,
    )


def call(app, env, method, path, *, key=API_KEY, headers=None, body=None):
    """One request through api.app.handle, as the entry point passes it."""
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["x-api-key"] = key
    request = SimpleNamespace(
        url=f"https://api.test{path}", method=method, js_object=SimpleNamespace(method=method),
        headers=_Headers(all_headers), body=body,
    )
    return asyncio.run(app.handle(request, env))


def insert(env, media_id, *, status="pending", created_at=1_700_000_000_000, kind="image"):
    env.DB.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, status, source, created_at, updated_at)"
        " VALUES (?, ?, 'pic.png', 'image/png', ?, 10, ?, 'api', ?, ?)",
        (media_id, f"originals/{media_id}", kind, status, created_at, created_at),
    )
    env.MEDIA.objects[f"originals/{media_id}"] = (b"0123456789", "image/png")


def media_ids(count):
    from common.ids import new_media_id

    return [new_media_id(1_700_000_000_000 + n, bytes([n]) * 10) for n in range(count)]


# ---- GET /api/media/{id} --------------------------------------------------------------------


def test_get_media_is_a_miss_from_d1_then_a_hit_from_kv(app, env):
    insert(env, MEDIA_ID, status="completed")
    first = call(app, env, "GET", f"/api/media/{MEDIA_ID}")
    assert first.status == 200 and first.headers.get("x-cache") == "miss"
    record = first.json()
    assert (record["id"], record["status"], record["name"], record["kind"]) == (MEDIA_ID, "completed", "pic.png", "image")
    assert record["url"] == f"https://api.test/files/originals/{MEDIA_ID}"
    assert record["signed_url"].startswith(f"https://api.test/files/originals/{MEDIA_ID}?expires=")
    cached = env.METADATA.json(f"media:{MEDIA_ID}")
    assert cached["id"] == MEDIA_ID and "signed_url" not in cached  # URLs are added per answer
    assert first.headers.get("access-control-allow-origin") == "*"  # CORS on every answer

    env.DB.conn.execute("UPDATE media SET status = 'failed' WHERE id = ?", (MEDIA_ID,))
    second = call(app, env, "GET", f"/api/media/{MEDIA_ID}")
    assert second.status == 200 and second.headers.get("x-cache") == "hit"
    assert second.json()["status"] == "completed"  # from KV, not D1


def test_get_media_with_renditions_links_only_completed_ones(app, env):
    insert(env, MEDIA_ID)
    env.DB.conn.executemany(
        "INSERT INTO renditions (media_id, name, kind, status, output_key, created_at, updated_at)"
        " VALUES (?, ?, 'image', ?, ?, 1, 1)",
        [(MEDIA_ID, "thumbnail", "completed", f"renditions/{MEDIA_ID}/thumbnail.webp"),
         (MEDIA_ID, "web", "processing", None)])
    renditions = call(app, env, "GET", f"/api/media/{MEDIA_ID}").json()["renditions"]
    assert [(r["name"], r["status"]) for r in renditions] == [("thumbnail", "completed"), ("web", "processing")]
    assert renditions[0]["url"] == f"https://api.test/files/renditions/{MEDIA_ID}/thumbnail.webp"
    assert renditions[1]["url"] is None


@pytest.mark.parametrize("media_id", [MEDIA_ID, "not-an-id", "%00"])
def test_get_media_unknown_or_malformed_is_404_not_found(app, env, media_id):
    response = call(app, env, "GET", f"/api/media/{media_id}")
    assert response.status == 404 and response.json()["code"] == "not_found"
    assert env.METADATA.data == {}


def test_the_seed_images_path_serves_the_same_record(app, env):
    insert(env, MEDIA_ID)
    response = call(app, env, "GET", f"/api/images/{MEDIA_ID}")
    assert response.status == 200 and response.json()["id"] == MEDIA_ID


# ---- GET /api/media -------------------------------------------------------------------------


def test_list_is_newest_first_and_pages_with_the_cursor(app, env):
    ids = media_ids(5)
    for n, media_id in enumerate(ids):
        insert(env, media_id, created_at=1_700_000_000_000 + n)
    first = call(app, env, "GET", "/api/media?limit=2").json()
    assert [item["id"] for item in first["items"]] == [ids[4], ids[3]]
    assert "renditions" not in first["items"][0]
    second = call(app, env, "GET", f"/api/media?limit=2&cursor={first['next_cursor']}").json()
    assert [item["id"] for item in second["items"]] == [ids[2], ids[1]]
    last = call(app, env, "GET", f"/api/media?limit=2&cursor={second['next_cursor']}").json()
    assert [item["id"] for item in last["items"]] == [ids[0]] and last["next_cursor"] is None


def test_list_filters_by_status_and_its_aliases(app, env):
    ids = media_ids(3)
    for media_id, status in zip(ids, ("pending", "completed", "failed")):
        insert(env, media_id, status=status)
    for word in ("completed", "processed", "COMPLETED"):
        items = call(app, env, "GET", f"/api/media?status={word}").json()["items"]
        assert [item["id"] for item in items] == [ids[1]]
    items = call(app, env, "GET", "/api/media?status=queued").json()["items"]
    assert [(item["id"], item["status"]) for item in items] == [(ids[0], "pending")]
    assert len(call(app, env, "GET", "/api/media").json()["items"]) == 3


@pytest.mark.parametrize("query, code", [
    ("limit=0", "invalid_limit"), ("limit=101", "invalid_limit"), ("limit=ten", "invalid_limit"),
    ("limit=-1", "invalid_limit"), ("status=deleted", "invalid_status"), ("cursor=nope!", "invalid_cursor"),
    ("cursor=WzEsImEiXQ", None),
])
def test_list_refuses_bad_queries_with_400(app, env, query, code):
    response = call(app, env, "GET", f"/api/media?{query}")
    if code is None:  # a canonical cursor we could have made: a page (empty), not an error
        assert response.status == 200 and response.json() == {"items": [], "next_cursor": None}
        return
    assert response.status == 400 and response.json()["code"] == code


# ---- DELETE /api/media/{id} -----------------------------------------------------------------


def test_delete_removes_rows_r2_objects_and_cache_then_is_404(app, env):
    insert(env, MEDIA_ID, status="completed")
    other = media_ids(1)[0]
    insert(env, other)
    env.DB.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, status, output_key, created_at, updated_at)"
        " VALUES (?, 'web', 'image', 'completed', ?, 1, 1)", (MEDIA_ID, f"renditions/{MEDIA_ID}/web.webp"))
    env.MEDIA.objects[f"renditions/{MEDIA_ID}/web.webp"] = (b"w", "image/webp")
    env.MEDIA.objects[f"renditions/{MEDIA_ID}/stray.webp"] = (b"s", "image/webp")  # no row: still deleted
    assert call(app, env, "GET", f"/api/media/{MEDIA_ID}").status == 200  # now cached in KV
    assert f"media:{MEDIA_ID}" in env.METADATA.data

    response = call(app, env, "DELETE", f"/api/media/{MEDIA_ID}")
    assert response.status == 200
    assert response.json() == {"deleted": MEDIA_ID, "objects_deleted": 3}
    assert env.DB.rows("SELECT id FROM media") == [{"id": other}]
    assert env.DB.rows("SELECT * FROM renditions WHERE media_id = ?", MEDIA_ID) == []
    assert sorted(env.MEDIA.objects) == [f"originals/{other}"]
    assert f"media:{MEDIA_ID}" not in env.METADATA.data

    again = call(app, env, "DELETE", f"/api/media/{MEDIA_ID}")
    assert again.status == 404 and again.json()["code"] == "not_found"
    assert call(app, env, "GET", f"/api/media/{MEDIA_ID}").status == 404


def test_a_failed_r2_delete_keeps_the_record_for_a_retry(app, env, capsys):
    insert(env, MEDIA_ID)

    async def broken(keys):
        raise RuntimeError("R2 unavailable")

    env.MEDIA.delete = broken
    response = call(app, env, "DELETE", f"/api/media/{MEDIA_ID}")
    assert response.status == 500 and response.json()["code"] == "internal_error"
    assert env.DB.rows("SELECT id FROM media") == [{"id": MEDIA_ID}]
    assert "api: uncaught error on DELETE" in capsys.readouterr().out


# ---- GET /api/stats -------------------------------------------------------------------------


def test_stats_counts_every_status(app, env):
    assert call(app, env, "GET", "/api/stats").json() == {
        "total": 0, "pending": 0, "processing": 0, "processed": 0, "completed": 0, "failed": 0}
    statuses = ["pending"] + ["processing"] * 2 + ["completed"] * 3 + ["failed"] * 4
    for media_id, status in zip(media_ids(len(statuses)), statuses):
        insert(env, media_id, status=status)
    response = call(app, env, "GET", "/api/stats")
    assert response.status == 200
    assert response.json() == {
        "total": 10, "pending": 1, "processing": 2, "processed": 3, "completed": 3, "failed": 4}


# ---- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/media"), ("GET", f"/api/media/{MEDIA_ID}"), ("DELETE", f"/api/media/{MEDIA_ID}"),
    ("GET", "/api/stats"), ("POST", "/api/media"), ("GET", f"/files/originals/{MEDIA_ID}"),
])
def test_protected_routes_answer_401_without_a_valid_key(app, env, method, path):
    insert(env, MEDIA_ID)
    for key in (None, "wrong-key"):
        response = call(app, env, method, path, key=key)
        assert response.status == 401 and response.json()["code"] == "unauthorized"
        assert response.headers.get("www-authenticate") == 'Bearer realm="media-pipeline"'
    assert env.DB.rows("SELECT id FROM media") == [{"id": MEDIA_ID}]  # nothing ran
    assert f"originals/{MEDIA_ID}" in env.MEDIA.objects


def test_a_bearer_token_and_a_rotated_key_are_accepted(app, env):
    env.API_KEYS = "old-key, new-key"
    assert call(app, env, "GET", "/api/stats", key=None, headers={"authorization": "Bearer new-key"}).status == 200
    assert call(app, env, "GET", "/api/stats", key="old-key").status == 200
    assert call(app, env, "GET", "/api/stats", key=None, headers={"authorization": "Basic new-key"}).status == 401


def test_public_routes_need_no_key(app, env):
    health = call(app, env, "GET", "/healthz", key=None)
    assert health.status == 200 and health.json()["status"] == "ok" and health.json()["worker"] == "api"
    spec = call(app, env, "GET", "/openapi.json", key=None)
    assert spec.status == 200 and "/api/media/{id}" in spec.json()["paths"]
    assert spec.headers.get("cache-control") == "public, max-age=300"


# ---- routing: 404, 405, HEAD ----------------------------------------------------------------


def test_an_unknown_path_is_404_even_without_a_key(app, env):
    for path in ("/nothing", "/api/media/a/b", "/api"):
        response = call(app, env, "GET", path, key=None)
        assert (response.status, response.json()) == (404, {"error": "No such route.", "code": "not_found"})


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", f"/api/media/{MEDIA_ID}", "DELETE, GET, HEAD"),
    ("DELETE", "/api/media", "GET, HEAD, POST"),
    ("POST", "/api/stats", "GET, HEAD"),
    ("PROPFIND", "/healthz", "GET, HEAD"),
])
def test_a_known_path_with_another_method_is_405_with_allow(app, env, method, path, allow):
    insert(env, MEDIA_ID)
    response = call(app, env, method, path)
    assert response.status == 405 and response.json()["code"] == "method_not_allowed"
    assert response.headers.get("allow") == allow
    assert env.DB.rows("SELECT id FROM media") == [{"id": MEDIA_ID}]


def test_head_is_answered_by_the_get_route(app, env):
    insert(env, MEDIA_ID)
    response = call(app, env, "HEAD", f"/api/media/{MEDIA_ID}")
    # The GET handler runs (its body is dropped by the runtime, not here).
    assert response.status == 200 and response.headers.get("x-cache") == "miss"
    assert call(app, env, "HEAD", "/api/media/01m8260crbhwnnknazydz3ek9a").status == 404
    assert call(app, env, "HEAD", "/api/stats", key=None).status == 401


# ---- GET/HEAD /files/{key} ------------------------------------------------------------------


def _signed_path(path, expires=None):
    from common.url_signing import signature

    expires = expires or int(time.time()) + 600
    return f"{path}?expires={expires}&signature={signature(SECRET, path, expires)}"


def test_a_signed_file_url_serves_the_object_without_a_key(app, env):
    insert(env, MEDIA_ID)
    path = f"/files/originals/{MEDIA_ID}"
    response = call(app, env, "GET", _signed_path(path), key=None)
    assert response.status == 200 and response.body == b"0123456789"
    assert response.headers.get("content-type") == "image/png"
    assert response.headers.get("content-length") == "10"
    # A signature for another path, or an expired one, is no key.
    other = _signed_path(f"/files/originals/{media_ids(1)[0]}")
    assert call(app, env, "GET", path + other[other.index("?"):], key=None).status == 401
    assert call(app, env, "GET", _signed_path(path, int(time.time()) - 1), key=None).status == 401


def test_a_signed_url_is_no_key_for_a_route_that_is_not_signed(app, env):
    insert(env, MEDIA_ID)
    for path in ("/api/stats", f"/api/media/{MEDIA_ID}"):
        response = call(app, env, "GET", _signed_path(path), key=None)
        assert response.status == 401 and response.json()["code"] == "unauthorized"


def test_head_and_range_of_a_file(app, env):
    insert(env, MEDIA_ID)
    path = f"/files/originals/{MEDIA_ID}"
    head = call(app, env, "HEAD", path)
    assert head.status == 200 and head.body is None and head.headers.get("content-length") == "10"
    ranged = call(app, env, "GET", path, headers={"range": "bytes=2-4"})
    assert ranged.status == 206 and ranged.headers.get("content-range") == "bytes 2-4/10"
    assert call(app, env, "GET", path, headers={"range": "bytes=50-"}).status == 416
    assert call(app, env, "GET", path, headers={"if-none-match": '"etag-10"'}).status == 304
    assert call(app, env, "GET", f"/files/originals/{media_ids(1)[0]}").status == 404
    assert call(app, env, "GET", "/files/secrets/x").status == 404


# ---- POST /api/media ------------------------------------------------------------------------


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
def test_an_upload_lands_in_r2_d1_kv_and_the_queue(app, env, declare_length):
    headers = {"content-type": "image/png", "x-file-name": quote("my pic.png")}
    if declare_length:
        headers["content-length"] = str(len(PNG))
    body = FakeBody([PNG[:40], PNG[40:300], PNG[300:]])
    response = call(app, env, "POST", "/api/media", headers=headers, body=body)
    assert response.status == 202, response.body
    answer = response.json()
    media_id = answer["id"]
    assert (answer["status"], answer["kind"], answer["content_type"], answer["size"], answer["name"]) == (
        "queued", "image", "image/png", len(PNG), "my pic.png")
    assert answer["queue_position"] == 1
    assert response.headers.get("location") == f"/api/media/{media_id}"
    assert env.MEDIA.objects[f"originals/{media_id}"] == (PNG, "image/png")
    [row] = env.DB.rows("SELECT id, r2_key, status, size, source FROM media")
    assert row == {"id": media_id, "r2_key": f"originals/{media_id}", "status": "pending", "size": len(PNG),
                   "source": "api"}
    assert env.METADATA.json(f"media:{media_id}") is None  # only final records are cached
    [message] = env.JOBS.sent
    assert media_id in json.dumps(message) and f"originals/{media_id}" in json.dumps(message)
    # And the record reads back through GET.
    assert call(app, env, "GET", f"/api/media/{media_id}").json()["size"] == len(PNG)


def test_an_upload_that_is_not_media_is_415_and_stores_nothing(app, env):
    body = FakeBody([b"just some text, not an image" * 4])
    response = call(app, env, "POST", "/api/media", headers={"content-type": "text/plain"}, body=body)
    assert response.status == 415 and response.json()["code"] == "unsupported_media_type"
    mismatch = call(app, env, "POST", "/api/media", headers={"content-type": "video/mp4"}, body=FakeBody([PNG]))
    assert mismatch.status == 415 and mismatch.json()["code"] == "media_type_mismatch"
    assert mismatch.json()["detected"] == "image/png"
    assert env.MEDIA.objects == {} and env.DB.rows("SELECT id FROM media") == [] and env.JOBS.sent == []


def test_upload_length_checks_answer_before_reading(app, env):
    env.MAX_FILE_SIZE = "100"
    body = FakeBody([PNG])
    too_big = call(app, env, "POST", "/api/media", headers={"content-length": str(len(PNG))}, body=body)
    assert too_big.status == 413 and too_big.json()["code"] == "file_too_large"
    assert body.read_total == 0
    empty = call(app, env, "POST", "/api/media", headers={"content-length": "0"}, body=FakeBody([]))
    assert empty.status == 400 and empty.json()["code"] == "empty_body"
    bad = call(app, env, "POST", "/api/media", headers={"content-length": "1e3"}, body=FakeBody([PNG]))
    assert bad.status == 400 and bad.json()["code"] == "invalid_content_length"
    assert env.MEDIA.objects == {} and env.JOBS.sent == []


def test_a_chunked_upload_over_the_limit_is_413_and_stores_nothing(app, env):
    env.MAX_FILE_SIZE = "100"
    body = FakeBody([PNG])
    response = call(app, env, "POST", "/api/media", headers={"content-type": "image/png"}, body=body)
    assert response.status == 413 and response.json()["code"] == "file_too_large"
    assert env.MEDIA.objects == {} and env.DB.rows("SELECT id FROM media") == []


def test_a_chunked_upload_passing_the_limit_after_its_head_read_is_413(app, env):
    env.MAX_FILE_SIZE = "100000"  # above the 64 KiB head read: the later reads must count too
    big = PNG + bytes(200_000)
    body = FakeBody([big[n : n + 10_000] for n in range(0, len(big), 10_000)])
    response = call(app, env, "POST", "/api/media", headers={"content-type": "image/png"}, body=body)
    assert response.status == 413 and response.json()["code"] == "file_too_large"
    assert 100_000 < body.read_total < 120_000  # refused as the limit passed, not at the end
    assert env.MEDIA.objects == {} and env.DB.rows("SELECT id FROM media") == []


def test_a_body_that_breaks_is_400_incomplete_body(app, env):
    response = call(app, env, "POST", "/api/media", headers={"content-type": "image/png"},
                    body=FakeBody([PNG], fail_after=100))
    assert response.status == 400 and response.json()["code"] == "incomplete_body"
    assert env.MEDIA.objects == {} and env.DB.rows("SELECT id FROM media") == []


def test_a_failing_queue_undoes_the_upload_with_503(app, env):
    async def down(body, delaySeconds=None):
        raise RuntimeError("queue down")

    env.JOBS.send = down
    response = call(app, env, "POST", "/api/media", headers={"content-type": "image/png"}, body=FakeBody([PNG]))
    assert response.status == 503 and response.json()["code"] == "queue_unavailable"
    assert env.MEDIA.objects == {} and env.DB.rows("SELECT id FROM media") == [] and env.METADATA.data == {}


def test_a_failing_d1_insert_removes_the_r2_object(app, env, capsys):
    env.DB.fail_once("INSERT INTO media", RuntimeError("D1_ERROR: no such table"))
    response = call(app, env, "POST", "/api/media", headers={"content-type": "image/png"}, body=FakeBody([PNG]))
    assert response.status == 500 and response.json()["code"] == "internal_error"
    assert env.MEDIA.objects == {} and env.JOBS.sent == []
