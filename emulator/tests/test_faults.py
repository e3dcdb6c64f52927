"""Fault injection: faulted answers create nothing; rates, counters and forced failures."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from emulator.faults import Faults, Switches, parse_switches
from emulator.tests.helpers import eventually, wait_final, webhook_counts


def _settled(counts: dict, **expected) -> dict:
    for name, value in expected.items():
        assert counts[name] == value, counts
    return counts


def _job(file_server, receiver=None, **extra):
    body = {"kind": "image", "input": f"{file_server}/image.png", "options": {"width": 32}, **extra}
    if receiver is not None:
        body["webhook_url"] = receiver.url
    return body


def test_parse_switches_checks_names_and_ranges():
    assert parse_switches({"error_rate": "0.5", "reorder_webhooks": "true", "seed": "3"}) == Switches(
        error_rate=0.5, reorder_webhooks=True, seed=3)
    for bad in ({"error_rate": 1.5}, {"nope": 1}, {"retry_after": -1}, {"status_vocabulary": "done"},
                {"reorder_webhooks": "maybe"}, {"webhook_max_attempts": 0}):
        with pytest.raises(ValueError):
            parse_switches(bad)


def test_seeded_rolls_repeat():
    first, second = Faults(Switches(seed=42)), Faults(Switches(seed=42))
    assert [first.roll(0.5) for _ in range(20)] == [second.roll(0.5) for _ in range(20)]


def test_error_rate_one_gives_5xx_and_creates_nothing(client, file_server):
    client.put("/_emulator/faults", json={"error_rate": 1})
    for _ in range(5):
        answer = client.post("/jobs", json=_job(file_server), headers={"Idempotency-Key": "fault-key-000000001"})
        assert answer.status_code in (500, 503)
        assert answer.json()["kind"] == "server_error"
    assert client.get("/jobs").status_code >= 500
    client.put("/_emulator/faults", json={"error_rate": 0})
    counters = client.get("/_emulator/counters").json()
    assert counters["jobs_created"] == 0 and counters["jobs_by_idempotency_key"] == {}
    assert counters["requests"]["faults"]["server_error"] == 6
    assert client.get("/jobs").json()["data"] == []
    # The key was never used, so the same key now creates the job.
    created = client.post("/jobs", json=_job(file_server), headers={"Idempotency-Key": "fault-key-000000001"})
    assert created.status_code == 201


def test_rate_limit_answers_429_with_retry_after(client, file_server):
    client.put("/_emulator/faults", json={"rate_limit_rate": 1, "retry_after": 3})
    answer = client.post("/jobs", json=_job(file_server))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"
    assert answer.json()["kind"] == "rate_limited"
    assert client.get("/_emulator/counters").json()["jobs_created"] == 0
    assert client.get("/healthz").status_code == 200  # admin and health routes are never faulted


def test_max_requests_per_second(client, emulator):
    client.put("/_emulator/faults", json={"max_requests_per_second": 2})
    headers = {"Authorization": client.headers["Authorization"]}
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: httpx.get(emulator.base_url + "/jobs", headers=headers).status_code,
                                 range(8)))
    assert 429 in statuses and 200 in statuses


def test_error_rate_share_with_seed(client):
    client.put("/_emulator/faults", json={"error_rate": 0.5, "seed": 1})
    statuses = [client.get("/jobs").status_code for _ in range(40)]
    failures = sum(status >= 500 for status in statuses)
    assert 8 <= failures <= 32


def test_slow_answers(client):
    client.put("/_emulator/faults", json={"slow_ms": 300})
    answer = client.get("/jobs")
    assert answer.status_code == 200 and answer.elapsed.total_seconds() >= 0.3


def test_dropped_response_still_creates_the_job(client, file_server):
    client.put("/_emulator/faults", json={"drop_response_rate": 1})
    key = "dropped-answer-0001"
    with pytest.raises(httpx.TransportError):
        client.post("/jobs", json=_job(file_server), headers={"Idempotency-Key": key})
    client.put("/_emulator/faults", json={"drop_response_rate": 0})
    retried = client.post("/jobs", json=_job(file_server), headers={"Idempotency-Key": key})
    assert retried.status_code == 200
    assert client.get("/_emulator/counters").json()["jobs_by_idempotency_key"] == {key: 1}


def test_duplicate_webhooks_are_counted(client, file_server, receiver):
    client.put("/_emulator/faults", json={"duplicate_webhook_rate": 1})
    client.post("/jobs", json=_job(file_server, receiver))
    first, second = receiver.wait_for(2)
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    counts = eventually(lambda: _settled(webhook_counts(client), succeeded=2))
    assert counts["duplicated"] == 1 and counts["attempted"] == 2


def test_dropped_webhooks_are_counted_and_the_job_is_still_readable(client, file_server, receiver):
    client.put("/_emulator/faults", json={"drop_webhook_rate": 1})
    job = client.post("/jobs", json=_job(file_server, receiver)).json()
    assert wait_final(client, job["id"])["status"] == "completed"
    counts = eventually(lambda: _settled(webhook_counts(client), dropped=1))
    time.sleep(0.2)
    assert webhook_counts(client)["attempted"] == 0
    assert receiver.received == []


def test_fail_job_rate_and_metadata_trigger(client, file_server, receiver):
    forced = client.post("/jobs", json=_job(file_server, receiver, metadata={"emulator_fail": "boom"})).json()
    assert wait_final(client, forced["id"])["error"] == "boom"
    client.put("/_emulator/faults", json={"fail_job_rate": 1})
    injected = client.post("/jobs", json=_job(file_server, receiver)).json()
    final = wait_final(client, injected["id"])
    assert final["status"] == "failed" and "injected" in final["error"]
    receiver.wait_for(2)
    assert {receiver.json(i)["status"] for i in range(2)} == {"failed"}
    assert client.get("/_emulator/counters").json()["jobs_finished"] == {"failed": 2}


def test_processing_delay_keeps_the_job_processing(client, file_server):
    client.put("/_emulator/faults", json={"processing_delay_ms": 600000})
    job = client.post("/jobs", json=_job(file_server)).json()
    eventually(lambda: _settled(client.get(f"/jobs/{job['id']}").json(), status="processing"))
