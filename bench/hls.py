"""HLS segments: GET /hls/<token>/<id>/<rung>/segment-<n>.ts through the API worker (the token
checked, the R2 object streamed with its headers: api.hls_routes) at concurrency 1, 16 and 64,
beside the JavaScript reference worker doing the same (bench/reference-worker's /ref/hls/:
the token checked with WebCrypto, the object streamed), on the same R2 state in the same run.
Requests per second, p50/p99 latency, and MB/s.

The ladder is N segments of SEGMENT_KIB each, put straight into R2 through the reference
worker (what the processor's copy would have stored), so nothing else runs while measuring.

    .venv/bin/python -m bench.hls                          # 300 requests a point, 3 runs
    .venv/bin/python -m bench.hls --requests 60 --runs 1   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import httpx

from bench.common import (
    ROOT,
    api_beside_reference,
    load_average,
    median,
    print_machine,
    save_json,
    signing_secret,
    table,
    temporary_dir,
)
from bench.requests import CONCURRENCIES, series

sys.path.insert(0, str(ROOT / "src"))  # the token is made as the API makes it
from common.ids import new_media_id  # noqa: E402
from common.playback_tokens import make_token  # noqa: E402

SEGMENTS = 24
SEGMENT_KIB = 256  # a 4-s 360p segment is about 200-400 KiB


async def run(args) -> dict:
    info = print_machine("hls")
    results = {"machine": info, "segment_bytes": SEGMENT_KIB * 1024, "points": []}
    media_id = new_media_id(int(time.time() * 1000), os.urandom(10))
    token = make_token(signing_secret(), media_id, int(time.time()) + 6 * 3600)
    with temporary_dir("bench-hls-") as tmp:
        with api_beside_reference(tmp) as (api, ref):
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
            async with httpx.AsyncClient(timeout=120, limits=limits) as client:
                body = b"\x47" + os.urandom(SEGMENT_KIB * 1024 - 1)
                names = [f"360p/segment-{n}.ts" for n in range(SEGMENTS)]
                for name in names:
                    put = await client.put(f"{ref}/ref/files/renditions/{media_id}/hls/{name}", content=body,
                                           headers={"content-type": "video/mp2t"})
                    put.raise_for_status()
                for concurrency in CONCURRENCIES:
                    for number in range(args.runs):
                        order = ("py", "ref") if number % 2 == 0 else ("ref", "py")
                        point = {"concurrency": concurrency, "run": number + 1}
                        for side in order:
                            base = f"{api}/hls" if side == "py" else f"{ref}/ref/hls"
                            urls = [f"{base}/{token}/{media_id}/{names[i % SEGMENTS]}" for i in range(args.requests)]
                            await series(client, urls[: concurrency * 2], concurrency, None)  # warm connections
                            point["load"] = load_average()
                            point[side] = await series(client, urls, concurrency, None)
                            point[side]["mb_s"] = point[side]["rps"] * SEGMENT_KIB / 1024
                        results["points"].append(point)
                        print(f"segments c={concurrency} run {number + 1}: py {point['py']['rps']:.0f} rps "
                              f"p50 {point['py']['p50_ms']:.1f} p99 {point['py']['p99_ms']:.1f} ms; ref "
                              f"{point['ref']['rps']:.0f} rps p50 {point['ref']['p50_ms']:.1f} "
                              f"p99 {point['ref']['p99_ms']:.1f} ms; load {point['load']}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per point")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    rows = []
    for concurrency in CONCURRENCIES:
        points = [p for p in results["points"] if p["concurrency"] == concurrency]
        m = {side: {k: median(p[side][k] for p in points) for k in ("rps", "p50_ms", "p99_ms", "mb_s")}
             for side in ("py", "ref")}
        rows.append([concurrency, f"{m['py']['rps']:.0f}", f"{m['py']['p50_ms']:.1f}", f"{m['py']['p99_ms']:.1f}",
                     f"{m['py']['mb_s']:.0f}", f"{m['ref']['rps']:.0f}", f"{m['ref']['p50_ms']:.1f}",
                     f"{m['ref']['p99_ms']:.1f}", f"{m['ref']['mb_s']:.0f}", f"{m['py']['rps'] / m['ref']['rps']:.2f}",
                     " / ".join(p["load"].split()[0] for p in points)])
    print()
    print(f"medians of {args.runs} runs of {args.requests} GETs of {SEGMENT_KIB} KiB segments:")
    print(table(["concurrency", "py rps", "py p50 ms", "py p99 ms", "py MB/s", "ref rps", "ref p50 ms",
                 "ref p99 ms", "ref MB/s", "py/ref rate", "load (1 min) per run"], rows))
    save_json("hls", results)


if __name__ == "__main__":
    main()
