"""The hourly cron deletes originals that no media record owns and renditions whose media is gone,
once they are old enough."""

import os
import time

from common.ids import new_media_id
from local_runtime.stack import trigger_cron
from tests.e2e.conftest import TEST_ORPHAN_MIN_AGE_SECONDS, eventually, put_into_bucket

SWEEP_CRON = "17 * * * *"
SUMMARIES = ("orphan sweep: examined", "rendition sweep: examined")


def _put(pipeline, key: str, data: bytes) -> None:
    put = put_into_bucket(pipeline.api_url, key, data)
    assert put.status_code == 201, put.text


def test_the_sweep_deletes_unowned_files_once_old_enough_and_keeps_recorded_ones(pipeline, api, png_bytes):
    kept = api.post("/api/media", content=png_bytes, headers={"content-type": "image/png"})
    assert kept.status_code == 202
    kept_id = kept.json()["id"]
    # What an upload cut off between its R2 put and its D1 insert leaves behind.
    orphan = f"originals/{new_media_id(int(time.time() * 1000), os.urandom(10))}"
    # What a rendition copy that finished just after its media's DELETE leaves behind.
    gone_rendition = f"renditions/{new_media_id(int(time.time() * 1000), os.urandom(10))}/thumbnail.webp"
    kept_rendition = f"renditions/{kept_id}/extra.webp"  # its media has a record: never swept
    for key in (orphan, gone_rendition, kept_rendition):
        _put(pipeline, key, png_bytes)
    put_at = time.monotonic()

    log = pipeline.workers.running[0].log_path
    sweep(pipeline.api_url, log)
    assert time.monotonic() - put_at < TEST_ORPHAN_MIN_AGE_SECONDS, "too slow to test the age guard"
    for key in (orphan, gone_rendition):  # younger than the minimum age: left alone
        assert api.get(f"/files/{key}").status_code == 200
    deleted_lines = [f"orphan sweep: deleted {orphan} (no media record)",
                     f"rendition sweep: deleted {gone_rendition} (no media record)"]
    assert not any(line in log.read_text() for line in deleted_lines)

    time.sleep(max(0.0, TEST_ORPHAN_MIN_AGE_SECONDS + 0.5 - (time.monotonic() - put_at)))
    sweep(pipeline.api_url, log)
    assert api.get(f"/files/{orphan}").status_code == 404
    assert api.get(f"/files/{gone_rendition}").status_code == 404
    text = log.read_text()
    assert all(line in text for line in deleted_lines)
    assert api.get(f"/files/originals/{kept_id}").content == png_bytes
    assert api.get(f"/files/{kept_rendition}").content == png_bytes
    assert api.get(f"/api/media/{kept_id}").status_code == 200


def sweep(api_url, log) -> None:
    """Run the sweep cron and wait for both its summary lines in the API worker's log."""
    runs = [log.read_text().count(summary) for summary in SUMMARIES]
    assert trigger_cron(api_url, SWEEP_CRON) == 200
    eventually(lambda: all(log.read_text().count(s) > n for s, n in zip(SUMMARIES, runs)), timeout=20)
