"""adaptive_video / hls jobs: a real ladder, reported and served; fault switches apply to them."""

import json
import subprocess

import httpx
import pytest

from emulator.config import parse_config
from emulator.hls import Rung, plan_rungs
from emulator.tests.helpers import API_KEY, start_emulator, wait_final
from emulator.transcode import MediaInfo, TranscodeError


def _info(width, height, audio=True):
    return MediaInfo(has_video=True, has_audio=audio, width=width, height=height, duration=10.0, still=False)


def test_rungs_up_to_the_source_never_above():
    assert plan_rungs(_info(1280, 720), {}) == [Rung("360p", 640, 360), Rung("720p", 1280, 720)]
    assert [r.name for r in plan_rungs(_info(1920, 1080), {})] == ["360p", "720p", "1080p"]
    assert plan_rungs(_info(1080, 1920), {})[1] == Rung("720p", 720, 1280)  # portrait: the short side
    assert plan_rungs(_info(320, 180), {}) == [Rung("180p", 320, 180)]     # below the lowest rung: its own size
    assert [r.name for r in plan_rungs(_info(1920, 1080), {"height": 720})] == ["360p", "720p"]
    with pytest.raises(TranscodeError):
        plan_rungs(MediaInfo(False, True, None, None, 1.0, False), {})


def test_rungs_and_segment_length_are_configurable():
    config = parse_config([], {"ITTYBIT_EMULATOR_HLS_RUNGS": "90,180", "ITTYBIT_EMULATOR_HLS_SEGMENT_SECONDS": "2"})
    assert config.hls_rungs == (90, 180) and config.hls_segment_seconds == 2.0
    with pytest.raises(ValueError):
        parse_config([], {"ITTYBIT_EMULATOR_HLS_RUNGS": "91"})


def test_unknown_adaptive_options_and_formats_refused(client, file_server):
    for options in ({"format": "dash"}, {"format": "hls", "codec": "h264"}):
        answer = client.post("/jobs", json={"kind": "adaptive_video", "input": f"{file_server}/video.mp4",
                                            "options": options})
        assert answer.status_code == 400, options


def test_ladder_made_reported_and_served(client, file_server):
    answer = client.post("/jobs", json={"kind": "adaptive_video", "input": f"{file_server}/video.mp4",
                                        "options": {"format": "hls", "quality": "low"}})
    assert answer.status_code == 201, answer.text
    job = wait_final(client, answer.json()["id"])
    assert job["status"] == "completed", job["error"]
    output = job["tasks"][0]["output"]
    assert job["output"] == output["url"] and output["url"].endswith(f"/files/{job['id']}/master.m3u8")
    assert (output["kind"], output["format"], output["width"], output["height"]) == ("adaptive_video", "hls", 1280, 720)
    assert 1.5 < output["duration"] < 2.6
    master = httpx.get(output["url"])
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    lines = master.text.splitlines()
    assert lines[0] == "#EXTM3U"
    infs = [line for line in lines if line.startswith("#EXT-X-STREAM-INF")]
    assert len(infs) == 2 and all("BANDWIDTH=" in i and "CODECS=\"avc1." in i and "mp4a.40.2" in i for i in infs)
    assert "RESOLUTION=640x360" in infs[0] and "RESOLUTION=1280x720" in infs[1]
    uris = [line for line in lines if line and not line.startswith("#")]
    assert uris == ["360p/stream.m3u8", "720p/stream.m3u8"]
    base = output["url"].rsplit("/", 1)[0]
    total = len(master.content)
    for uri in uris:
        playlist = httpx.get(f"{base}/{uri}")
        assert playlist.text.rstrip().endswith("#EXT-X-ENDLIST")
        total += len(playlist.content)
        segments = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
        assert segments and all("/" not in s and s.endswith(".ts") for s in segments)
        for segment in segments:
            got = httpx.get(f"{base}/{uri.split('/')[0]}/{segment}")
            assert got.status_code == 200 and got.headers["content-type"] == "video/mp2t"
            total += len(got.content)
    assert total == output["filesize"]
    probed = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                             output["url"]], capture_output=True, timeout=60, check=True)
    heights = sorted({s["height"] for s in json.loads(probed.stdout)["streams"] if s.get("codec_type") == "video"})
    assert heights == [360, 720]


def test_nested_file_paths_cannot_escape(client, emulator):
    for path in ("/files/job_x/../../etc/passwd", "/files/job_x/.hidden/a.ts", "/files/..%2f..%2fetc/passwd/x"):
        assert httpx.get(emulator.base_url + path).status_code == 404, path


def test_fault_switches_apply_to_ladder_jobs(tmp_path, file_server, receiver):
    emu = start_emulator(tmp_path, duplicate_webhook_rate=1.0)
    try:
        with httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10) as c:
            job = c.post("/jobs", json={"kind": "adaptive_video", "input": f"{file_server}/video.mp4",
                                        "options": {"format": "hls"}, "webhook_url": receiver.url}).json()
            failed = c.post("/jobs", json={"kind": "adaptive_video", "input": f"{file_server}/video.mp4",
                                           "options": {"format": "hls"}, "metadata": {"emulator_fail": "no ladder"},
                                           "webhook_url": receiver.url}).json()
            assert wait_final(c, job["id"])["status"] == "completed"
            assert wait_final(c, failed["id"])["error"] == "no ladder"
            got = receiver.wait_for(4)
            ids = [json.loads(d["body"])["id"] for d in got]
            assert ids.count(job["id"]) == 2 and ids.count(failed["id"]) == 2
            c.patch("/_emulator/faults", json={"duplicate_webhook_rate": 0.0, "drop_webhook_rate": 1.0})
            dropped = c.post("/jobs", json={"kind": "adaptive_video", "input": f"{file_server}/video.mp4",
                                            "options": {"format": "hls"}, "webhook_url": receiver.url}).json()
            assert wait_final(c, dropped["id"])["status"] == "completed"
            assert c.get("/_emulator/counters").json()["webhook_deliveries"]["dropped"] == 1
            assert len(receiver.received) == 4  # the dropped one never came
    finally:
        emu.stop()


def test_fail_segment_requests_fails_the_next_segment_gets_only(client, file_server):
    job = client.post("/jobs", json={"kind": "adaptive_video", "input": f"{file_server}/video.mp4",
                                     "options": {"format": "hls"}}).json()
    master = wait_final(client, job["id"])["output"]
    base = master.rsplit("/", 1)[0]
    client.patch("/_emulator/faults", json={"fail_segment_requests": 2})
    assert httpx.get(master).status_code == 200  # playlists are not segments
    segment = f"{base}/360p/segment-0.ts"
    assert [httpx.get(segment).status_code for _ in range(3)] == [503, 503, 200]
    assert client.get("/_emulator/faults").json()["fail_segment_requests"] == 0


def test_a_rotated_source_gets_portrait_rungs(client, file_server, media_dir):
    from emulator.tests.media import rotate_tkhd

    (media_dir / "rotated.mp4").write_bytes(rotate_tkhd((media_dir / "video.mp4").read_bytes(), 90))
    job = client.post("/jobs", json={"kind": "adaptive_video", "input": f"{file_server}/rotated.mp4",
                                     "options": {"format": "hls"}}).json()
    done = wait_final(client, job["id"])
    assert done["status"] == "completed", done["error"]
    assert (done["tasks"][0]["output"]["width"], done["tasks"][0]["output"]["height"]) == (720, 1280)
    master = httpx.get(done["output"]).text
    assert "RESOLUTION=360x640" in master and "RESOLUTION=720x1280" in master
