"""One log line per job step, so whoever watches the emulator (scripts/dev) sees jobs move."""

import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from emulator.joblog import scrub
from emulator.tests.helpers import API_KEY, eventually, start_emulator, wait_final

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def job_lines(caplog):
    caplog.set_level(logging.INFO, logger="emulator.jobs")

    def lines(job_id: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "emulator.jobs" and r.getMessage().startswith(f"job {job_id} ")]

    return lines


def _post_job(client, file_server, receiver, **extra) -> str:
    answer = client.post("/jobs", json={
        "kind": "video", "input": f"{file_server}/video.mp4?signature=s3cr3t&expires=1",
        "options": {"format": "mp4", "width": 320}, "webhook_url": receiver.url,
        "metadata": {"media_id": "01JMEDIA", "rendition": "mobile"}, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_a_job_logs_one_line_per_step_in_order(client, file_server, receiver, job_lines):
    job_id = _post_job(client, file_server, receiver)
    assert wait_final(client, job_id)["status"] == "completed"
    receiver.wait_for(1)
    lines = eventually(lambda: _with_webhook(job_lines(job_id)))
    steps = [line.removeprefix(f"job {job_id} ") for line in lines]
    assert steps[0] == 'created: video "mobile" of media 01JMEDIA (mp4)'
    assert re.fullmatch(r"input fetched: \d+ bytes", steps[1])
    assert steps[2] == "ffmpeg start (video mp4)"
    assert re.fullmatch(r"ffmpeg end: \d+\.\d\d s \(exit 0\)", steps[3])
    assert re.fullmatch(r"completed \(\d+ bytes of output\)", steps[4])
    assert steps[5] == "webhook job.completed delivered: HTTP 200 (attempt 1)"
    assert len(steps) == 6
    assert not any("s3cr3t" in line for line in lines)


def _with_webhook(lines: list[str]) -> list[str]:
    assert any(" webhook " in line for line in lines), lines
    return lines


def test_failed_and_retried_deliveries_are_logged_with_their_status(client, file_server, receiver, job_lines):
    receiver.script = [503]
    job_id = _post_job(client, file_server, receiver)
    receiver.wait_for(2)
    lines = eventually(lambda: _count(job_lines(job_id), " delivered: ", 1))
    webhook = [line.removeprefix(f"job {job_id} ") for line in lines if " webhook " in line]
    assert webhook == ["webhook job.completed failed: HTTP 503 (attempt 1)",
                       "webhook job.completed delivered: HTTP 200 (attempt 2)"]


def test_dropped_and_duplicated_deliveries_are_logged(tmp_path, file_server, receiver, job_lines):
    for switches, expected in (({"drop_webhook_rate": 1.0}, ["webhook job.completed dropped (fault drop_webhook_rate): never sent"]),
                               ({"duplicate_webhook_rate": 1.0}, ["webhook job.completed delivered: HTTP 200 (attempt 1)",
                                                                  "webhook job.completed duplicated (fault duplicate_webhook_rate): HTTP 200 (attempt 2)"])):
        emulator = start_emulator(tmp_path / str(len(expected)), **switches)
        try:
            with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10) as client:
                job_id = _post_job(client, file_server, receiver)
                assert wait_final(client, job_id)["status"] == "completed"
                lines = eventually(lambda: _count(job_lines(job_id), " webhook ", len(expected)))
        finally:
            emulator.stop()
        assert [line.removeprefix(f"job {job_id} ") for line in lines if " webhook " in line] == expected


def test_a_failed_job_logs_its_reason(client, file_server, receiver, job_lines):
    job_id = _post_job(client, file_server, receiver, metadata={"emulator_fail": "forced for the log"})
    assert wait_final(client, job_id)["status"] == "failed"
    assert eventually(lambda: _count(job_lines(job_id), "failed: forced for the log", 1))


def _count(lines: list[str], needle: str, count: int) -> list[str]:
    assert sum(needle in line for line in lines) >= count, lines
    return lines


def test_scrub_cuts_query_strings_from_urls_only():
    assert scrub("HTTP 404 from http://h:1/files/a.mp4?expires=1&signature=abc (x)") == \
        "HTTP 404 from http://h:1/files/a.mp4?... (x)"
    assert scrub("no url? here") == "no url? here"


def test_the_module_prints_job_lines_without_verbose(tmp_path, file_server, receiver):
    # scripts/dev runs `python -m emulator` and shows its output: the lines must be there
    # without --verbose (which logs every request).
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ITTYBIT_API_KEY": API_KEY}
    env.pop("ITTYBIT_EMULATOR_VERBOSE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: queue.Queue[str] = queue.Queue()
    try:
        base_url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        threading.Thread(target=lambda: [output.put(line.rstrip("\n")) for line in process.stdout], daemon=True).start()
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10) as client:
            job_id = _post_job(client, file_server, receiver)
            receiver.wait_for(1)
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not (seen and seen[-1].startswith(f"job {job_id} webhook ")):
            assert time.monotonic() < deadline, seen
            try:
                seen.append(output.get(timeout=1))
            except queue.Empty:
                pass
        assert seen[0].startswith(f'job {job_id} created: video "mobile"')
        assert any(line.startswith(f"job {job_id} ffmpeg end: ") for line in seen)
        assert seen[-1] == f"job {job_id} webhook job.completed delivered: HTTP 200 (attempt 1)"
    finally:
        process.terminate()
        process.communicate(timeout=30)
