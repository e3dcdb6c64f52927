"""upload: tus through the fake API, the local record that resumes, --wait, --json, exit codes."""

from __future__ import annotations

import json
import os
import stat

import httpx

from media_pipeline_cli import app as app_module
from media_pipeline_cli import tus
from tests.unit.cli.fake_api import BASE, KEY


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def folder(tmp_path):
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    (media / "a.mp4").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (media / "b.jpg").write_bytes(b"jpg" * 1000)
    (media / "sub" / "c.mp3").write_bytes(b"mp3" * 1000)
    (media / ".DS_Store").write_bytes(b"junk")
    return media


def stored(fake) -> dict[str, bytes]:
    return {u["metadata"]["filename"]: bytes(u["data"]) for u in fake.uploads.values()}


def test_upload_a_folder_sends_each_file_in_chunks_with_its_metadata(cli, fake, tmp_path):
    media = folder(tmp_path)
    result = cli("upload", str(media), "--json", "--chunk-size", "1", "-m", "project=x", "-m", "owner=ann")
    assert result.exit_code == 0, result.output
    rows = lines(result.stdout)
    assert [r["name"] for r in rows] == ["a.mp4", "b.jpg"]  # no subfolder without -r, no hidden files
    assert all(r["status"] == "queued" and r["id"] for r in rows)
    assert stored(fake)["a.mp4"] == (media / "a.mp4").read_bytes()
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert len(patches) == 4 + 1  # 3 MiB + 17 bytes in 1 MiB chunks, and b.jpg in one
    assert all(int(r.headers["content-length"]) <= 1024 * 1024 for r in patches)
    meta = next(u["metadata"] for u in fake.uploads.values() if u["metadata"]["filename"] == "a.mp4")
    assert meta == {"filename": "a.mp4", "filetype": "video/mp4", "project": "x", "owner": "ann"}


def test_upload_recursive_and_a_summary_table(cli, fake, tmp_path):
    media = folder(tmp_path)
    result = cli("upload", str(media), "-r")
    assert result.exit_code == 0, result.output
    assert "c.mp3" in result.stdout and "3 file(s)" in result.stdout and "queued" in result.stdout


def test_the_record_is_private_and_a_rerun_does_not_upload_again(cli, fake, tmp_path):
    media = folder(tmp_path)
    assert cli("upload", str(media / "b.jpg")).exit_code == 0
    record = tmp_path / "state" / "media-pipeline" / "uploads.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    again = cli("upload", str(media / "b.jpg"), "--json")
    assert lines(again.stdout)[0]["earlier"] is True and len(fake.uploads) == 1
    fresh = cli("upload", str(media / "b.jpg"), "--fresh", "--json")
    assert lines(fresh.stdout)[0]["earlier"] is False and len(fake.uploads) == 2


def test_a_dropped_connection_mid_chunk_is_resumed_from_the_servers_offset(cli, fake, tmp_path):
    media = folder(tmp_path)
    fake.fail_patch_after = 1024 * 1024 + 500  # the 2nd chunk breaks after 500 bytes reached the server
    result = cli("upload", str(media / "a.mp4"), "--json", "--chunk-size", "1")
    assert result.exit_code == 0, result.output
    assert stored(fake)["a.mp4"] == (media / "a.mp4").read_bytes()
    heads = [r for r in fake.requests if r.method == "HEAD"]
    assert heads, "the client asked the server where it stood"


def test_an_upload_killed_midway_resumes_from_the_record_in_a_new_run(cli, fake, tmp_path, monkeypatch):
    media = folder(tmp_path)
    real_put = tus.UploadRecord.put
    calls = {"n": 0}

    def crash_after_two_chunks(self, key, **values):
        real_put(self, key, **values)
        calls["n"] += 1
        if calls["n"] == 3:  # created + 2 chunks recorded: the process "dies"
            raise KeyboardInterrupt

    monkeypatch.setattr(tus.UploadRecord, "put", crash_after_two_chunks)
    first = cli("upload", str(media / "a.mp4"), "--chunk-size", "1")
    assert first.exit_code == app_module.EXIT_INTERRUPTED and "run the same command again" in first.stderr
    monkeypatch.setattr(tus.UploadRecord, "put", real_put)
    sent_before = sum(len(r.content) for r in fake.requests if r.method == "PATCH")
    second = cli("upload", str(media / "a.mp4"), "--json", "--chunk-size", "1")
    row = lines(second.stdout)[0]
    assert second.exit_code == 0 and row["resumed_from"] == 2 * 1024 * 1024
    assert len(fake.uploads) == 1 and stored(fake)["a.mp4"] == (media / "a.mp4").read_bytes()
    sent_after = sum(len(r.content) for r in fake.requests if r.method == "PATCH") - sent_before
    assert sent_after == (media / "a.mp4").stat().st_size - 2 * 1024 * 1024


def test_a_refused_file_fails_with_its_code_and_exit_1(cli, fake, tmp_path):
    media = folder(tmp_path)
    (media / "notes.txt").write_text("hello")
    result = cli("upload", str(media), "--json")
    assert result.exit_code == app_module.EXIT_FAILED
    refused = [r for r in lines(result.stdout) if r["name"] == "notes.txt"][0]
    assert refused["status"] == "failed" and refused["error"]["code"] == "unsupported_media_type"
    assert sum(1 for r in lines(result.stdout) if r["status"] == "queued") == 2


def test_upload_wait_shows_final_statuses_and_fails_when_an_item_failed(cli, fake, tmp_path, monkeypatch):
    media = folder(tmp_path)
    ok = cli("upload", str(media / "b.jpg"), "--json")
    media_id = lines(ok.stdout)[0]["id"]
    fake.media[media_id]["status"] = "completed"  # (the fake answers "processing" until told)
    done = cli("upload", str(media / "b.jpg"), "--wait", "--json")
    row = lines(done.stdout)[0]
    assert done.exit_code == 0 and row["status"] == "completed" and row["renditions"] == {"web": "completed"}
    fake.media[media_id].update(status="failed", error="probe failed")
    failed = cli("upload", str(media / "b.jpg"), "--wait")
    assert failed.exit_code == app_module.EXIT_FAILED and "probe failed" in failed.stdout


def test_upload_wait_times_out_with_exit_6(cli, fake, tmp_path, monkeypatch):
    media = folder(tmp_path)
    clock = iter(range(0, 100_000, 100))
    monkeypatch.setattr(app_module.time, "monotonic", lambda: next(clock))
    result = cli("upload", str(media / "b.jpg"), "--wait", "--timeout", "10m")
    assert result.exit_code == app_module.EXIT_TIMEOUT


def test_missing_path_and_bad_metadata_are_usage_errors(cli, tmp_path):
    assert cli("upload", str(tmp_path / "nope")).exit_code == app_module.EXIT_FAILED
    assert cli("upload", str(tmp_path), "-m", "novalue").exit_code == 2


def test_tus_client_streams_blocks_and_never_reads_a_chunk_whole(tmp_path, monkeypatch):
    """The body of each PATCH is an iterator of 1 MiB reads (what keeps a 300 MB file out of memory)."""
    from tests.unit.cli.fake_api import FakeApi
    from media_pipeline_cli import api as api_module
    from media_pipeline_cli.config import Profile

    fake = FakeApi()
    reads = []
    real_open = type(tmp_path).open

    def spy_open(self, *args, **kwargs):
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read
        handle.read = lambda n=-1: (reads.append(n), real_read(n))[1]
        return handle

    monkeypatch.setattr(type(tmp_path), "open", spy_open)
    monkeypatch.setattr(api_module, "transport_factory", fake.transport)
    file = tmp_path / "big.mp4"
    file.write_bytes(os.urandom(5 * 1024 * 1024))
    with api_module.Api(Profile("t", BASE, KEY)) as api:
        result = tus.upload_file(api, file, record=tus.UploadRecord(tmp_path / "rec.json"), chunk_size=4 * 1024 * 1024)
    assert result.media_id and bytes(next(iter(fake.uploads.values()))["data"]) == file.read_bytes()
    assert reads and max(reads) == tus.BLOCK


def test_the_api_error_of_a_patch_names_its_code(tmp_path, monkeypatch):
    from media_pipeline_cli import api as api_module
    from media_pipeline_cli.api import ApiError
    from media_pipeline_cli.config import Profile

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": "/api/uploads/x1"})
        return httpx.Response(413, json={"error": "Too large.", "code": "file_too_large"})

    monkeypatch.setattr(api_module, "transport_factory", lambda: httpx.MockTransport(handler))
    file = tmp_path / "f.mp4"
    file.write_bytes(b"abc")
    with api_module.Api(Profile("t", BASE, KEY)) as api:
        try:
            tus.upload_file(api, file, record=tus.UploadRecord(tmp_path / "rec.json"))
        except ApiError as error:
            assert error.code == "file_too_large" and error.status == 413
        else:
            raise AssertionError("no error")


def test_the_record_forgets_entries_untouched_for_a_month(tmp_path, monkeypatch):
    record = tus.UploadRecord(tmp_path / "rec.json")
    record.put("old", url="u1")
    record.put("new", url="u2")
    later = tus.time.time() + tus.KEEP_SECONDS + 5
    monkeypatch.setattr(tus.time, "time", lambda: later)
    record.put("new", offset=10)
    assert record.entries() == {"new": {"url": "u2", "offset": 10, "updated_at": later}}
