"""Resumable uploads: a tus upload of SIZE bytes in CHUNK-sized PATCHes through the Python API
worker, beside a single-request POST /api/media of its first 100 MB in the same run, and the
API worker's Wasm heap growth over the tus upload (GET /healthz before/after).

    .venv/bin/python -m bench.tus                          # 1 GiB in 50 MiB chunks, 3 runs
    .venv/bin/python -m bench.tus --size-mib 256 --runs 1  # quick
    .venv/bin/python -m bench.tus --size-mib 2048 --runs 1 # the 2 GiB heap check
"""

from __future__ import annotations

import argparse
import os
import time

import httpx

from bench.common import API_KEY, MiB, api_stack, heap_bytes, load_average, median, mp4_like, print_machine, save_json, table, temporary_dir

MB = 1_000_000
TUS = {"tus-resumable": "1.0.0"}


def _slice(chunks, start: int, length: int):
    """`length` bytes of a chunk stream from `start`, as chunks (the stream is generated, never held)."""
    position = 0
    for chunk in chunks:
        end = position + len(chunk)
        if end > start and position < start + length:
            yield chunk[max(0, start - position) : min(len(chunk), start + length - position)]
        position = end
        if position >= start + length:
            return


def tus_upload(client: httpx.Client, api: str, size: int, chunk: int, block: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    created = client.post(f"{api}/api/uploads", headers={**TUS, "upload-length": str(size),
                                                         "upload-metadata": "filename YmVuY2gubXA0"})
    created.raise_for_status()
    url = f"{api}{created.headers['location']}"
    offset = 0
    media_id = ""
    while offset < size:
        length = min(chunk, size - offset)
        response = client.patch(url, content=_slice(mp4_like(size, block), offset, length), headers={
            **TUS, "upload-offset": str(offset), "content-type": "application/offset+octet-stream",
            "content-length": str(length)})
        response.raise_for_status()
        offset = int(response.headers["upload-offset"])
        media_id = response.headers.get("media-id", "")
    return time.perf_counter() - started, media_id


def single_upload(client: httpx.Client, api: str, size: int, block: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.post(f"{api}/api/media", content=mp4_like(size, block),
                           headers={"content-length": str(size), "content-type": "video/mp4"})
    response.raise_for_status()
    return time.perf_counter() - started, response.json()["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=50)
    parser.add_argument("--single-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size, chunk, single = args.size_mib * MiB, args.chunk_mib * MiB, args.single_mb * MB
    info = print_machine("tus")
    block = os.urandom(MiB)
    runs = []
    with temporary_dir("bench-tus-") as tmp:
        stack = api_stack(tmp, {"MAX_FILE_SIZE": str(max(single, 100 * MiB))})
        with stack:
            stack.start()
            api = stack.url("api")
            with httpx.Client(timeout=900, headers={"x-api-key": API_KEY}) as client:
                client.get(f"{api}/healthz")
                for run in range(args.runs):
                    row = {"load": load_average()}
                    order = ("single", "tus") if run % 2 == 0 else ("tus", "single")
                    for side in order:
                        if side == "single":
                            row["single_s"], media_id = single_upload(client, api, single, block)
                        else:
                            heap_before = heap_bytes(client, api)
                            row["tus_s"], media_id = tus_upload(client, api, size, chunk, block)
                            row["heap_growth"] = heap_bytes(client, api) - heap_before
                            stored = client.head(f"{api}/files/originals/{media_id}")
                            if int(stored.headers["content-length"]) != size:
                                raise RuntimeError(f"R2 holds {stored.headers['content-length']} bytes, not {size}")
                        client.delete(f"{api}/api/media/{media_id}").raise_for_status()
                    row["tus_mb_s"] = size / MB / row["tus_s"]
                    row["single_mb_s"] = single / MB / row["single_s"]
                    runs.append(row)
                    print(f"run {run + 1}: tus {row['tus_mb_s']:.0f} MB/s, single {row['single_mb_s']:.0f} MB/s, "
                          f"ratio {row['tus_mb_s'] / row['single_mb_s']:.2f}, heap +{row['heap_growth'] / MiB:.1f} MiB, "
                          f"load {row['load']}")
    tus_rate = median(r["tus_mb_s"] for r in runs)
    single_rate = median(r["single_mb_s"] for r in runs)
    print()
    print(table(["tus MiB", "chunk MiB", "tus MB/s", "single MB", "single MB/s", "tus/single", "heap growth MiB (max)"],
                [[args.size_mib, args.chunk_mib, f"{tus_rate:.0f}", args.single_mb, f"{single_rate:.0f}",
                  f"{tus_rate / single_rate:.2f}", f"{max(r['heap_growth'] for r in runs) / MiB:.1f}"]]))
    save_json("tus", {"machine": info, "size": size, "chunk": chunk, "single": single, "runs": runs})


if __name__ == "__main__":
    main()
