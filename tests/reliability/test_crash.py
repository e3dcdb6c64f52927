"""Crash: SIGKILL the whole local stack (both workers' wrangler/workerd and the Ittybit emulator) while a
batch is being uploaded and processed, start it again on the same state, run the reconcile: every
accepted upload exists and ends final, once, with one Ittybit job per rendition. Then, on the same
stack, SIGKILL it mid-PATCH of a tus upload and resume with a new tuspy client from the stored upload
URL: what was committed is still there, the bytes end exact, and the media item completes.

The two share the module's stack (one start fewer in CI); the tus test runs second and looks only
at its own upload."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tusclient import client as tus_client

from tests.e2e.conftest import API_KEY, MiB, eventually
from tests.e2e.processor_helpers import ffmpeg

from tests.reliability.conftest import (
    BOUND_SECONDS,
    CONCURRENCY,
    FULL,
    ITEMS,
    PRESETS,
    EmulatorAdmin,
    api_client,
    created_at,
    d1,
    drive_to_final,
    idempotency_key,
    log,
    rendition_keys,
    upload_many,
)

pytestmark = pytest.mark.stack

CRASH_ITEMS = min(ITEMS, 200) if FULL else min(ITEMS, 16)


def test_sigkill_mid_batch_then_restart(stack, samples):
    figures: dict = {"items": CRASH_ITEMS, "concurrency": CONCURRENCY}
    emulator = EmulatorAdmin(stack.emulator_url)
    # Some webhooks lost as well, so the reconcile has both kinds of repair to do.
    emulator.faults(drop_webhook_rate=0.1, seed=7)
    first_wave, second_wave = CRASH_ITEMS // 2, CRASH_ITEMS - CRASH_ITEMS // 2
    with api_client(stack, CONCURRENCY) as api:
        wave1 = upload_many(api, samples, first_wave, CONCURRENCY)
    assert len(wave1.accepted) == first_wave, wave1.refused
    # Kill only once Ittybit jobs are under way for the first wave...
    deadline = time.monotonic() + 60
    while emulator.counters()["jobs_created"] < 3:
        assert time.monotonic() < deadline, "no Ittybit job was created within 60 s"
        time.sleep(0.2)
    # ...and while the second wave is being uploaded.
    half = threading.Event()
    stop = threading.Event()
    result = {}

    def uploads():
        with api_client(stack, CONCURRENCY) as api:
            result["run"] = upload_many(api, samples[1:] + samples[:1], second_wave, CONCURRENCY, stop=stop,
                                        on_accept=lambda n: n >= second_wave // 2 and half.set())

    uploader = threading.Thread(target=uploads)
    uploader.start()
    assert half.wait(120), "the second wave was not accepted in time"
    before = emulator.counters()
    emulator.close()
    stop.set()
    started = time.monotonic()
    stack.kill()
    uploader.join(60)
    run = result["run"]
    run.accepted.update(wave1.accepted)
    figures["accepted_before_kill"] = len(run.accepted)
    figures["cut_off_by_kill"] = dict(run.refused)
    figures["not_attempted"] = CRASH_ITEMS - len(run.accepted) - sum(run.refused.values())
    figures["emulator_jobs_before_kill"] = before["jobs_created"]
    log(f"killed after {len(run.accepted)} accepted uploads; cut off: {dict(run.refused)}; "
        f"emulator had created {before['jobs_created']} jobs")

    stack.start()  # same ports, same state dir; a fresh emulator that remembers nothing
    figures["restart_seconds"] = round(time.monotonic() - started, 1)
    accepted = set(run.accepted)
    in_d1 = {row["id"]: row for row in d1(stack, "SELECT id, kind, status FROM media")}
    figures["state_after_restart"] = {s: sum(1 for r in in_d1.values() if r["status"] == s)
                                      for s in ("pending", "processing", "completed", "failed")}
    log(f"after restart: {len(in_d1)} items in D1 {figures['state_after_restart']}")
    lost = accepted - set(in_d1)
    assert lost == set(), f"accepted uploads missing from D1: {sorted(lost)}"
    # Uploads whose answer the kill cut off may or may not have been recorded; those that were must finish too.
    figures["recorded_without_answer"] = len(set(in_d1) - accepted)

    figures["final_after_restart_seconds"] = round(drive_to_final(stack, set(in_d1), BOUND_SECONDS), 1)
    rows = {row["id"]: row for row in d1(stack, "SELECT id, kind, status, error FROM media")}
    assert set(rows) == set(in_d1)
    failed = {media_id: row["error"] for media_id, row in rows.items() if row["status"] != "completed"}
    figures["failed"] = len(failed)
    assert failed == {}, f"items that did not complete after the crash: {failed}"

    # Not duplicated: one rendition row per preset, each with its own single job, each stored once in R2.
    renditions = d1(stack, "SELECT media_id, name, job_id, status, output_key FROM renditions")
    expected = {(media_id, p["name"]) for media_id, row in rows.items() for p in PRESETS[row["kind"]]}
    assert {(r["media_id"], r["name"]) for r in renditions} == expected
    assert len(renditions) == len(expected)
    assert all(r["job_id"] and r["status"] == "completed" for r in renditions)
    assert len({r["job_id"] for r in renditions}) == len(renditions)
    after = EmulatorAdmin(stack.emulator_url)
    counters = after.counters()
    after.close()
    assert {key: n for key, n in counters["jobs_by_idempotency_key"].items() if n != 1} == {}
    keys_before = set(before["jobs_by_idempotency_key"])
    keys_after = set(counters["jobs_by_idempotency_key"])
    created = created_at(stack, rows)
    assert keys_before | keys_after <= {idempotency_key(m, n, created[m]) for m, n in expected}
    figures["emulator_jobs_after_restart"] = counters["jobs_created"]
    # A key with a job in both runs: the first emulator forgot a job the processor had to ask for again.
    figures["resubmitted_after_restart"] = len(keys_before & keys_after)
    with api_client(stack, CONCURRENCY) as api, ThreadPoolExecutor(CONCURRENCY) as pool:
        keys = [key for media_id, row in rows.items() for key in rendition_keys(media_id, row["kind"])]
        statuses = dict(zip(keys, pool.map(lambda key: api.head(f"/files/{key}").status_code, keys)))
        assert {k: s for k, s in statuses.items() if s != 200} == {}
        stats = api.get("/api/stats").json()
        assert stats["total"] == len(rows) and stats["completed"] == len(rows)
    log(f"FIGURES {figures}")


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
