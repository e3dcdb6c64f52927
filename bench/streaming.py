"""Streaming: upload (POST /api/media, Content-Length) and download (GET /files/originals/<id>)
through the Python API worker, beside the JavaScript reference worker streaming the same
bodies to and from the same R2 bucket, in the same run; plus the API worker's Wasm heap
growth (GET /healthz before/after).

    .venv/bin/python -m bench.streaming                      # 10, 100, 300 MB, 5 runs each
    .venv/bin/python -m bench.streaming --sizes 10 --runs 2  # quick
"""

from __future__ import annotations

import argparse
import os
import time

import httpx

from bench.common import (
    API_KEY,
    MiB,
    api_beside_reference,
    heap_bytes,
    load_average,
    median,
    mp4_like,
    print_machine,
    save_json,
    table,
    temporary_dir,
)

MB = 1_000_000


def upload(client: httpx.Client, url: str, size: int, block: bytes) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.post(
        url, content=mp4_like(size, block),
        headers={"content-length": str(size), "content-type": "video/mp4", "x-file-name": "bench.mp4"},
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response


def download(client: httpx.Client, url: str, size: int) -> float:
    started = time.perf_counter()
    received = 0
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(MiB):
            received += len(chunk)
    elapsed = time.perf_counter() - started
    if received != size:
        raise RuntimeError(f"downloaded {received} bytes of {size}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,300", help="MB (10^6 bytes), comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) * MB for s in args.sizes.split(",")]
    info = print_machine("streaming")
    block = os.urandom(MiB)
    results = {"machine": info, "sizes": {}, "heap": {}}
    with temporary_dir("bench-streaming-") as tmp:
        with api_beside_reference(tmp) as (api, reference_url):
            with httpx.Client(timeout=600, headers={"x-api-key": API_KEY}) as client:
                client.get(f"{api}/healthz")  # warm
                heap_fresh = heap_bytes(client, api)
                print(f"API worker Wasm heap after boot: {heap_fresh / MiB:.1f} MiB")
                for size in sizes:
                    runs = []
                    heap_before_size = heap_bytes(client, api)
                    for run in range(args.runs):
                        heap_before = heap_bytes(client, api)
                        # Alternate which side goes first, so neither always meets a warmer disk cache.
                        order = ("py", "ref") if run % 2 == 0 else ("ref", "py")
                        row = {"load": load_average()}
                        for side in order:
                            if side == "py":
                                row["py_up"], response = upload(client, f"{api}/api/media", size, block)
                                media_id = response.json()["id"]
                                row["py_down"] = download(client, f"{api}/files/originals/{media_id}", size)
                                client.delete(f"{api}/api/media/{media_id}").raise_for_status()
                            else:
                                key = f"{reference_url}/ref/files/bench/reference-{size}"
                                row["ref_up"], _ = _ref_upload(client, key, size, block)
                                row["ref_down"] = download(client, key, size)
                        row["heap_growth"] = heap_bytes(client, api) - heap_before
                        runs.append(row)
                        print(
                            f"{size // MB} MB run {run + 1}: upload py {size / MB / row['py_up']:.0f} MB/s, "
                            f"ref {size / MB / row['ref_up']:.0f} MB/s; download py {size / MB / row['py_down']:.0f} MB/s, "
                            f"ref {size / MB / row['ref_down']:.0f} MB/s; heap +{row['heap_growth'] / MiB:.1f} MiB; "
                            f"load {row['load']}"
                        )
                    results["sizes"][size // MB] = {
                        "runs": runs,
                        "heap_growth_size_bytes": heap_bytes(client, api) - heap_before_size,
                        "heap_growth_since_boot_bytes": heap_bytes(client, api) - heap_fresh,
                    }

    rows = []
    for size_mb, data in results["sizes"].items():
        runs = data["runs"]
        figures = {k: median(size_mb / r[k] for r in runs) for k in ("py_up", "ref_up", "py_down", "ref_down")}
        data["median_mb_s"] = figures
        rows.append([
            size_mb,
            f"{figures['py_up']:.0f}", f"{figures['ref_up']:.0f}", f"{figures['py_up'] / figures['ref_up']:.2f}",
            f"{figures['py_down']:.0f}", f"{figures['ref_down']:.0f}", f"{figures['py_down'] / figures['ref_down']:.2f}",
            f"{data['heap_growth_size_bytes'] / MiB:.1f}", f"{data['heap_growth_since_boot_bytes'] / MiB:.1f}",
            " / ".join(r["load"].split()[0] for r in runs),
        ])
    print()
    print(f"medians of {args.runs} runs (MB = 10^6 bytes; heap in MiB):")
    print(table(
        ["MB", "upload py MB/s", "upload ref MB/s", "py/ref", "download py MB/s", "download ref MB/s", "py/ref",
         "heap growth over this size's runs", "heap growth since boot", "load (1 min) per run"],
        rows,
    ))
    print(f"load average at end: {load_average()}")
    save_json("streaming", results)


def _ref_upload(client: httpx.Client, url: str, size: int, block: bytes):
    started = time.perf_counter()
    response = client.put(url, content=mp4_like(size, block), headers={"content-length": str(size), "content-type": "video/mp4"})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response


if __name__ == "__main__":
    main()
