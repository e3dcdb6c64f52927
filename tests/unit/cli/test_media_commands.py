"""ls, get, wait, events, rm, stats, url, download: human output and --json, against tests/unit/cli/fake_api.py."""

from __future__ import annotations

import json
import re
import time

from media_pipeline_cli import app as app_module
from media_pipeline_cli.util import url_expiry
from tests.unit.cli.fake_api import BASE, media_record

ID1 = "01aaaaaaaaaaaaaaaaaaaaaaaa"
ID2 = "01bbbbbbbbbbbbbbbbbbbbbbbb"
ID3 = "01cccccccccccccccccccccccc"


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def seed(fake):
    fake.media[ID1] = media_record(ID1, name="one.mp4")
    fake.media[ID2] = media_record(ID2, name="two.jpg", kind="image", status="failed", error="unreadable")
    fake.media[ID3] = media_record(ID3, name="three.mp3", kind="audio", status="processing")


def test_ls_pages_through_the_cursor_and_prints_a_table(cli, fake):
    seed(fake)
    result = cli("ls")
    assert result.exit_code == 0, result.output
    for media_id in (ID1, ID2, ID3):
        assert media_id in result.stdout
    assert sum(1 for r in fake.requests if r.url.path == "/api/media") == 2  # page size 2: two pages


def test_ls_json_filters_by_status_kind_and_limit(cli, fake):
    seed(fake)
    assert [i["id"] for i in lines(cli("ls", "--json").stdout)] == [ID3, ID2, ID1]
    assert [i["id"] for i in lines(cli("ls", "--json", "--status", "failed").stdout)] == [ID2]
    assert [i["id"] for i in lines(cli("ls", "--json", "--kind", "audio").stdout)] == [ID3]
    assert [i["id"] for i in lines(cli("ls", "--json", "--limit", "1").stdout)] == [ID3]


def test_get_human_and_json(cli, fake):
    seed(fake)
    human = cli("get", ID1)
    assert human.exit_code == 0
    assert "one.mp4" in human.stdout and "web" in human.stdout and "metadata.project" in human.stdout
    record = lines(cli("get", ID1, "--json").stdout)[0]
    assert record["id"] == ID1 and record["renditions"][0]["name"] == "web"


def test_get_unknown_is_exit_4_with_the_api_code_and_no_traceback(cli, fake):
    result = cli("get", ID1)
    assert result.exit_code == app_module.EXIT_NOT_FOUND
    assert "not_found" in result.stderr and "HTTP 404" in result.stderr
    assert "Traceback" not in result.output


def test_wait_polls_until_final_and_exits_1_when_one_failed(cli, fake):
    seed(fake)
    fake.status_sequence[ID3] = ["processing", "processing", "completed"]
    ok = cli("wait", ID1, ID3, "--json")
    assert ok.exit_code == 0, ok.output
    assert [r["status"] for r in lines(ok.stdout)] == ["completed", "completed"]
    failed = cli("wait", ID1, ID2)
    assert failed.exit_code == app_module.EXIT_FAILED
    assert "failed" in failed.stdout


def test_wait_times_out_with_exit_6(cli, fake, monkeypatch):
    seed(fake)
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr(app_module.time, "monotonic", lambda: next(clock))
    result = cli("wait", ID3, "--timeout", "5m")
    assert result.exit_code == app_module.EXIT_TIMEOUT
    assert "timed out" in result.stderr


def test_events_human_and_json(cli, fake):
    fake.events[ID1] = [
        {"id": "evt_1", "type": "media.uploaded", "media_id": ID1, "timestamp": "2026-12-01T10:00:00Z",
         "public": False, "data": {"size": 10, "via": "tus"}},
        {"id": "evt_2", "type": "media.created", "media_id": ID1, "timestamp": "2026-12-01T10:00:01Z",
         "public": True, "data": {"id": ID1, "status": "pending"}},
        {"id": "evt_3", "type": "rendition.ready", "media_id": ID1, "timestamp": "2026-12-01T10:00:02Z",
         "public": True, "data": {"id": ID1, "status": "processing", "rendition": {"name": "web", "status": "completed"}}},
    ]
    human = cli("events", ID1)
    assert human.exit_code == 0
    assert "via=tus" in human.stdout and "rendition=web (completed)" in human.stdout
    assert [e["id"] for e in lines(cli("events", ID1, "--json").stdout)] == ["evt_1", "evt_2", "evt_3"]


def test_rm_asks_unless_yes_and_reports_each_id(cli, fake):
    seed(fake)
    refused = cli("rm", ID1)  # CliRunner's stdin is not a terminal
    assert refused.exit_code == 2 and ID1 in fake.media
    result = cli("rm", ID1, ID1, "--yes", "--json")
    assert result.exit_code == 0
    assert lines(result.stdout) == [{"id": ID1, "deleted": True, "objects_deleted": 2, "error": None}]
    again = cli("rm", ID1, ID2, "--yes")
    assert again.exit_code == app_module.EXIT_NOT_FOUND
    assert "not_found" in again.stderr and f"deleted {ID2}" in again.stdout


def test_stats_human_and_json(cli, fake):
    seed(fake)
    counts = lines(cli("stats", "--json").stdout)[0]
    assert counts["total"] == 3 and counts["failed"] == 1 and counts["processing"] == 1
    assert "total" in cli("stats").stdout


def test_url_prints_the_signed_link_of_the_original_or_a_rendition(cli, fake):
    seed(fake)
    assert cli("url", ID1).stdout.strip() == fake.media[ID1]["signed_url"]
    assert cli("url", ID1, "--rendition", "web").stdout.strip().endswith("/web.mp4?expires=9999999999&signature=sig")
    missing = cli("url", ID1, "--rendition", "nope")
    assert missing.exit_code == app_module.EXIT_NOT_FOUND and "renditions: web" in missing.stderr
    data = lines(cli("url", ID1, "--json").stdout)[0]
    assert data["expires_at"].startswith("2286-")


def test_url_expires_asks_the_api_for_a_link_that_long(cli, fake):
    fake.media[ID1] = media_record(ID1)
    link = cli("url", ID1, "--expires", "2d").stdout.strip()
    expires = int(re.search(r"expires=(\d+)", link)[1])
    assert abs(expires - (time.time() + 2 * 86400)) < 60
    assert fake.requests[-1].url.params["expires_in"] == str(2 * 86400)


def test_url_expires_longer_than_an_older_api_gives_fails_without_a_signing_secret(cli, fake):
    fake.honours_expires_in = False
    soon = int(time.time()) + 900
    fake.media[ID1] = media_record(ID1, signed_url=f"{BASE}/files/originals/{ID1}?expires={soon}&signature=s")
    result = cli("url", ID1, "--expires", "1h")
    assert result.exit_code == app_module.EXIT_FAILED
    assert "signed the link for" in result.stderr
    assert cli("url", ID1, "--expires", "10m").exit_code == 0


def test_url_expires_is_signed_locally_with_the_signing_secret_as_the_api_would(cli, fake, monkeypatch):
    from common.url_signing import verify  # the API's own check

    monkeypatch.setenv("MEDIA_PIPELINE_URL_SIGNING_SECRET", "s3cret")
    seed(fake)
    link = cli("url", ID1, "--expires", "2h").stdout.strip()
    expires = url_expiry(link)
    assert 7100 < expires - time.time() <= 7200
    signature = link.rpartition("signature=")[2]
    assert verify("s3cret", f"/files/originals/{ID1}", str(expires), signature, int(time.time()))
    assert cli("url", ID1, "--expires", "8d").exit_code == 2


def test_url_hls_prints_playback_or_says_there_is_none(cli, fake):
    hls = f"{BASE}/hls/tok/{ID1}/master.m3u8"
    fake.media[ID1] = media_record(ID1, playback={"hls": hls})
    fake.media[ID2] = media_record(ID2)
    fake.media[ID3] = media_record(ID3, kind="image")
    assert cli("url", ID1, "--hls").stdout.strip() == hls
    none = cli("url", ID2, "--hls")
    assert none.exit_code == app_module.EXIT_NOT_FOUND and "has no HLS playback" in none.stderr
    assert "not a video" in cli("url", ID3, "--hls").stderr


def test_download_streams_the_rendition_and_resumes_a_part_by_range(cli, fake, tmp_path):
    seed(fake)
    data = bytes(range(256)) * 5000
    fake.files[f"/files/renditions/{ID1}/web.mp4"] = data
    target = tmp_path / "out.mp4"
    first = cli("download", ID1, "--rendition", "web", "-o", str(target), "--json")
    assert first.exit_code == 0, first.output
    assert target.read_bytes() == data and lines(first.stdout)[0]["resumed_from"] == 0
    # an interrupted run leaves out.mp4.part and its validator; the next run asks for the rest only
    target.unlink()
    part = tmp_path / "out.mp4.part"
    part.write_bytes(data[:300_000])
    etag = '"' + __import__("hashlib").md5(data).hexdigest() + '"'
    (tmp_path / "out.mp4.part.json").write_text(json.dumps({"url": f"{BASE}/files/renditions/{ID1}/web.mp4",
                                                            "etag": etag}))
    second = cli("download", ID1, "--rendition", "web", "-o", str(target), "--json")
    report = lines(second.stdout)[0]
    assert target.read_bytes() == data
    assert report["resumed_from"] == 300_000 and report["bytes_received"] == len(data) - 300_000
    assert fake.requests[-1].headers["range"] == "bytes=300000-"
    assert not part.exists() and not (tmp_path / "out.mp4.part.json").exists()


def test_download_default_name_and_a_changed_file_starts_over(cli, fake, tmp_path, monkeypatch):
    seed(fake)
    data = b"x" * 1000
    fake.files[f"/files/originals/{ID1}"] = data
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.mp4.part").write_bytes(b"y" * 10)
    (tmp_path / "one.mp4.part.json").write_text(json.dumps({"url": fake.media[ID1]["url"], "etag": '"old"'}))
    result = cli("download", ID1)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "one.mp4").read_bytes() == data  # If-Range did not match: the whole file again
    assert "saved" in result.stderr


def test_download_a_rendition_not_ready_is_exit_4(cli, fake):
    fake.media[ID1] = media_record(ID1, renditions=[{"name": "web", "status": "processing", "url": None,
                                                     "output_key": None, "error": None}])
    result = cli("download", ID1, "--rendition", "web")
    assert result.exit_code == app_module.EXIT_NOT_FOUND and "processing, not completed" in result.stderr


def test_a_download_cut_off_midway_keeps_its_part_and_the_next_run_fetches_only_the_rest(cli, fake, tmp_path):
    import hashlib

    import httpx

    seed(fake)
    data = bytes(range(256)) * 8192  # 2 MiB
    path = f"/files/renditions/{ID1}/web.mp4"
    fake.files[path] = data
    etag = '"' + hashlib.md5(data).hexdigest() + '"'
    real_file = fake.file

    def cut_off(request, file_path):
        if request.headers.get("range"):
            return real_file(request, file_path)

        def body():
            yield data[:1_500_000]
            raise httpx.ReadError("connection reset by peer")

        return httpx.Response(200, content=body(), headers={"ETag": etag, "Content-Length": str(len(data))})

    fake.file = cut_off
    target = tmp_path / "web.mp4"
    first = cli("download", ID1, "-r", "web", "-o", str(target))
    assert first.exit_code == app_module.EXIT_API
    assert "download interrupted" in first.stderr and "run the same command again" in first.stderr
    kept = (tmp_path / "web.mp4.part").read_bytes()  # what was written before the cut (whole 1 MiB blocks)
    assert 0 < len(kept) <= 1_500_000 and data.startswith(kept) and not target.exists()
    second = cli("download", ID1, "-r", "web", "-o", str(target), "--json")
    report = lines(second.stdout)[0]
    assert second.exit_code == 0 and target.read_bytes() == data
    assert report["resumed_from"] == len(kept) and report["bytes_received"] == len(data) - len(kept)
    assert fake.requests[-1].headers["if-range"] == etag
