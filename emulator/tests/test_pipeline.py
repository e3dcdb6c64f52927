"""Real processing: download, ffmpeg, probe, serve the output, report the job."""

import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from emulator.tests.helpers import API_KEY, eventually, ffprobe, start_emulator, wait_final


def _video_stream(probed: dict) -> dict:
    return next(s for s in probed["streams"] if s["codec_type"] == "video")


def test_video_job_makes_an_h264_mp4_at_the_requested_width(client, file_server):
    answer = client.post("/jobs", json={"kind": "video", "input": f"{file_server}/video.mp4",
                                        "options": {"format": "mp4", "width": 480, "quality": "medium"}})
    assert answer.status_code == 201
    job = wait_final(client, answer.json()["id"])
    assert job["status"] == "completed", job["error"]
    assert job["error"] is None
    (task,) = job["tasks"]
    output = task["output"]
    assert task["status"] == "completed"
    assert job["output"] == output["url"] and output["url"].startswith(client.base_url.__str__().rstrip("/") + "/files/")
    assert output["object"] == "file" and output["kind"] == "video" and output["format"] == "mp4"
    assert (output["width"], output["height"]) == (480, 270)
    assert 1.5 < output["duration"] < 2.5
    file = httpx.get(output["url"])
    assert file.status_code == 200 and file.headers["content-type"] == "video/mp4"
    assert int(file.headers["content-length"]) == output["filesize"] == len(file.content)
    probed = ffprobe(output["url"])
    video = _video_stream(probed)
    assert video["codec_name"] == "h264" and video["width"] == 480
    assert any(s["codec_name"] == "aac" for s in probed["streams"])
    assert "mp4" in probed["format"]["format_name"]
    # +faststart puts the moov atom before mdat.
    assert file.content.find(b"moov") < file.content.find(b"mdat")


def test_thumbnail_webp_at_width_640_from_start_1(client, file_server):
    answer = client.post("/jobs", json={"kind": "image", "input": f"{file_server}/video.mp4",
                                        "options": {"format": "webp", "width": 640, "start": 1}})
    job = wait_final(client, answer.json()["id"])
    assert job["status"] == "completed", job["error"]
    output = job["tasks"][0]["output"]
    assert (output["format"], output["width"], output["height"], output["duration"]) == ("webp", 640, 360, None)
    assert _video_stream(ffprobe(output["url"]))["codec_name"] == "webp"
    assert httpx.get(output["url"]).headers["content-type"] == "image/webp"


def test_image_job_from_png_and_a_late_thumbnail_is_clamped(client, file_server):
    image = client.post("/jobs", json={"kind": "image", "input": f"{file_server}/image.png",
                                       "options": {"format": "webp", "width": 200, "quality": "high"}}).json()
    late = client.post("/jobs", json={"kind": "image", "input": f"{file_server}/video.mp4",
                                      "options": {"format": "jpeg", "height": 90, "start": 30}}).json()
    image, late = wait_final(client, image["id"]), wait_final(client, late["id"])
    assert image["status"] == "completed", image["error"]
    assert (image["tasks"][0]["output"]["width"], image["tasks"][0]["output"]["height"]) == (200, 150)
    assert late["status"] == "completed", late["error"]
    assert late["tasks"][0]["output"]["height"] == 90 and late["output"].endswith(".jpg")


def test_audio_job_makes_an_mp3(client, file_server):
    answer = client.post("/jobs", json={"kind": "audio", "input": f"{file_server}/audio.wav",
                                        "options": {"format": "mp3", "quality": "low"}})
    job = wait_final(client, answer.json()["id"])
    assert job["status"] == "completed", job["error"]
    output = job["tasks"][0]["output"]
    assert output["format"] == "mp3" and output["width"] is None and 0.8 < output["duration"] < 1.3
    probed = ffprobe(output["url"])
    assert probed["streams"][0]["codec_name"] == "mp3"
    assert httpx.get(output["url"]).headers["content-type"] == "audio/mpeg"


def test_corrupt_input_fails_with_a_message_and_a_webhook(client, file_server, receiver):
    answer = client.post("/jobs", json={"kind": "video", "input": f"{file_server}/corrupt.mp4",
                                        "webhook_url": receiver.url, "options": {"width": 320}})
    job = wait_final(client, answer.json()["id"])
    assert job["status"] == "failed"
    assert "not a readable media file" in job["error"]
    assert job["output"] is None and job["tasks"][0]["status"] == "failed"
    receiver.wait_for(1)
    delivered = receiver.json(0)
    assert delivered["id"] == job["id"] and delivered["status"] == "failed" and delivered["error"] == job["error"]


def test_missing_input_fails_with_the_http_status(client, file_server):
    answer = client.post("/jobs", json={"kind": "image", "input": f"{file_server}/nothing-here.png"})
    job = wait_final(client, answer.json()["id"])
    assert job["status"] == "failed" and "HTTP 404" in job["error"]


def test_audio_job_on_a_still_image_fails_clearly(client, file_server):
    answer = client.post("/jobs", json={"kind": "audio", "input": f"{file_server}/image.png"})
    job = wait_final(client, answer.json()["id"])
    assert job["status"] == "failed" and job["error"] == "input has no audio stream"


def test_s3_input_resolved_through_s3_base_url(tmp_path, file_server):
    emu = start_emulator(tmp_path)
    emu.config.s3_base_url = file_server + "/{key}"
    try:
        headers = {"Authorization": f"Bearer {emu.config.api_key}"}
        with httpx.Client(base_url=emu.base_url, headers=headers) as client:
            connection = client.post("/connections", json={"kind": "s3", "access_key_id": "a",
                                                           "secret_access_key": "b"}).json()
            answer = client.post("/jobs", json={"kind": "image", "input": "s3://media/image.png",
                                                "connection_id": connection["id"], "options": {"width": 100}})
            job = wait_final(client, answer.json()["id"])
            assert job["status"] == "completed", job["error"]
            emu.config.s3_base_url = None
            answer = client.post("/jobs", json={"kind": "image", "input": "s3://media/image.png",
                                                "connection_id": connection["id"]})
            job = wait_final(client, answer.json()["id"])
            assert job["status"] == "failed" and "--s3-base-url" in job["error"]
    finally:
        emu.stop()


def test_files_route_supports_ranges_and_rejects_traversal(client, file_server):
    job = wait_final(client, client.post("/jobs", json={"kind": "image", "input": f"{file_server}/image.png",
                                                        "options": {"format": "png"}}).json()["id"])
    url = job["output"]
    whole = httpx.get(url).content
    part = httpx.get(url, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == whole[:8] == b"\x89PNG\r\n\x1a\n"
    assert part.headers["content-range"] == f"bytes 0-7/{len(whole)}"
    assert httpx.get(url, headers={"Range": f"bytes={len(whole)}-"}).status_code == 416
    assert httpx.head(url).headers["content-length"] == str(len(whole))
    base = url.rsplit("/files/", 1)[0]
    assert httpx.get(base + "/files/..%2F..%2Fetc/passwd").status_code == 404
    assert httpx.get(base + f"/files/{job['id']}/nope.png").status_code == 404


@pytest.fixture
def gated_file_server(media_dir):
    """Serves media_dir; a request under /gated/ waits until ``.gate`` is set."""
    gate = threading.Event()

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/gated/"):
                gate.wait(60)
                self.path = self.path[len("/gated"):]
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(media_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.base_url, server.gate = f"http://127.0.0.1:{server.server_address[1]}", gate
    yield server
    gate.set()
    server.shutdown()
    server.server_close()


def test_a_slow_download_does_not_hold_the_only_ffmpeg_slot(tmp_path, gated_file_server):
    emulator = start_emulator(tmp_path, workers=1)
    try:
        with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {API_KEY}"},
                          timeout=10) as client:
            base = gated_file_server.base_url
            stuck = client.post("/jobs", json={"kind": "image", "input": f"{base}/gated/image.png",
                                               "options": {"format": "png"}}).json()["id"]
            eventually(lambda: _assert_status(client, stuck, "processing"))
            quick = client.post("/jobs", json={"kind": "image", "input": f"{base}/image.png",
                                               "options": {"format": "png"}}).json()["id"]
            assert wait_final(client, quick, timeout=30)["status"] == "completed"
            assert client.get(f"/jobs/{stuck}").json()["status"] == "processing"
            gated_file_server.gate.set()
            assert wait_final(client, stuck, timeout=30)["status"] == "completed"
            assert emulator.counters.snapshot()["ffmpeg_peak_concurrency"] == 1
    finally:
        emulator.stop()


def _assert_status(client, job_id, status):
    assert client.get(f"/jobs/{job_id}").json()["status"] == status


def test_workers_are_bounded(client, file_server, emulator):
    ids = [client.post("/jobs", json={"kind": "video", "input": f"{file_server}/video.mp4",
                                      "options": {"width": 160, "end": 0.5}, "metadata": {"n": n}}).json()["id"]
           for n in range(5)]
    jobs = [wait_final(client, job_id) for job_id in ids]
    assert all(job["status"] == "completed" for job in jobs)
    counters = emulator.counters.snapshot()
    assert counters["ffmpeg_runs"] == 5
    assert 1 <= counters["ffmpeg_peak_concurrency"] <= emulator.config.workers == 2
    by_job = counters["ffmpeg_seconds_by_job"]
    assert sorted(by_job) == sorted(ids) and all(seconds > 0 for seconds in by_job.values())
    assert abs(sum(by_job.values()) - counters["ffmpeg_seconds"]) < 0.01


def test_chunked_outputs_have_no_length_anywhere(client, file_server):
    client.put("/_emulator/faults", json={"chunked_outputs": True})
    job = wait_final(client, client.post("/jobs", json={"kind": "image", "input": f"{file_server}/image.png",
                                                        "options": {"format": "png"}}).json()["id"])
    assert job["status"] == "completed", job["error"]
    assert job["tasks"][0]["output"]["filesize"] is None
    with httpx.stream("GET", job["output"]) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        whole = response.read()
    assert whole.startswith(b"\x89PNG\r\n\x1a\n") and whole.endswith(b"IEND\xaeB`\x82")
    part = httpx.get(job["output"], headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.headers["content-length"] == "8"


def test_ffmpeg_slots_go_to_waiting_jobs_in_submission_order():
    from emulator.pipeline import FairSlots

    slots, stopping = FairSlots(1), threading.Event()
    assert slots.acquire(0, stopping)  # job 0 runs; jobs 3, 1, 2 get ready in that order
    granted: list[int] = []
    threads = []
    for order in (3, 1, 2):
        def wait(order=order):
            assert slots.acquire(order, stopping)
            granted.append(order)
            slots.release()
        threads.append(threading.Thread(target=wait, daemon=True))
        threads[-1].start()
    deadline = time.monotonic() + 30
    while len(slots._waiting) < 3:  # all three are waiting
        assert time.monotonic() < deadline
        time.sleep(0.01)
    slots.release()
    for thread in threads:
        thread.join(30)
    assert granted == [1, 2, 3]
    assert slots.acquire(4, stopping)  # every slot given back
    stopping.set()
    assert not slots.acquire(5, stopping)  # no free slot and stopping: gives up
    assert slots._waiting == []
