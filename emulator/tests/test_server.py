"""The HTTP API: auth, error shape, idempotency, connections, listing, admin routes."""

from concurrent.futures import ThreadPoolExecutor

import httpx

from emulator.tests.helpers import API_KEY

JOB = {"kind": "image", "input": "http://127.0.0.1:9/none.png", "options": {"format": "webp", "width": 64}}
CONNECTION = {"kind": "s3", "name": "r2", "endpoint": "https://acc.r2.cloudflarestorage.com", "region": "auto",
              "access_key_id": "AKID", "secret_access_key": "SECRET"}


def test_healthz_needs_no_auth(emulator):
    answer = httpx.get(emulator.base_url + "/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_missing_or_wrong_bearer_is_401_with_error_shape(emulator):
    missing = httpx.post(emulator.base_url + "/jobs", json=JOB)
    wrong = httpx.get(emulator.base_url + "/jobs/job_x", headers={"Authorization": "Bearer nope"})
    basic = httpx.get(emulator.base_url + "/jobs", headers={"Authorization": f"Basic {API_KEY}"})
    for answer in (missing, wrong, basic):
        assert answer.status_code == 401
        assert answer.json()["kind"] == "unauthorized"
        assert answer.json()["message"]
    assert httpx.get(emulator.base_url + "/_emulator/counters").status_code == 401
    assert emulator.counters.snapshot()["jobs_created"] == 0


def test_error_shape_for_bad_input_unknown_job_and_route(client):
    cases = [
        (client.post("/jobs", json={"kind": "movie", "input": "http://x/y"}), 400, "invalid_input"),
        (client.post("/jobs", content=b"{not json"), 400, "invalid_input"),
        (client.post("/jobs", json={**JOB, "options": {"quality": "ultra"}}), 400, "invalid_input"),
        (client.post("/jobs", json={**JOB, "options": {"colour": "red"}}), 400, "invalid_input"),
        (client.post("/jobs", json={**JOB, "input": "ftp://x/y"}), 400, "invalid_input"),
        (client.get("/jobs/job_doesnotexist"), 404, "not_found"),
        (client.get("/nowhere"), 404, "not_found"),
        (client.delete("/jobs"), 405, "method_not_allowed"),
    ]
    for answer, status, kind in cases:
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"kind", "message"}
        assert answer.json()["kind"] == kind


def test_job_object_shape(client):
    answer = client.post("/jobs", json={**JOB, "metadata": {"media_id": "m1"}, "webhook_url": "http://127.0.0.1:9/h"})
    assert answer.status_code == 201
    job = answer.json()
    assert job["id"].startswith("job_") and job["object"] == "job"
    assert job["kind"] == "image" and job["input"] == JOB["input"]
    assert job["options"] == JOB["options"] and job["metadata"] == {"media_id": "m1"}
    assert job["status"] in ("pending", "processing") and job["error"] is None and job["output"] is None
    assert isinstance(job["created"], int) and job["created"] > 1_600_000_000_000
    assert job["webhook_url"] == "http://127.0.0.1:9/h"
    (task,) = job["tasks"]
    assert task["id"].startswith("task_") and task["object"] == "task" and task["kind"] == "image"
    assert client.get(f"/jobs/{job['id']}").json()["id"] == job["id"]


def test_idempotency_same_key_same_job_once(client, emulator):
    key = "media1:thumb-0123456"
    first = client.post("/jobs", json=JOB, headers={"Idempotency-Key": key})
    reordered = {"options": JOB["options"], "input": JOB["input"], "kind": "image"}
    second = client.post("/jobs", json=reordered, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    counters = client.get("/_emulator/counters").json()
    assert counters["jobs_by_idempotency_key"] == {key: 1}
    assert counters["jobs_created"] == 1


def test_concurrent_posts_with_one_key_create_one_job(client, emulator):
    key = "concurrent-key-0001"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.post(emulator.base_url + "/jobs", json=JOB, headers={
            "Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key}), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    counters = client.get("/_emulator/counters").json()
    assert counters["jobs_by_idempotency_key"] == {key: 1} and counters["replays_by_idempotency_key"] == {key: 7}


def test_idempotency_different_body_is_409(client):
    key = "k" * 32
    assert client.post("/jobs", json=JOB, headers={"Idempotency-Key": key}).status_code == 201
    other = client.post("/jobs", json={**JOB, "options": {"format": "png"}}, headers={"Idempotency-Key": key})
    assert other.status_code == 409
    assert other.json()["kind"] == "conflict"
    assert client.get("/_emulator/counters").json()["jobs_by_idempotency_key"] == {key: 1}
    client.put("/_emulator/faults", json={"idempotency_mismatch_status": 422})
    other = client.post("/jobs", json={**JOB, "options": {"format": "png"}}, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["kind"] == "invalid_input"


def test_idempotency_key_length_16_to_32(client):
    for bad in ("short", "x" * 15, "x" * 33):
        answer = client.post("/jobs", json=JOB, headers={"Idempotency-Key": bad})
        assert answer.status_code == 400
        assert answer.json()["kind"] == "invalid_input"
    assert client.post("/jobs", json=JOB, headers={"Idempotency-Key": "x" * 16}).status_code == 201
    assert client.get("/_emulator/counters").json()["jobs_created"] == 1


def test_s3_input_needs_a_connection(client):
    s3_job = {"kind": "video", "input": "s3://bucket/originals/a.mp4"}
    answer = client.post("/jobs", json=s3_job)
    assert answer.status_code == 400 and "connection_id" in answer.json()["message"]
    unknown = client.post("/jobs", json={**s3_job, "connection_id": "con_nope"})
    assert unknown.status_code == 400
    connection = client.post("/connections", json=CONNECTION, headers={"Idempotency-Key": "connection-r2-0001"})
    assert connection.status_code == 201
    body = connection.json()
    assert body["id"].startswith("con_") and "secret_access_key" not in body
    again = client.post("/connections", json=CONNECTION, headers={"Idempotency-Key": "connection-r2-0001"})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert client.post("/jobs", json={**s3_job, "connection_id": body["id"]}).status_code == 201


def test_connection_requires_credentials(client):
    answer = client.post("/connections", json={"kind": "s3", "endpoint": "https://x"})
    assert answer.status_code == 400 and answer.json()["kind"] == "invalid_input"


def test_list_jobs_newest_first_with_cursor(client):
    ids = [client.post("/jobs", json={**JOB, "metadata": {"n": n}}).json()["id"] for n in range(3)]
    page = client.get("/jobs", params={"limit": 2}).json()
    assert [job["id"] for job in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True
    rest = client.get("/jobs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [job["id"] for job in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False and rest["next_cursor"] is None
    assert client.get("/jobs", params={"limit": 0}).status_code == 400


def test_faults_admin_roundtrip_and_validation(client):
    changed = client.put("/_emulator/faults", json={"error_rate": 0.25, "seed": 7}).json()
    assert changed["error_rate"] == 0.25 and changed["seed"] == 7
    assert client.get("/_emulator/faults").json()["error_rate"] == 0.25
    assert client.put("/_emulator/faults", json={"error_rate": 2}).status_code == 400
    assert client.put("/_emulator/faults", json={"no_such_switch": 1}).status_code == 400
    assert client.put("/_emulator/faults", json={"webhook_format": "xml"}).status_code == 400


def test_deleting_the_faults_sets_every_switch_back_and_keeps_the_jobs(client):
    job_id = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "faults-reset-key-1"}).json()["id"]
    started = client.get("/_emulator/faults").json()
    client.put("/_emulator/faults", json={"chunked_outputs": True, "fail_segment_requests": 3, "error_rate": 0.5})
    answer = client.delete("/_emulator/faults")
    assert answer.status_code == 200 and answer.json() == started
    assert client.get("/_emulator/faults").json() == started
    assert client.get(f"/jobs/{job_id}").status_code == 200  # only the switches went back


def test_reset_clears_state_and_counters(client):
    job_id = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "reset-test-key-01"}).json()["id"]
    client.put("/_emulator/faults", json={"slow_ms": 5})
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get(f"/jobs/{job_id}").status_code == 404
    counters = client.get("/_emulator/counters").json()
    assert counters["jobs_created"] == 0 and counters["jobs_by_idempotency_key"] == {}
    assert client.get("/_emulator/faults").json()["slow_ms"] == 0
    assert client.post("/jobs", json=JOB, headers={"Idempotency-Key": "reset-test-key-01"}).status_code == 201


def test_request_counters(client):
    client.get("/jobs")
    client.get("/jobs/job_missing")
    requests = client.get("/_emulator/counters").json()["requests"]
    assert requests["by_route"]["GET /jobs"] == 1
    assert requests["by_route"]["GET /jobs/{job_id}"] == 1
    assert requests["by_status"]["404"] == 1
