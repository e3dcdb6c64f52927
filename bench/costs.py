"""Costs: the platform operations one media item costs on each upload path, counted by the
local runtime's own counters (LOCAL_COUNTERS=1, GET /__local/counters on each worker), not by
reading code. For each case: zero the counters, upload one item, wait until its final event
(`media.ready` / `media.failed`) has reached the subscribed webhook endpoint and both workers
have been quiet for a while, then read the counters, the Ittybit emulator's counters and the
workerd processes' CPU time.

    .venv/bin/python -m bench.costs            # every case, two stacks (with and without the HLS ladder)
    .venv/bin/python -m bench.costs --quick    # single request and tus-4 only

Paths: `single` (POST /api/media), `tus-N` (POST /api/uploads, then the file in N PATCHes),
`direct` (a PUT straight into the bucket's uploads/ prefix, announced by an R2 notification:
PUT /__local/r2/... on the processor). Media: `video` (12 s, 320x240, about 24 MiB so tus cuts
it into R2 parts), `video-8s`, `video-32s` and `video-60s` (small, single request,
ladders of 4, 10 and 17 files cut 4 files a copy message: their differences price one more HLS
file and one more copy message), `image` (a 1280x720 PNG), `big-60` and `big-120` (MP4-looking filler that
Ittybit's probe refuses at once: 6 and 12 whole 10 MiB parts through tus in chunks that are whole
multiples of the part size, as 50 MiB client chunks are; they price a part and a chunk). One webhook endpoint subscribed to every event.

CPU: workerd's clock does not advance during compute, so it is read from outside: the
utime+stime of each worker's workerd processes (/proc) over the case, divided by nothing
(one item a case). It includes the local runtime's glue, wrangler's proxy workerd and any idle
work: an upper bound of what production would bill, named so in the results.

Writes bench/results/costs.json and bench/results/costs.md; docs/scale.md reads them through
bench/scale_model.py.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import (
    API_KEY,
    DEV_VARS,
    ITTYBIT_KEY,
    MiB,
    ROOT,
    argv_flag,
    mp4_like,
    load_average,
    print_machine,
    save_json,
    table,
    temporary_dir,
)
from scripts.pipeline_stack import PipelineStack, Ports
from scripts.webhook_receiver import Receiver, register

sys.path.insert(0, str(ROOT / "src"))
from processor.presets import DEFAULT_PRESETS  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
QUIET_SECONDS = 3.0
SEGMENTS_PER_MESSAGE = 4
CASE_TIMEOUT = 300.0


# -- media -----------------------------------------------------------------------------------
def make_media(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    media = {
        # Noise, nearly lossless: about 2 MiB a second, so tus cuts 12 s into 10 MiB R2 parts.
        "video": (["-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25,noise=alls=60:allf=t",
                   "-f", "lavfi", "-i", "sine=frequency=300", "-t", "12",
                   "-c:v", "libx264", "-preset", "ultrafast", "-qp", "8", "-pix_fmt", "yuv420p",
                   "-c:a", "aac", "-shortest"], "mp4"),
        "video-8s": (["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=330",
                      "-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                      "-c:a", "aac", "-shortest"], "mp4"),
        "video-32s": (["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=360",
                       "-t", "32", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                       "-c:a", "aac", "-shortest"], "mp4"),
        "video-60s": (["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=390",
                       "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                       "-c:a", "aac", "-shortest"], "mp4"),
        "image": (["-f", "lavfi", "-i", "testsrc2=size=1280x720", "-frames:v", "1"], "png"),
    }
    paths = {}
    for name, (args, ext) in media.items():
        path = folder / f"{name}.{ext}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(path)], check=True, timeout=300)
        paths[name] = path
    # MP4-looking filler of 60 and 120 MiB: tus cuts them into 6 and 12 whole R2 parts; Ittybit's
    # probe refuses them at once (media.failed), so they price the upload path's parts and chunks.
    for mib in (60, 120):
        path = folder / f"big-{mib}.mp4"
        with path.open("wb") as out:
            for piece in mp4_like(mib * MiB):
                out.write(piece)
        paths[f"big-{mib}"] = path
    return paths


def presets_without_hls() -> str:
    """RENDITION_PRESETS: the defaults minus the HLS ladder."""
    return json.dumps({
        kind: [{"name": p.name, "kind": p.kind, "options": p.options} for p in presets if p.kind != "adaptive_video"]
        for kind, presets in DEFAULT_PRESETS.items()
    })


# -- counters --------------------------------------------------------------------------------
def worker_counters(url: str) -> dict:
    return httpx.get(f"{url}/__local/counters", timeout=30).raise_for_status().json()


def reset_counters(url: str) -> None:
    httpx.post(f"{url}/__local/counters/reset", timeout=30).raise_for_status()


def emulator_counters(stack: PipelineStack) -> dict:
    return httpx.get(f"{stack.emulator_url}/_emulator/counters",
                     headers={"authorization": f"Bearer {ITTYBIT_KEY}"}, timeout=30).raise_for_status().json()


def workerd_cpu_seconds(stack: PipelineStack) -> dict[str, float]:
    """utime+stime of the workerd processes in each worker's process group."""
    groups = {running.process.pid: running.spec.label or running.worker.name for running in stack.workers.running}
    totals = dict.fromkeys(groups.values(), 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        pgid = int(fields[2])
        if comm == "workerd" and pgid in groups:
            totals[groups[pgid]] += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return totals


def numeric_diff(after, before):
    """after - before for every number in nested dicts (the emulator's counters)."""
    if isinstance(after, dict):
        return {k: numeric_diff(v, before.get(k, 0) if isinstance(before, dict) else 0) for k, v in after.items()}
    if isinstance(after, (int, float)) and not isinstance(after, bool):
        return after - (before if isinstance(before, (int, float)) else 0)
    return after


def d1_tables(stack: PipelineStack) -> dict:
    """Bytes (pages, indexes included) and rows of each table of the local D1 database, read
    from its SQLite file with dbstat: which tables a media item's D1 bytes go to."""
    import sqlite3

    for path in sorted(Path(stack.state_dir).rglob("*.sqlite")):
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            owners = dict(connection.execute("SELECT name, tbl_name FROM sqlite_master WHERE tbl_name IS NOT NULL"))
            if "media" not in owners.values():
                continue
            tables: dict[str, dict] = {}
            for name, size, payload in connection.execute(
                    "SELECT name, SUM(pgsize), SUM(payload) FROM dbstat GROUP BY name"):
                table = owners.get(name, name)
                entry = tables.setdefault(table, {"bytes": 0, "payload": 0, "rows": 0})
                entry["bytes"] += int(size)
                entry["payload"] += int(payload)  # record bytes, indexes included, without page slack
            for table in tables:
                if table in owners.values() and not table.startswith("sqlite_"):
                    tables[table]["rows"] = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            return tables
        except sqlite3.Error:
            continue
        finally:
            connection.close()
    return {}


# -- uploads ---------------------------------------------------------------------------------
def upload_single(client: httpx.Client, path: Path) -> str:
    answer = client.post("/api/media", content=path.read_bytes(), headers={"x-file-name": path.name})
    return answer.raise_for_status().json()["id"]


def upload_tus(client: httpx.Client, path: Path, chunks: int) -> str:
    data = path.read_bytes()
    name = base64.b64encode(path.name.encode()).decode()
    created = client.post("/api/uploads", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}"})
    created.raise_for_status()
    location = created.headers["location"]
    step = -(-len(data) // chunks)
    offset = 0
    media_id = None
    while offset < len(data):
        piece = data[offset: offset + step]
        answer = client.patch(location, content=piece, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        answer.raise_for_status()
        offset += len(piece)
        media_id = answer.headers.get("media-id") or media_id
    if not media_id:
        raise RuntimeError("the last PATCH answered no Media-Id")
    return media_id


def upload_direct(stack: PipelineStack, receiver: Receiver, path: Path, tag: str) -> str:
    key = f"uploads/{tag}-{path.name}"
    httpx.put(f"{stack.processor_url}/__local/r2/media-pipeline/{key}", content=path.read_bytes(),
              timeout=120).raise_for_status()
    expected = Path(key).name
    deadline = time.monotonic() + CASE_TIMEOUT
    while time.monotonic() < deadline:
        for arrival in receiver.delivered().values():
            if arrival.type == "media.created" and arrival.payload["data"].get("name") == expected:
                return arrival.payload["data"]["id"]
        time.sleep(0.2)
    raise RuntimeError(f"no media.created for {expected}")


def wait_final(receiver: Receiver, media_id: str) -> str:
    deadline = time.monotonic() + CASE_TIMEOUT
    while time.monotonic() < deadline:
        for arrival in receiver.delivered().values():
            if arrival.type in ("media.ready", "media.failed") and arrival.payload["data"]["id"] == media_id:
                return arrival.type
        time.sleep(0.2)
    raise RuntimeError(f"{media_id} reached no final event in {CASE_TIMEOUT} s")


def wait_quiet(stack: PipelineStack) -> tuple[dict, dict]:
    """Both workers' counters, once they have not changed for QUIET_SECONDS (bounded)."""
    deadline = time.monotonic() + CASE_TIMEOUT
    last = None
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        now = (worker_counters(stack.api_url), worker_counters(stack.processor_url))
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= QUIET_SECONDS:
            return now
        time.sleep(0.5)
    raise RuntimeError("the workers never went quiet")


def playback_costs(stack: PipelineStack, client: httpx.Client, media_id: str, segments: int = 4) -> dict:
    """What a viewer's requests cost: the master playlist, one variant playlist and `segments`
    segments through GET /hls/..., counted on the API worker (each request an invocation)."""
    item = client.get(f"/api/media/{media_id}").raise_for_status().json()
    master_url = (item.get("playback") or {}).get("hls")
    if not master_url:
        return {}
    reset_counters(stack.api_url)
    cpu_before = workerd_cpu_seconds(stack)
    with httpx.Client(timeout=60) as viewer:
        master = viewer.get(master_url).raise_for_status().text
        variant_rel = next(line for line in master.splitlines() if line and not line.startswith("#"))
        variant_url = master_url.rsplit("/", 1)[0] + "/" + variant_rel
        variant = viewer.get(variant_url).raise_for_status().text
        names = [line for line in variant.splitlines() if line and not line.startswith("#")][:segments]
        for name in names:
            viewer.get(variant_url.rsplit("/", 1)[0] + "/" + name).raise_for_status()
    requests = 2 + len(names)
    cpu = workerd_cpu_seconds(stack)["api"] - cpu_before["api"]
    counts = worker_counters(stack.api_url)
    return {
        "requests": requests, "segments": len(names),
        "per_request": {
            "invocations": counts["invocations"]["fetch"] / requests,
            "r2_class_b": counts["r2"]["class_b"] / requests,
            "r2_class_a": counts["r2"]["class_a"] / requests,
            "d1_statements": counts["d1"]["statements"] / requests,
            "d1_rows_read": counts["d1"]["rows_read"] / requests,
            "kv_reads": counts["kv"]["reads"] / requests,
            "cpu_ms_upper": round(cpu * 1000 / requests, 2),
        },
        "counters": counts,
    }


# -- one case --------------------------------------------------------------------------------
def run_case(stack, client, receiver, media: dict[str, Path], media_name: str, path_name: str, tag: str) -> dict:
    path = media[media_name]
    for url in (stack.api_url, stack.processor_url):
        reset_counters(url)
    emulator_before = emulator_counters(stack)
    cpu_before = workerd_cpu_seconds(stack)
    deliveries_before = len(receiver.arrivals)
    started = time.perf_counter()
    if path_name == "single":
        media_id = upload_single(client, path)
    elif path_name.startswith("tus-"):
        media_id = upload_tus(client, path, int(path_name.split("-")[1]))
    elif path_name == "direct":
        media_id = upload_direct(stack, receiver, path, tag)
    else:
        raise ValueError(path_name)
    final = wait_final(receiver, media_id)
    api_counts, processor_counts = wait_quiet(stack)
    seconds = time.perf_counter() - started
    cpu_after = workerd_cpu_seconds(stack)
    emulator = numeric_diff(emulator_counters(stack), emulator_before)
    item = client.get(f"/api/media/{media_id}").raise_for_status().json()
    renditions = item.get("renditions") or {}
    if isinstance(renditions, dict):
        renditions = list(renditions.values())
    ladder = next((r.get("ladder") for r in renditions if r.get("ladder")), None)
    stored = int(item.get("size") or 0) + sum(int(r.get("size") or 0) for r in renditions if not r.get("ladder"))
    if ladder:
        stored += int(ladder.get("total_size") or 0)
    arrivals = receiver.arrivals[deliveries_before:]
    return {
        "media": media_name, "path": path_name, "media_id": media_id, "final": final,
        "file_bytes": path.stat().st_size, "seconds": round(seconds, 2),
        "renditions": len(renditions),
        "hls_files": (ladder.get("segment_count", 0) + len(ladder.get("rungs") or []) + 1) if ladder else 0,
        "hls_segments": ladder.get("segment_count", 0) if ladder else 0,
        "hls_copy_messages": -(-ladder.get("segment_count", 0) // SEGMENTS_PER_MESSAGE) if ladder else 0,
        "r2_bytes_stored": stored,
        "webhook_attempts": len(arrivals),
        "webhook_events": sorted({a.type for a in arrivals}),
        "cpu_seconds_upper": {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 3) for k in cpu_after},
        "workers": {"api": api_counts, "processor": processor_counts},
        "ittybit": {k: emulator.get(k) for k in ("jobs_created", "probes_created", "ffmpeg_runs", "ffmpeg_seconds",
                                                 "requests_total", "webhooks")},
    }


def one_stack(tmp: Path, media: dict[str, Path], hls: bool, cases: list[tuple[str, str]]) -> list[dict]:
    # Four HLS files a copy message (20 by default), so 8, 32 and 60 s ladders take 1, 2 and 4
    # messages: their differences price a file and a message apart.
    # PROBE_ATTEMPTS=1: the big-* filler fails at its first probe, so it prices the upload path
    # alone (by default an unreadable source is probed three times, about a minute apart in all).
    processor_vars = {"LOCAL_COUNTERS": "1", "HLS_SEGMENTS_PER_MESSAGE": str(SEGMENTS_PER_MESSAGE),
                      "PROBE_ATTEMPTS": "1"}
    if not hls:
        processor_vars["RENDITION_PRESETS"] = presets_without_hls()
    stack = PipelineStack(
        ports=Ports.free(), state_dir=tmp / "state", work_dir=tmp / "work", registry_dir=tmp / "registry",
        dev_vars=DEV_VARS, api_vars={"LOCAL_COUNTERS": "1", "MAX_FILE_SIZE": str(200 * MiB)},
        processor_vars=processor_vars,
    )
    stack.start()
    receiver = Receiver()
    results = []
    try:
        receiver.secrets.append(register(stack.api_url, API_KEY, receiver.url))
        with httpx.Client(base_url=stack.api_url, timeout=120, headers={"x-api-key": API_KEY}) as client:
            for index, (media_name, path_name) in enumerate(cases):
                result = run_case(stack, client, receiver, media, media_name, path_name, f"{'hls' if hls else 'plain'}{index}")
                result["hls_ladder"] = hls
                result["load_average"] = load_average()
                print(f"  {media_name:<10} {path_name:<7} hls={hls!s:<5} {result['final']:<12} {result['seconds']:>6.1f} s  "
                      f"load {result['load_average']}", flush=True)
                results.append(result)
                if hls and media_name == "video-60s":
                    playback = playback_costs(stack, client, result["media_id"])
                    if playback:
                        playback.update({"media": media_name, "path": "playback", "hls_ladder": True})
                        print(f"  playback: {playback['per_request']}", flush=True)
                        results.append(playback)
        TABLES["hls" if hls else "plain"] = {"items": len([r for r in results if r["path"] != "playback"]),
                                              "tables": d1_tables(stack)}
        HEAPS["hls" if hls else "plain"] = {
            label: httpx.get(f"{url}/__local/heap", timeout=30).json()["heap_bytes"]
            for label, url in (("api", stack.api_url), ("processor", stack.processor_url))}
    finally:
        receiver.stop()
        stack.stop()
    return results


HEAPS: dict[str, dict[str, int]] = {}
TABLES: dict[str, dict] = {}


# -- report ----------------------------------------------------------------------------------
def summary_row(r: dict) -> list:
    api, proc = r["workers"]["api"], r["workers"]["processor"]

    def both(get):
        return get(api) + get(proc)

    return [
        r["media"], r["path"], "yes" if r["hls_ladder"] else "no",
        both(lambda c: sum(c["invocations"].values())),
        f"{r['cpu_seconds_upper']['api'] * 1000:.0f} / {r['cpu_seconds_upper']['processor'] * 1000:.0f}",
        both(lambda c: c["d1"]["statements"]), both(lambda c: c["d1"]["rows_read"]),
        both(lambda c: c["d1"]["rows_written"]),
        both(lambda c: c["kv"]["reads"]), both(lambda c: c["kv"]["writes"] + c["kv"]["deletes"]),
        both(lambda c: c["r2"]["class_a"]), both(lambda c: c["r2"]["class_b"]),
        f"{r['r2_bytes_stored'] / MiB:.2f}",
        both(lambda c: c["queues"]["messages_sent"]),
        both(lambda c: c["subrequests"]["fetch"]),
        max(api["per_invocation"]["max_binding_calls"] + api["per_invocation"]["max_fetch_upper"],
            proc["per_invocation"]["max_binding_calls"] + proc["per_invocation"]["max_fetch_upper"]),
        r["hls_files"], r["webhook_attempts"],
    ]


HEADERS = ["media", "path", "HLS", "invocations", "CPU ms api/proc (upper)", "D1 stmts", "D1 rows read",
           "D1 rows written", "KV reads", "KV writes+deletes", "R2 class A", "R2 class B", "R2 MiB stored",
           "queue msgs sent", "fetch subrequests", "max subrequests / invocation (upper)", "HLS files",
           "webhook attempts"]


def main() -> None:
    machine = print_machine("costs: platform operations per media item")
    quick = argv_flag("--quick")
    with temporary_dir("mp-costs-") as tmp:
        media = make_media(tmp / "media")
        if quick:
            with_hls = [("video", "single"), ("video", "tus-4"), ("video-32s", "single"), ("image", "single")]
            without = [("video", "single")]
        else:
            with_hls = [("video", "single"), ("video", "tus-1"), ("video", "tus-4"), ("video", "tus-16"),
                        ("video", "direct"), ("video-8s", "single"), ("video-32s", "single"),
                        ("video-60s", "single"), ("image", "single"), ("image", "direct"),
                        ("big-120", "single"), ("big-60", "tus-3"), ("big-120", "tus-3"), ("big-120", "tus-12")]
            without = [("video", "single"), ("video", "tus-4"), ("video", "direct"),
                       ("video-8s", "single"), ("video-32s", "single")]
        results = one_stack(tmp / "hls", media, True, with_hls)
        results += one_stack(tmp / "plain", media, False, without)
    data = {"machine": machine, "quick": quick, "segments_per_message": SEGMENTS_PER_MESSAGE, "results": results, "heap_bytes_after": HEAPS,
            "d1_tables": TABLES}
    name = "costs-quick" if quick else "costs"
    save_json(name, data)
    markdown = table(HEADERS, [summary_row(r) for r in results if r["path"] != "playback"])
    (RESULTS / f"{name}.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
