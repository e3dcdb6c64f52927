"""The reconcile cron repairs a dropped webhook, outlasts an Ittybit outage and gives up on a job it
cannot read (its own stack: RECONCILE_AFTER_SECONDS=2, RETRY_MAX_SECONDS=1 so a message's retries
run out in seconds, RECONCILE_MAX_POLLS=2)."""

from __future__ import annotations

import time

import httpx
import pytest

from local_runtime.stack import trigger_cron
from scripts.pipeline_stack import PipelineStack, Ports
from tests.e2e.conftest import API_KEY, DEV_VARS, eventually
from tests.e2e.processor_helpers import Emulator, make_audio, media, upload, wait_final

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def fast_reconcile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reconcile")
    stack = PipelineStack(ports=Ports.free(), state_dir=tmp / "state", work_dir=tmp / "work",
                          registry_dir=tmp / "registry", dev_vars=DEV_VARS,
                          processor_vars={"RECONCILE_AFTER_SECONDS": "2", "RETRY_MAX_SECONDS": "1",
                                          "RECONCILE_MAX_POLLS": "2"})
    stack.start()
    yield stack
    stack.stop()


def test_a_dropped_webhook_is_repaired_by_the_cron(fast_reconcile, tmp_path):
    emulator = Emulator(fast_reconcile.emulator_url)
    emulator.faults(drop_webhook_rate=1.0)
    with httpx.Client(base_url=fast_reconcile.api_url, timeout=60, headers={"X-API-Key": API_KEY}) as api:
        media_id = upload(api, make_audio(tmp_path / "r.wav", seconds=1).read_bytes(), "audio/wav")
        job_id = eventually(lambda: media(api, media_id)["renditions"] and media(api, media_id)["renditions"][0]["job_id"],
                            timeout=60)
        eventually(lambda: emulator.job(job_id)["status"] == "completed", timeout=60)
        time.sleep(3)  # past RECONCILE_AFTER_SECONDS, and no webhook came
        assert media(api, media_id)["status"] == "processing"
        assert emulator.counters()["webhook_deliveries"]["dropped"] >= 1
        assert trigger_cron(fast_reconcile.processor_url, "*/5 * * * *") == 200
        item = wait_final(api, media_id, timeout=60)
        assert item["status"] == "completed" and item["renditions"][0]["size"] > 0
        assert api.get(item["renditions"][0]["url"]).status_code == 200


def test_an_ittybit_outage_longer_than_a_messages_retries_does_not_fail_the_upload(fast_reconcile, tmp_path):
    emulator = Emulator(fast_reconcile.emulator_url)
    emulator.faults(error_rate=1.0)  # every call to Ittybit answers 500 or 503
    log = fast_reconcile.workers.running[1].log_path
    try:
        with httpx.Client(base_url=fast_reconcile.api_url, timeout=60, headers={"X-API-Key": API_KEY}) as api:
            media_id = upload(api, make_audio(tmp_path / "o.wav", seconds=1).read_bytes(), "audio/wav")
            # 7 tries a second apart, then the dead-letter queue, which leaves young media alone.
            eventually(lambda: f"media {media_id} left for the reconcile cron" in log.read_text(), timeout=120)
            item = media(api, media_id)
            assert item["status"] in ("pending", "processing")
            # The source's probe comes first and never got an answer: no rendition yet, size unknown.
            assert item["renditions"] == [] and item["width"] is None and item["duration"] is None
            emulator.reset_faults()  # Ittybit is back
            time.sleep(2.5)  # past RECONCILE_AFTER_SECONDS
            assert trigger_cron(fast_reconcile.processor_url, "*/5 * * * *") == 200
            item = wait_final(api, media_id, timeout=60)
            assert item["status"] == "completed", item
            assert api.get(item["renditions"][0]["url"]).status_code == 200
    finally:
        emulator.reset_faults()


def test_a_job_whose_poll_keeps_failing_is_given_up_after_the_poll_bound(fast_reconcile, tmp_path):
    emulator = Emulator(fast_reconcile.emulator_url)
    emulator.faults(drop_webhook_rate=1.0)
    cron = "*/5 * * * *"
    try:
        with httpx.Client(base_url=fast_reconcile.api_url, timeout=60, headers={"X-API-Key": API_KEY}) as api:
            media_id = upload(api, make_audio(tmp_path / "g.wav", seconds=1).read_bytes(), "audio/wav")
            job_id = eventually(lambda: media(api, media_id)["renditions"]
                                and media(api, media_id)["renditions"][0]["job_id"], timeout=60)
            emulator.faults(drop_webhook_rate=1.0, error_rate=1.0)  # from now on GET /jobs/{id} answers 5xx
            time.sleep(2.5)  # past RECONCILE_AFTER_SECONDS
            assert trigger_cron(fast_reconcile.processor_url, cron) == 200  # poll 1 of RECONCILE_MAX_POLLS=2
            assert media(api, media_id)["status"] == "processing"
            assert trigger_cron(fast_reconcile.processor_url, cron) == 200  # poll 2: given up
            item = wait_final(api, media_id, timeout=30)
            assert item["status"] == "failed", item
            error = item["renditions"][0]["error"]
            assert error.startswith(f"gave up on Ittybit job {job_id} after 2 poll(s)"), error
            assert "GET /jobs answered 50" in error and "://" not in error
            assert item["error"].startswith(f"web: gave up on Ittybit job {job_id}")
    finally:
        emulator.reset_faults()
