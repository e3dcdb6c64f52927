"""The command-line client (cli/, `media-pipeline`) against the session's stack, run as a user runs it:
a separate process with MEDIA_PIPELINE_URL / MEDIA_PIPELINE_API_KEY and private config and state
folders. Folder upload with --wait, a 64 MB upload killed (SIGKILL) and resumed, a rendition's
download resumed by Range, and webhook deliveries seen through the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.webhook_receiver import Receiver
from tests.e2e.conftest import API_KEY, MiB, eventually
from tests.e2e.processor_helpers import make_audio, make_image, make_video

# Eight 8-MiB chunks: the kill lands after the first recorded chunk with seven still to send, and
# the resume must pick up mid-file. What the size once proved (a large resumable upload stays
# bounded in the worker's memory) is asserted on a 105 MiB upload with the heap measured:
# tests/e2e/test_api_tus_uploads.py, test_a_file_over_the_one_request_limit_goes_up_in_chunks_and_completes.
# Here 300 MB cost ~30 s of the suite for nothing more.
BIG = 64 * 1000 * 1000
CHUNK_MIB = "8"


class Cli:
    def __init__(self, pipeline, home: Path) -> None:
        self.env = {**os.environ, "MEDIA_PIPELINE_URL": pipeline.api_url, "MEDIA_PIPELINE_API_KEY": API_KEY,
                    "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state")}
        self.env.pop("MEDIA_PIPELINE_PROFILE", None)
        self.record = home / "state" / "media-pipeline" / "uploads.json"

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "media_pipeline_cli", *args]

    def run(self, *args: str, timeout: float = 180, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout, cwd=cwd)

    def ok(self, *args: str, **kwargs) -> list[dict]:
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def cli(pipeline, tmp_path_factory) -> Cli:
    return Cli(pipeline, tmp_path_factory.mktemp("cli-home"))


@pytest.fixture(scope="module")
def uploaded(cli, tmp_path_factory) -> list[dict]:
    """A folder of a video, an image and an audio file, uploaded with --wait --json."""
    folder = tmp_path_factory.mktemp("cli-folder")
    make_video(folder / "clip.mp4", seconds=2, size="640x360")
    make_image(folder / "still.png")
    make_audio(folder / "tone.mp3")
    return cli.ok("upload", str(folder), "--wait", "--json", "--timeout", "3m", timeout=240)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def test_a_folder_uploaded_with_wait_ends_with_every_item_completed(cli, uploaded, api):
    assert sorted(row["name"] for row in uploaded) == ["clip.mp4", "still.png", "tone.mp3"]
    for row in uploaded:
        assert row["status"] == "completed", row
        assert row["renditions"] and set(row["renditions"].values()) == {"completed"}, row
        record = api.get(f"/api/media/{row['id']}").json()
        assert record["status"] == "completed" and record["name"] == row["name"]
    shown = cli.ok("get", uploaded[0]["id"], "--json")[0]
    assert shown["id"] == uploaded[0]["id"]
    listed = {item["id"] for item in cli.ok("ls", "--json", "--limit", "100")}
    assert {row["id"] for row in uploaded} <= listed
    timeline = [event["type"] for event in cli.ok("events", uploaded[0]["id"], "--json")]
    assert timeline[0] == "media.uploaded" and "media.ready" in timeline


def test_a_64_mb_upload_killed_midway_resumes_and_the_stored_original_is_byte_identical(cli, api, tmp_path):
    # An MP4 signature (so the API takes it) and 64 MB of random bytes, streamed to disk. Not a
    # playable video: the processor's probe fails it after one read instead of four rendition jobs
    # reading it each on the shared stack.
    big = tmp_path / "big.mp4"
    with big.open("wb") as out:
        out.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        for _ in range(BIG // MiB):
            out.write(os.urandom(MiB))
        out.write(os.urandom(BIG % MiB))
    process = cli.popen("upload", str(big), "--json", "--chunk-size", CHUNK_MIB)
    try:
        def progressed():
            if process.poll() is not None:
                raise AssertionError(f"the CLI ended before it was killed: {process.communicate()}")
            try:
                entries = json.loads(cli.record.read_text())
            except (FileNotFoundError, ValueError):
                return None
            return next((e for e in entries.values() if e.get("path") == str(big.resolve()) and e.get("offset")), None)

        entry = eventually(progressed, timeout=120, interval=0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert 0 < entry["offset"] < BIG and "media_id" not in entry
    head = api.head(entry["url"], headers={"Tus-Resumable": "1.0.0"})
    kept = int(head.headers["upload-offset"])
    assert entry["offset"] <= kept < big.stat().st_size  # what the record says arrived is on the server

    row = cli.ok("upload", str(big), "--json", "--chunk-size", CHUNK_MIB, timeout=300)[0]
    # At least what the HEAD saw (bytes of the killed request still in flight may have landed since).
    assert row["status"] == "queued" and kept <= row["resumed_from"] < BIG and row["id"]
    uploads = json.loads(cli.record.read_text())
    assert sum(1 for e in uploads.values() if e.get("path") == str(big.resolve())) == 1  # one upload, resumed

    digest = hashlib.sha256()
    with api.stream("GET", f"/files/originals/{row['id']}") as response:
        assert response.status_code == 200
        for block in response.iter_bytes(MiB):
            digest.update(block)
    assert digest.hexdigest() == sha256_file(big)
    assert cli.ok("rm", row["id"], "--yes", "--json")[0]["deleted"] is True


def test_a_rendition_download_resumes_after_an_interruption(cli, uploaded, api, tmp_path):
    video = next(row for row in uploaded if row["name"] == "clip.mp4")
    whole = cli.ok("download", video["id"], "--rendition", "web", "--json", cwd=tmp_path)[0]
    first = Path(whole["path"]) if Path(whole["path"]).is_absolute() else tmp_path / whole["path"]
    assert first.name == "clip.web.mp4" and whole["resumed_from"] == 0
    data = first.read_bytes()
    assert data == api.get(f"/files/renditions/{video['id']}/web.mp4").content and len(data) > 1000

    # A rendition of this size downloads in milliseconds, too fast to kill midway reliably, so the
    # test lays down what a killed run leaves: the bytes so far in <name>.part, and the URL and ETag
    # they belong to beside it. The resumed run must ask for the rest only (Range + If-Range).
    target = tmp_path / "again.mp4"
    half = len(data) // 2
    (tmp_path / "again.mp4.part").write_bytes(data[:half])
    record = api.get(f"/api/media/{video['id']}").json()
    web = next(r for r in record["renditions"] if r["name"] == "web")
    etag = api.head(f"/files/renditions/{video['id']}/web.mp4").headers["etag"]
    (tmp_path / "again.mp4.part.json").write_text(json.dumps({"url": web["url"], "etag": etag}))
    resumed = cli.ok("download", video["id"], "--rendition", "web", "-o", str(target), "--json")[0]
    assert resumed["resumed_from"] == half and resumed["bytes_received"] == len(data) - half
    assert target.read_bytes() == data
    assert not (tmp_path / "again.mp4.part").exists()


def test_webhooks_add_then_deliveries_shows_the_events_of_an_upload(cli, tmp_path):
    receiver = Receiver()
    try:
        endpoint = cli.ok("webhooks", "add", receiver.url, "-d", "cli e2e", "--json")[0]
        receiver.secrets.append(endpoint["secret"])
        assert endpoint["id"] in {e["id"] for e in cli.ok("webhooks", "ls", "--json")}
        image = make_image(tmp_path / "hooked.png")
        media_id = cli.ok("upload", str(image), "--wait", "--json", "--timeout", "2m")[0]["id"]

        expected = sorted(["media.created", "rendition.ready", "rendition.ready", "media.ready"])

        seen: list = []

        def delivered():
            rows = [d for d in cli.ok("webhooks", "deliveries", endpoint["id"], "--json") if d.get("media_id") == media_id]
            seen[:] = [(d["event_type"], d["status"]) for d in rows]
            types = sorted(d["event_type"] for d in rows if d["status"] == "delivered")
            return types if types == expected else None

        try:
            types = eventually(delivered, timeout=60, interval=1)
        except AssertionError:
            raise AssertionError(f"deliveries listed for {media_id}: {seen}") from None
        got = {a.type for a in receiver.delivered().values() if (a.payload.get("data") or {}).get("id") == media_id}
        assert got == set(types)  # the receiver verified the same events the CLI lists
    finally:
        receiver.stop()
        if "endpoint" in locals():
            cli.run("webhooks", "rm", endpoint["id"])
