"""Uploads through the API become renditions in R2 through the processor and the Ittybit emulator."""

from __future__ import annotations

import httpx
import pytest

from processor.r2_notifications import media_id_for_object
from tests.e2e.conftest import eventually
from tests.e2e.processor_helpers import make_audio, make_image, make_video, probe, upload, wait_final

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
    assert set(video) == {"web", "mobile", "thumbnail"}
    files = {name: api.get(r["url"]) for name, r in video.items()}
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
    # The emulator scales to the requested width keeping the aspect (16:9), upscaling 1280 -> 1920.
    assert (streams(web, "video")[0]["width"], streams(web, "video")[0]["height"]) == (1920, 1080)
    assert (streams(mobile, "video")[0]["width"], streams(mobile, "video")[0]["height"]) == (480, 270)
    assert thumb["format"]["format_name"] == "webp_pipe"
    assert (streams(thumb, "video")[0]["width"], streams(thumb, "video")[0]["height"]) == (640, 360)
    # What D1/KV record matches the files.
    assert (video["web"]["width"], video["web"]["height"]) == (1920, 1080)
    assert video["web"]["content_type"] == "video/mp4" and video["thumbnail"]["content_type"] == "image/webp"
    assert video["web"]["output_key"] == f"renditions/{ids['video']}/web.mp4"

    image = {r["name"]: r for r in done["image"]["renditions"]}
    assert set(image) == {"large", "thumbnail"} and image["thumbnail"]["width"] == 640
    audio = {r["name"]: r for r in done["audio"]["renditions"]}
    assert set(audio) == {"web"}
    mp3 = probe(api.get(audio["web"]["url"]).content, tmp_path, "web.mp3")
    assert streams(mp3, "audio")[0]["codec_name"] == "mp3"


def test_a_corrupt_video_ends_failed_with_a_reason(api, video_bytes):
    corrupt = video_bytes[:64] + bytes(range(256)) * 200  # a valid ftyp header, then garbage
    media_id = upload(api, corrupt, "video/mp4")
    item = wait_final(api, media_id)
    assert item["status"] == "failed"
    assert item["error"] and "web:" in item["error"]
    assert all(r["status"] == "failed" and r["error"] for r in item["renditions"])


def test_a_file_put_straight_into_r2_under_uploads_is_processed(api, pipeline, tmp_path):
    key = "uploads/direct/tone 1.wav"
    data = make_audio(tmp_path / "direct.wav", seconds=1).read_bytes()
    put = httpx.put(f"{pipeline.processor_url}/__local/r2/media-pipeline/uploads/direct/tone%201.wav", content=data)
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


def test_deleting_a_completed_media_removes_its_renditions(api):
    media_id = upload(api, make_image_bytes(), "image/png")
    item = wait_final(api, media_id)
    assert item["status"] == "completed"
    urls = [r["url"] for r in item["renditions"]] + [f"/files/originals/{media_id}"]
    assert all(api.get(url).status_code == 200 for url in urls)
    assert api.delete(f"/api/media/{media_id}").status_code in (200, 204)
    assert api.get(f"/api/media/{media_id}").status_code == 404
    for url in urls:
        assert api.get(url).status_code == 404, url


def make_image_bytes() -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        return make_image(Path(folder) / "i.png").read_bytes()
