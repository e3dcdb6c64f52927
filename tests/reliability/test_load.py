"""Load under faults: ITEMS uploads at CONCURRENCY while the Ittybit emulator answers 20% of API calls
with 5xx/429, drops 10% of webhooks and duplicates 10%. Every item ends final within the bound,
Ittybit gets exactly one job per (media, rendition), the stats match D1, and deleting half the
items leaves nothing of them in R2, D1 or KV. A subscribed webhook endpoint (scripts/webhook_receiver.py,
verifying with standardwebhooks, answering 500 to every 10th attempt) gets every event: expected,
delivered, duplicated and lost (0) are figures, and so is the time from an item's final state to the
arrival of its media.ready (p50, p99; docs/benchmarks.md)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from scripts.webhook_receiver import Receiver
from tests.e2e.conftest import eventually

from tests.reliability.conftest import (
    BOUND_SECONDS,
    CONCURRENCY,
    FAULTS,
    FINAL,
    ITEMS,
    PRESETS,
    EmulatorAdmin,
    api_client,
    created_at,
    d1,
    drive_to_final,
    idempotency_key,
    kv_get,
    kv_keys,
    log,
    rendition_keys,
    status_counts,
    upload_many,
)

pytestmark = pytest.mark.stack



def test_load_under_faults_then_delete_half(stack, samples):
    emulator = EmulatorAdmin(stack.emulator_url)
    emulator.faults(**FAULTS)
    figures: dict = {"items": ITEMS, "concurrency": CONCURRENCY, "faults": FAULTS}
    receiver = Receiver()
    receiver.fail_every = 10
    with api_client(stack, CONCURRENCY) as api:
        endpoint = api.post("/api/webhooks", json={"url": receiver.url, "events": ["*"]})
        assert endpoint.status_code == 201, endpoint.text
        receiver.secrets.append(endpoint.json()["secret"])
        # -- upload ------------------------------------------------------------------------------
        run = upload_many(api, samples, ITEMS, CONCURRENCY)
        figures["upload_seconds"] = round(run.finished - run.started, 1)
        figures["uploads_retried_after_503"] = run.retried_503
        log(f"uploaded {len(run.accepted)}/{ITEMS} in {figures['upload_seconds']}s, refused {dict(run.refused)},"
            f" {run.retried_503} retried after a 503")
        assert len(run.accepted) == ITEMS and not run.refused
        ids = set(run.accepted)

        # -- every item final within the bound ---------------------------------------------------
        figures["final_after_uploads_seconds"] = round(drive_to_final(stack, ids, BOUND_SECONDS), 1)
        figures["first_upload_to_all_final_seconds"] = round(time.monotonic() - run.started, 1)
        counts = status_counts(stack)
        figures["status_counts"] = counts
        assert sum(counts.values()) == ITEMS, counts  # nothing lost, nothing extra
        failed = d1(stack, "SELECT id, error FROM media WHERE status = 'failed'")
        figures["failed"] = len(failed)
        assert not failed, f"items failed under transient faults only: {failed[:5]}"

        # -- exactly one Ittybit job per (media, rendition) ---------------------------------------
        counters = emulator.counters()
        by_key = counters["jobs_by_idempotency_key"]
        created = created_at(stack, run.accepted)
        expected = {idempotency_key(media_id, p["name"], created[media_id]) for media_id, kind in run.accepted.items()
                    for p in PRESETS[kind]}
        figures["renditions_expected"] = len(expected)
        figures["jobs_created"] = counters["jobs_created"]
        figures["emulator_requests"] = counters["requests"]
        figures["webhook_deliveries"] = counters["webhook_deliveries"]
        figures["replays"] = sum(counters["replays_by_idempotency_key"].values())
        log(f"emulator counters: jobs {counters['jobs_created']}, requests {counters['requests']}, "
            f"webhooks {counters['webhook_deliveries']}")
        assert {key: n for key, n in by_key.items() if n != 1} == {}
        assert set(by_key) == expected
        assert counters["jobs_created"] == len(expected)
        rendition_rows = d1(stack, "SELECT COUNT(*) AS n, COUNT(DISTINCT job_id) AS jobs, "
                                   "SUM(status = 'completed') AS done FROM renditions")[0]
        assert rendition_rows == {"n": len(expected), "jobs": len(expected), "done": len(expected)}
        # The faults really fired.
        assert counters["requests"]["faults"].get("server_error", 0) > 0
        assert counters["requests"]["faults"].get("rate_limited", 0) > 0
        assert counters["webhook_deliveries"]["dropped"] > 0
        assert counters["webhook_deliveries"]["duplicated"] > 0

        # -- /api/stats equals D1 -----------------------------------------------------------------
        stats = api.get("/api/stats").json()
        d1_counts = d1(stack, "SELECT COUNT(*) AS total, SUM(status='pending') AS pending, "
                              "SUM(status='processing') AS processing, SUM(status='completed') AS completed, "
                              "SUM(status='failed') AS failed FROM media")[0]
        d1_counts = {k: int(v or 0) for k, v in d1_counts.items()}
        assert {k: stats[k] for k in d1_counts} == d1_counts
        assert stats["processed"] == d1_counts["completed"]

        # -- delete half --------------------------------------------------------------------------
        ordered = sorted(ids)
        deleted, kept = ordered[::2], ordered[1::2]
        keys = {media_id: [f"originals/{media_id}", *rendition_keys(media_id, run.accepted[media_id])]
                for media_id in ordered}
        for media_id in ordered[:4]:  # the recorded keys are the ones the test derives
            item = api.get(f"/api/media/{media_id}").json()
            assert sorted([item["original_key"], *(r["output_key"] for r in item["renditions"])]) == \
                sorted(keys[media_id])
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            answers = list(pool.map(lambda media_id: api.delete(f"/api/media/{media_id}").status_code, deleted))
        figures["delete_seconds"] = round(time.monotonic() - started, 1)
        assert answers == [200] * len(deleted)
        time.sleep(2)  # anything still in flight (a late duplicate webhook) would land now

        # R2: no original or rendition of a deleted item; the kept ones are all there.
        def file_status(key: str) -> int:
            return api.head(f"/files/{key}").status_code

        deleted_keys = [key for media_id in deleted for key in keys[media_id]]
        kept_keys = [key for media_id in kept for key in keys[media_id]]
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            gone = dict(zip(deleted_keys, pool.map(file_status, deleted_keys)))
            there = dict(zip(kept_keys, pool.map(file_status, kept_keys)))
            media_answers = list(pool.map(lambda m: api.get(f"/api/media/{m}").status_code, deleted))
        assert {k: s for k, s in gone.items() if s != 404} == {}
        assert {k: s for k, s in there.items() if s != 200} == {}
        assert media_answers == [404] * len(deleted)
        figures["r2_checked"] = {"deleted_keys_404": len(gone), "kept_keys_200": len(there)}

        # D1: no row of a deleted item; every kept one is there.
        quoted = ",".join(f"'{m}'" for m in deleted)
        assert d1(stack, f"SELECT COUNT(*) AS n FROM media WHERE id IN ({quoted})")[0]["n"] == 0
        assert d1(stack, f"SELECT COUNT(*) AS n FROM renditions WHERE media_id IN ({quoted})")[0]["n"] == 0
        assert d1(stack, "SELECT COUNT(*) AS n FROM media")[0]["n"] == len(kept)

        # KV: no media:<id> of a deleted item (one listing, plus a `kv key get` of a few).
        listed = kv_keys(stack)
        leaked = sorted(f"media:{m}" for m in deleted if f"media:{m}" in listed)
        assert leaked == []
        for media_id in deleted[:3]:
            assert kv_get(stack, f"media:{media_id}") is None
        figures["kv_keys_after_delete"] = len(listed)
        stats = api.get("/api/stats").json()
        assert stats["total"] == len(kept) and stats["completed"] == len(kept)

        # -- every event delivered to the subscribed endpoint, signed, none lost ------------------
        expected = {(m, t) for m, kind in run.accepted.items() for t in ("media.created", "media.ready")}
        expected |= {(m, f"rendition.ready/{p['name']}") for m, kind in run.accepted.items() for p in PRESETS[kind]}
        expected |= {(m, "media.deleted") for m in deleted}

        def key(arrival):
            data = arrival.payload["data"]
            rendition = data.get("rendition")
            return data["id"], arrival.type + (f"/{rendition['name']}" if isinstance(rendition, dict) else "")

        def delivered_keys():
            return {key(a) for a in receiver.delivered().values()}

        eventually(lambda: expected <= delivered_keys(), timeout=BOUND_SECONDS, interval=2)
        delivered = receiver.delivered()
        accepted = [a for a in receiver.arrivals if a.verified and a.status == 200]
        figures["events_expected"] = len(expected)
        figures["events_delivered"] = len(delivered)
        figures["events_duplicated"] = len(accepted) - len(delivered)
        figures["events_lost"] = len(expected - delivered_keys())
        figures["delivery_attempts_refused_500"] = sum(1 for a in receiver.arrivals if a.status == 500)
        assert figures["events_lost"] == 0 and all(a.verified for a in receiver.arrivals)
        assert set(delivered_keys()) == expected  # nothing extra either
        lags = sorted(a.at - datetime.fromisoformat(a.payload["data"]["updated_at"].replace("Z", "+00:00")).timestamp()
                      for a in delivered.values() if a.type == "media.ready")
        figures["final_to_event_seconds"] = {
            "p50": round(statistics.median(lags), 2),
            "p99": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 2),
            "max": round(lags[-1], 2),
        }
    receiver.stop()
    emulator.close()
    log(f"FIGURES {figures}")
