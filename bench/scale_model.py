"""Scale model: from the counted costs of one media item (bench/results/costs.json, written by
`bench.costs`) and the library measurements (bench/results/library.json, `bench.library`), the
operations of a ten-minute 1080p video, the sustained uploads per second and the library size
at which each of Cloudflare's published limits is reached (and which comes first), a day of
uploads replayed minute by minute through those costs (diurnal peak), and the monthly bill for
1,000 and 100,000 ten-minute videos beside Mux's and Cloudflare Stream's list prices. D1's size
per item comes from bench/results/retention.json (`bench.retention`: recent and past the
retention window) when it is there, else from the growth of D1 over the costs runs.

    .venv/bin/python -m bench.scale_model          # prints the tables docs/scale.md quotes
    .venv/bin/python -m bench.scale_model --json   # and writes bench/results/scale_model.json

Every price and limit below carries the page it comes from (docs/scale.md says which pages the
project's reference store held and which were read elsewhere). Everything not measured is an
ASSUMPTION, named as one, and can be changed here.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MiB = 1024 * 1024
GB = 1e9

# -- published limits ------------------------------------------------------------------------
LIMITS = {
    "d1_database_bytes": (10e9, "https://developers.cloudflare.com/d1/platform/limits/",
                          "maximum database size 10 GB (Workers Paid)"),
    "d1_queries_per_second": (1000, "https://developers.cloudflare.com/d1/platform/limits/ (FAQ: how much work can a D1 database do)",
                              "single-threaded: about 1,000 queries/s when a query takes 1 ms"),
    "d1_queries_per_invocation": (1000, "https://developers.cloudflare.com/d1/platform/limits/",
                                  "queries per Worker invocation 1,000 (Paid) / 50 (Free)"),
    "kv_writes_per_key_per_second": (1, "https://developers.cloudflare.com/kv/platform/limits/",
                                     "writes to the same key: 1 per second"),
    "kv_ops_per_invocation": (1000, "https://developers.cloudflare.com/kv/platform/limits/",
                              "operations per Worker invocation 1,000"),
    "queue_messages_per_second": (5000, "https://developers.cloudflare.com/queues/platform/limits/",
                                  "per-queue message throughput 5,000 messages/s"),
    "queue_batch_messages": (100, "https://developers.cloudflare.com/queues/platform/limits/",
                             "consumer batch and sendBatch at most 100 messages (sendBatch 256 KB)"),
    "queue_concurrent_consumers": (250, "https://developers.cloudflare.com/queues/platform/limits/",
                                   "250 concurrent consumer invocations (push)"),
    "r2_parts": (10_000, "https://developers.cloudflare.com/r2/platform/limits/", "maximum upload parts 10,000"),
    "r2_writes_per_key_per_second": (1, "https://developers.cloudflare.com/r2/platform/limits/",
                                     "concurrent writes to the same key: 1 per second"),
    "worker_subrequests": (10_000, "https://developers.cloudflare.com/workers/platform/limits/",
                           "subrequests 10,000/request (Paid; older pages 1,000), 50 (Free)"),
    "worker_subrequests_older": (1000, "https://developers.cloudflare.com/workers/platform/limits/ (older page)",
                                 "1,000/request"),
    "worker_cpu_ms": (300_000, "https://developers.cloudflare.com/workers/platform/limits/",
                      "CPU time 5 min (Paid, configurable; 30 s default)"),
    "worker_memory_bytes": (128 * MiB, "https://developers.cloudflare.com/workers/platform/limits/", "memory 128 MB"),
    "worker_request_body_bytes": (100e6, "https://developers.cloudflare.com/workers/platform/limits/",
                                  "request body 100 MB (Free and Pro zones)"),
}

# -- published prices (USD) ------------------------------------------------------------------
PRICES = {
    "workers_base": 5.00,                      # /month, Workers Paid
    "workers_requests_included": 10e6, "workers_request": 0.30 / 1e6,
    "workers_cpu_ms_included": 30e6, "workers_cpu_ms": 0.02 / 1e6,
    "d1_read_included": 25e9, "d1_read": 0.001 / 1e6,
    "d1_write_included": 50e6, "d1_write": 1.00 / 1e6,
    "d1_storage_included_gb": 5, "d1_storage_gb": 0.75,
    "kv_read_included": 10e6, "kv_read": 0.50 / 1e6,
    "kv_write_included": 1e6, "kv_write": 5.00 / 1e6,   # deletes and lists are priced as writes, 1M each included
    "r2_storage_included_gb": 10, "r2_storage_gb": 0.015,
    "r2_a_included": 1e6, "r2_a": 4.50 / 1e6,
    "r2_b_included": 10e6, "r2_b": 0.36 / 1e6,
    "queues_ops_included": 1e6, "queues_op": 0.40 / 1e6,  # 3 operations (write, read, delete) a message under 64 KB
    "stream_stored_min": 5.00 / 1000, "stream_delivered_min": 1.00 / 1000,   # encoding free
    "mux_storage_min_month": 0.0024, "mux_delivery_min": 0.0008, "mux_delivery_free_min": 100_000,
    "mux_encoding_min_basic": 0.0, "mux_encoding_min_premium": 0.0384,
    "ittybit_credit_overage": 1.00 / 1000,     # credits per task are not published: the named unknown
}
PRICE_SOURCES = {
    "Workers": "https://developers.cloudflare.com/workers/platform/pricing/",
    "D1": "https://developers.cloudflare.com/d1/platform/pricing/",
    "KV": "https://developers.cloudflare.com/kv/platform/pricing/",
    "R2": "https://developers.cloudflare.com/r2/pricing/",
    "Queues": "https://developers.cloudflare.com/queues/pricing/",
    "Stream": "https://developers.cloudflare.com/stream/pricing/",
    "Mux": "https://www.mux.com/pricing/video",
    "Ittybit": "https://ittybit.dev/pricing",
}

# -- the ten-minute video (ASSUMPTIONS) -------------------------------------------------------
VIDEO_MINUTES = 10
SOURCE_MBIT = 8.0                 # a 1080p phone/camera upload
RENDITION_MBIT = {"web": 5.0, "mobile": 1.2, "hls_1080": 5.0, "hls_720": 2.5, "hls_360": 0.8}
THUMBNAIL_BYTES = 50_000
HLS_RUNGS = 3                     # 360, 720, 1080 lines (the emulator's ladder for a 1080p source)
HLS_SEGMENT_SECONDS = 4           # the emulator's segment length; Ittybit's is not documented
TUS_CHUNK_BYTES = 50 * MiB        # the dashboard's and README's chunk size
TUS_PART_BYTES = 10 * MiB         # src/api/tus_protocol.py's part size under the default TUS_MAX_SIZE
VIEWS_PER_VIDEO = 10              # full plays in the month of upload, one rung (the 720p one) each
VIEW_RUNG_MBIT = 2.5
UPLOADS_PER_DAY_PEAK_FACTOR = 3.0  # replay: the busiest minute's rate over the day's mean
PROCESSING_MINUTES = 5            # replay: an item's operations spread over this long after its upload
HLS_SEGMENTS_PER_MESSAGE = 20     # wrangler.processor.toml
CONSUMER_BATCH = 10               # wrangler.processor.toml max_batch_size


def load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `.venv/bin/python -m bench.{name if name != 'costs' else 'costs'}` first")
    return json.loads(path.read_text())


# -- per-item metrics -----------------------------------------------------------------------------
METRICS = ["invocations", "queue_messages_consumed", "cpu_ms_upper", "d1_statements", "d1_rows_read",
           "d1_rows_written", "kv_reads", "kv_writes", "kv_deletes", "r2_class_a", "r2_class_b", "r2_bytes_written",
           "queue_messages", "jobs_queue_messages", "webhook_queue_messages", "fetch_subrequests"]


def metrics(result: dict) -> dict:
    workers = result["workers"].values()

    def total(get) -> float:
        return float(sum(get(c) for c in workers))

    by_binding: dict[str, int] = {}
    for c in workers:
        for name, n in c["queues"]["by_binding"].items():
            by_binding[name] = by_binding.get(name, 0) + n
    return {
        "invocations": total(lambda c: sum(c["invocations"].values())),
        "queue_messages_consumed": total(lambda c: c["queue_messages_consumed"]),
        "cpu_ms_upper": sum(result["cpu_seconds_upper"].values()) * 1000,
        "d1_statements": total(lambda c: c["d1"]["statements"]),
        "d1_rows_read": total(lambda c: c["d1"]["rows_read"]),
        "d1_rows_written": total(lambda c: c["d1"]["rows_written"]),
        "kv_reads": total(lambda c: c["kv"]["reads"]),
        "kv_writes": total(lambda c: c["kv"]["writes"]),
        "kv_deletes": total(lambda c: c["kv"]["deletes"]),
        "r2_class_a": total(lambda c: c["r2"]["class_a"]),
        "r2_class_b": total(lambda c: c["r2"]["class_b"]),
        "r2_bytes_written": total(lambda c: c["r2"]["bytes_written"]),
        "queue_messages": total(lambda c: c["queues"]["messages_sent"]),
        # JOBS (both workers) and the emulated R2 notification producers feed media-pipeline-jobs.
        "jobs_queue_messages": float(sum(n for name, n in by_binding.items() if name == "JOBS" or name.startswith("__"))),
        "webhook_queue_messages": float(by_binding.get("WEBHOOKS", 0) + by_binding.get("WEBHOOKS_RETRY", 0)),
        "fetch_subrequests": total(lambda c: c["subrequests"]["fetch"]),
    }


def combine(*terms: tuple[float, dict]) -> dict:
    return {m: sum(w * t[m] for w, t in terms) for m in METRICS}


def find(results: list[dict], media: str, path: str, hls: bool = True) -> dict:
    for r in results:
        if r["media"] == media and r["path"] == path and r.get("hls_ladder", True) == hls:
            return r
    raise SystemExit(f"costs.json has no case {media} {path} hls={hls}: run the full `bench.costs`")


def ten_minute_video(results: list[dict], hls: bool = True) -> dict:
    """Operations of one ten-minute 1080p video per upload path, from the measured cases."""
    video = {p: metrics(find(results, "video", p, hls)) for p in ("single", "direct")}
    video_files = find(results, "video", "single", hls)["hls_files"]
    video_messages = find(results, "video", "single", hls).get("hls_copy_messages", 1)
    # Three ladders (8, 32 and 60 s), cut 4 files a copy message in the bench: two differences,
    # each some more files and some more messages, solved for the cost of one of each.
    # One sample a ladder is noisy (a retried message adds statements), so the 8 s -> 60 s
    # difference is split by kind (an ASSUMPTION the counts agree with: 13 more files brought 13
    # more R2 puts and 13 more fetches): storage, fetch, bytes and CPU per file; D1, queue and
    # invocation counts per copy message (3 more messages).
    if hls:
        a, c = find(results, "video-8s", "single"), find(results, "video-60s", "single")
        delta = combine((1, metrics(c)), (-1, metrics(a)))
        files_d = c["hls_files"] - a["hls_files"]
        messages_d = c["hls_copy_messages"] - a["hls_copy_messages"]
        by_file = {"r2_class_a", "r2_class_b", "r2_bytes_written", "fetch_subrequests", "cpu_ms_upper"}
        per_file = {m: (max(0.0, delta[m]) / files_d if m in by_file else 0.0) for m in METRICS}
        per_message = {m: (0.0 if m in by_file else max(0.0, delta[m]) / messages_d) for m in METRICS}
    else:
        per_file = per_message = dict.fromkeys(METRICS, 0.0)
    big_single = metrics(find(results, "big-120", "single"))
    big60, big120 = metrics(find(results, "big-60", "tus-3")), metrics(find(results, "big-120", "tus-3"))
    big120_12 = metrics(find(results, "big-120", "tus-12"))
    per_part = {m: (big120[m] - big60[m]) / 6 for m in METRICS}          # 12 vs 6 parts, 3 chunks each
    per_chunk = {m: (big120_12[m] - big120[m]) / 9 for m in METRICS}     # 12 vs 3 chunks, 12 parts each
    tus_over_single = combine((1, big120), (-1, big_single))             # 12 parts, 3 chunks
    source_bytes = SOURCE_MBIT * 1e6 / 8 * 60 * VIDEO_MINUTES
    parts = math.ceil(source_bytes / TUS_PART_BYTES)
    chunks = math.ceil(source_bytes / TUS_CHUNK_BYTES)
    segments = HLS_RUNGS * math.ceil(VIDEO_MINUTES * 60 / HLS_SEGMENT_SECONDS)
    files = (segments + HLS_RUNGS + 1) if hls else 0
    messages = math.ceil(segments / HLS_SEGMENTS_PER_MESSAGE) if hls else 0
    extra_files, extra_messages = files - video_files, messages - video_messages
    out = {}
    for path in ("single", "direct"):
        out[path] = combine((1, video[path]), (extra_files, per_file), (extra_messages, per_message))
    out["tus"] = combine((1, video["single"]), (1, tus_over_single), (parts - 12, per_part),
                         (chunks - 3, per_chunk), (extra_files, per_file), (extra_messages, per_message))
    for path in out:
        out[path] = {m: max(0.0, v) for m, v in out[path].items()}
    stored = source_bytes + THUMBNAIL_BYTES + sum(
        mbit * 1e6 / 8 * 60 * VIDEO_MINUTES for name, mbit in RENDITION_MBIT.items() if hls or not name.startswith("hls"))
    return {"paths": out, "per_hls_file": per_file, "per_copy_message": per_message, "per_part": per_part, "per_chunk": per_chunk,
            "source_bytes": source_bytes, "stored_bytes": stored, "parts": parts, "chunks": chunks,
            "hls_files": files, "hls_copy_messages": messages, "measured_hls_files": video_files}


# -- D1 size per item ----------------------------------------------------------------------------
def d1_bytes_per_item(results: list[dict]) -> float | None:
    """Growth of D1's size_after from case to case (one item each) within a stack."""
    growth = []
    for hls in (True, False):
        sizes = []
        for r in results:
            if r.get("hls_ladder", True) != hls or r["path"] == "playback":
                continue
            seen = [c["d1"]["size_after"] for c in r["workers"].values() if c["d1"]["size_after"]]
            if seen:
                sizes.append(max(seen))
        if len(sizes) >= 2:
            growth.append((sizes[-1] - sizes[0], len(sizes) - 1))
    total, items = sum(g for g, _ in growth), sum(n for _, n in growth)
    return total / items if items else None


def d1_items_with_retention(recent: float, past: float, uploads_per_month: float,
                            retention_days: float = 30.0) -> float:
    """Library items when one D1 database is full, with the retention of api.retention: the last
    `retention_days` of uploads at `recent` bytes an item, every older item at `past`
    (bench.retention measures both)."""
    limit = LIMITS["d1_database_bytes"][0]
    live = uploads_per_month * retention_days / 30
    if live * recent >= limit:
        return limit / recent
    return live + (limit - live * recent) / past


def load_retention() -> dict | None:
    path = RESULTS / "retention.json"
    return json.loads(path.read_text()) if path.exists() else None


# -- capacity ------------------------------------------------------------------------------------
def capacity(item: dict, results: list[dict], d1_per_item: float | None, heaps: dict,
             kv_results: list[dict] | None = None) -> list[dict]:
    """Each limit against the counts; the KV key rate from `kv_results` when given (a later run)."""
    rows = []

    def add(limit: str, uploads_per_second: float | None, library: float | None, note: str) -> None:
        value, source, text = LIMITS[limit]
        rows.append({"limit": text, "source": source, "uploads_per_second": uploads_per_second,
                     "library_items": library, "note": note})

    add("d1_queries_per_second", LIMITS["d1_queries_per_second"][0] / item["d1_statements"], None,
        f"{item['d1_statements']:.0f} D1 statements per item, one database")
    add("queue_messages_per_second", LIMITS["queue_messages_per_second"][0] / max(1.0, item["jobs_queue_messages"]), None,
        f"{item['jobs_queue_messages']:.0f} messages per item on media-pipeline-jobs (the busiest queue)")
    add("queue_messages_per_second", LIMITS["queue_messages_per_second"][0] / max(1.0, item["webhook_queue_messages"]), None,
        f"{item['webhook_queue_messages']:.0f} messages per item on the webhook queues, one endpoint")
    kv_runs = kv_results or results
    hottest_kv = max((c["kv"]["max_writes_per_key_per_second"] for r in kv_runs if r.get("workers")
                      for c in r["workers"].values()), default=0)
    hottest_kv_key = next((c["kv"]["hottest_key"] for r in kv_runs if r.get("workers") for c in r["workers"].values()
                           if c["kv"]["max_writes_per_key_per_second"] == hottest_kv), None)
    add("kv_writes_per_key_per_second", None, None,
        f"most writes one key took within a second: {hottest_kv} ({hottest_kv_key}); keys are per item, so the "
        "rate of uploads does not reach it" if hottest_kv <= 1 else
        f"{hottest_kv} writes to {hottest_kv_key} within one second: past the limit for one item")
    hottest_r2 = max((c["r2"]["max_writes_per_key_per_second"] for r in results if r.get("workers")
                      for c in r["workers"].values()), default=0)
    add("r2_writes_per_key_per_second", None, None, f"most writes one key took within a second: {hottest_r2}")
    max_sub = max((c["per_invocation"]["max_binding_calls"] + c["per_invocation"]["max_fetch_upper"]
                   for r in results if r.get("workers") for c in r["workers"].values()), default=0)
    design_copy = CONSUMER_BATCH * HLS_SEGMENTS_PER_MESSAGE * 2
    add("worker_subrequests_older", None, None,
        f"measured at most {max_sub} per invocation (upper bound); an HLS copy batch is bounded by design at "
        f"{CONSUMER_BATCH} messages x {HLS_SEGMENTS_PER_MESSAGE} files x 2 = {design_copy} plus a few D1 calls, "
        "whatever the video's length")
    add("worker_cpu_ms", None, None,
        f"{item['cpu_ms_upper']:.0f} ms CPU for the whole item across all its invocations (upper bound)")
    heap = max((v for stack in heaps.values() for v in stack.values()), default=0)
    add("worker_memory_bytes", None, None, f"largest Wasm heap after the runs: {heap / MiB:.1f} MiB")
    add("worker_request_body_bytes", None, None,
        f"a {item['source_mb']:.0f} MB original cannot take the single-request path on a Free/Pro zone: tus "
        "(50 MiB chunks) or direct to the bucket")
    add("r2_parts", None, None, f"{item['parts']} parts of 10 MiB; parts grow past 10 MiB only when TUS_MAX_SIZE needs it")
    retention = load_retention()
    if retention:
        recent, past = retention["total_per_item_recent"], retention["total_per_item_past_window"]
        add("d1_database_bytes", None, d1_items_with_retention(recent, past, 100_000),
            f"with retention (bench.retention): {recent / 1024:.1f} KiB an item for its first 30 days, "
            f"{past / 1024:.1f} KiB after; at 100,000 uploads a month")
    elif d1_per_item:
        add("d1_database_bytes", None, LIMITS["d1_database_bytes"][0] / d1_per_item,
            f"{d1_per_item / 1024:.1f} KiB of D1 per item (growth of size_after over the runs)")
    return rows


# -- a day replayed --------------------------------------------------------------------------------
def replay_day(uploads_per_month: float, item: dict) -> dict:
    """Uploads of one day arriving on a diurnal curve (peak = UPLOADS_PER_DAY_PEAK_FACTOR x mean),
    each spreading its D1 statements and queue messages evenly over PROCESSING_MINUTES: the
    busiest minute's rates against D1's and Queues' throughput."""
    per_day = uploads_per_month / 30
    # A raised cosine over 1,440 minutes whose peak is PEAK x its mean.
    peak = UPLOADS_PER_DAY_PEAK_FACTOR
    shape = [1 + (peak - 1) * (1 - math.cos(2 * math.pi * m / 1440)) / 2 for m in range(1440)]
    norm = sum(shape)
    arrivals = [per_day * s / norm for s in shape]
    load_d1 = [0.0] * 1440
    load_q = [0.0] * 1440
    for minute, n in enumerate(arrivals):
        for k in range(PROCESSING_MINUTES):
            load_d1[(minute + k) % 1440] += n * item["d1_statements"] / PROCESSING_MINUTES
            load_q[(minute + k) % 1440] += n * item["jobs_queue_messages"] / PROCESSING_MINUTES
    d1_peak = max(load_d1) / 60
    q_peak = max(load_q) / 60
    return {
        "uploads_per_month": uploads_per_month,
        "peak_uploads_per_second": max(arrivals) / 60,
        "peak_d1_statements_per_second": d1_peak,
        "peak_jobs_queue_messages_per_second": q_peak,
        "d1_headroom": LIMITS["d1_queries_per_second"][0] / d1_peak if d1_peak else math.inf,
        "queue_headroom": LIMITS["queue_messages_per_second"][0] / q_peak if q_peak else math.inf,
    }


# -- the bill --------------------------------------------------------------------------------------
def over(quantity: float, included: float, price: float) -> float:
    return max(0.0, quantity - included) * price


def bill(videos: int, item: dict, playback: dict, d1_per_item: float, months_kept: int) -> dict:
    """Cloudflare's monthly bill for `videos` ten-minute videos uploaded this month, with
    `months_kept` months of uploads (this one included) stored, and VIEWS_PER_VIDEO plays each."""
    P = PRICES
    segments_per_view = math.ceil(VIDEO_MINUTES * 60 / HLS_SEGMENT_SECONDS) + 2
    view_requests = videos * VIEWS_PER_VIDEO * segments_per_view
    pr = playback.get("per_request", {})
    requests = videos * item["invocations"] + view_requests * pr.get("invocations", 1)
    cpu = videos * item["cpu_ms_upper"] + view_requests * pr.get("cpu_ms_upper", 0)
    d1_read = videos * item["d1_rows_read"] + view_requests * pr.get("d1_rows_read", 0)
    d1_write = videos * item["d1_rows_written"]
    retention = load_retention()
    if retention:  # the month's items at their recent size, the older months' at their archived size
        d1_gb = videos * (retention["total_per_item_recent"]
                          + (months_kept - 1) * retention["total_per_item_past_window"]) / GB
    else:
        d1_gb = videos * months_kept * d1_per_item / GB
    kv_read = videos * item["kv_reads"] + view_requests * pr.get("kv_reads", 0)
    kv_write = videos * item["kv_writes"]
    kv_delete = videos * item["kv_deletes"]
    r2_gb = videos * months_kept * item["stored_bytes"] / GB
    r2_a = videos * item["r2_class_a"]
    r2_b = videos * item["r2_class_b"] + view_requests * pr.get("r2_class_b", 1)
    queue_ops = videos * item["queue_messages"] * 3
    lines = {
        "Workers (base)": P["workers_base"],
        "Workers requests": over(requests, P["workers_requests_included"], P["workers_request"]),
        "Workers CPU (upper bound)": over(cpu, P["workers_cpu_ms_included"], P["workers_cpu_ms"]),
        "D1 rows read": over(d1_read, P["d1_read_included"], P["d1_read"]),
        "D1 rows written": over(d1_write, P["d1_write_included"], P["d1_write"]),
        "D1 storage": over(d1_gb, P["d1_storage_included_gb"], P["d1_storage_gb"]),
        "KV": (over(kv_read, P["kv_read_included"], P["kv_read"]) + over(kv_write, P["kv_write_included"], P["kv_write"])
               + over(kv_delete, P["kv_write_included"], P["kv_write"])),
        "R2 storage": over(r2_gb, P["r2_storage_included_gb"], P["r2_storage_gb"]),
        "R2 class A": over(r2_a, P["r2_a_included"], P["r2_a"]),
        "R2 class B": over(r2_b, P["r2_b_included"], P["r2_b"]),
        "Queues": over(queue_ops, P["queues_ops_included"], P["queues_op"]),
    }
    minutes = videos * VIDEO_MINUTES
    delivered = minutes * VIEWS_PER_VIDEO
    stored_minutes = minutes * months_kept
    stream = stored_minutes * P["stream_stored_min"] + delivered * P["stream_delivered_min"]
    mux_common = stored_minutes * P["mux_storage_min_month"] + over(delivered, P["mux_delivery_free_min"], P["mux_delivery_min"])
    return {
        "videos": videos, "months_kept": months_kept, "lines": lines, "cloudflare_total": sum(lines.values()),
        "quantities": {"requests": requests, "cpu_ms": cpu, "d1_rows_read": d1_read, "d1_rows_written": d1_write,
                       "d1_gb": d1_gb, "r2_gb": r2_gb, "r2_class_a": r2_a, "r2_class_b": r2_b,
                       "queue_operations": queue_ops, "view_requests": view_requests},
        "stream_total": stream,
        "mux_total_basic": mux_common + minutes * P["mux_encoding_min_basic"],
        "mux_total_premium": mux_common + minutes * P["mux_encoding_min_premium"],
        "ittybit": "unknown: credits per ten-minute video are not published (overage $1 per 1,000 credits)",
    }


# -- output --------------------------------------------------------------------------------------
def fmt(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:,.{digits}f}"


def table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    costs = load("costs")
    results = costs["results"]
    playback = next((r for r in results if r["path"] == "playback"), {})
    model = ten_minute_video(results)
    d1_per_item = d1_bytes_per_item(results) or 0.0
    tus = dict(model["paths"]["tus"], stored_bytes=model["stored_bytes"], parts=model["parts"],
               source_mb=model["source_bytes"] / 1e6)
    out = {"ten_minute_video": model, "d1_bytes_per_item": d1_per_item}
    print("## A ten-minute 1080p video (tus, 50 MiB chunks, HLS ladder, one webhook endpoint)\n")
    shown = ["invocations", "cpu_ms_upper", "d1_statements", "d1_rows_read", "d1_rows_written",
             "r2_class_a", "r2_class_b", "queue_messages", "jobs_queue_messages", "fetch_subrequests"]
    print(table(["path"] + shown, [[p] + [fmt(model["paths"][p][m], 0) for m in shown] for p in model["paths"]]))
    print("\nper HLS file: " + ", ".join(f"{m} {v:.2f}" for m, v in model["per_hls_file"].items() if abs(v) > 0.01))
    print("per hls.copy message: " + ", ".join(f"{m} {v:.2f}" for m, v in model["per_copy_message"].items() if abs(v) > 0.01))
    print("per 10 MiB part: " + ", ".join(f"{m} {v:.2f}" for m, v in model["per_part"].items() if abs(v) > 0.01))
    print("per tus chunk: " + ", ".join(f"{m} {v:.2f}" for m, v in model["per_chunk"].items() if abs(v) > 0.01))
    print(f"\nstored per video (ASSUMED bitrates): {model['stored_bytes'] / GB:.2f} GB; {model['parts']} parts, "
          f"{model['chunks']} chunks, {model['hls_files']} HLS files in {model['hls_copy_messages']} copy messages; "
          f"D1 per item {d1_per_item / 1024:.1f} KiB")
    quick = RESULTS / "costs-quick.json"
    kv_results = json.loads(quick.read_text())["results"] if quick.exists() else None
    rows = capacity(tus, results, d1_per_item, costs.get("heap_bytes_after", {}), kv_results)
    out["capacity"] = rows
    print("\n## Limits\n")
    print(table(["limit", "sustained uploads/s", "library (items)", "measured", "page"],
                [[r["limit"], fmt(r["uploads_per_second"], 1), fmt(r["library_items"]), r["note"], r["source"]]
                 for r in rows]))
    first_rate = min((r for r in rows if r["uploads_per_second"]), key=lambda r: r["uploads_per_second"])
    first_size = min((r for r in rows if r["library_items"]), key=lambda r: r["library_items"], default=None)
    print(f"\nfirst limit by rate: {first_rate['limit']} at {first_rate['uploads_per_second']:.1f} uploads/s sustained")
    if first_size:
        print(f"first limit by size: {first_size['limit']} at {first_size['library_items']:,.0f} items")
    out["first_by_rate"], out["first_by_size"] = first_rate, first_size
    print("\n## A day replayed (diurnal peak 3x the mean, each item's work spread over 5 minutes)\n")
    days = [replay_day(n, tus) for n in (1_000, 100_000, 1_000_000, 10_000_000)]
    out["replay"] = days
    print(table(["uploads/month", "peak uploads/s", "peak D1 statements/s", "D1 headroom", "peak jobs msgs/s",
                 "queue headroom"],
                [[fmt(d["uploads_per_month"]), fmt(d["peak_uploads_per_second"], 3),
                  fmt(d["peak_d1_statements_per_second"], 1), fmt(d["d1_headroom"], 1),
                  fmt(d["peak_jobs_queue_messages_per_second"], 1), fmt(d["queue_headroom"], 1)] for d in days]))
    print(f"\n## The monthly bill (USD; {VIEWS_PER_VIDEO} full plays per video at {VIEW_RUNG_MBIT} Mbit/s)\n")
    bills = [bill(n, tus, playback, d1_per_item, k) for n in (1_000, 100_000) for k in (1, 12)]
    out["bills"] = bills
    names = list(bills[0]["lines"])
    print(table(["line"] + [f"{b['videos']:,}/month, {b['months_kept']} month(s) kept" for b in bills],
                [[name] + [fmt(b["lines"][name], 2) for b in bills] for name in names]
                + [["**Cloudflare total**"] + [f"**{fmt(b['cloudflare_total'], 2)}**" for b in bills],
                   ["Ittybit (transcoding)"] + ["unknown" for _ in bills],
                   ["Cloudflare Stream (list)"] + [fmt(b["stream_total"], 2) for b in bills],
                   ["Mux, basic quality (list)"] + [fmt(b["mux_total_basic"], 2) for b in bills],
                   ["Mux, premium encoding (list)"] + [fmt(b["mux_total_premium"], 2) for b in bills]]))
    if "--json" in sys.argv:
        (RESULTS / "scale_model.json").write_text(json.dumps(out, indent=2, default=str))
        print(f"\nwritten: {RESULTS / 'scale_model.json'}")


if __name__ == "__main__":
    main()
