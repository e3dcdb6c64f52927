"""Events: N images uploaded at concurrency 8 to a fresh local pipeline with one subscribed
webhook endpoint (scripts/webhook_receiver.py, verifying with standardwebhooks): the time from
a media item's final state (its `updated_at`, written with the status) to the arrival of its
media.ready, and from each event's recording (its `timestamp`) to its arrival; p50 and p99.

    .venv/bin/python -m bench.events            # N=60
    .venv/bin/python -m bench.events -n 12      # quick
    .venv/bin/python -m bench.events --compare  # the pipeline's own time, with and without failing endpoints

With --compare it runs twice, each on a fresh stack: once as above, once with three more
endpoints that fail (a 500 to every third attempt; answering after the sender's 15 s timeout;
down, refusing connections) and reports each item's upload -> final state time (its
`updated_at` - `created_at`) in both: outbound webhooks must not slow the pipeline.

The path measured: the event recorded in D1 by the processor's refresh, an `events.publish`
message, the publish consumer making the delivery, a `webhook.deliver` message, the POST. Each
queue hop waits up to the consumer's max_batch_timeout (1 s) locally.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

from bench.common import API_KEY, DEV_VARS, load_average, median, percentile, print_machine, save_json, table, temporary_dir
from scripts.pipeline_stack import PipelineStack, Ports
from scripts.webhook_receiver import Receiver


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def images(folder: Path, count: int) -> list[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index in range(count):
        path = folder / f"img-{index:03d}.png"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc=size={160 + 2 * index}x120:rate=1:duration=1", "-frames:v", "1", str(path)],
                       check=True, timeout=60)
        out.append(path.read_bytes())
    return out


def run(n: int, concurrency: int, timeout: float, failing: bool = False) -> dict:
    with temporary_dir("bench-events-") as tmp:
        files = images(tmp / "media", n)
        stack = PipelineStack(ports=Ports.free(), state_dir=tmp / "state", work_dir=tmp / "work",
                              registry_dir=tmp / "registry", dev_vars=DEV_VARS)
        stack.start()
        receiver = Receiver()
        flaky, slow, down = Receiver(), Receiver(), Receiver()
        flaky.fail_every, slow.delay_seconds = 3, 20
        try:
            with httpx.Client(base_url=stack.api_url, timeout=120, headers={"x-api-key": API_KEY}) as client:
                for subscriber in (receiver, flaky, slow, down) if failing else (receiver,):
                    endpoint = client.post("/api/webhooks", json={"url": subscriber.url, "events": ["*"]}).json()
                    subscriber.secrets.append(endpoint["secret"])
                down.stop()
                load = load_average()
                with ThreadPoolExecutor(concurrency) as pool:
                    ids = list(pool.map(lambda data: client.post(
                        "/api/media", content=data, headers={"content-type": "image/png"}).json()["id"], files))
                expected = len(ids) * 4  # media.created, 2 x rendition.ready, media.ready
                deadline = time.monotonic() + timeout
                while len(receiver.delivered()) < expected:
                    if time.monotonic() > deadline:
                        if not failing:
                            raise RuntimeError(f"{len(receiver.delivered())} of {expected} events in {timeout} s")
                        break  # reported: how many reached the healthy endpoint while the others failed
                    time.sleep(0.2)
                pipeline = []
                for media_id in ids:
                    item = client.get(f"/api/media/{media_id}").json()
                    pipeline.append(_epoch(item["updated_at"]) - _epoch(item["created_at"]))
        finally:
            for subscriber in (receiver, flaky, slow):
                subscriber.stop()
            stack.stop()
    delivered = list(receiver.delivered().values())
    final = [a.at - _epoch(a.payload["data"]["updated_at"]) for a in delivered if a.type == "media.ready"]
    recorded = [a.at - _epoch(a.payload["timestamp"]) for a in delivered]
    return {"n": n, "failing_endpoints": 3 if failing else 0, "events": len(delivered), "events_expected": n * 4, "unverified": sum(not a.verified for a in receiver.arrivals),
            "load_average": load,
            "upload_to_final": {"p50": median(pipeline), "p99": percentile(pipeline, 0.99), "max": max(pipeline)},
            "final_to_media_ready": {"p50": median(final), "p99": percentile(final, 0.99), "max": max(final)},
            "recorded_to_arrival": {"p50": median(recorded), "p99": percentile(recorded, 0.99), "max": max(recorded)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--compare", action="store_true", help="also run with three failing endpoints")
    args = parser.parse_args()
    info = print_machine("events: final state -> event arrival at a local receiver")
    results = []
    for failing in (False, True) if args.compare else (False,):
        result = run(args.n, args.concurrency, args.timeout, failing=failing)
        results.append(result)
        print(f"-- {result['failing_endpoints']} failing endpoint(s) beside the healthy one; load {result['load_average']}")
        rows = [[name, result[key]["p50"], result[key]["p99"], result[key]["max"]]
                for name, key in (("upload -> final state (the pipeline)", "upload_to_final"),
                                  ("final state -> media.ready arrives", "final_to_media_ready"),
                                  ("event recorded -> it arrives (all types)", "recorded_to_arrival"))]
        rows = [[r[0], *(f"{v:.2f} s" for v in r[1:])] for r in rows]
        print(table(["interval", "p50", "p99", "max"], rows), flush=True)
        print(f"{result['events']} of {result['events_expected']} events from {result['n']} images within the bound,"
              f" {result['unverified']} unverified", flush=True)
    save_json("events", {"machine": info, "runs": results})


if __name__ == "__main__":
    main()
