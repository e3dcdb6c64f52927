"""Pipeline: N generated videos uploaded at concurrency 8 to a fresh local pipeline (API,
processor, Ittybit emulator): wall time from the first upload to the last `completed`,
beside the emulator's own ffmpeg time for the same jobs (GET /_emulator/counters).

The emulator runs at most `ffmpeg_peak_concurrency` ffmpeg processes at once (2 workers
by default, on this 2-core machine), so the least wall time any orchestration could reach
is ffmpeg_seconds / ffmpeg_peak_concurrency; the overhead is measured against that.

    .venv/bin/python -m bench.pipeline                # N=50, 3 runs
    .venv/bin/python -m bench.pipeline -n 6 --runs 1  # quick
    .venv/bin/python -m bench.pipeline -n 10 --no-probe   # without the source probe (PROBE_SOURCES=false)

It also reports, from D1's own timestamps (no polling error), each item's time from its
upload (media.created_at) to its first Ittybit job (renditions.submitted_at) and to its
first completed rendition: the latency the probe before the renditions adds (issue 17).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import (
    API_KEY,
    DEV_VARS,
    ITTYBIT_KEY,
    load_average,
    median,
    print_machine,
    save_json,
    table,
    temporary_dir,
)
from scripts.pipeline_stack import PipelineStack, Ports

SOURCES = ["testsrc", "testsrc2", "smptebars", "rgbtestsrc", "mandelbrot", "life"]


def generate_videos(folder: Path, count: int, seconds: float, size: str = "320x240") -> list[Path]:
    """`count` distinct small MP4s (lavfi sources, 320x240 unless told, 25 fps, a sine tone)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        source = SOURCES[index % len(SOURCES)]
        path = folder / f"video-{index:03d}.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}=size={size}:rate=25",
             "-f", "lavfi", "-i", f"sine=frequency={220 + 10 * index}",
             "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-shortest", str(path)],
            check=True, timeout=120,
        )
        paths.append(path)
    return paths


# Per media item: upload -> probe stored, -> first job submitted, -> first rendition completed (ms).
LATENCY_SQL = """
SELECT m.id, m.created_at,
       (SELECT p.updated_at FROM media_probes p WHERE p.media_id = m.id AND p.status = 'completed') AS probed_at,
       (SELECT MIN(r.submitted_at) FROM renditions r WHERE r.media_id = m.id) AS first_submitted_at,
       (SELECT MIN(r.updated_at) FROM renditions r WHERE r.media_id = m.id AND r.status = 'completed') AS first_done_at
FROM media m ORDER BY m.created_at, m.id
"""


def latencies(stack: PipelineStack) -> dict:
    """Seconds from upload to probe / first job / first completed rendition: the first item's and the median."""
    try:
        rows = stack.workers.d1_query("DB", LATENCY_SQL)
    except Exception:  # an older schema without media_probes
        rows = stack.workers.d1_query("DB", LATENCY_SQL.replace(
            "(SELECT p.updated_at FROM media_probes p WHERE p.media_id = m.id AND p.status = 'completed')", "NULL"))
    out: dict = {}
    for name, column in (("probe", "probed_at"), ("first_job", "first_submitted_at"), ("first_rendition", "first_done_at")):
        values = [(r[column] - r["created_at"]) / 1000 for r in rows if r[column] is not None]
        out[f"{name}_first_item_s"] = values[0] if values else None
        out[f"{name}_median_s"] = median(values) if values else None
    return out


def one_run(tmp: Path, videos: list[Path], concurrency: int, timeout: float, probe: bool = True) -> dict:
    stack = PipelineStack(
        ports=Ports.free(), state_dir=tmp / "state", work_dir=tmp / "work",
        registry_dir=tmp / "registry", dev_vars=DEV_VARS,
        processor_vars={} if probe else {"PROBE_SOURCES": "false"},
    )
    load_before = load_average()
    started = time.perf_counter()
    stack.start()
    ready_seconds = time.perf_counter() - started
    try:
        with httpx.Client(base_url=stack.api_url, timeout=120, headers={"x-api-key": API_KEY}) as client:

            def upload(path: Path) -> str:
                response = client.post("/api/media", content=path.read_bytes(),
                                       headers={"content-type": "video/mp4", "x-file-name": path.name})
                response.raise_for_status()
                return response.json()["id"]

            first_upload = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                ids = list(pool.map(upload, videos))
            uploaded = time.perf_counter() - first_upload
            deadline = time.monotonic() + timeout
            first_job = last_ffmpeg = None  # when the emulator saw its first job / finished its last ffmpeg
            expected_runs = jobs_seen = last_job = None
            while True:
                counters = httpx.get(f"{stack.emulator_url}/_emulator/counters",
                                     headers={"authorization": f"Bearer {ITTYBIT_KEY}"}, timeout=30).json()
                now = time.perf_counter() - first_upload
                if first_job is None and counters["jobs_created"] > 0:
                    first_job = now
                if jobs_seen != counters["jobs_created"]:
                    jobs_seen, last_job = counters["jobs_created"], now
                if expected_runs != counters["ffmpeg_runs"]:
                    expected_runs, last_ffmpeg = counters["ffmpeg_runs"], now
                stats = client.get("/api/stats").json()
                if stats["completed"] + stats["failed"] >= len(ids):
                    wall = time.perf_counter() - first_upload
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not finished in {timeout} s: {stats}")
                time.sleep(0.2)
        counters = httpx.get(f"{stack.emulator_url}/_emulator/counters",
                             headers={"authorization": f"Bearer {ITTYBIT_KEY}"}, timeout=30).json()
        latency = latencies(stack)
    finally:
        stack.stop()
    peak = max(1, counters["ffmpeg_peak_concurrency"])
    floor = counters["ffmpeg_seconds"] / peak
    return {
        "n": len(videos), "completed": stats["completed"], "failed": stats["failed"],
        "ready_seconds": ready_seconds, "upload_seconds": uploaded, "wall_seconds": wall,
        "ffmpeg_seconds": counters["ffmpeg_seconds"], "ffmpeg_runs": counters["ffmpeg_runs"],
        "ffmpeg_peak_concurrency": counters["ffmpeg_peak_concurrency"], "jobs_created": counters["jobs_created"],
        "ffmpeg_floor_seconds": floor, "overhead": wall / floor - 1 if floor else None,
        "first_job_seconds": first_job, "last_job_created_seconds": last_job, "last_ffmpeg_end_seconds": last_ffmpeg,
        "tail_seconds": wall - last_ffmpeg if last_ffmpeg is not None else None,
        "load_before": load_before, "load_after": load_average(), "probe": probe, **latency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="videos (default 50)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each generated video")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--no-probe", action="store_true", help="PROBE_SOURCES=false: renditions without the probe")
    parser.add_argument("--size", default="320x240",
                        help="source size; 1920x1080 makes the same renditions with and without the probe")
    args = parser.parse_args()
    info = print_machine("pipeline")
    results = {"machine": info, "runs": []}
    with temporary_dir("bench-pipeline-") as tmp:
        videos = generate_videos(tmp / "videos", args.n, args.seconds, args.size)
        print(f"generated {len(videos)} videos of {args.seconds:g} s, {sum(p.stat().st_size for p in videos) / 1e6:.1f} MB in all")
        for number in range(args.runs):
            run = one_run(tmp / f"run-{number}", videos, args.concurrency, args.timeout, probe=not args.no_probe)
            results["runs"].append(run)
            print(f"run {number + 1}: " + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in run.items()))
    runs = results["runs"]
    print()
    print(f"N={args.n}, upload concurrency {args.concurrency}, medians of {len(runs)} runs:")
    print(table(
        ["videos", "completed / failed", "wall s (first upload → last completed)", "ffmpeg s (sum)", "ffmpeg runs",
         "peak ffmpeg concurrency", "ffmpeg s / peak", "overhead vs ffmpeg s / peak",
         "first Ittybit job after s", "last Ittybit job created after s", "last completed after last ffmpeg s", "stack ready s", "load (1 min) before/after"],
        [[
            args.n, f"{median(r['completed'] for r in runs):.0f} / {median(r['failed'] for r in runs):.0f}",
            f"{median(r['wall_seconds'] for r in runs):.1f}", f"{median(r['ffmpeg_seconds'] for r in runs):.1f}",
            f"{median(r['ffmpeg_runs'] for r in runs):.0f}", f"{median(r['ffmpeg_peak_concurrency'] for r in runs):.0f}",
            f"{median(r['ffmpeg_floor_seconds'] for r in runs):.1f}", f"{median(r['overhead'] for r in runs) * 100:+.1f}%",
            f"{median(r['first_job_seconds'] for r in runs):.1f}", f"{median(r['last_job_created_seconds'] for r in runs):.1f}",
            f"{median(r['tail_seconds'] for r in runs):.1f}",
            f"{median(r['ready_seconds'] for r in runs):.1f}",
            " / ".join(f"{r['load_before'].split()[0]}→{r['load_after'].split()[0]}" for r in runs),
        ]],
    ))
    def fmt(key: str) -> str:
        values = [r[key] for r in runs if r.get(key) is not None]
        return f"{median(values):.2f}" if values else "-"

    print()
    print(f"probe {'off (PROBE_SOURCES=false)' if args.no_probe else 'on'}; seconds from an item's upload (D1 timestamps), medians of runs:")
    print(table(
        ["", "first item", "median item"],
        [[f"upload → {label}", fmt(f"{key}_first_item_s"), fmt(f"{key}_median_s")]
         for label, key in (("probe stored", "probe"), ("first Ittybit job", "first_job"),
                            ("first rendition completed", "first_rendition"))],
    ))
    print(f"load average at end: {load_average()}")
    save_json("pipeline-noprobe" if args.no_probe else "pipeline", results)


if __name__ == "__main__":
    main()
