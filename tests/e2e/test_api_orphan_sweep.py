"""The hourly cron deletes originals that no media record owns, once they are old enough."""

import os
import time

import httpx

from common.ids import new_media_id
from local_runtime.stack import trigger_cron
from tests.e2e.conftest import TEST_ORPHAN_MIN_AGE_SECONDS, eventually

SWEEP_CRON = "17 * * * *"


def test_the_sweep_deletes_an_unowned_original_once_old_enough_and_keeps_recorded_ones(pipeline, api, png_bytes):
    kept = api.post("/api/media", content=png_bytes, headers={"content-type": "image/png"})
    assert kept.status_code == 202
    # What an upload cut off between its R2 put and its D1 insert leaves behind.
    orphan = f"originals/{new_media_id(int(time.time() * 1000), os.urandom(10))}"
    put = httpx.put(f"{pipeline.api_url}/__local/r2/media-pipeline/{orphan}", content=png_bytes)
    assert put.status_code == 201
    put_at = time.monotonic()

    log = pipeline.workers.running[0].log_path
    sweep(pipeline.api_url, log)
    assert time.monotonic() - put_at < TEST_ORPHAN_MIN_AGE_SECONDS, "too slow to test the age guard"
    assert api.get(f"/files/{orphan}").status_code == 200  # younger than the minimum age: left alone
    deleted_line = f"orphan sweep: deleted {orphan} (no media record)"
    assert deleted_line not in log.read_text()

    time.sleep(TEST_ORPHAN_MIN_AGE_SECONDS + 0.5 - (time.monotonic() - put_at))
    sweep(pipeline.api_url, log)
    assert api.get(f"/files/{orphan}").status_code == 404
    assert deleted_line in log.read_text()
    assert api.get(f"/files/originals/{kept.json()['id']}").content == png_bytes
    assert api.get(f"/api/media/{kept.json()['id']}").status_code == 200


def sweep(api_url, log) -> None:
    """Run the sweep cron and wait for its summary line in the API worker's log."""
    runs = log.read_text().count("orphan sweep: examined")
    assert trigger_cron(api_url, SWEEP_CRON) == 200
    eventually(lambda: log.read_text().count("orphan sweep: examined") > runs, timeout=20)
