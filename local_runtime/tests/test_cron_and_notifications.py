"""Every worker's cron can be run on demand; R2 event notifications are emulated."""

import time
from datetime import datetime, timezone

from local_runtime.stack import trigger_cron
from local_runtime.tests.conftest import wait_for_kv


def test_each_worker_runs_its_own_cron_on_demand(probe, runtime_stack):
    started = time.time()
    assert trigger_cron(runtime_stack.url("lr-probe"), "*/7 * * * *") == 200
    assert trigger_cron(runtime_stack.url("lr-ticker"), "0 * * * *") == 200
    # The ticker is the second process: its cron ran its own handler, not the probe's.
    ticker = wait_for_kv(probe, "cron:lr-ticker", until=lambda v: v["at"] >= started)
    primary = wait_for_kv(probe, "cron:lr-probe", until=lambda v: v["at"] >= started)
    assert ticker["cron"] == "0 * * * *"
    assert primary["cron"] == "*/7 * * * *"


def test_a_cron_run_can_carry_its_slot_as_scheduled_time(probe, runtime_stack):
    # The scheduler of scripts/dev passes the slot, so scheduledTime is as in production.
    slot = datetime(2026, 11, 5, 12, 0, tzinfo=timezone.utc)
    assert trigger_cron(runtime_stack.url("lr-ticker"), "0 * * * *", scheduled_time=slot) == 200
    ran = wait_for_kv(probe, "cron:lr-ticker", until=lambda v: v.get("scheduled_time") == slot.timestamp() * 1000)
    assert ran["cron"] == "0 * * * *"


def test_a_put_under_the_prefix_sends_r2s_notification(probe):
    response = probe.put("/__local/r2/lr-probe-bucket/uploads/direct.bin", content=b"direct upload")
    assert response.status_code == 201
    assert response.json()["notified"] == ["lr-probe-notifications"]
    event = wait_for_kv(probe, "notified:uploads/direct.bin")
    assert event["action"] == "PutObject"
    assert event["bucket"] == "lr-probe-bucket"
    assert event["object"]["key"] == "uploads/direct.bin"
    assert event["object"]["size"] == len(b"direct upload")
    assert event["object"]["eTag"] == response.json()["etag"]
    stored = probe.get("/object/uploads/direct.bin")
    assert stored.content == b"direct upload"


def test_a_put_outside_the_prefix_sends_nothing(probe):
    response = probe.put("/__local/r2/lr-probe-bucket/elsewhere/file.bin", content=b"x")
    assert response.status_code == 201
    assert response.json()["notified"] == []


def test_complete_multipart_upload_is_a_notification_action_too(probe):
    response = probe.put(
        "/__local/r2/lr-probe-bucket/uploads/multi.bin?action=CompleteMultipartUpload", content=b"m"
    )
    assert response.json()["notified"] == ["lr-probe-notifications"]
    event = wait_for_kv(probe, "notified:uploads/multi.bin")
    assert event["action"] == "CompleteMultipartUpload"
