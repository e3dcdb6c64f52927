"""The local runtime's operation counters on the real pipeline (LOCAL_COUNTERS=1 on the session
stack, tests/conftest.py): one upload is counted on both workers, and GET /api/stats reads the
per-status counts (a row a status), not the library, while answering what COUNT(*) would."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import eventually

SEED = 30
STATS_BY_COUNT = (
    "SELECT COUNT(*) AS total, COALESCE(SUM(status = 'pending'), 0) AS pending,"
    " COALESCE(SUM(status = 'processing'), 0) AS processing, COALESCE(SUM(status = 'completed'), 0) AS completed,"
    " COALESCE(SUM(status = 'failed'), 0) AS failed FROM media"
)


def counters(url: str) -> dict:
    return httpx.get(f"{url}/__local/counters", timeout=30).raise_for_status().json()


def reset(url: str) -> None:
    httpx.post(f"{url}/__local/counters/reset", timeout=30).raise_for_status()


def test_one_upload_is_counted_on_both_workers(pipeline, api, png_bytes):
    for url in (pipeline.api_url, pipeline.processor_url):
        reset(url)
    answer = api.post("/api/media", content=png_bytes, headers={"x-file-name": "counted.png"})
    assert answer.status_code == 202
    media_id = answer.json()["id"]
    eventually(lambda: api.get(f"/api/media/{media_id}").json()["status"] in ("completed", "failed"), timeout=90)
    a, p = counters(pipeline.api_url), counters(pipeline.processor_url)
    assert a["invocations"]["fetch"] >= 2  # the upload and the polling
    assert a["r2"]["ops"].get("put", 0) >= 1 and a["r2"]["bytes_written"] >= len(png_bytes)
    assert a["d1"]["rows_written"] > 0 and a["queues"]["by_binding"].get("JOBS", 0) >= 1
    # KV holds only final records: the processor writes media:<id> once, when the item is final.
    assert a["kv"]["writes"] + p["kv"]["writes"] >= 1
    assert max(a["kv"]["max_writes_per_key_per_second"], p["kv"]["max_writes_per_key_per_second"]) <= 1
    assert p["invocations"]["queue"] >= 1 and p["queue_messages_consumed"] >= 1
    assert p["subrequests"]["fetch"] >= 2  # the probe and the rendition jobs at Ittybit, at least
    assert p["r2"]["class_a"] >= 2  # the two image renditions
    assert p["d1"]["rows_read"] > 0 and p["d1"]["rows_written"] > 0


def test_stats_read_a_row_per_status_and_equal_the_count(pipeline, api):
    pipeline.workers.d1_query("DB", f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SEED})
        INSERT INTO media (id, r2_key, content_type, kind, size, status, created_at, updated_at)
        SELECT printf('statsseed%04d', i), printf('originals/statsseed%04d', i), 'image/png', 'image', 1,
               CASE i % 3 WHEN 0 THEN 'completed' WHEN 1 THEN 'failed' ELSE 'processing' END, 1, 1 FROM n""")
    try:
        reset(pipeline.api_url)
        stats = api.get("/api/stats").json()
        d1 = counters(pipeline.api_url)["d1"]
        # Four status rows, however many media rows (at least SEED here).
        assert d1["statements"] == 1 and d1["rows_read"] <= 4
        truth = pipeline.workers.d1_query("DB", STATS_BY_COUNT)[0]
        assert truth["total"] >= SEED
        assert {k: stats[k] for k in truth} == truth
    finally:
        pipeline.workers.d1_query("DB", "DELETE FROM media WHERE id LIKE 'statsseed%'")
    after = api.get("/api/stats").json()
    assert {k: after[k] for k in truth} == pipeline.workers.d1_query("DB", STATS_BY_COUNT)[0]
