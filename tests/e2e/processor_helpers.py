"""Shared steps of the processor's end-to-end tests: media made with ffmpeg, uploads, waits, probes,
and the Ittybit emulator's admin API."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import DEV_VARS, eventually
from scripts.pipeline_stack import read_dev_vars

SECRETS = read_dev_vars(DEV_VARS)
ITTYBIT_KEY = SECRETS["ITTYBIT_API_KEY"]
WEBHOOK_SECRET = SECRETS["ITTYBIT_WEBHOOK_SECRET"]
FINAL = ("completed", "failed")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def make_video(path: Path, seconds: int = 4, size: str = "1280x720") -> Path:
    """An H.264 + AAC mp4 with a test pattern and a tone (a 4 s 720p one is ~180 KB)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           "-movflags", "+faststart", str(path))
    return path


def make_noise_video(path: Path) -> Path:
    """3 s of 640x360 lossless noise, H.264 (about 22-27 MB): bigger than two 10 MiB tus parts."""
    ffmpeg("-f", "lavfi", "-i", "nullsrc=s=640x360:r=25:d=3,geq=random(1)*255:128:128",
           "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(path))
    return path


def make_image(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=1:duration=1", "-frames:v", "1", str(path))
    return path


def make_audio(path: Path, seconds: int = 2) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", str(path))
    return path


def upload(api: httpx.Client, data: bytes, content_type: str = "application/octet-stream") -> str:
    response = api.post("/api/media", content=data, headers={"content-type": content_type})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def media(api: httpx.Client, media_id: str) -> dict:
    response = api.get(f"/api/media/{media_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_final(api: httpx.Client, media_id: str, timeout: float = 90) -> dict:
    """The media JSON once its status is completed or failed."""
    return eventually(lambda: (m := media(api, media_id))["status"] in FINAL and m, timeout=timeout, interval=0.5)


def probe(data: bytes, tmp_path: Path, name: str) -> dict:
    """ffprobe's format and streams of a file's bytes."""
    path = tmp_path / name
    path.write_bytes(data)
    output = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=60,
    ).stdout
    return json.loads(output)


class Emulator:
    """The Ittybit emulator's admin API."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30, headers={"authorization": f"Bearer {ITTYBIT_KEY}"})

    def faults(self, **switches) -> dict:
        response = self.client.put("/_emulator/faults", json=switches)
        assert response.status_code == 200, response.text
        return response.json()

    def reset_faults(self) -> None:
        """Every switch back to the emulator's start values (a test's chunked_outputs or
        fail_segment_requests must not reach the next test)."""
        response = self.client.delete("/_emulator/faults")
        assert response.status_code == 200, response.text

    def counters(self) -> dict:
        return self.client.get("/_emulator/counters").json()

    def close(self) -> None:
        self.client.close()

    def webhooks(self) -> list[dict]:
        return self.client.get("/_emulator/webhooks").json()["data"]

    def job(self, job_id: str) -> dict:
        return self.client.get(f"/jobs/{job_id}").json()

    def redeliver(self, job_id: str) -> None:
        assert self.client.post(f"/_emulator/jobs/{job_id}/redeliver").status_code == 202


def rows(stack, sql: str) -> list[dict]:
    return stack.workers.d1_query("DB", sql)


def settle(seconds: float) -> None:
    time.sleep(seconds)
