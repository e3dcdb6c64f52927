"""Requests: GET /api/media/{id} with a KV hit, with a KV miss, and GET /healthz, at
concurrency 1, 16 and 64, beside the JavaScript reference worker (bench/reference-worker)
serving the same from the same bindings (its /healthz; KV media:<id>, else D1 media +
renditions then a KV put), in the same run. Requests per second, p50 and p99 latency.

Items: N are uploaded once and made `completed` in D1 (no processor runs; only final
records are cached). Misses: before each miss series every media:<id> KV entry is
deleted (through the reference worker's bench-only /ref/kv-delete), and the series asks
for each id once, so every request is a miss (checked with X-Cache).

    .venv/bin/python -m bench.requests                          # 300 requests a point, 3 runs
    .venv/bin/python -m bench.requests --requests 60 --runs 1   # quick
    .venv/bin/python -m bench.requests --concurrency 1 --kinds healthz get_media_kv_hit   # some points
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from bench.common import (
    API_KEY,
    api_beside_reference,
    load_average,
    median,
    percentile,
    print_machine,
    save_json,
    table,
    temporary_dir,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00" + b"\x00" * 64
CONCURRENCIES = (1, 16, 64)
KINDS = ("healthz", "get_media_kv_hit", "get_media_kv_miss")


async def series(client: httpx.AsyncClient, urls: list[str], concurrency: int, expect_cache: str | None) -> dict:
    """Send every url once with `concurrency` requests in flight; latency of each."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    latencies: list[float] = []
    wrong_cache = 0

    async def worker() -> None:
        nonlocal wrong_cache
        while not queue.empty():
            url = queue.get_nowait()
            started = time.perf_counter()
            response = await client.get(url)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
            if expect_cache and response.headers.get("x-cache") != expect_cache:
                wrong_cache += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "rps": len(urls) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "wrong_cache": wrong_cache,
    }


async def run(args) -> dict:
    info = print_machine("requests")
    results = {"machine": info, "points": []}
    with temporary_dir("bench-requests-") as tmp:
        with api_beside_reference(tmp, with_stack=True) as (api, ref, stack):
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
            async with httpx.AsyncClient(timeout=120, headers={"x-api-key": API_KEY}, limits=limits) as client:
                ids = await upload_items(client, api, args.requests)
                # No processor runs here, and only final records are cached (docs/scale.md 4.2):
                # the items are made final in D1, as the processor would, so a read can be a hit.
                listed = ", ".join(f"'{media_id}'" for media_id in ids)
                stack.d1_query("DB", f"UPDATE media SET status = 'completed' WHERE id IN ({listed})")
                print(f"uploaded {len(ids)} items, made final; load {load_average()}")

                async def wipe() -> None:
                    for start in range(0, len(ids), 100):
                        (await client.post(f"{ref}/ref/kv-delete", json=ids[start:start + 100])).raise_for_status()

                kinds = {
                    "healthz": (lambda base, side: [f"{base}/healthz"] * args.requests, None),
                    "get_media_kv_hit": (
                        lambda base, side: [f"{base}{'/api/media/' if side == 'py' else '/ref/media/'}{i}" for i in ids], "hit"),
                    "get_media_kv_miss": (
                        lambda base, side: [f"{base}{'/api/media/' if side == 'py' else '/ref/media/'}{i}" for i in ids], "miss"),
                }
                for concurrency in args.concurrency:
                    for kind, (make_urls, cache) in kinds.items():
                        if kind not in args.kinds:
                            continue
                        for number in range(args.runs):
                            order = ("py", "ref") if number % 2 == 0 else ("ref", "py")
                            point = {"kind": kind, "concurrency": concurrency, "run": number + 1}
                            for side in order:
                                base = api if side == "py" else ref
                                urls = make_urls(base, side)
                                if cache == "hit":  # fill the cache first (one pass)
                                    await series(client, urls, 16, None)
                                if cache == "miss":
                                    await wipe()
                                # Open `concurrency` keep-alive connections before the clock starts.
                                await series(client, [f"{base}/healthz"] * concurrency * 2, concurrency, None)
                                point["load"] = load_average()
                                point[side] = await series(client, urls, concurrency, cache)
                            results["points"].append(point)
                            print(
                                f"{kind} c={concurrency} run {number + 1}: "
                                f"py {point['py']['rps']:.0f} rps p50 {point['py']['p50_ms']:.1f} p99 {point['py']['p99_ms']:.1f} ms "
                                f"(wrong cache {point['py']['wrong_cache']}); "
                                f"ref {point['ref']['rps']:.0f} rps p50 {point['ref']['p50_ms']:.1f} p99 {point['ref']['p99_ms']:.1f} ms "
                                f"(wrong cache {point['ref']['wrong_cache']}); load {point['load']}"
                            )
    return results


async def upload_items(client: httpx.AsyncClient, api: str, count: int) -> list[str]:
    ids: list[str] = []
    semaphore = asyncio.Semaphore(8)

    async def one(index: int) -> None:
        async with semaphore:
            response = await client.post(
                f"{api}/api/media", content=PNG, headers={"content-type": "image/png", "x-file-name": f"p{index}.png"}
            )
            response.raise_for_status()
            ids.append(response.json()["id"])

    await asyncio.gather(*(one(i) for i in range(count)))
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per point (and items uploaded)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCIES), help="points to run")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="routes to run")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    rows = []
    for kind in args.kinds:
        for concurrency in args.concurrency:
            points = [p for p in results["points"] if p["kind"] == kind and p["concurrency"] == concurrency]
            m = {side: {key: median(p[side][key] for p in points) for key in ("rps", "p50_ms", "p99_ms")} for side in ("py", "ref")}
            rows.append([
                kind, concurrency,
                f"{m['py']['rps']:.0f}", f"{m['py']['p50_ms']:.1f}", f"{m['py']['p99_ms']:.1f}",
                f"{m['ref']['rps']:.0f}", f"{m['ref']['p50_ms']:.1f}", f"{m['ref']['p99_ms']:.1f}",
                f"{m['py']['rps'] / m['ref']['rps']:.2f}",
                " / ".join(f"{p['py']['rps'] / p['ref']['rps']:.2f}" for p in points),
                " / ".join(p["load"].split()[0] for p in points),
            ])
    print()
    print(f"medians of {args.runs} runs of {args.requests} requests:")
    print(table(
        ["route", "concurrency", "py rps", "py p50 ms", "py p99 ms", "ref rps", "ref p50 ms", "ref p99 ms",
         "py/ref rate", "py/ref each run", "load (1 min) per run"],
        rows,
    ))
    print(f"load average at end: {load_average()}")
    save_json("requests", results)


if __name__ == "__main__":
    main()
