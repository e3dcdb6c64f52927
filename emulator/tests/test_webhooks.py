"""Webhook signing (checked against PyPI standardwebhooks) and delivery: retries, envelope, reorder."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from emulator.config import webhook_secret_bytes
from emulator.tests.helpers import SECRET, eventually, wait_final, webhook_counts
from emulator.webhooks import backoff_delay, sign, signature_headers


def test_sign_matches_the_standard_webhooks_reference():
    body = b'{"id":"job_1","status":"completed"}'
    headers = signature_headers(webhook_secret_bytes(SECRET), "msg_abc", body)
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body + b" ", headers)


def test_sign_formula():
    secret = b"0123456789abcdef"
    expected = base64.b64encode(hmac.new(secret, b"msg_1.1700000000.{}", hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", 1700000000, b"{}") == "v1," + expected


def test_backoff_doubles_and_caps():
    assert [backoff_delay(n, 0.5, 3.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def _settled(counts: dict, **expected) -> dict:
    for name, value in expected.items():
        assert counts[name] == value, counts
    return counts


def _job(client, file_server, receiver, **extra):
    body = {"kind": "image", "input": f"{file_server}/image.png", "options": {"width": 32},
            "webhook_url": receiver.url, **extra}
    return client.post("/jobs", json=body).json()


def test_completed_job_webhook_verifies_with_standardwebhooks(client, file_server, receiver):
    job = _job(client, file_server, receiver, metadata={"media_id": "m1"})
    (delivery,) = receiver.wait_for(1)
    payload = Webhook(SECRET).verify(delivery["body"], delivery["headers"])
    assert payload["id"] == job["id"] and payload["status"] == "completed"
    assert payload["metadata"] == {"media_id": "m1"}
    assert payload == client.get(f"/jobs/{job['id']}").json()
    assert delivery["headers"]["webhook-id"].startswith("msg_")
    assert abs(int(delivery["headers"]["webhook-timestamp"]) - time.time()) < 60


def test_delivery_is_retried_with_the_same_webhook_id(client, file_server, receiver, emulator):
    receiver.script = [500, 503]
    job = _job(client, file_server, receiver)
    deliveries = receiver.wait_for(3)
    assert [d["status"] for d in deliveries] == [500, 503, 200]
    assert len({d["headers"]["webhook-id"] for d in deliveries}) == 1
    for delivery in deliveries:
        Webhook(SECRET).verify(delivery["body"], delivery["headers"])
    counts = eventually(lambda: _settled(webhook_counts(client), succeeded=1))
    assert counts["attempted"] == 3 and counts["failed"] == 2 and counts["retried"] == 2
    log = client.get("/_emulator/webhooks").json()["data"]
    assert log[0]["job_id"] == job["id"] and log[0]["state"] == "delivered"
    assert [a["status_code"] for a in log[0]["attempts"]] == [500, 503, 200]


def test_delivery_gives_up_after_max_attempts(client, file_server, receiver):
    receiver.script = [500] * 10
    _job(client, file_server, receiver)
    receiver.wait_for(4)  # webhook_max_attempts is 4 in the test emulator
    time.sleep(0.5)
    assert len(receiver.received) == 4
    eventually(lambda: _settled(webhook_counts(client), exhausted=1, attempted=4))


def test_event_envelope_and_succeeded_vocabulary(client, file_server, receiver):
    client.put("/_emulator/faults", json={"webhook_format": "event", "status_vocabulary": "succeeded"})
    job = _job(client, file_server, receiver)
    (delivery,) = receiver.wait_for(1)
    event = Webhook(SECRET).verify(delivery["body"], delivery["headers"])
    assert event["id"].startswith("evt_") and event["object"] == "event"
    assert event["kind"] == "job.succeeded" and event["data"]["id"] == job["id"]
    assert event["data"]["status"] == "succeeded" and event["data"]["tasks"][0]["status"] == "succeeded"
    assert isinstance(event["created_at"], int)


def test_processing_webhook_then_final(client, file_server, receiver):
    client.put("/_emulator/faults", json={"processing_webhooks": True})
    _job(client, file_server, receiver)
    receiver.wait_for(2)
    assert [receiver.json(i)["status"] for i in range(2)] == ["processing", "completed"]


def test_reorder_delivers_held_webhooks_newest_first(client, file_server, receiver):
    client.put("/_emulator/faults", json={"reorder_webhooks": True, "reorder_window": 2, "reorder_hold_ms": 600000,
                                          "processing_webhooks": True})
    job = _job(client, file_server, receiver)
    receiver.wait_for(2)
    assert [receiver.json(i)["status"] for i in range(2)] == ["completed", "processing"]
    assert {receiver.json(i)["id"] for i in range(2)} == {job["id"]}


def test_reorder_releases_after_hold_time_and_on_flush(client, file_server, receiver):
    client.put("/_emulator/faults", json={"reorder_webhooks": True, "reorder_window": 10, "reorder_hold_ms": 300})
    _job(client, file_server, receiver)
    receiver.wait_for(1)
    client.put("/_emulator/faults", json={"reorder_hold_ms": 60000})
    job = _job(client, file_server, receiver)
    wait_final(client, job["id"])
    time.sleep(0.2)
    assert len(receiver.received) == 1
    assert client.post("/_emulator/webhooks/flush").json() == {"released": 1}
    receiver.wait_for(2)


def test_redeliver_sends_the_same_message_again(client, file_server, receiver):
    job = _job(client, file_server, receiver)
    receiver.wait_for(1)
    assert client.post(f"/_emulator/jobs/{job['id']}/redeliver").status_code == 202
    first, second = receiver.wait_for(2)
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert first["body"] == second["body"]


def test_default_webhook_url_is_used_when_the_job_has_none(tmp_path, file_server, receiver):
    from emulator.tests.helpers import start_emulator
    import httpx

    emu = start_emulator(tmp_path)
    emu.config.default_webhook_url = receiver.url
    try:
        headers = {"Authorization": f"Bearer {emu.config.api_key}"}
        httpx.post(emu.base_url + "/jobs", headers=headers,
                   json={"kind": "image", "input": f"{file_server}/image.png"})
        receiver.wait_for(1)
    finally:
        emu.stop()
