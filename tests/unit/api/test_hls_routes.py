"""GET /hls/{token}/{id}/{path} and playback.hls, through api.app.handle with fake bindings
(the stubs of tests.unit.api.test_handlers)."""

import json
import time

from tests.unit.api.test_handlers import MEDIA_ID, SECRET, app, call, env, insert, media_ids  # noqa: F401

MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\n360p/stream.m3u8\n"


def _token(media_id=MEDIA_ID, expires=None, secret=SECRET):
    from common.playback_tokens import make_token

    return make_token(secret, media_id, expires or int(time.time()) + 600)


def _ladder(env, media_id=MEDIA_ID):
    insert(env, media_id, status="completed", kind="video")
    prefix = f"renditions/{media_id}/hls/"
    env.MEDIA.objects[prefix + "master.m3u8"] = (MASTER, "application/vnd.apple.mpegurl")
    env.MEDIA.objects[prefix + "360p/stream.m3u8"] = (b"#EXTM3U\n", "application/vnd.apple.mpegurl")
    env.MEDIA.objects[prefix + "360p/segment-0.ts"] = (b"G" * 188, "video/mp2t")
    env.DB.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, status, job_id, output_key, width, height, size, duration,"
        " created_at, updated_at) VALUES (?, 'hls', 'adaptive_video', 'completed', 'job_h', ?, 640, 360, 400, 12.0,"
        " 1, 1)".replace("'job_h'", "?"), (media_id, f"job_{media_id}", prefix + "master.m3u8"))
    env.DB.conn.execute(
        "INSERT INTO hls_ladders (media_id, rendition, job_id, rungs, segment_count, playlist_bytes, duration,"
        " chunks, created_at) VALUES (?, 'hls', ?, ?, 1, 80, 12.0, 1, 1)",
        (media_id, f"job_{media_id}", json.dumps([{"name": "360p", "width": 640, "height": 360, "bandwidth": 1, "segments": 1}])))


def test_playback_hls_is_a_signed_master_url_that_serves_the_ladder(app, env):
    _ladder(env)
    record = call(app, env, "GET", f"/api/media/{MEDIA_ID}").json()
    url = record["playback"]["hls"]
    assert url.startswith("https://api.test/hls/") and url.endswith(f"/{MEDIA_ID}/master.m3u8")
    assert record["playback"]["expires_at"] > time.time() + 3600  # a film's length, not minutes
    (hls,) = [r for r in record["renditions"] if r["name"] == "hls"]
    assert hls["ladder"]["segment_count"] == 1 and hls["ladder"]["rungs"][0]["height"] == 360
    assert hls["ladder"]["total_size"] == 400 and hls["ladder"]["duration"] == 12.0
    path = url[len("https://api.test"):]
    master = call(app, env, "GET", path, key=None)
    assert master.status == 200 and master.body == MASTER
    assert master.headers.get("content-type") == "application/vnd.apple.mpegurl"
    assert master.headers.get("cache-control") == "public, max-age=30"
    assert master.headers.get("access-control-allow-origin") == "*"
    base = path.rsplit("/", 1)[0]
    segment = call(app, env, "GET", f"{base}/360p/segment-0.ts", key=None, headers={"range": "bytes=0-9"})
    assert segment.status == 206 and segment.headers.get("content-range") == "bytes 0-9/188"
    assert segment.headers.get("content-type") == "video/mp2t"
    assert "immutable" in segment.headers.get("cache-control")
    assert call(app, env, "GET", f"{base}/360p/segment-0.ts", key=None,
                headers={"if-none-match": '"etag-188"'}).status == 304
    assert call(app, env, "GET", f"{base}/360p/segment-9.ts", key=None).status == 404


def test_no_playback_before_the_ladder_is_complete(app, env):
    insert(env, MEDIA_ID, kind="video")
    assert call(app, env, "GET", f"/api/media/{MEDIA_ID}").json()["playback"] == {"hls": None, "expires_at": None}


def test_unsigned_expired_and_other_media_tokens_are_refused(app, env):
    _ladder(env)
    other = media_ids(1)[0]
    for path in ("master.m3u8", "360p/stream.m3u8", "360p/segment-0.ts"):
        for token, status in ((None, 401), ("x", 401), ("", 404), (_token(expires=int(time.time()) - 5), 403),
                              (_token(other), 403), (_token(secret="other"), 403)):
            url = f"/hls/{token}/{MEDIA_ID}/{path}" if token is not None else f"/hls/{MEDIA_ID}/{path}"
            response = call(app, env, "GET", url, key=None)
            assert response.status in ((status, 404) if token is None else (status,)), (url, response.status)
            if response.status in (401, 403):
                assert response.json()["code"] == ("unauthorized" if status == 401 else "playback_forbidden")
    # Even with the API key, a bad token is refused: the key is not the playback credential.
    assert call(app, env, "GET", f"/hls/{_token(other)}/{MEDIA_ID}/master.m3u8").status == 403


def test_a_token_reaches_only_its_own_ladder(app, env):
    _ladder(env)
    token = _token()
    for path in ("../../originals/" + MEDIA_ID, "..%2F..%2Foriginals%2F" + MEDIA_ID, "/etc/passwd",
                 "360p/../master.m3u8", "%2e%2e/web.mp4", "360p//segment-0.ts"):
        response = call(app, env, "GET", f"/hls/{token}/{MEDIA_ID}/{path}", key=None)
        assert response.status == 404, path
    other = media_ids(1)[0]
    _ladder(env, other)
    assert call(app, env, "GET", f"/hls/{token}/{other}/master.m3u8", key=None).status == 403


def test_preflight_from_any_origin(app, env):
    response = call(app, env, "OPTIONS", f"/hls/{_token()}/{MEDIA_ID}/360p/segment-0.ts", key=None,
                    headers={"origin": "https://player.example", "access-control-request-method": "GET",
                             "access-control-request-headers": "range"})
    assert response.status == 204
    assert response.headers.get("access-control-allow-origin") == "*"
    assert "Range" in response.headers.get("access-control-allow-headers")


def test_delete_removes_the_whole_ladder_and_its_rows(app, env):
    _ladder(env)
    for i in range(1500):  # more than one R2 delete call takes
        env.MEDIA.objects[f"renditions/{MEDIA_ID}/hls/720p/segment-{i}.ts"] = (b"x", "video/mp2t")
    calls = []
    delete = env.MEDIA.delete

    async def counting(keys):
        calls.append(len(keys))
        await delete(keys)

    env.MEDIA.delete = counting
    assert call(app, env, "DELETE", f"/api/media/{MEDIA_ID}").status == 200
    assert max(calls) <= 1000 and not [k for k in env.MEDIA.objects if MEDIA_ID in k]
    assert env.DB.rows("SELECT * FROM hls_ladders") == [] and env.DB.rows("SELECT * FROM hls_copy_chunks") == []
