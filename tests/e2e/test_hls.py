"""HLS end to end: a video's `hls` rendition is a ladder in R2, played from the signed playback.hls
URL by ffprobe/ffmpeg over HTTP; tokens scoped and checked; a long video's copy split into many
messages and complete; dropped/duplicated webhooks, a failed segment copy and a delete mid-copy
all end consistent."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from common.hls import parse_master, parse_media
from common.ids import new_media_id
from common.playback_tokens import make_token
from local_runtime.stack import trigger_cron
from tests.e2e.conftest import DEV_VARS, eventually
from scripts.pipeline_stack import read_dev_vars
from tests.e2e.processor_helpers import Emulator, ffmpeg, make_video, media, rows, upload, wait_final

pytestmark = pytest.mark.stack

SIGNING_SECRET = read_dev_vars(DEV_VARS)["URL_SIGNING_SECRET"]


@pytest.fixture
def emulator(pipeline):
    admin = Emulator(pipeline.emulator_url)
    admin.reset_faults()
    admin.faults(fail_segment_requests=0)
    yield admin
    admin.reset_faults()
    admin.faults(fail_segment_requests=0)
    admin.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A small video for the fault tests: 6 s of 320x180 with sound (one rung)."""
    return make_video(tmp_path_factory.mktemp("hls") / "small.mp4", seconds=6, size="320x180").read_bytes()


@pytest.fixture(scope="module")
def played(api, tmp_path_factory):
    """A 12-s 1280x720 video with sound, completed (uploaded once for the playback tests)."""
    data = make_video(tmp_path_factory.mktemp("hls") / "clip.mp4", seconds=12).read_bytes()
    return _completed(api, upload(api, data, "video/mp4"), timeout=180)


def _ladder_files(playback_url: str) -> dict[str, list[str]]:
    """Each variant playlist URL of a master and its segment URLs, read over HTTP."""
    base = playback_url.rsplit("/", 1)[0] + "/"
    master = parse_master(httpx.get(playback_url, timeout=30).content)
    found = {}
    for variant in master.variants:
        playlist = httpx.get(base + variant.uri, timeout=30)
        assert playlist.status_code == 200 and playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
        found[base + variant.uri] = [base + s.uri for s in parse_media(playlist.content, variant.uri).segments]
    return found


def _hls(item: dict) -> dict:
    (rendition,) = [r for r in item["renditions"] if r["name"] == "hls"]
    return rendition


def _completed(api, media_id: str, timeout: float = 120) -> dict:
    item = wait_final(api, media_id, timeout=timeout)
    assert item["status"] == "completed", (item["error"], [(r["name"], r["error"]) for r in item["renditions"]])
    return item


def test_a_720p_video_plays_from_its_signed_playback_url(api, played):
    item = played
    media_id = item["id"]
    rendition = _hls(item)
    assert rendition["kind"] == "adaptive_video" and rendition["content_type"] == "application/vnd.apple.mpegurl"
    assert rendition["output_key"] == f"renditions/{media_id}/hls/master.m3u8"
    assert (rendition["width"], rendition["height"]) == (1280, 720)
    ladder = rendition["ladder"]
    assert [(r["width"], r["height"]) for r in ladder["rungs"]] == [(640, 360), (1280, 720)]
    assert ladder["segment_count"] == sum(r["segments"] for r in ladder["rungs"]) >= 6
    assert 11.5 < ladder["duration"] < 12.5 and ladder["total_size"] == rendition["size"] > 0
    url = item["playback"]["hls"]
    assert url.startswith(api.base_url.__str__().rstrip("/") + "/hls/") and url.endswith(f"/{media_id}/master.m3u8")

    # ffprobe reads the master over HTTP: both variants at their sizes, the full duration.
    probed = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", url],
        check=True, capture_output=True, timeout=60).stdout)
    sizes = sorted({(s["width"], s["height"]) for s in probed["streams"] if s["codec_type"] == "video"})
    assert sizes == [(640, 360), (1280, 720)]
    assert 11.5 < float(probed["format"]["duration"]) < 12.6

    files = _ladder_files(url)
    assert sum(len(segments) for segments in files.values()) == ladder["segment_count"]
    for playlist, segments in files.items():
        # ffmpeg decodes the whole rung (every segment) without an error...
        decoded = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", playlist, "-f", "null", "-"],
                                 capture_output=True, timeout=120)
        assert decoded.returncode == 0 and decoded.stderr == b"", decoded.stderr[-500:]
        # ...and each segment is served as MPEG-TS with a long cache, for any origin.
        for segment in segments:
            head = httpx.head(segment, timeout=30)
            assert head.status_code == 200 and head.headers["content-type"] == "video/mp2t"
            assert "immutable" in head.headers["cache-control"] and head.headers["access-control-allow-origin"] == "*"
        first = httpx.get(segments[0], headers={"range": "bytes=0-187"}, timeout=30)
        assert first.status_code == 206 and first.content[0] == 0x47  # an MPEG-TS sync byte

    # A rendition.ready event for the hls rendition.
    events = api.get(f"/api/media/{media_id}/events").json()["items"]
    assert any(e["type"] == "rendition.ready" and e["data"]["rendition"]["name"] == "hls" for e in events)


def test_unsigned_expired_and_other_media_tokens_are_refused(api, anonymous, played):
    media_id = played["id"]
    url = api.get(f"/api/media/{media_id}").json()["playback"]["hls"]
    token = url.split("/hls/", 1)[1].split("/", 1)[0]
    files = _ladder_files(url)
    variant = next(iter(files))
    paths = ["master.m3u8", variant.split(f"/{media_id}/", 1)[1], files[variant][0].split(f"/{media_id}/", 1)[1]]
    other = new_media_id(int(time.time() * 1000), os.urandom(10))
    other_media_token = make_token(SIGNING_SECRET, other, int(time.time()) + 600)  # valid, for another item
    expired = make_token(SIGNING_SECRET, media_id, int(time.time()) - 60)
    for path in paths:
        assert anonymous.get(f"/hls/{token}/{media_id}/{path}").status_code == 200, path
        cases = {"no-token": 401, "0.short": 401, expired: 403, other_media_token: 403}
        for bad, status in cases.items():
            response = anonymous.get(f"/hls/{bad}/{media_id}/{path}")
            assert response.status_code == status, (path, bad, response.text)
            assert response.headers["access-control-allow-origin"] == "*"
        # The API key is no substitute for the token.
        assert api.get(f"/hls/{expired}/{media_id}/{path}").status_code == 403


def _all_in_r2(api, media_id: str, files: dict[str, list[str]]) -> bool:
    prefix = f"/files/renditions/{media_id}/hls/"
    for playlist, segments in files.items():
        for url in [playlist, *segments]:
            path = url.split(f"/{media_id}/", 1)[1]
            if api.head(prefix + path).status_code != 200:
                return False
    return True


def test_a_ten_minute_video_is_copied_in_many_messages_and_completely(api, pipeline, tmp_path):
    # 10 minutes, small and at 5 frames a second, so its four renditions are quick to make.
    source = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x90:rate=5:duration=600", "-f", "lavfi",
           "-i", "sine=frequency=440:duration=600:sample_rate=8000", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k", "-shortest", str(source))
    media_id = upload(api, source.read_bytes(), "video/mp4")
    item = _completed(api, media_id, timeout=240)
    rendition = _hls(item)
    (ladder,) = rows(pipeline, f"SELECT * FROM hls_ladders WHERE media_id = '{media_id}'")
    chunks = rows(pipeline, f"SELECT * FROM hls_copy_chunks WHERE media_id = '{media_id}'")
    assert ladder["segment_count"] >= 150 and ladder["chunks"] >= 15 and len(chunks) == ladder["chunks"]
    assert max(c["files"] for c in chunks) <= 10  # HLS_SEGMENTS_PER_MESSAGE of the test stack
    assert 599 < rendition["ladder"]["duration"] < 601
    files = _ladder_files(item["playback"]["hls"])
    assert sum(len(s) for s in files.values()) == ladder["segment_count"]
    assert _all_in_r2(api, media_id, files)


def _job_of(api, media_id):
    def job_id():
        found = [r for r in media(api, media_id)["renditions"] if r["name"] == "hls"]
        return found and found[0].get("job_id")

    return eventually(job_id, timeout=120)


def test_a_dropped_webhook_for_the_hls_job_is_repaired_by_the_reconcile(api, pipeline, emulator, clip):
    emulator.faults(drop_webhook_rate=1.0)
    media_id = upload(api, clip, "video/mp4")
    job_id = _job_of(api, media_id)
    eventually(lambda: emulator.job(job_id)["status"] == "completed", timeout=120)
    emulator.faults(drop_webhook_rate=0.0)
    assert _hls(media(api, media_id))["status"] == "processing"  # its webhook never came
    # The reconcile polls jobs quiet for RECONCILE_AFTER_SECONDS: make this one look that old.
    rows(pipeline, f"UPDATE renditions SET submitted_at = submitted_at - 3600000 WHERE media_id = '{media_id}'")
    assert trigger_cron(pipeline.processor_url, "*/5 * * * *") == 200
    item = _completed(api, media_id)
    assert _all_in_r2(api, media_id, _ladder_files(item["playback"]["hls"]))


def test_duplicated_webhooks_and_a_failed_segment_copy_change_nothing(api, pipeline, emulator, clip):
    emulator.faults(duplicate_webhook_rate=1.0, fail_segment_requests=2)
    media_id = upload(api, clip, "video/mp4")
    item = _completed(api, media_id)
    assert emulator.client.get("/_emulator/faults").json()["fail_segment_requests"] == 0  # both failures happened
    retries = [e for e in api.get(f"/api/media/{media_id}/events").json()["items"] if e["type"] == "job.retry"]
    assert retries, "the failed segment copy was retried"
    (ladder,) = rows(pipeline, f"SELECT * FROM hls_ladders WHERE media_id = '{media_id}'")
    chunks = rows(pipeline, f"SELECT * FROM hls_copy_chunks WHERE media_id = '{media_id}'")
    assert len(chunks) == ladder["chunks"]
    stored = [e for e in api.get(f"/api/media/{media_id}/events").json()["items"]
              if e["type"] == "rendition.stored" and e["data"].get("rendition") == "hls"]
    assert len(stored) == 1, stored
    assert _all_in_r2(api, media_id, _ladder_files(item["playback"]["hls"]))


def test_a_delete_in_the_middle_of_the_copy_leaves_no_segment(api, pipeline, emulator, clip):
    # Every segment fetch fails for now, so the copy is surely in the middle when the delete comes.
    emulator.faults(fail_segment_requests=100_000)
    media_id = upload(api, clip, "video/mp4")
    job_id = _job_of(api, media_id)
    # From D1 (the cached record does not show retry notes): planned, and a copy has failed.
    eventually(lambda: rows(pipeline, f"SELECT chunks FROM hls_ladders WHERE media_id = '{media_id}'")
               and "HLS segments" in (rows(pipeline, "SELECT error FROM renditions WHERE media_id ="
                                                     f" '{media_id}' AND name = 'hls'")[0]["error"] or ""),
               timeout=120, interval=1.0)
    assert api.head(f"/files/renditions/{media_id}/hls/master.m3u8").status_code == 200  # the plan stored it
    assert api.delete(f"/api/media/{media_id}").status_code == 200
    emulator.faults(fail_segment_requests=0)  # the retried copies would now succeed, if they ran
    # The emulator still has the ladder: its playlists name every file that may have been copied.
    master = emulator.job(job_id)["output"]
    base = master.rsplit("/", 1)[0] + "/"
    names = ["master.m3u8"]
    for variant in parse_master(httpx.get(master).content).variants:
        names.append(variant.uri)
        names += [s.uri for s in parse_media(httpx.get(base + variant.uri).content, variant.uri).segments]

    def nothing_left():
        stray = [n for n in names if api.head(f"/files/renditions/{media_id}/hls/{n}").status_code != 404]
        left = rows(pipeline, f"SELECT COUNT(*) AS n FROM hls_copy_chunks WHERE media_id = '{media_id}'")[0]["n"]
        return not stray and left == 0

    eventually(nothing_left, timeout=60, interval=1.0)
    assert api.get(f"/api/media/{media_id}").status_code == 404
