"""What a user sees of speed: from the end of an upload to each playable rendition.

One generated 1-minute 1920x1080 video (H.264 + AAC) is uploaded to a fresh full stack with
the default presets (`thumbnail`, `mobile`, `web`, `hls`), one item at a time, `--runs` times.
After each upload's 202 the client polls `GET /api/media/{id}` every `--poll` s (0.05) and notes
when each rendition first shows `completed` (the moment a user's app could show it). Beside each wait:
the Ittybit side of that rendition's path, from the emulator's own clock: the probe task
(created → final) and the rendition's job (created → final: waiting for an ffmpeg slot,
fetching the input, ffmpeg, probing the output), with the job's ffmpeg time on its own
(`ffmpeg_seconds_by_job` of `GET /_emulator/counters`). What is left of the wait is the
pipeline's: the queue and consumer before the probe, the step from the probe to the jobs,
and from the job's final webhook to the rendition stored in R2, D1 and KV; and the client's
own polls, each a `GET /api/media/{id}` of the item in progress (their median round trip is printed).

    .venv/bin/python -m bench.playable              # 3 uploads
    .venv/bin/python -m bench.playable --runs 1 --seconds 20   # quick
    .venv/bin/python -m bench.playable --video film.mp4        # your own file

The pipeline's steps are taken from D1's and the emulator's timestamps (milliseconds, the
same machine clock) and the client's (the 202, the first poll that saw `completed`: up to one
poll interval and one GET late; the interval is the client's sampling, not the pipeline's time,
so it is kept short).
"""

from __future__ import annotations

import argparse
import subprocess
import time
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

ORDER = ("thumbnail", "mobile", "hls", "web")


def generate_video(path: Path, seconds: float) -> Path:
    """A 1920x1080, 30 fps test pattern with a tone; x264 `veryfast`, as a phone or camera would hand over."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-b:v", "4M",
         "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path)],
        check=True, timeout=900,
    )
    return path


def _emulator(stack: PipelineStack, path: str) -> dict:
    response = httpx.get(f"{stack.emulator_url}{path}", headers={"authorization": f"Bearer {ITTYBIT_KEY}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def upload_and_watch(client: httpx.Client, video: Path, timeout: float, poll: float) -> dict:
    """Upload; then poll until final, noting when each rendition was first seen completed (epoch s)."""
    with video.open("rb") as body:
        response = client.post("/api/media", content=body, headers={
            "content-type": "video/mp4", "x-file-name": video.name, "content-length": str(video.stat().st_size)})
    response.raise_for_status()
    uploaded_at = time.time()
    media_id = response.json()["id"]
    seen: dict[str, float] = {}
    get_ms: list[float] = []  # each poll's round trip while the item is in progress
    deadline = time.monotonic() + timeout
    while True:
        asked = time.perf_counter()
        record = client.get(f"/api/media/{media_id}").json()
        get_ms.append((time.perf_counter() - asked) * 1000)
        now = time.time()
        for rendition in record.get("renditions") or []:
            if rendition.get("status") == "completed" and rendition["name"] not in seen:
                seen[rendition["name"]] = now
        if record["status"] in ("completed", "failed"):
            reasons = [record.get("error")] + [f"{r['name']}: {r.get('error')}" for r in record.get("renditions") or []
                                               if r.get("status") == "failed"]
            return {"id": media_id, "status": record["status"], "uploaded_at": uploaded_at, "seen": seen,
                    "reasons": [reason for reason in reasons if reason], "get_ms": get_ms[:-1]}
        if time.monotonic() > deadline:
            raise RuntimeError(f"{media_id} not final in {timeout} s: {record['status']}")
        time.sleep(poll)


def timeline(stack: PipelineStack, watched: dict) -> dict:
    """Per rendition: the wait, the Ittybit side (probe + job, from the emulator) and the pipeline's remainder."""
    media_id = watched["id"]
    media = stack.workers.d1_query("DB", f"SELECT created_at FROM media WHERE id = '{media_id}'")[0]
    probe = stack.workers.d1_query("DB", f"SELECT task_id, updated_at FROM media_probes WHERE media_id = '{media_id}'")[0]
    rows = stack.workers.d1_query(
        "DB", f"SELECT name, job_id, submitted_at, updated_at FROM renditions WHERE media_id = '{media_id}'")
    task = _emulator(stack, f"/tasks/{probe['task_id']}")
    ffmpeg_by_job = _emulator(stack, "/_emulator/counters")["ffmpeg_seconds_by_job"]
    probe_seconds = (task["updated"] - task["created"]) / 1000
    uploaded_ms = watched["uploaded_at"] * 1000
    out = {}
    for row in rows:
        name = row["name"]
        job = _emulator(stack, f"/jobs/{row['job_id']}")
        wait = watched["seen"][name] - watched["uploaded_at"]
        job_seconds = (job["updated"] - job["created"]) / 1000
        ittybit = probe_seconds + job_seconds
        out[name] = {
            "wait_s": wait,
            "ffmpeg_s": ffmpeg_by_job.get(row["job_id"], 0.0),
            "probe_s": probe_seconds,
            "job_s": job_seconds,
            "ittybit_s": ittybit,
            "pipeline_s": wait - ittybit,
            "share": (wait - ittybit) / wait,
            # the pipeline's steps, from D1's and the emulator's clocks (s)
            "upload_to_record_s": (media["created_at"] - uploaded_ms) / 1000,
            "upload_to_probe_task_s": (task["created"] - uploaded_ms) / 1000,
            "probe_to_job_s": (job["created"] - task["updated"]) / 1000,
            "job_final_to_stored_s": (row["updated_at"] - job["updated"]) / 1000,
            "stored_to_seen_s": watched["seen"][name] - row["updated_at"] / 1000,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="uploads, one after another (default 3)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated video (default 60)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="bound on each upload's renditions")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between the client's polls (default 0.05)")
    parser.add_argument("--video", type=Path, help="upload this file instead of generating one (e.g. one made before)")
    args = parser.parse_args()
    info = print_machine("playable")
    results: dict = {"machine": info, "seconds": args.seconds, "poll_seconds": args.poll, "runs": []}
    with temporary_dir("bench-playable-") as tmp:
        if args.video:
            video = args.video
            print(f"uploading {video} ({video.stat().st_size / 1e6:.1f} MB)")
        else:
            started = time.perf_counter()
            video = generate_video(tmp / "film-1080p.mp4", args.seconds)
            print(f"generated a {args.seconds:g} s 1920x1080 video, {video.stat().st_size / 1e6:.1f} MB, "
                  f"in {time.perf_counter() - started:.0f} s")
        # A loaded 2-core machine can take longer than the emulator's default 600 s for a 1080p ladder:
        # its time limits are not what is measured here.
        stack = PipelineStack(ports=Ports.free(), state_dir=tmp / "state", work_dir=tmp / "work",
                              registry_dir=tmp / "registry", dev_vars=DEV_VARS,
                              emulator_args=["--ffmpeg-timeout", "3600", "--download-timeout", "600"])
        stack.start(timeout=900)  # a loaded machine boots Pyodide slowly
        try:
            with httpx.Client(base_url=stack.api_url, timeout=300, headers={"x-api-key": API_KEY}) as client:
                for number in range(args.runs):
                    load_before = load_average()
                    watched = upload_and_watch(client, video, args.timeout, args.poll)
                    if watched["status"] != "completed":
                        raise RuntimeError(f"run {number + 1}: {watched['id']} {watched['status']}: {watched['reasons']}")
                    run = {"load_before": load_before, "load_after": load_average(),
                           "renditions": timeline(stack, watched),
                           "get_in_progress_ms": {"median": median(watched["get_ms"]), "polls": len(watched["get_ms"])}}
                    results["runs"].append(run)
                    print(f"run {number + 1} (load {load_before.split()[0]} → {run['load_after'].split()[0]}): " + ", ".join(
                        f"{name} {r['wait_s']:.1f} s (ffmpeg {r['ffmpeg_s']:.1f}, pipeline {r['pipeline_s']:.2f} = {r['share']:.1%})"
                        for name, r in sorted(run["renditions"].items(), key=lambda kv: kv[1]["wait_s"])))
        finally:
            stack.stop()
    runs = results["runs"]

    def med(name: str, key: str) -> float:
        return median(r["renditions"][name][key] for r in runs if name in r["renditions"])

    names = [name for name in ORDER if all(name in r["renditions"] for r in runs)]
    print()
    print(f"{args.seconds:g} s 1920x1080 video, medians of {len(runs)} uploads (seconds from the upload's 202):")
    print(table(
        ["rendition", "wait s", "ffmpeg s", "Ittybit s (probe + job)", "pipeline s", "pipeline's share",
         "upload → probe task", "probe → job", "job final → stored", "stored → seen"],
        [[name, f"{med(name, 'wait_s'):.1f}", f"{med(name, 'ffmpeg_s'):.1f}", f"{med(name, 'ittybit_s'):.1f}",
          f"{med(name, 'pipeline_s'):.2f}", f"{med(name, 'share'):.1%}",
          f"{med(name, 'upload_to_probe_task_s'):.2f}", f"{med(name, 'probe_to_job_s'):.2f}",
          f"{med(name, 'job_final_to_stored_s'):.2f}", f"{med(name, 'stored_to_seen_s'):.2f}"]
         for name in names],
    ))
    print("GET /api/media/{id} of the item in progress (the client's polls), median ms per run: "
          + ", ".join(f"{r['get_in_progress_ms']['median']:.1f}" for r in runs))
    print(f"load average at end: {load_average()}")
    save_json("playable", results)


if __name__ == "__main__":
    main()
