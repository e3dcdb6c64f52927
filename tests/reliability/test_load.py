"""Load under faults, on every upload path: ITEMS uploads at CONCURRENCY, mixed across one request, tus
(chunks that divide neither the part size nor the file, with the API key or a one-time URL; plus
BIG_ITEMS videos of over two parts) and straight into the bucket, videos with an HLS ladder, while the
Ittybit emulator answers 20% of API calls with 5xx/429, drops 10% of webhooks and duplicates 10%, and
the subscribed webhook endpoint (scripts/webhook_receiver.py, verifying with standardwebhooks) answers
500 to a third of the attempts (by hash of webhook-id and attempt). Then: every item final and
completed with its original byte-identical, exactly one Ittybit job per (media, rendition), every
HLS ladder complete, stats equal D1; deleting half leaves nothing of them in R2 (ladders included),
D1 or KV; every event arrives at least once under one webhook-id, none lost, and no delivery of a
deleted item is left pending. The time from an item's final state to its media.ready's arrival
(p50, p99) is a figure (docs/benchmarks.md)."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime

import pytest

from scripts.webhook_receiver import Receiver

from tests.reliability.conftest import (
    BOUND_SECONDS,
    CONCURRENCY,
    FAULTS,
    FULL,
    ITEMS,
    PRESETS,
    EmulatorAdmin,
    UploadRun,
    api_client,
    check_events,
    check_ladders,
    check_originals,
    check_stats,
    created_at,
    d1,
    delete_half_and_check,
    drive_to_final,
    expected_events,
    idempotency_key,
    log,
    status_counts,
    tus_upload,
    upload_many,
)

pytestmark = pytest.mark.stack

BIG_ITEMS = 4 if FULL else 1
BIG_CHUNK = 3 * 1024 * 1024 + 7  # eight PATCHes of a 22 MiB file, none on a part boundary


def test_load_under_faults_on_every_path_then_delete_half(stack, samples, big_video):
    import hashlib

    emulator = EmulatorAdmin(stack.emulator_url)
    emulator.faults(**FAULTS)
    figures: dict = {"items": ITEMS + BIG_ITEMS, "concurrency": CONCURRENCY, "faults": FAULTS}
    receiver = Receiver()
    receiver.fail_one_in = 3
    with api_client(stack, CONCURRENCY) as api:
        endpoint = api.post("/api/webhooks", json={"url": receiver.url, "events": ["*"]})
        assert endpoint.status_code == 201, endpoint.text
        receiver.secrets.append(endpoint.json()["secret"])
        # -- upload: the big tus ones beside the mixed batch ---------------------------------------
        big = UploadRun()
        big_lock = threading.Lock()

        def big_uploads():
            for n in range(BIG_ITEMS):
                media_id = tus_upload(api, big_video, f"big-{n}.mp4", BIG_CHUNK, one_time=n % 2 == 1,
                                      run=big, lock=big_lock)
                big.accepted[media_id], big.paths[media_id] = "video", "tus"
                big.digests[media_id] = hashlib.sha256(big_video).hexdigest()

        uploader = threading.Thread(target=big_uploads)
        uploader.start()
        run = upload_many(stack, samples, ITEMS, CONCURRENCY)
        uploader.join(600)
        assert len(big.accepted) == BIG_ITEMS, "the big tus uploads did not finish"
        for name in ("accepted", "paths", "digests", "upload_ids", "bucket_keys"):
            getattr(run, name).update(getattr(big, name))
        run.tus_patches += big.tus_patches
        run.tus_resumed += big.tus_resumed
        figures["upload_seconds"] = round(run.finished - run.started, 1)
        figures["uploads_by_path"] = run.path_counts()
        figures["tus_patches"] = run.tus_patches
        figures["tus_patches_resumed"] = run.tus_resumed
        figures["uploads_retried_after_503"] = run.retried_503
        log(f"uploaded {len(run.accepted)}/{ITEMS + BIG_ITEMS} in {figures['upload_seconds']}s "
            f"{run.path_counts()}, refused {dict(run.refused)}, {run.retried_503} retried after a 503")
        assert len(run.accepted) == ITEMS + BIG_ITEMS and not run.refused
        assert set(run.paths.values()) == {"single", "tus", "direct"}
        ids = set(run.accepted)

        # -- every item final within the bound ---------------------------------------------------
        figures["final_after_uploads_seconds"] = round(drive_to_final(stack, ids, BOUND_SECONDS), 1)
        figures["first_upload_to_all_final_seconds"] = round(time.monotonic() - run.started, 1)
        counts = status_counts(stack)
        figures["status_counts"] = counts
        assert sum(counts.values()) == len(ids), counts  # nothing lost, nothing extra
        failed = d1(stack, "SELECT id, error FROM media WHERE status = 'failed'")
        figures["failed"] = len(failed)
        assert not failed, f"items failed under transient faults only: {failed[:5]}"
        figures["originals_identical"] = check_originals(api, run.digests, CONCURRENCY)

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

        # -- every HLS ladder complete; /api/stats equals D1 --------------------------------------
        videos = sorted(m for m, kind in run.accepted.items() if kind == "video")
        ladders = check_ladders(stack, api, videos, CONCURRENCY)
        figures["hls_ladders_complete"] = len(ladders)
        figures["hls_files_checked"] = sum(len(keys) for keys in ladders.values())
        check_stats(api, stack)

        # -- delete half: nothing of them left ----------------------------------------------------
        deleted = delete_half_and_check(stack, api, run, ladders, CONCURRENCY, figures)

        # -- every event delivered to the subscribed endpoint, signed, none lost ------------------
        check_events(stack, receiver, expected_events(run.accepted, deleted), deleted, BOUND_SECONDS, figures)
        delivered = receiver.delivered()
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
