"""Crash mid-PATCH: SIGKILL the whole local stack while a tus PATCH is streaming, start it again on
the same state, and resume with a new tuspy client from the stored upload URL: what was committed is
still there, the bytes end exact, and the media item completes."""

from __future__ import annotations

import hashlib
import threading

import httpx
import pytest
from tusclient import client as tus_client

from tests.e2e.conftest import API_KEY, MiB, eventually
from tests.e2e.processor_helpers import ffmpeg
from tests.reliability.conftest import BOUND_SECONDS, drive_to_final, log

pytestmark = pytest.mark.stack

PART = 10 * MiB
TUS = {"Tus-Resumable": "1.0.0"}


def test_sigkill_mid_patch_then_restart_and_resume(stack, tmp_path):
    video = tmp_path / "noise.mp4"
    ffmpeg("-f", "lavfi", "-i", "nullsrc=s=640x360:r=25:d=3,geq=random(1)*255:128:128",
           "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(video))
    data = video.read_bytes()
    assert len(data) > 2 * PART + MiB
    headers = {**TUS, "X-API-Key": API_KEY}
    created = httpx.post(f"{stack.api_url}/api/uploads", headers={**headers, "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    url = f"{stack.api_url}{created.headers['location']}"

    def patch(offset: int, content, length: int):
        return httpx.patch(url, content=content, timeout=120, headers={
            **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(length)})

    def offset() -> int:
        return int(httpx.head(url, headers=TUS, timeout=30).headers["upload-offset"])

    first = PART + 5
    assert patch(0, data[:first], first).status_code == 204  # one part in R2, 5 bytes stashed
    release = threading.Event()

    def held():
        yield data[first : first + PART + 2 * MiB]  # enough for a second whole part
        release.wait(120)  # the rest never comes: the stack dies first

    outcome: dict = {}

    def run():
        try:
            outcome["response"] = patch(first, held(), len(data) - first)
        except Exception as error:  # cut off: httpx's error, or h11's for the unfinished body
            outcome["error"] = type(error).__name__

    thread = threading.Thread(target=run)
    thread.start()
    eventually(lambda: offset() >= 2 * PART, timeout=90)  # the second part is committed mid-PATCH
    stack.kill()
    release.set()
    thread.join(60)
    assert "response" not in outcome, outcome  # the PATCH was cut off, not answered
    stack.start()  # same ports, same state

    kept = offset()
    log(f"tus crash: {kept} bytes kept of {first + PART + 2 * MiB} sent before the kill")
    assert kept >= 2 * PART
    # A new client that knows only the URL resumes (retrying while the dead PATCH's lock lapses).
    uploader = tus_client.TusClient(f"{stack.api_url}/api/uploads", headers={"X-API-Key": API_KEY}).uploader(
        str(video), url=url, chunk_size=7 * MiB + 1, retries=15, retry_delay=3)
    assert uploader.offset == kept
    uploader.upload()
    media_id = httpx.head(url, headers=TUS).headers["media-id"]
    original = httpx.get(f"{stack.api_url}/files/originals/{media_id}", headers={"X-API-Key": API_KEY}, timeout=120)
    assert hashlib.sha256(original.content).hexdigest() == hashlib.sha256(data).hexdigest()
    drive_to_final(stack, {media_id}, BOUND_SECONDS)
    record = httpx.get(f"{stack.api_url}/api/media/{media_id}", headers={"X-API-Key": API_KEY}).json()
    assert record["status"] == "completed", record
