"""Retention: what a media item costs D1 while it is recent and once it is past the retention
window (api.retention: events' data moved to R2, settled deliveries pruned; the processor's
reconcile forgets Ittybit webhook ids after a day).

One stack, one webhook endpoint subscribed to every event; videos (8 s, with the HLS ladder)
and images uploaded through the single-request path and finished. The D1 file's record bytes per
table are read with dbstat (bench.costs.d1_tables), then every row is aged 31 days in D1, the
processor's reconcile cron is run once and the API's hourly cron until it has nothing left to
move, and the bytes are read again.

    .venv/bin/python -m bench.retention              # 8 videos and 4 images
    .venv/bin/python -m bench.retention --items 4    # 4 videos and 2 images

Record bytes are dbstat's payload (rows and index entries without page slack: the pages that
pruning frees are reused by later inserts), per item, without the tables that do not grow with
the library. Writes bench/results/retention.json and .md; docs/scale.md (section 4.3) quotes
them, and bench/scale_model.py reads them for the library size at which D1 is full.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import API_KEY, DEV_VARS, ROOT, print_machine, save_json, table, temporary_dir
from bench.costs import d1_tables, upload_single, wait_final
from bench.scale_model import GB, LIMITS, PRICES, d1_items_with_retention, over
from local_runtime.stack import trigger_cron
from scripts.pipeline_stack import PipelineStack, Ports
from scripts.webhook_receiver import Receiver, register

RESULTS = ROOT / "bench" / "results"
MONTH_MS = 31 * 86_400_000
SWEEP_CRON = "17 * * * *"
RECONCILE_CRON = "*/5 * * * *"
SUMMARY = re.compile(r"retention: (\{.*\})")


def make_media(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    video, image = folder / "video-8s.mp4", folder / "image.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=330", "-t", "8", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video)], check=True, timeout=300)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720", "-frames:v", "1",
                    str(image)], check=True, timeout=300)
    return video, image


def retention_runs(stack: PipelineStack) -> list[dict]:
    """Run the hourly cron until a run moves and prunes nothing; each run's summary."""
    log = stack.workers.running[0].log_path
    summaries: list[dict] = []
    for _ in range(50):
        before = len(SUMMARY.findall(log.read_text()))
        if trigger_cron(stack.api_url, SWEEP_CRON) != 200:
            raise RuntimeError("the hourly cron failed (see the API log)")
        deadline = time.monotonic() + 60
        while len(found := SUMMARY.findall(log.read_text())) <= before:
            if time.monotonic() > deadline:
                raise RuntimeError("the hourly cron logged no retention summary")
            time.sleep(0.2)
        summary = json.loads(found[-1])
        summaries.append(summary)
        if not summary["archived"]["events"] and not summary["deliveries_pruned"]:
            return summaries
    raise RuntimeError("the retention runs never finished")


# Tables whose size does not grow with the library (the schema, the endpoint, four counters).
CONSTANT_TABLES = ("sqlite_schema", "webhook_endpoints", "media_status_counts")


def per_item(tables: dict, items: int) -> dict[str, float]:
    """Record bytes (dbstat's payload: rows and index entries, without page slack) per item."""
    return {name: round(entry["payload"] / items) for name, entry in sorted(tables.items())
            if entry["payload"] and name not in CONSTANT_TABLES}


def report(data: dict) -> None:
    """The tables and figures docs/scale.md quotes, from one run's results."""
    items = data["items"]
    before, after = data["bytes_per_item_recent"], data["bytes_per_item_past_window"]
    rows = [[name, before.get(name, 0), after.get(name, 0)] for name in sorted(set(before) | set(after))]
    rows.append(["**all**", data["total_per_item_recent"], data["total_per_item_past_window"]])
    markdown = table(["table (indexes included)", "bytes per item, recent", "bytes per item, past the window"], rows)
    (RESULTS / "retention.md").write_text(markdown + "\n")
    print(markdown)
    print(f"  archived into {data['r2_archive_objects']} R2 objects, {data['r2_archive_bytes_per_item']} bytes an item")
    recent, past = data["total_per_item_recent"], data["total_per_item_past_window"]
    without = LIMITS["d1_database_bytes"][0] / recent
    for monthly in (100_000, 1_000_000):
        full = d1_items_with_retention(recent, past, monthly)
        print(f"  one D1 database (10 GB) at {monthly:,} uploads a month: {without:,.0f} items without retention, "
              f"{full:,.0f} with it ({full / monthly:.1f} months of uploads)")
    # Twelve months of 100,000 uploads a month (the cost table's last column): D1 and the archive.
    videos, months = 100_000, 12
    for label, gigabytes in (("without retention", videos * months * recent / GB),
                             ("with retention", videos * (recent + (months - 1) * past) / GB)):
        dollars = over(gigabytes, PRICES["d1_storage_included_gb"], PRICES["d1_storage_gb"])
        print(f"  D1 after {months} months of {videos:,} a month, {label}: {gigabytes:.1f} GB, ${dollars:.2f} a month")
    archive_gb = videos * (months - 1) * data["r2_archive_bytes_per_item"] / GB
    print(f"  the R2 archive then: {archive_gb:.1f} GB (${archive_gb * PRICES['r2_storage_gb']:.2f} a month), "
          f"{videos * data['r2_archive_objects'] / items:,.0f} puts a month (${videos * data['r2_archive_objects'] / items * PRICES['r2_a']:.2f})")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=8, help="videos (half as many images go with them)")
    parser.add_argument("--report", action="store_true", help="print the report of the last run's results only")
    args = parser.parse_args()
    if args.report:
        report(json.loads((RESULTS / "retention.json").read_text()))
        return
    machine = print_machine("retention: D1 bytes per item, recent and past the window")
    videos, images = args.items, max(1, args.items // 2)
    with temporary_dir("mp-retention-") as tmp:
        video, image = make_media(tmp / "media")
        stack = PipelineStack(ports=Ports.free(), state_dir=tmp / "state", work_dir=tmp / "work",
                              registry_dir=tmp / "registry", dev_vars=DEV_VARS)
        stack.start()
        receiver = Receiver()
        try:
            receiver.secrets.append(register(stack.api_url, API_KEY, receiver.url))
            with httpx.Client(base_url=stack.api_url, timeout=120, headers={"x-api-key": API_KEY}) as client:
                with ThreadPoolExecutor(4) as pool:
                    ids = list(pool.map(lambda path: upload_single(client, path), [video] * videos + [image] * images))
                    finals = list(pool.map(lambda media_id: wait_final(receiver, media_id), ids))
            print(f"  {len(ids)} items final: {sorted(set(finals))}", flush=True)
            # Deliveries settle after media.ready: wait until none is pending.
            deadline = time.monotonic() + 120
            while stack.workers.d1_query("DB", "SELECT COUNT(*) AS n FROM event_deliveries"
                                               " WHERE status = 'pending'")[0]["n"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("deliveries stayed pending")
                time.sleep(1)
            recent = d1_tables(stack)
            stack.workers.d1_query("DB", f"UPDATE events SET created_at = created_at - {MONTH_MS};"
                                         f" UPDATE event_deliveries SET updated_at = updated_at - {MONTH_MS};"
                                         f" UPDATE webhook_deliveries SET received_at = received_at - {MONTH_MS}")
            # The processor's reconcile (every 5 minutes in production) forgets Ittybit webhook ids
            # older than a day; the API's hourly cron does the rest.
            if trigger_cron(stack.processor_url, RECONCILE_CRON) != 200:
                raise RuntimeError("the reconcile cron failed (see the processor log)")
            runs = retention_runs(stack)
            past = d1_tables(stack)
            archives = stack.workers.d1_query("DB", "SELECT COUNT(*) AS objects, SUM(bytes) AS bytes FROM event_archives")[0]
        finally:
            receiver.stop()
            stack.stop()
    items = len(ids)
    before, after = per_item(recent, items), per_item(past, items)
    data = {"machine": machine, "items": items, "videos": videos, "images": images,
            "bytes_per_item_recent": before, "bytes_per_item_past_window": after,
            "total_per_item_recent": sum(before.values()), "total_per_item_past_window": sum(after.values()),
            "retention_runs": runs, "r2_archive_objects": archives["objects"],
            "r2_archive_bytes_per_item": round((archives["bytes"] or 0) / items)}
    save_json("retention", data)
    report(data)


if __name__ == "__main__":
    main()
