"""Library: which D1 reads grow with the size of the library. A counting stack (LOCAL_COUNTERS=1)
is seeded with synthetic completed media (each with four renditions and six events, created over
the last 30 days) in steps, and at each size the D1 rows read are counted for GET /api/stats,
GET /api/stats/daily (14 days), a page of GET /api/media, and one image uploaded end to end
(single request, with one webhook endpoint subscribed).

    .venv/bin/python -m bench.library                      # sizes 0, 10000, 50000
    .venv/bin/python -m bench.library --sizes 0,2000        # quick

Writes bench/results/library.json and bench/results/library.md; docs/scale.md section 3 quotes it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import API_KEY, DEV_VARS, load_average, print_machine, save_json, table, temporary_dir
from bench.costs import RESULTS, reset_counters, run_case, wait_quiet, worker_counters
from scripts.pipeline_stack import PipelineStack, Ports
from scripts.webhook_receiver import Receiver, register

DAY_MS = 86_400_000


def seed_sql(start: int, count: int, now_ms: int) -> str:
    """Synthetic completed media numbered start+1 .. start+count, spread over the last 30 days."""
    last = start + count
    span = 30 * DAY_MS
    return f"""
WITH RECURSIVE n(i) AS (SELECT {start + 1} UNION ALL SELECT i + 1 FROM n WHERE i < {last})
INSERT INTO media (id, r2_key, name, content_type, kind, size, status, source, created_at, updated_at)
SELECT printf('seed%08d', i), printf('originals/seed%08d', i), printf('seed-%d.mp4', i), 'video/mp4', 'video',
       1000000, 'completed', 'api', {now_ms} - (i * 86413337 % {span}), {now_ms} - (i * 86413337 % {span}) FROM n;
WITH RECURSIVE n(i) AS (SELECT {start + 1} UNION ALL SELECT i + 1 FROM n WHERE i < {last}),
     r(name) AS (VALUES ('web'), ('mobile'), ('thumbnail'), ('hls'))
INSERT INTO renditions (media_id, name, kind, status, output_key, size, created_at, updated_at)
SELECT printf('seed%08d', i), r.name, 'video', 'completed', printf('renditions/seed%08d/%s', i, r.name), 1000,
       {now_ms}, {now_ms} FROM n, r;
WITH RECURSIVE n(i) AS (SELECT {start + 1} UNION ALL SELECT i + 1 FROM n WHERE i < {last}),
     t(type) AS (VALUES ('media.uploaded'), ('media.queued'), ('media.created'), ('job.submitted'),
                        ('rendition.ready'), ('media.ready'))
INSERT INTO events (id, media_id, type, data, created_at, published_at)
SELECT printf('evt_seed%08d_%s', i, t.type), printf('seed%08d', i), t.type, '{{}}', {now_ms}, {now_ms} FROM n, t;
"""


def seed(stack: PipelineStack, folder: Path, start: int, count: int) -> None:
    if count <= 0:
        return
    path = folder / f"seed-{start}-{count}.sql"
    path.write_text(seed_sql(start, count, int(time.time() * 1000)))
    stack.workers.execute_d1_file("DB", path)


def rows_read_of(stack: PipelineStack, client: httpx.Client, path: str) -> dict:
    reset_counters(stack.api_url)
    client.get(path).raise_for_status()
    d1 = worker_counters(stack.api_url)["d1"]
    return {"rows_read": d1["rows_read"], "statements": d1["statements"]}


def main() -> None:
    machine = print_machine("library: D1 rows read against the library's size")
    sizes = [0, 10_000, 50_000]
    if "--sizes" in sys.argv:
        sizes = [int(s) for s in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    rows = []
    with temporary_dir("mp-library-") as tmp:
        image = tmp / "image.png"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360",
                        "-frames:v", "1", str(image)], check=True, timeout=120)
        stack = PipelineStack(
            ports=Ports.free(), state_dir=tmp / "state", work_dir=tmp / "work", registry_dir=tmp / "registry",
            dev_vars=DEV_VARS, api_vars={"LOCAL_COUNTERS": "1"}, processor_vars={"LOCAL_COUNTERS": "1"},
        )
        stack.start()
        receiver = Receiver()
        try:
            receiver.secrets.append(register(stack.api_url, API_KEY, receiver.url))
            seeded = 0
            with httpx.Client(base_url=stack.api_url, timeout=300, headers={"x-api-key": API_KEY}) as client:
                for size in sizes:
                    seed(stack, tmp, seeded, size - seeded)
                    seeded = max(seeded, size)
                    wait_quiet(stack)
                    row = {"library": size, "load_average": load_average()}
                    row["stats"] = rows_read_of(stack, client, "/api/stats")
                    row["stats_daily"] = rows_read_of(stack, client, "/api/stats/daily?days=14")
                    row["list_page"] = rows_read_of(stack, client, "/api/media?limit=50")
                    item = run_case(stack, client, receiver, {"image": image}, "image", "single", f"lib{size}")
                    row["upload_item"] = {
                        "rows_read": item["workers"]["api"]["d1"]["rows_read"] + item["workers"]["processor"]["d1"]["rows_read"],
                        "rows_written": item["workers"]["api"]["d1"]["rows_written"]
                        + item["workers"]["processor"]["d1"]["rows_written"],
                        "final": item["final"],
                    }
                    print(f"  library {size:>7}: stats {row['stats']['rows_read']:>7} rows, daily "
                          f"{row['stats_daily']['rows_read']:>7}, list {row['list_page']['rows_read']:>5}, "
                          f"one image {row['upload_item']['rows_read']:>6} read / {row['upload_item']['rows_written']} written",
                          flush=True)
                    rows.append(row)
        finally:
            receiver.stop()
            stack.stop()
    save_json("library", {"machine": machine, "results": rows})
    markdown = table(
        ["media rows", "GET /api/stats rows read", "GET /api/stats/daily rows read", "GET /api/media page rows read",
         "one image end to end: rows read", "rows written"],
        [[r["library"], r["stats"]["rows_read"], r["stats_daily"]["rows_read"], r["list_page"]["rows_read"],
          r["upload_item"]["rows_read"], r["upload_item"]["rows_written"]] for r in rows])
    (RESULTS / "library.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
