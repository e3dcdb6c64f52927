"""api.resumable_uploads' pure parts: a one-time upload URL's scope, the stash's key."""

import pytest

from api.resumable_uploads import direct_upload_grant, stash_key
from common.errors import HttpError

LIMIT = 30 * 1024**3


def test_a_grant_defaults_to_the_server_limit_an_hour_and_any_kind():
    assert direct_upload_grant({}, LIMIT) == {"max_size": LIMIT, "expires_in": 3600, "allowed_kinds": None,
                                              "metadata": {}}


def test_a_grant_keeps_its_limits():
    grant = direct_upload_grant({"max_size": 10, "expires_in": 60, "allowed_kinds": ["video", "audio", "video"],
                                 "metadata": {"user": "7"}}, LIMIT)
    assert grant == {"max_size": 10, "expires_in": 60, "allowed_kinds": ["audio", "video"], "metadata": {"user": "7"}}


@pytest.mark.parametrize("body", [
    {"max_size": 0}, {"max_size": LIMIT + 1}, {"max_size": "10"}, {"max_size": True},
    {"expires_in": 59}, {"expires_in": 604801}, {"expires_in": 1.5},
    {"allowed_kinds": []}, {"allowed_kinds": ["document"]}, {"allowed_kinds": "video"},
    {"metadata": {"n": 1}}, {"metadata": ["a"]}, {"metadata": {"k": "v" * 5000}},
    {"read": True},  # a grant can only upload: unknown fields are refused, not ignored
])
def test_a_grant_out_of_range_is_400(body):
    with pytest.raises(HttpError) as raised:
        direct_upload_grant(body, LIMIT)
    assert (raised.value.status, raised.value.code) == (400, "invalid_body")


def test_the_stash_is_named_by_the_offset_it_ends_at():
    assert stash_key("u1", 10_485_860) == "tus/u1/10485860"


# ---- in process, through api.app.handle, with fake bindings and a small part size ----------

import asyncio  # noqa: E402
import hashlib  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.unit.api import test_handlers as handlers  # noqa: E402
from tests.unit.fakes import FakeD1, FakeKV, FakeQueue  # noqa: E402

PART = 16
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(48))  # 64 bytes that sniff as PNG
TUS = {"tus-resumable": "1.0.0"}


class _Digest:
    def __init__(self, name):
        self.hash = hashlib.new(name.replace("-", "").lower())
        self.digest = self._digest()
        stream = self

        class Writer:
            async def write(self, piece):
                stream.hash.update(piece.to_bytes())

            async def close(self):
                pass

        self.writer = Writer()

    async def _digest(self):
        return self.hash.digest()

    @classmethod
    def new(cls, name):
        return cls(name)

    def getWriter(self):
        return self.writer


class _ResponseOfBytes:
    def __init__(self, data):
        self.data = data

    @classmethod
    def new(cls, body):
        return cls(body)

    async def arrayBuffer(self):
        return self.data


def _u8_new(value):
    return handlers._U8(bytearray(value)) if isinstance(value, (bytes, bytearray)) else handlers._U8.new(value)


class MultipartBucket(handlers.FakeBucket):
    """FakeBucket with R2's multipart rules: parts of one size but the last, no larger."""

    def __init__(self):
        super().__init__()
        self.uploads: dict[str, dict] = {}
        self.completed_part_sizes: list[int] = []

    async def createMultipartUpload(self, key, options=None):
        upload_id = f"mp{len(self.uploads)}"
        self.uploads[upload_id] = {"key": key, "parts": {}, "state": "open", "options": options}
        return self.resumeMultipartUpload(key, upload_id)

    def resumeMultipartUpload(self, key, upload_id):
        bucket, record = self, self.uploads[upload_id]

        class Multipart:
            uploadId = upload_id

            async def uploadPart(self, number, blob):
                assert record["state"] == "open", "a part sent to an aborted or completed upload"
                record["parts"][number] = blob.data
                return SimpleNamespace(partNumber=number, etag=f"e{number}-{hashlib.md5(blob.data).hexdigest()[:6]}")

            async def complete(self, parts):
                assert record["state"] == "open"
                datas = []
                for part in parts:
                    data = record["parts"][part["partNumber"]]
                    assert part["etag"] == f"e{part['partNumber']}-{hashlib.md5(data).hexdigest()[:6]}"
                    datas.append(data)
                sizes = [len(d) for d in datas]
                assert len(set(sizes[:-1])) <= 1 and sizes[-1] <= sizes[0], f"uneven parts {sizes}"
                bucket.completed_part_sizes = sizes
                record["state"] = "completed"
                bucket.objects[record["key"]] = (b"".join(datas), "video/mp4")
                return SimpleNamespace(size=sum(sizes))

            async def abort(self):
                record["state"] = "aborted"

        return Multipart()

    def open_uploads(self):
        return [upload_id for upload_id, record in self.uploads.items() if record["state"] == "open"]


@pytest.fixture(scope="module")
def tus_app():
    fake = handlers._fake_js()
    fake.Uint8Array = SimpleNamespace(new=_u8_new)
    fake.Response = _ResponseOfBytes
    fake.crypto = SimpleNamespace(DigestStream=_Digest)
    with handlers.api_app_with(fake) as app:
        import api.resumable_uploads as uploads

        uploads.part_size_for = lambda length: PART
        yield app


def _env():
    return SimpleNamespace(DB=FakeD1(), METADATA=FakeKV(), MEDIA=MultipartBucket(), JOBS=FakeQueue(),
                           API_KEY=handlers.API_KEY, CORS_ORIGINS="*", PUBLIC_API_URL="https://api.test",
                           URL_SIGNING_SECRET=handlers.SECRET)


def _call(app, env, method, path, headers=None, chunks=None, key=True):
    # The handlers' BodyReader reads the fake BYOB body as it reads workerd's.
    body = handlers.FakeBody(chunks) if chunks is not None else None
    return handlers.call(app, env, method, path, key=handlers.API_KEY if key else None,
                         headers={**TUS, **(headers or {})}, body=body)


def _patch(app, env, path, offset, chunks, headers=None):
    return _call(app, env, "PATCH", path, {"upload-offset": str(offset),
                                           "content-type": "application/offset+octet-stream", **(headers or {})},
                 chunks, key=False)


def _create(app, env, length):
    response = _call(app, env, "POST", "/api/uploads", {"upload-length": str(length)})
    assert response.status == 201, response.body
    return response.headers["location"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=12), st.integers(1, 5))
def test_any_cut_of_chunks_and_pieces_makes_parts_of_one_size_and_the_exact_file(tus_app, cuts, piece):
    env = _env()
    data = PNG + bytes(range(37))  # 101 bytes: 6 parts of 16 and one of 5
    path = _create(tus_app, env, len(data))
    offset = 0
    for cut in cuts + [len(data)]:
        if offset >= len(data):
            break
        chunk = data[offset : offset + cut]
        # Each PATCH's body arrives in pieces of `piece` bytes.
        response = _patch(tus_app, env, path, offset, [chunk[i : i + piece] for i in range(0, len(chunk), piece)])
        assert response.status == 204, response.body
        offset = int(response.headers["upload-offset"])
        assert offset == min(len(data), offset)
    assert offset == len(data)
    media_id = response.headers["media-id"]
    assert env.MEDIA.objects[f"originals/{media_id}"][0] == data
    assert env.MEDIA.completed_part_sizes[:-1] == [PART] * (len(data) // PART)
    assert not [key for key in env.MEDIA.objects if key.startswith("tus/")], "a stash was left behind"
    assert env.MEDIA.open_uploads() == []
    assert env.DB.rows("SELECT status FROM media WHERE id = ?", media_id) == [{"status": "pending"}]
    assert len(env.JOBS.sent) == 1


def test_a_chunk_with_a_wrong_checksum_changes_nothing(tus_app):
    import base64

    env = _env()
    path = _create(tus_app, env, len(PNG))
    assert _patch(tus_app, env, path, 0, [PNG[:19]]).status == 204  # one part and a 3-byte stash
    stash_before = {k: v for k, v in env.MEDIA.objects.items() if k.startswith("tus/")}
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    refused = _patch(tus_app, env, path, 19, [PNG[19:40]], {"upload-checksum": f"sha1 {wrong}"})
    assert refused.status == 460
    assert {k: v for k, v in env.MEDIA.objects.items() if k.startswith("tus/")} == stash_before
    assert _call(tus_app, env, "HEAD", path, key=False).headers["upload-offset"] == "19"
    right = base64.b64encode(hashlib.sha1(PNG[19:]).digest()).decode()
    done = _patch(tus_app, env, path, 19, [PNG[19:]], {"upload-checksum": f"sha1 {right}"})
    assert done.status == 204
    assert env.MEDIA.objects[f"originals/{done.headers['media-id']}"][0] == PNG


def test_a_stash_that_cannot_be_deleted_fails_no_patch_and_is_gone_when_the_upload_ends(tus_app):
    # The every-path load run: R2 refused the delete of the stash a PATCH started from, after the
    # PATCH had committed its offset: it answered 500, and the stash outlived the upload.
    env = _env()
    path = _create(tus_app, env, len(PNG))
    assert _patch(tus_app, env, path, 0, [PNG[:19]]).status == 204  # one part and a 3-byte stash
    refused = []
    original_delete = env.MEDIA.delete

    async def delete_once_refused(keys):
        if isinstance(keys, str) and not refused:
            refused.append(keys)
            raise RuntimeError("delete: Unspecified error (0)")
        await original_delete(keys)

    env.MEDIA.delete = delete_once_refused
    second = _patch(tus_app, env, path, 19, [PNG[19:40]])
    assert second.status == 204 and second.headers["upload-offset"] == "40"
    assert refused == ["tus/" + path.rsplit("/", 1)[1] + "/19"] and refused[0] in env.MEDIA.objects
    done = _patch(tus_app, env, path, 40, [PNG[40:]])
    assert done.status == 204
    assert env.MEDIA.objects[f"originals/{done.headers['media-id']}"][0] == PNG
    assert not [key for key in env.MEDIA.objects if key.startswith("tus/")], "a stash was left behind"


def test_a_stash_left_by_every_delete_refused_goes_with_its_media_item(tus_app):
    env = _env()
    path = _create(tus_app, env, len(PNG))
    assert _patch(tus_app, env, path, 0, [PNG[:19]]).status == 204
    real_delete, real_list = env.MEDIA.delete, env.MEDIA.list

    async def refused(*args, **kwargs):
        raise RuntimeError("Unspecified error (0)")

    env.MEDIA.delete = env.MEDIA.list = refused  # R2 refuses the stash's delete and the listing at the end
    done = _patch(tus_app, env, path, 19, [PNG[19:]])
    assert done.status == 204
    left = [key for key in env.MEDIA.objects if key.startswith("tus/")]
    assert len(left) == 1
    env.MEDIA.delete, env.MEDIA.list = real_delete, real_list
    assert _call(tus_app, env, "DELETE", f"/api/media/{done.headers['media-id']}").status == 200
    assert not [key for key in env.MEDIA.objects if key.startswith("tus/")]


def test_termination_and_expiry_leave_no_multipart_upload_and_no_stash(tus_app):
    env = _env()
    terminated = _create(tus_app, env, 1000)
    assert _patch(tus_app, env, terminated, 0, [PNG[:36]]).status == 204  # two parts, 4 bytes stashed
    assert len(env.MEDIA.open_uploads()) == 1
    assert _call(tus_app, env, "DELETE", terminated, key=False).status == 204
    expiring = _create(tus_app, env, 1000)
    assert _patch(tus_app, env, expiring, 0, [PNG[:35]]).status == 204
    from api.resumable_uploads import expire_uploads

    assert asyncio.run(expire_uploads(env, 10**15)) == {"expired": 1}
    assert env.MEDIA.open_uploads() == []
    assert not [key for key in env.MEDIA.objects if key.startswith("tus/")]
    assert _call(tus_app, env, "HEAD", expiring, key=False).status == 410
    assert env.DB.rows("SELECT COUNT(*) AS n FROM media") == [{"n": 0}]


def test_deleting_the_media_of_a_finished_upload_leaves_no_upload_row_or_one_time_url(tus_app):
    """DELETE /api/media/{id} of an item uploaded with tus through a one-time URL removes the upload's
    row (its name, metadata and content type) and the URL's row with the media: nothing of the item is
    left in D1, and the upload URL answers 404 (found by tests/reliability's delete-half check)."""
    import json

    env = _env()
    grant_request = SimpleNamespace(text=lambda: _text(json.dumps({"metadata": {"user": "42"}})),
                                    url="https://api.test/api/direct-uploads")
    from api.resumable_uploads import create_direct_upload

    grant = asyncio.run(create_direct_upload(grant_request, env, {}))
    assert grant.status == 201, grant.body
    token_path = "/api/uploads?" + json.loads(grant.body)["upload_url"].split("?", 1)[1]
    created = _call(tus_app, env, "POST", token_path,
                    {"upload-length": str(len(PNG)), "upload-metadata": "filename cGhvdG8ucG5n"}, key=False)
    assert created.status == 201, created.body
    path = created.headers["location"]
    done = _patch(tus_app, env, path, 0, [PNG[:20], PNG[20:]])
    media_id = done.headers["media-id"]
    assert env.DB.rows("SELECT COUNT(*) AS n FROM uploads WHERE media_id = ?", media_id) == [{"n": 1}]
    assert _call(tus_app, env, "DELETE", f"/api/media/{media_id}").status == 200
    assert env.DB.rows("SELECT COUNT(*) AS n FROM uploads") == [{"n": 0}]
    assert env.DB.rows("SELECT COUNT(*) AS n FROM upload_tokens") == [{"n": 0}]
    assert env.DB.rows("SELECT COUNT(*) AS n FROM media") == [{"n": 0}]
    assert _call(tus_app, env, "HEAD", path, key=False).status == 404


async def _text(value: str) -> str:
    return value


def test_a_patch_touches_its_part_buffer_place_on_every_read_and_gives_it_back(tus_app, monkeypatch):
    # The place is taken back from a holder that reads nothing for PART_BUFFER_IDLE_SECONDS
    # (common.r2_streams.PartBudget): a PATCH that is still receiving must show it on each read.
    import api.resumable_uploads as uploads
    import common.r2_streams as streams

    touches = []

    class CountedLease(streams.PartLease):
        def touch(self):
            touches.append(1)
            super().touch()

    class Counted(streams.PartBudget):
        def _take(self, now):
            lease = CountedLease(self, now)
            self._leases.append(lease)
            return lease

    monkeypatch.setattr(uploads, "PART_BUFFERS", Counted(1))
    env = _env()
    data = PNG + bytes(range(37))
    path = _create(tus_app, env, len(data))
    response = _patch(tus_app, env, path, 0, [data[i : i + 7] for i in range(0, len(data), 7)])
    assert response.status == 204, response.body
    assert len(touches) >= 2 and uploads.PART_BUFFERS.in_use == 0
