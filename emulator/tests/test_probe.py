"""POST /tasks kind probe: display size (rotation, EXIF), duration, fps, codecs, HEIF/AVIF,
idempotency, faults, auth, counters, log lines, byte ranges, and errors without paths."""

import json
import logging
import re
import struct
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from emulator.probing import probe_output, rotation_of
from emulator.tests.helpers import API_KEY, RangeFileServer, eventually, start_emulator, wait_final
from emulator.tests.media import ffmpeg, heif_enc, rotate_tkhd, with_exif_orientation

SIGNED = "?expires=1900000000&signature=0123456789abcdef"


@pytest.fixture(scope="module")
def probe_media(tmp_path_factory):
    """Portrait, rotated and 29.97 fps videos, an EXIF-6 JPEG, HEIC, AVIF, audio and broken files."""
    root = tmp_path_factory.mktemp("probe-media")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1080x1920:rate=30:duration=1", "-f", "lavfi", "-i",
           "sine=duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "40", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", root / "portrait.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30000/1001:duration=1", "-c:v", "libx264",
           "-preset", "ultrafast", "-crf", "40", "-pix_fmt", "yuv420p", root / "landscape.mp4")
    (root / "rotated.mp4").write_bytes(rotate_tkhd((root / "landscape.mp4").read_bytes(), 90))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1", root / "photo.jpg")
    (root / "exif6.jpg").write_bytes(with_exif_orientation((root / "photo.jpg").read_bytes(), 6))
    heif_enc(root / "photo.jpg", root / "photo.heic")
    heif_enc(root / "photo.jpg", root / "photo.avif")
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1.5", "-c:a", "libmp3lame", root / "tone.mp3")
    (root / "garbage.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(range(256)) * 8)
    (root / "truncated.mp4").write_bytes((root / "landscape.mp4").read_bytes()[:3000])
    (root / "notes.txt").write_bytes(b"not media at all, just words\n" * 10)
    return root


@pytest.fixture(scope="module")
def range_server(probe_media):
    server = RangeFileServer(probe_media)
    yield server
    server.close()


def _probe(client, server, name, key=None, **extra):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/tasks", json={"kind": "probe", "input": f"{server.url}/{name}{SIGNED}", **extra},
                       headers=headers)


def _completed(client, server, name) -> dict:
    answer = _probe(client, server, name)
    assert answer.status_code == 201, answer.text
    task = answer.json()
    assert task["status"] == "completed", task["error"]
    return task["output"]


def test_probe_answers_a_final_task_of_the_contract_shape(client, range_server):
    answer = _probe(client, range_server, "portrait.mp4", metadata={"media_id": "m1", "rendition": "probe"})
    assert answer.status_code == 201
    task = answer.json()
    assert task["id"].startswith("task_") and task["object"] == "task" and task["kind"] == "probe"
    assert task["status"] == "completed" and task["error"] is None
    assert task["input"] == f"{range_server.url}/portrait.mp4{SIGNED}"
    assert task["metadata"] == {"media_id": "m1", "rendition": "probe"}
    assert task["output"] == {
        "object": "file", "kind": "video", "format": "mp4", "width": 1080, "height": 1920, "rotation": 0,
        "duration": task["output"]["duration"], "fps": 30.0, "codec": "h264", "audio_codec": "aac",
        "filesize": task["output"]["filesize"],
    }
    assert 0.9 <= task["output"]["duration"] <= 1.1
    assert task["output"]["filesize"] > 1000
    again = client.get(f"/tasks/{task['id']}")
    assert again.status_code == 200 and again.json() == task
    missing = client.get("/tasks/task_nope")
    assert missing.status_code == 404 and missing.json()["kind"] == "not_found"


def test_a_video_rotated_by_its_tkhd_matrix_is_portrait(client, range_server):
    output = _completed(client, range_server, "rotated.mp4")
    assert (output["width"], output["height"], output["rotation"]) == (1080, 1920, 90)
    assert output["fps"] == 29.97 and output["audio_codec"] is None
    landscape = _completed(client, range_server, "landscape.mp4")
    assert (landscape["width"], landscape["height"], landscape["rotation"]) == (1920, 1080, 0)


def test_a_jpeg_with_exif_orientation_6_is_portrait(client, range_server):
    output = _completed(client, range_server, "exif6.jpg")
    assert (output["kind"], output["format"], output["codec"]) == ("image", "jpeg", "mjpeg")
    assert (output["width"], output["height"], output["rotation"]) == (480, 640, 90)
    assert output["duration"] is None and output["fps"] is None
    plain = _completed(client, range_server, "photo.jpg")
    assert (plain["width"], plain["height"], plain["rotation"]) == (640, 480, 0)


@pytest.mark.parametrize(("name", "fmt", "codec"), [("photo.heic", "heif", "hevc"), ("photo.avif", "avif", "av1")])
def test_heic_and_avif_are_probed_through_libheif(client, range_server, probe_media, name, fmt, codec):
    output = _completed(client, range_server, name)
    assert output == {"object": "file", "kind": "image", "format": fmt, "width": 640, "height": 480,
                      "rotation": 0, "duration": None, "fps": None, "codec": codec, "audio_codec": None,
                      "filesize": (probe_media / name).stat().st_size}


def test_audio_has_a_duration_and_no_size(client, range_server):
    output = _completed(client, range_server, "tone.mp3")
    assert (output["kind"], output["format"], output["audio_codec"], output["codec"]) == ("audio", "mp3", "mp3", None)
    assert (output["width"], output["height"], output["fps"]) == (None, None, None)
    assert 1.4 <= output["duration"] <= 1.6


def test_the_url_is_probed_with_ranges_not_downloaded_whole(tmp_path, probe_media):
    """A 64 MiB MP4 with its moov at the end, on a server with byte ranges, and an emulator that
    refuses to download more than 1 MiB: the probe still reads it, with ranges, sending far less."""
    data = (probe_media / "landscape.mp4").read_bytes()
    moov = data.find(b"moov") - 4
    assert moov > data.find(b"mdat") > 0, "ffmpeg's default layout: moov after mdat"
    padding = 64 * 1024 * 1024
    big = tmp_path / "big.mp4"
    with open(big, "wb") as out:
        out.write(data[:moov])
        out.write(struct.pack(">I", padding + 8) + b"free")
        out.seek(padding, 1)  # sparse: the disk holds none of it
        out.write(data[moov:])
    server = RangeFileServer(tmp_path)
    emulator = start_emulator(tmp_path, config={"max_input_bytes": 1024 * 1024})
    try:
        with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as client:
            output = _completed(client, server, "big.mp4")
            assert (output["width"], output["height"], output["codec"]) == (1920, 1080, "h264")
            assert output["filesize"] == big.stat().st_size
            assert server.sent("big.mp4") < big.stat().st_size / 4
            assert any(r["range"] not in (None, "bytes=0-", "bytes=0-63") for r in server.requests)
            job = client.post("/jobs", json={"kind": "image", "input": f"{server.url}/big.mp4"}).json()
            assert "larger than 1048576 bytes" in wait_final(client, job["id"])["error"]
    finally:
        emulator.stop()
        server.close()


def test_same_idempotency_key_probes_once(client, range_server):
    key = "probe-key-0123456789"
    first = _probe(client, range_server, "photo.jpg", key)
    second = _probe(client, range_server, "photo.jpg", key)
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    other = _probe(client, range_server, "exif6.jpg", key)
    assert other.status_code == 409 and other.json()["kind"] == "conflict"
    counters = client.get("/_emulator/counters").json()
    assert counters["probes_created"] == 1 and counters["probes_by_idempotency_key"] == {key: 1}
    assert counters["probes_finished"] == {"completed": 1}
    assert counters["jobs_created"] == 0


def test_concurrent_probes_with_one_key_run_once_and_all_see_the_result(client, range_server, emulator):
    key = "probe-concurrent-0001"
    body = {"kind": "probe", "input": f"{range_server.url}/photo.heic"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: httpx.post(emulator.base_url + "/tasks", json=body, timeout=60, headers={
            "Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key}), range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert all(a.json()["status"] == "completed" for a in answers)
    assert client.get("/_emulator/counters").json()["probes_by_idempotency_key"] == {key: 1}


def test_tasks_need_the_bearer_key_and_a_valid_body(emulator, client):
    body = {"kind": "probe", "input": "http://127.0.0.1:9/x.mp4"}
    assert httpx.post(emulator.base_url + "/tasks", json=body).status_code == 401
    assert httpx.get(emulator.base_url + "/tasks/task_x", headers={"Authorization": "Bearer no"}).status_code == 401
    for bad in ({"kind": "thumbnail", "input": "http://x/y"}, {"kind": "probe"}, {"kind": "probe", "input": "ftp://x/y"},
                {"kind": "probe", "input": "s3://bucket/key"}, {"kind": "probe", "input": "http://x/y", "metadata": 3}):
        answer = client.post("/tasks", json=bad)
        assert answer.status_code == 400 and answer.json()["kind"] == "invalid_input", bad
    assert client.get("/_emulator/counters").json()["probes_created"] == 0


def test_api_faults_apply_to_tasks_and_create_nothing(client, range_server):
    client.put("/_emulator/faults", json={"error_rate": 1})
    assert _probe(client, range_server, "photo.jpg", "probe-fault-key-0001").status_code in (500, 503)
    assert client.get("/tasks/task_x").status_code in (500, 503)
    client.put("/_emulator/faults", json={"error_rate": 0, "rate_limit_rate": 1, "retry_after": 4})
    limited = _probe(client, range_server, "photo.jpg", "probe-fault-key-0001")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "4"
    client.put("/_emulator/faults", json={"rate_limit_rate": 0})
    counters = client.get("/_emulator/counters").json()
    assert counters["probes_created"] == 0
    assert counters["requests"]["by_route"]["POST /tasks"] == 2
    assert _probe(client, range_server, "photo.jpg", "probe-fault-key-0001").status_code == 201


def test_a_dropped_answer_is_recovered_with_the_same_key(client, range_server):
    client.put("/_emulator/faults", json={"drop_response_rate": 1})
    with pytest.raises(httpx.HTTPError):
        _probe(client, range_server, "photo.jpg", "probe-dropped-key-001")
    client.put("/_emulator/faults", json={"drop_response_rate": 0})
    again = _probe(client, range_server, "photo.jpg", "probe-dropped-key-001")
    assert again.status_code == 200 and again.json()["status"] == "completed"
    assert client.get("/_emulator/counters").json()["probes_created"] == 1


def test_fail_probe_rate_and_forced_failures(client, range_server):
    client.put("/_emulator/faults", json={"fail_probe_rate": 1})
    failed = _probe(client, range_server, "photo.jpg").json()
    assert failed["status"] == "failed" and failed["error"] == "injected failure (fail_probe_rate)"
    assert failed["output"] is None
    client.put("/_emulator/faults", json={"fail_probe_rate": 0})
    forced = _probe(client, range_server, "photo.jpg", metadata={"emulator_fail": "boom"}).json()
    assert forced["status"] == "failed" and forced["error"] == "boom"
    assert client.get("/_emulator/counters").json()["probes_finished"] == {"failed": 2}


def test_probe_delay_answers_processing_then_completes(client, range_server):
    client.put("/_emulator/faults", json={"probe_delay_ms": 300})
    answer = _probe(client, range_server, "photo.jpg", "probe-delayed-key-001")
    assert answer.status_code == 201 and answer.json()["status"] == "processing" and answer.json()["output"] is None
    replay = _probe(client, range_server, "photo.jpg", "probe-delayed-key-001")
    assert replay.status_code == 200 and replay.json()["id"] == answer.json()["id"]

    def done():
        task = client.get(f"/tasks/{answer.json()['id']}").json()
        assert task["status"] == "completed"
        return task

    assert eventually(done, timeout=30)["output"]["width"] == 640


def test_a_probe_logs_one_line_per_step(client, range_server, caplog):
    caplog.set_level(logging.INFO, logger="emulator.jobs")
    task = _probe(client, range_server, "photo.heic", metadata={"media_id": "01JMEDIA", "rendition": "probe"}).json()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"task {task['id']} ")]
    steps = [line.removeprefix(f"task {task['id']} ") for line in lines]
    assert steps[0] == 'created: probe "probe" of media 01JMEDIA'
    assert steps[1] == "input head fetched: 64 bytes"
    assert re.fullmatch(r"input fetched: \d+ bytes \(heif\)", steps[2])
    assert steps[3] == "decoded by libheif (heif)"
    assert steps[4] == "ffprobe start"
    assert re.fullmatch(r"ffprobe end: \d+\.\d\d s \(exit 0\)", steps[5])
    assert steps[6] == "completed: image heif 640x480 hevc"
    assert len(steps) == 7


def _assert_public(text: str, emulator) -> None:
    for leak in ("/tmp", "/work", "/home", emulator.config.data_dir, "signature=", "expires="):
        assert leak not in text, f"{leak!r} in {text!r}"


@pytest.mark.parametrize(("name", "words"), [
    ("garbage.heic", "HEIF/AVIF image could not be decoded"),
    ("truncated.mp4", "moov atom not found"),
    ("notes.txt", "Invalid data found when processing input"),
    ("nothing-here.mp4", "HTTP 404"),
])
def test_unreadable_inputs_fail_clearly_without_paths(client, emulator, range_server, receiver, name, words):
    task = _probe(client, range_server, name).json()
    assert task["status"] == "failed" and task["output"] is None
    assert words in task["error"]
    if name != "nothing-here.mp4":
        assert task["error"].startswith("input is not a readable media file: ")
    _assert_public(task["error"], emulator)
    kind = "video" if name.endswith(".mp4") else "image"
    job = client.post("/jobs", json={"kind": kind, "input": f"{range_server.url}/{name}{SIGNED}",
                                     "webhook_url": receiver.url}).json()
    job = wait_final(client, job["id"])
    assert job["status"] == "failed" and words in job["error"]
    _assert_public(job["error"], emulator)
    receiver.wait_for(1)
    delivered = receiver.json(0)  # echoes "input" as sent, like Ittybit; its error texts are public
    assert delivered["error"] == job["error"]
    _assert_public(json.dumps([delivered["error"], delivered["tasks"][0]["error"]]), emulator)


def test_probe_output_tolerates_odd_ffprobe_json():
    with pytest.raises(Exception, match="no video, image or audio stream"):
        probe_output({"streams": [{"codec_type": "data"}]})
    odd = probe_output({"format": {"format_name": "matroska,webm", "duration": "nan", "size": "x"},
                        "streams": [{"codec_type": "video", "codec_name": "vp9", "width": 0, "height": 5,
                                     "avg_frame_rate": "0/0", "r_frame_rate": "25/1"}]}, head=b"\x1aE\xdf\xa3 webm")
    assert (odd["format"], odd["width"], odd["height"], odd["fps"], odd["duration"]) == ("webm", None, None, 25.0, None)
    assert rotation_of({"side_data_list": [{"rotation": 90}]}, []) == 270
    assert rotation_of({"side_data_list": [{"rotation": -180}]}, []) == 180
    assert rotation_of({"index": 0}, [{"media_type": "video", "stream_index": 0, "side_data_list": [{"rotation": -90}]}]) == 90
    assert rotation_of({"index": 0, "side_data_list": [{"side_data_type": "other"}]}, []) == 0
    art = probe_output({"format": {"format_name": "mp3", "duration": "2.5"},
                        "streams": [{"codec_type": "audio", "codec_name": "mp3"},
                                    {"codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}]})
    assert (art["kind"], art["width"], art["codec"], art["duration"]) == ("audio", None, None, 2.5)


def test_reset_forgets_tasks(client, range_server):
    task = _probe(client, range_server, "photo.jpg", "probe-reset-key-0001").json()
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get(f"/tasks/{task['id']}").status_code == 404
    assert client.get("/_emulator/counters").json()["probes_created"] == 0
    assert _probe(client, range_server, "photo.jpg", "probe-reset-key-0001").status_code == 201



def test_an_s3_input_is_probed_through_s3_base_url(tmp_path, range_server):
    emulator = start_emulator(tmp_path, config={"s3_base_url": range_server.url + "/{key}"})
    try:
        with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as client:
            connection = client.post("/connections", json={"kind": "s3", "access_key_id": "a", "secret_access_key": "b"}).json()
            task = client.post("/tasks", json={"kind": "probe", "input": "s3://media/exif6.jpg",
                                               "connection_id": connection["id"]}).json()
            assert task["status"] == "completed", task["error"]
            assert task["input"] == "s3://media/exif6.jpg" and (task["output"]["width"], task["output"]["height"]) == (480, 640)
    finally:
        emulator.stop()
