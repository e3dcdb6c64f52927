"""Uploads through the API become renditions in R2 through the processor and the Ittybit emulator."""

from __future__ import annotations

import json

import pytest

from common.ids import media_id_for_object
from tests.e2e.conftest import eventually, put_into_bucket
from tests.e2e.processor_helpers import Emulator, make_audio, make_image, make_video, probe, upload, wait_final

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4").read_bytes()


def streams(info: dict, kind: str) -> list[dict]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def test_video_image_and_audio_reach_completed_with_probed_renditions(api, video_bytes, tmp_path):
    ids = {
        "video": upload(api, video_bytes, "video/mp4"),
        "image": upload(api, make_image(tmp_path / "still.png").read_bytes(), "image/png"),
        "audio": upload(api, make_audio(tmp_path / "tone.wav").read_bytes(), "audio/wav"),
    }
    done = {kind: wait_final(api, media_id) for kind, media_id in ids.items()}
    for kind, item in done.items():
        assert item["status"] == "completed", (kind, item)
        assert item["error"] is None and all(r["status"] == "completed" for r in item["renditions"])

    video = {r["name"]: r for r in done["video"]["renditions"]}
    # The fourth, hls, is a whole ladder (its size is every file's): tests/e2e/test_hls.py plays it.
    assert set(video) == {"web", "mobile", "thumbnail", "hls"}
    assert video["hls"]["content_type"] == "application/vnd.apple.mpegurl" and done["video"]["playback"]["hls"]
    files = {name: api.get(r["url"]) for name, r in video.items() if name != "hls"}
    for name, response in files.items():
        assert response.status_code == 200, (name, response.text)
        assert int(response.headers["content-length"]) == video[name]["size"] > 0
    web = probe(files["web"].content, tmp_path, "web.mp4")
    mobile = probe(files["mobile"].content, tmp_path, "mobile.mp4")
    thumb = probe(files["thumbnail"].content, tmp_path, "thumb.webp")
    for info in (web, mobile):
        assert "mp4" in info["format"]["format_name"]
        assert streams(info, "video")[0]["codec_name"] == "h264"
        assert streams(info, "audio"), "the audio track is kept"
        assert 3.5 < float(info["format"]["duration"]) < 4.5
    # Presets are bounds (issue 17): the 1280x720 source is not scaled up to web's 1920x1080 box.
    assert (streams(web, "video")[0]["width"], streams(web, "video")[0]["height"]) == (1280, 720)
    assert (streams(mobile, "video")[0]["width"], streams(mobile, "video")[0]["height"]) == (854, 480)
    assert thumb["format"]["format_name"] == "webp_pipe"
    assert (streams(thumb, "video")[0]["width"], streams(thumb, "video")[0]["height"]) == (640, 360)
    # What D1/KV record matches the files.
    assert (video["web"]["width"], video["web"]["height"]) == (1280, 720)
    # The original's own facts, from the probe.
    original = done["video"]
    assert (original["width"], original["height"], original["orientation"]) == (1280, 720, "landscape")
    assert abs(original["duration"] - 4.0) < 0.1 and original["fps"] == 25 and original["codec"] == "h264"
    assert video["web"]["content_type"] == "video/mp4" and video["thumbnail"]["content_type"] == "image/webp"
    assert video["web"]["output_key"] == f"renditions/{ids['video']}/web.mp4"

    image = {r["name"]: r for r in done["image"]["renditions"]}
    assert set(image) == {"large", "thumbnail"}
    # A 320x240 image is smaller than both boxes: both keep its size (duplicates are not skipped).
    for name in ("large", "thumbnail"):
        still = probe(api.get(image[name]["url"]).content, tmp_path, f"{name}.webp")
        assert (streams(still, "video")[0]["width"], streams(still, "video")[0]["height"]) == (320, 240), name
    assert (done["image"]["width"], done["image"]["height"], done["image"]["codec"]) == (320, 240, None)
    audio = {r["name"]: r for r in done["audio"]["renditions"]}
    assert set(audio) == {"web"}
    mp3 = probe(api.get(audio["web"]["url"]).content, tmp_path, "web.mp3")
    assert streams(mp3, "audio")[0]["codec_name"] == "mp3"


def test_small_outputs_are_copied_by_the_webhook_itself_and_a_ladder_by_the_queue(api, pipeline, video_bytes):
    # What each of Ittybit's webhooks answered (the emulator keeps the start of the answer): a
    # thumbnail or MP4 of a few KB was stored by that request ("stored"), with no rendition.store
    # hop; an HLS ladder (many files) is planned by the queue ("store_queued").
    media_id = upload(api, video_bytes, "video/mp4")
    item = wait_final(api, media_id)
    assert item["status"] == "completed", item
    jobs = {r["job_id"]: r["name"] for r in item["renditions"]}
    emulator = Emulator(pipeline.emulator_url)
    try:
        answers = {}
        for delivery in emulator.webhooks():
            if delivery["job_id"] in jobs:
                for attempt in delivery["attempts"]:
                    if attempt["status_code"] == 200:
                        answers.setdefault(jobs[delivery["job_id"]], set()).add(
                            json.loads(attempt["response"]).get("result"))
    finally:
        emulator.close()
    assert answers == {"thumbnail": {"stored"}, "mobile": {"stored"}, "web": {"stored"}, "hls": {"store_queued"}}, answers


def test_a_corrupt_video_ends_failed_with_a_reason(api, video_bytes):
    corrupt = video_bytes[:64] + bytes(range(256)) * 200  # a valid ftyp header, then garbage
    media_id = upload(api, corrupt, "video/mp4")
    item = wait_final(api, media_id)
    assert item["status"] == "failed"
    # The probe finds it unreadable: the media fails with the reason, and no rendition job is made.
    assert item["error"].startswith("the source could not be read: "), item["error"]
    assert "/" not in item["error"].removeprefix("the source could not be read: "), item["error"]
    assert item["renditions"] == []


def test_a_file_put_straight_into_r2_under_uploads_is_processed(api, pipeline, tmp_path):
    key = "uploads/direct/tone 1.wav"
    data = make_audio(tmp_path / "direct.wav", seconds=1).read_bytes()
    put = put_into_bucket(pipeline.processor_url, key, data)
    assert put.status_code == 201 and put.json()["notified"] == ["media-pipeline-jobs"]
    media_id = media_id_for_object("media-pipeline", key, put.json()["etag"])
    item = eventually(lambda: api.get(f"/api/media/{media_id}").status_code == 200, timeout=60) and wait_final(api, media_id)
    assert item["status"] == "completed", item
    # The name is the key's base name, cleaned as API upload names are.
    assert item["source"] == "r2" and item["name"] == "tone 1.wav" and item["kind"] == "audio"
    assert item["original_key"] == f"originals/{media_id}"
    original = api.get(f"/files/originals/{media_id}")
    assert original.status_code == 200 and original.content == data
    assert [r["name"] for r in item["renditions"]] == ["web"]
    rows = pipeline.workers.d1_query("DB", f"SELECT COUNT(*) AS n FROM media WHERE id = '{media_id}'")
    assert rows[0]["n"] == 1


def test_deleting_a_completed_media_removes_its_renditions(api, pipeline):
    media_id = upload(api, make_image_bytes(), "image/png")
    item = wait_final(api, media_id)
    assert item["status"] == "completed"
    urls = [r["url"] for r in item["renditions"]] + [f"/files/originals/{media_id}"]
    assert all(api.get(url).status_code == 200 for url in urls)
    probed = f"SELECT status FROM media_probes WHERE media_id = '{media_id}'"
    assert pipeline.workers.d1_query("DB", probed) == [{"status": "completed"}]
    assert api.delete(f"/api/media/{media_id}").status_code in (200, 204)
    assert api.get(f"/api/media/{media_id}").status_code == 404
    assert pipeline.workers.d1_query("DB", f"SELECT * FROM media_probes WHERE media_id = '{media_id}'") == []
    for url in urls:
        assert api.get(url).status_code == 404, url


def make_image_bytes() -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        return make_image(Path(folder) / "i.png").read_bytes()
