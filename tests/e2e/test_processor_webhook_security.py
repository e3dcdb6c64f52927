"""Unsigned, wrongly signed, stale and oversized webhooks are refused, repeated ones are 200
duplicates; none of them changes anything."""

from __future__ import annotations

import json
import socket
import time

import pytest

from processor.webhook_signature import sign
from tests.e2e.conftest import eventually
from tests.e2e.processor_helpers import WEBHOOK_SECRET, Emulator, make_audio, rows, upload, wait_final

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def completed(api, tmp_path_factory):
    media_id = upload(api, make_audio(tmp_path_factory.mktemp("s") / "s.wav", seconds=1).read_bytes(), "audio/wav")
    item = wait_final(api, media_id)
    assert item["status"] == "completed"
    return item


def headers(body: bytes, webhook_id: str, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"content-type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, webhook_id, timestamp, body)}


def snapshot(pipeline, media_id):
    return (rows(pipeline, f"SELECT * FROM media WHERE id = '{media_id}'"),
            rows(pipeline, f"SELECT * FROM renditions WHERE media_id = '{media_id}'"))


def test_bad_webhooks_get_4xx_and_change_nothing(processor, pipeline, completed):
    media_id = completed["id"]
    job_id = completed["renditions"][0]["job_id"]
    failed = json.dumps({"id": job_id, "object": "job", "status": "failed", "error": "forged",
                         "metadata": {"media_id": media_id, "rendition": "web"}}).encode()
    before = snapshot(pipeline, media_id)
    cases = {
        "unsigned": {"content-type": "application/json"},
        "wrong secret": headers(failed, "msg_forged1", secret="whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="),
        "stale": headers(failed, "msg_forged2", timestamp=int(time.time()) - 600),
        "future": headers(failed, "msg_forged3", timestamp=int(time.time()) + 600),
        "tampered": {**headers(failed, "msg_forged4"), "webhook-id": "msg_forged5"},
    }
    for name, case in cases.items():
        response = processor.post("/webhooks/ittybit", content=failed, headers=case)
        assert response.status_code == 401, (name, response.text)
    huge = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    assert processor.post("/webhooks/ittybit", content=huge, headers=headers(huge, "msg_big")).status_code == 413
    assert processor.get("/webhooks/ittybit").status_code == 405
    assert snapshot(pipeline, media_id) == before


def test_an_unsigned_webhook_is_401_before_its_body_is_sent(pipeline):
    # Headers declare a 1000-byte body that never comes: a worker that read the body before
    # checking the signature headers would wait for it (and the socket would time out).
    host, port = pipeline.processor_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall((f"POST /webhooks/ittybit HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 1000\r\n"
                      "webhook-id: msg_nobody\r\n\r\n").encode())
        reply = b""
        while b"}" not in reply.partition(b"\r\n\r\n")[2]:  # a timeout here: it waited for the body
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.split(b" ", 2)[1] == b"401", reply
    assert b'"invalid_signature"' in reply


def test_a_replayed_delivery_is_a_200_duplicate_and_a_late_signed_failure_cannot_undo_completion(processor, pipeline, completed):
    media_id = completed["id"]
    job_id = completed["renditions"][0]["job_id"]
    emulator = Emulator(pipeline.emulator_url)
    delivered = next(d for d in emulator.webhooks() if d["job_id"] == job_id and d["state"] == "delivered")
    job = json.dumps(emulator.job(job_id)).encode()
    before = snapshot(pipeline, media_id)
    # The attacker (or a confused sender) re-sends a captured delivery: same webhook-id.
    replay = processor.post("/webhooks/ittybit", content=job, headers=headers(job, delivered["webhook_id"]))
    # 2xx, so a Standard Webhooks sender stops retrying; the body says it was a duplicate.
    assert replay.status_code == 200 and replay.json() == {"received": True, "duplicate": True}
    # A validly signed new delivery saying "failed" cannot move a completed rendition back.
    failed = json.dumps({"id": job_id, "object": "job", "status": "failed", "error": "late",
                         "metadata": {"media_id": media_id, "rendition": "web"}}).encode()
    late = processor.post("/webhooks/ittybit", content=failed, headers=headers(failed, f"msg_late_{time.time_ns()}"))
    assert late.status_code == 200 and late.json()["result"] == "already_final"
    assert snapshot(pipeline, media_id) == before


def test_an_output_url_on_another_host_fails_the_rendition_naming_only_the_host(api, processor, pipeline, tmp_path_factory):
    # The emulator's own webhooks are dropped, so the only report of the job is ours: validly
    # signed (as by whoever holds the secret) with an output URL on a host not allowed.
    emulator = Emulator(pipeline.emulator_url)
    emulator.faults(drop_webhook_rate=1)
    try:
        media_id = upload(api, make_audio(tmp_path_factory.mktemp("o") / "o.wav", seconds=1).read_bytes(), "audio/wav")
        item = eventually(lambda: (m := api.get(f"/api/media/{media_id}").json())["renditions"]
                          and all(r.get("job_id") for r in m["renditions"]) and m, timeout=60)
        job_ids = {r["job_id"] for r in item["renditions"]}
        eventually(lambda: job_ids <= {d["job_id"] for d in emulator.webhooks() if d["state"] == "dropped"}, timeout=90)
    finally:
        emulator.reset_faults()
        emulator.close()
    rendition = item["renditions"][0]
    secret_path = "/private/output.mp3?X-Amz-Signature=s3cr3t"
    job = json.dumps({"id": rendition["job_id"], "object": "job", "status": "completed",
                      "output": f"https://evil.example{secret_path}",
                      "metadata": {"media_id": media_id, "rendition": rendition["name"]}}).encode()
    answer = processor.post("/webhooks/ittybit", content=job, headers=headers(job, f"msg_evil_{time.time_ns()}"))
    assert answer.status_code == 200 and answer.json()["result"] == "store_queued", answer.text
    failed = wait_final(api, media_id)
    row = next(r for r in failed["renditions"] if r["name"] == rendition["name"])
    assert row["status"] == "failed", row
    assert row["error"] == "output refused: the output host evil.example is not in ITTYBIT_OUTPUT_HOSTS"
    assert failed["status"] == "failed" and "evil.example" in failed["error"]
    for text in (row["error"], failed["error"]):
        assert "s3cr3t" not in text and "/private" not in text
    assert rows(pipeline, f"SELECT name FROM renditions WHERE media_id = '{media_id}' AND status = 'completed'") == []
