"""Reliability runs: many uploads under injected Ittybit faults, and a crash of the whole stack.

Each test module starts its own PipelineStack (free ports, private state) with a fast reconcile
(RECONCILE_AFTER_SECONDS=3) and small rendition presets, an HLS ladder for videos included (the
point is the orchestration, not ffmpeg's speed on 1920-pixel frames). Uploads are mixed across the
three paths (`upload_mixed`): one request, tus (chunks that divide neither the 10 MiB part size nor
the file; with the API key or a one-time URL), and straight into the bucket (R2 put plus its
notification). The quick variant runs by default; the full one with

    RELIABILITY_FULL=1 scripts/test tests/reliability

RELIABILITY_ITEMS / RELIABILITY_CONCURRENCY / RELIABILITY_BOUND_SECONDS override either.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from api.crons import ORPHAN_SWEEP_CRON
from local_runtime.stack import trigger_cron
from scripts.pipeline_stack import ROOT, PipelineStack, Ports, read_dev_vars
from tests.e2e.processor_helpers import make_noise_video
from tests.e2e.processor_helpers import Emulator

DEV_VARS = ROOT / ".dev.vars.example"  # never a developer's .dev.vars
SECRETS = read_dev_vars(DEV_VARS)
API_KEY = SECRETS["API_KEY"]
ITTYBIT_KEY = SECRETS["ITTYBIT_API_KEY"]
FINAL = ("completed", "failed")
RECONCILE_CRON = "*/5 * * * *"

FULL = os.environ.get("RELIABILITY_FULL", "") not in ("", "0")
ITEMS = int(os.environ.get("RELIABILITY_ITEMS") or (500 if FULL else 24))
CONCURRENCY = int(os.environ.get("RELIABILITY_CONCURRENCY") or (32 if FULL else 8))
# The stated bound: every item final within this many seconds of the last upload's answer.
BOUND_SECONDS = float(os.environ.get("RELIABILITY_BOUND_SECONDS") or (2400 if FULL else 150))

# Same names and counts as the defaults (video 3, image 2, audio 1), small outputs.
PRESETS = {
    "video": [
        {"name": "web", "kind": "video", "options": {"format": "mp4", "width": 160, "quality": "low"}},
        {"name": "mobile", "kind": "video", "options": {"format": "mp4", "width": 96, "quality": "very_low"}},
        {"name": "thumbnail", "kind": "image", "options": {"format": "webp", "width": 64, "start": 0.2}},
        # An HLS ladder of two rungs (the emulator's --hls-rungs below), copied into renditions/<id>/hls/.
        {"name": "hls", "kind": "adaptive_video", "options": {"format": "hls", "max_long": 256, "quality": "low"}},
    ],
    "image": [
        {"name": "large", "kind": "image", "options": {"format": "webp", "width": 96}},
        {"name": "thumbnail", "kind": "image", "options": {"format": "webp", "width": 32}},
    ],
    "audio": [{"name": "web", "kind": "audio", "options": {"format": "mp3", "quality": "low"}}],
}
EXTENSIONS = {"mp4": "mp4", "webp": "webp", "mp3": "mp3"}
HLS_RUNGS = "48,96"  # short sides: the 128x96 clip gets a ladder of two rungs
BUCKET = "media-pipeline"
PATHS = ("single", "tus", "direct")
# tus chunk sizes: none divides the 10 MiB part size (api.tus_protocol.DEFAULT_PART_SIZE) or the
# files, so PATCHes end mid-part and the stash carries bytes into the next part.
TUS_CHUNKS = (7_001, 65_537, 3 * 1024 * 1024 + 7)

# 20% of Ittybit API answers replaced by 5xx (10%) or 429 (10%), 10% of webhooks dropped, 10% duplicated.
FAULTS = {
    "error_rate": 0.10,
    "rate_limit_rate": 0.10,
    "retry_after": 1,
    "drop_webhook_rate": 0.10,
    "duplicate_webhook_rate": 0.10,
    "seed": 20240605,
}


def log(message: str) -> None:
    """Progress on the terminal (pytest -s) and in the captured output of a failure."""
    print(f"[reliability {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def idempotency_key(media_id: str, rendition: str, created_at: int) -> str:
    """As the processor makes it: the first 32 hex digits of sha256(media_id:created_at:rendition),
    created_at being the media row's (epoch ms; read it from D1)."""
    return hashlib.sha256(f"{media_id}:{int(created_at)}:{rendition}".encode()).hexdigest()[:32]


def created_at(stack, ids) -> dict[str, int]:
    """The D1 created_at (epoch ms) of each media id, the part of the Idempotency-Key a client never sees."""
    found: dict[str, int] = {}
    ids = sorted(ids)
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        quoted = ", ".join(f"'{media_id}'" for media_id in chunk)
        found.update({row["id"]: int(row["created_at"]) for row in d1(stack, f"SELECT id, created_at FROM media WHERE id IN ({quoted})")})
    return found


def rendition_keys(media_id: str, kind: str) -> list[str]:
    """The file key of each rendition (an HLS ladder's: its master playlist)."""
    return [
        f"renditions/{media_id}/hls/master.m3u8" if p["options"]["format"] == "hls"
        else f"renditions/{media_id}/{p['name']}.{EXTENSIONS[p['options']['format']]}" for p in PRESETS[kind]
    ]


def ladder_keys(api: httpx.Client, media_id: str) -> list[str]:
    """Every key of a video's HLS ladder, read from its playlists over /files/: the master, each
    variant playlist and each segment it names. AssertionError when a playlist cannot be read."""
    from common.hls import parse_master, parse_media

    base = f"renditions/{media_id}/hls/"
    master = api.get(f"/files/{base}master.m3u8")
    assert master.status_code == 200, (media_id, master.status_code)
    keys = [base + "master.m3u8"]
    for variant in parse_master(master.content).variants:
        playlist = api.get(f"/files/{base}{variant.uri}")
        assert playlist.status_code == 200, (media_id, variant.uri, playlist.status_code)
        keys.append(base + variant.uri)
        keys.extend(base + uri for uri in parse_media(playlist.content, variant.uri).files())
    return keys


def make_stack(tmp: Path, ports: Ports | None = None) -> PipelineStack:
    return PipelineStack(
        ports=ports or Ports.free(),
        state_dir=tmp / "state",
        work_dir=tmp / "work",
        registry_dir=tmp / "registry",
        dev_vars=DEV_VARS,
        processor_vars={"RECONCILE_AFTER_SECONDS": "3", "RENDITION_PRESETS": json.dumps(PRESETS),
                        # Outbound webhooks retry within seconds here (hours in production), and the
                        # cron publishes and resends what a crash left behind after 5 s (1 and 15 min).
                        "WEBHOOK_RETRY_SCHEDULE": "1,1,2,2,3,5,5,10,10,10,10,10",
                        "WEBHOOK_TIMEOUT_SECONDS": "10",
                        "WEBHOOK_PUBLISH_AFTER_SECONDS": "5", "WEBHOOK_RESEND_AFTER_SECONDS": "5"},
        emulator_args=["--hls-rungs", HLS_RUNGS],
    )


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    """One stack per test module (load, crash), with its own state."""
    pipeline = make_stack(tmp_path_factory.mktemp("reliability-" + request.module.__name__.rsplit("_", 1)[-1]))
    pipeline.start()
    yield pipeline
    pipeline.stop()


# -- media ---------------------------------------------------------------------------------------
def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str
    content_type: str
    data: bytes


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> list[Sample]:
    """A few distinct tiny files, made once; each upload of one is a separate media item."""
    tmp = tmp_path_factory.mktemp("reliability-media")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=128x96:rate=10:duration=1",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            "-movflags", "+faststart", str(tmp / "clip.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=1:duration=1", "-frames:v", "1", str(tmp / "still.png"))
    _ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=64x48:rate=1", "-frames:v", "1", str(tmp / "still.jpg"))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=1", "-ar", "8000", "-ac", "1", str(tmp / "tone.wav"))
    return [
        Sample("clip.mp4", "video", "video/mp4", (tmp / "clip.mp4").read_bytes()),
        Sample("still.png", "image", "image/png", (tmp / "still.png").read_bytes()),
        Sample("tone.wav", "audio", "audio/wav", (tmp / "tone.wav").read_bytes()),
        Sample("still.jpg", "image", "image/jpeg", (tmp / "still.jpg").read_bytes()),
    ]


MiB = 1024 * 1024
PART = 10 * MiB  # the tus part size (api.tus_protocol.DEFAULT_PART_SIZE)


@pytest.fixture(scope="session")
def big_video(tmp_path_factory) -> bytes:
    """A 3 s 640x360 lossless-noise video of over two tus parts and a MiB (about 22 MiB)."""
    data = make_noise_video(tmp_path_factory.mktemp("reliability-big") / "noise.mp4").read_bytes()
    assert len(data) > 2 * PART + MiB
    return data


# -- clients ---------------------------------------------------------------------------------------
# The e2e tests' client of the emulator's admin API serves here too.
EmulatorAdmin = Emulator


def api_client(stack: PipelineStack, concurrency: int = 8) -> httpx.Client:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.Client(base_url=stack.api_url, timeout=120, headers={"X-API-Key": API_KEY}, limits=limits)


UPLOAD_TRIES = 3
TUS = {"Tus-Resumable": "1.0.0"}
TUS_TRIES = 10


@dataclass
class UploadRun:
    accepted: dict[str, str] = field(default_factory=dict)  # media id -> kind
    paths: dict[str, str] = field(default_factory=dict)  # media id -> single, tus or direct
    upload_ids: dict[str, str] = field(default_factory=dict)  # media id -> tus upload id
    bucket_keys: dict[str, str] = field(default_factory=dict)  # media id -> the uploads/ key it was put at
    bucket_bytes: dict[str, bytes] = field(default_factory=dict)  # media id -> what was put there
    digests: dict[str, str] = field(default_factory=dict)  # media id -> sha256 of the bytes sent
    refused: Counter = field(default_factory=Counter)  # path:status or path:exception name -> count
    retried_503: int = 0  # answers "nothing was stored, retry" that the client retried, as clients do
    tus_resumed: int = 0  # PATCHes that failed and were resumed at HEAD's offset
    tus_patches: int = 0
    one_time_urls: int = 0
    started: float = 0.0
    finished: float = 0.0

    def path_counts(self) -> dict[str, int]:
        return dict(Counter(self.paths.values()))


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def tus_upload(api: httpx.Client, data: bytes, name: str, chunk: int, one_time: bool = False,
               run: UploadRun | None = None, lock: threading.Lock | None = None) -> str:
    lock = lock or threading.Lock()
    """A tus upload of `data` in `chunk`-byte PATCHes, as a tus client makes it: created with the API key
    or through a one-time URL (`POST /api/direct-uploads`, then no key at all); a PATCH that fails is
    resumed at HEAD's offset. The media id (the last PATCH's Media-Id)."""
    headers = {**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {_b64(name)}"}
    if one_time:
        grant = api.post("/api/direct-uploads", json={"max_size": len(data), "expires_in": 3600,
                                                      "metadata": {"run": "reliability"}})
        assert grant.status_code == 201, grant.text
        created = httpx.post(grant.json()["upload_url"], headers=headers, timeout=120)
    else:
        created = api.post("/api/uploads", headers=headers)
    if created.status_code != 201:
        raise UploadRefused(f"create:{created.status_code}")
    url = str(httpx.URL(str(api.base_url)).join(created.headers["location"]))
    upload_id = url.rsplit("/", 1)[-1]
    offset, media_id, failures = 0, None, 0
    with httpx.Client(timeout=120) as client:  # the upload URL is its own credential: no key
        while offset < len(data):
            try:
                answer = client.patch(url, content=data[offset:offset + chunk], headers={
                    **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
            except httpx.HTTPError:
                answer = None
            if run is not None:
                with lock:
                    run.tus_patches += 1
            if answer is not None and answer.status_code == 204:
                offset = int(answer.headers["upload-offset"])
                media_id = answer.headers.get("media-id") or media_id
                continue
            failures += 1
            if failures >= TUS_TRIES:
                raise UploadRefused(f"patch:{answer.status_code if answer is not None else 'error'}")
            if run is not None:
                with lock:
                    run.tus_resumed += 1
            time.sleep(1)
            offset = int(client.head(url, headers=TUS).headers["upload-offset"])
        if media_id is None:
            media_id = client.head(url, headers=TUS).headers["media-id"]
    if run is not None:
        with lock:
            run.upload_ids[media_id] = upload_id
    return media_id


class UploadRefused(Exception):
    """An upload that got no 2xx, with what it got."""


def direct_upload(stack: PipelineStack, client: httpx.Client, key: str, data: bytes) -> str:
    """Put `data` straight into the bucket at `key` (R2 then notifies the jobs queue): the media id,
    derived from bucket, key and ETag as the processor derives it."""
    from common.ids import media_id_for_object

    for attempt in range(UPLOAD_TRIES):  # S3 clients retry a 5xx; the same bytes give the same ETag and id
        answer = client.put(f"{stack.processor_url}/__local/r2/{BUCKET}/{key}", content=data)
        if answer.status_code < 500 or attempt == UPLOAD_TRIES - 1:
            break
        time.sleep(1)
    if answer.status_code != 201:
        raise UploadRefused(f"put:{answer.status_code}")
    return media_id_for_object(BUCKET, key, answer.json()["etag"])


def upload_many(stack: PipelineStack, samples: list[Sample], count: int, concurrency: int,
                stop: threading.Event | None = None, on_accept=None, paths=PATHS, tag: str = "") -> UploadRun:
    """`count` uploads cycling through the samples and, independently, the paths (so every sample
    goes every way), `concurrency` at a time. tus uploads cycle through TUS_CHUNKS and alternate
    between the API key and a one-time URL."""
    run = UploadRun(started=time.monotonic())
    lock = threading.Lock()
    tag = tag or f"{time.time_ns():x}"
    api = api_client(stack, concurrency)
    bucket = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=concurrency))

    def single(sample: Sample, name: str) -> str:
        for attempt in range(UPLOAD_TRIES):
            response = api.post("/api/media", content=sample.data,
                                headers={"content-type": sample.content_type, "x-file-name": name})
            if response.status_code != 503 or attempt == UPLOAD_TRIES - 1:
                break
            with lock:  # 503 means nothing was stored (the API says so): a client tries again
                run.retried_503 += 1
            time.sleep(float(response.headers.get("retry-after", "1")))
        if response.status_code != 202:
            raise UploadRefused(str(response.status_code))
        return response.json()["id"]

    def one(index: int) -> None:
        if stop is not None and stop.is_set():
            return
        sample = samples[index % len(samples)]
        path = paths[index % len(paths)]
        name = f"{index}-{sample.name}"
        try:
            if path == "single":
                media_id = single(sample, name)
            elif path == "tus":
                one_time = (index // len(paths)) % 2 == 1
                chunk = TUS_CHUNKS[(index // len(paths)) % len(TUS_CHUNKS)]
                media_id = tus_upload(api, sample.data, name, chunk, one_time, run, lock)
                if one_time:
                    with lock:
                        run.one_time_urls += 1
            else:
                media_id = direct_upload(stack, bucket, f"uploads/{tag}-{name}", sample.data)
                with lock:
                    run.bucket_keys[media_id] = f"uploads/{tag}-{name}"
                    run.bucket_bytes[media_id] = sample.data
        except UploadRefused as refused:
            with lock:
                run.refused[f"{path}:{refused}"] += 1
            return
        except httpx.HTTPError as error:
            with lock:
                run.refused[f"{path}:{type(error).__name__}"] += 1
            return
        with lock:
            run.accepted[media_id] = sample.kind
            run.paths[media_id] = path
            run.digests[media_id] = hashlib.sha256(sample.data).hexdigest()
            if on_accept is not None:
                on_accept(len(run.accepted))

    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, range(count)))
    finally:
        api.close()
        bucket.close()
    run.finished = time.monotonic()
    return run


# -- local state ---------------------------------------------------------------------------------
def d1(stack: PipelineStack, sql: str) -> list[dict]:
    return stack.workers.d1_query("DB", sql)


def r2_keys(stack: PipelineStack) -> list[str]:
    """Every key in the local bucket, read (read-only) from Miniflare's own object index under the
    state directory (v3/r2/miniflare-R2BucketObject/<id>.sqlite, table _mf_objects): a listing that
    does not depend on the keys the test expects. The stack has one bucket."""
    import sqlite3

    folder = stack.state_dir / "v3" / "r2" / "miniflare-R2BucketObject"
    files = [f for f in folder.glob("*.sqlite") if f.name != "metadata.sqlite"]
    assert files, f"no local R2 object index under {folder}"
    keys: list[str] = []
    for path in files:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            keys += [row[0] for row in connection.execute("SELECT key FROM _mf_objects")]
        finally:
            connection.close()
    return keys


def status_counts(stack: PipelineStack) -> dict[str, int]:
    return {row["status"]: row["n"] for row in d1(stack, "SELECT status, COUNT(*) AS n FROM media GROUP BY status")}


def kv_keys(stack: PipelineStack, prefix: str = "media:") -> set[str]:
    """Every key in the local METADATA namespace under `prefix`."""
    return set(stack.workers.kv_keys("METADATA", prefix))


def kv_get(stack: PipelineStack, key: str) -> str | None:
    """One key's value in the local METADATA namespace; None when it is not there."""
    return stack.workers.kv_get("METADATA", key)


def drive_to_final(stack: PipelineStack, ids: set[str], bound: float, every: float = 5.0) -> float:
    """Trigger the reconcile cron every `every` seconds until every id is final in D1; the seconds taken."""
    start = time.monotonic()
    quoted = ",".join(f"'{media_id}'" for media_id in ids)
    while True:
        cron = trigger_cron(stack.processor_url, RECONCILE_CRON, timeout=120)
        rows = d1(stack, f"SELECT status, COUNT(*) AS n FROM media WHERE id IN ({quoted}) GROUP BY status")
        counts = {row["status"]: row["n"] for row in rows}
        final = sum(counts.get(status, 0) for status in FINAL)
        elapsed = time.monotonic() - start
        log(f"{elapsed:6.1f}s cron {cron}: {counts} ({final}/{len(ids)} final)")
        if final == len(ids):
            return elapsed
        if elapsed > bound:
            pytest.fail(f"{len(ids) - final} of {len(ids)} items not final after {bound:.0f}s: {counts}")
        time.sleep(every)


def in_chunks(ids, size: int = 100):
    """`ids` sorted, in SQL `IN (...)` lists of at most `size` (a wrangler command line each)."""
    ids = sorted(ids)
    for start in range(0, len(ids), size):
        yield ", ".join(f"'{i}'" for i in ids[start:start + size])


# -- the checks after a run ------------------------------------------------------------------------
def check_originals(api: httpx.Client, digests: dict[str, str], concurrency: int) -> int:
    """Every original is byte-identical to what was sent (sha256 of GET /files/originals/<id>)."""
    def digest(media_id: str) -> str | int:
        answer = api.get(f"/files/originals/{media_id}")
        return hashlib.sha256(answer.content).hexdigest() if answer.status_code == 200 else answer.status_code

    with ThreadPoolExecutor(concurrency) as pool:
        found = dict(zip(digests, pool.map(digest, digests)))
    assert {m: d for m, d in found.items() if d != digests[m]} == {}, "originals that differ from what was sent"
    return len(found)


def check_ladders(stack: PipelineStack, api: httpx.Client, videos, concurrency: int) -> dict[str, list[str]]:
    """Every video's HLS ladder is complete: one hls_ladders row for its rendition's job, every planned
    copy chunk done, and every file its playlists name in R2 (segment_count of them). Its keys."""
    rows = []
    for quoted in in_chunks(videos):
        rows += d1(stack, "SELECT l.media_id, l.segment_count, l.chunks, (SELECT COUNT(*) FROM hls_copy_chunks c"
                          " WHERE c.media_id = l.media_id AND c.rendition = l.rendition AND c.job_id = l.job_id) AS done"
                          " FROM hls_ladders l JOIN renditions r ON r.media_id = l.media_id AND r.name = l.rendition"
                          f" AND r.job_id = l.job_id WHERE r.name = 'hls' AND l.media_id IN ({quoted})")
    ladders = {row["media_id"]: row for row in rows}
    assert len(rows) == len(ladders) and set(ladders) == set(videos), "a video without one ladder row for its job"
    assert [m for m, row in ladders.items() if row["done"] != row["chunks"] or not row["chunks"]] == []
    with ThreadPoolExecutor(concurrency) as pool:
        keys = dict(zip(videos, pool.map(lambda m: ladder_keys(api, m), videos)))
        flat = [key for found in keys.values() for key in found]
        statuses = dict(zip(flat, pool.map(lambda key: api.head(f"/files/{key}").status_code, flat)))
    assert {k: s for k, s in statuses.items() if s != 200} == {}, "ladder files missing from R2"
    segments = {m: sum(1 for k in found if k.endswith(".ts")) for m, found in keys.items()}
    assert {m: n for m, n in segments.items() if n != ladders[m]["segment_count"]} == {}
    assert all(sum(1 for k in found if k.endswith(".m3u8")) >= 3 for found in keys.values())  # master + 2 rungs
    return keys


def check_stats(api: httpx.Client, stack: PipelineStack) -> dict:
    """GET /api/stats equals the counts on D1."""
    stats = api.get("/api/stats").json()
    counts = d1(stack, "SELECT COUNT(*) AS total, SUM(status='pending') AS pending, "
                       "SUM(status='processing') AS processing, SUM(status='completed') AS completed, "
                       "SUM(status='failed') AS failed FROM media")[0]
    counts = {k: int(v or 0) for k, v in counts.items()}
    assert {k: stats[k] for k in counts} == counts
    assert stats["processed"] == counts["completed"]
    return counts


# Tables holding rows of a media item, and the column naming it.
MEDIA_TABLES = {"media": "id", "renditions": "media_id", "hls_ladders": "media_id", "hls_copy_chunks": "media_id",
                "media_probes": "media_id", "probe_failures": "media_id", "media_metadata": "media_id", "job_polls": "media_id",
                "uploads": "media_id"}


def delete_half_and_check(stack: PipelineStack, api: httpx.Client, run: UploadRun, ladders: dict[str, list[str]],
                          concurrency: int, figures: dict, every_upload_finished: bool = True) -> list[str]:
    """DELETE half the items; then nothing of them is left in R2 (original, renditions, ladder files),
    D1 (MEDIA_TABLES; their tus upload rows and one-time URLs), KV, and every kept file is still there.
    The deleted ids."""
    ordered = sorted(run.accepted)
    deleted, kept = ordered[::2], ordered[1::2]
    keys = {m: [f"originals/{m}", *rendition_keys(m, run.accepted[m]), *ladders.get(m, [])] for m in ordered}
    for media_id in ordered[:4]:  # the recorded keys are the ones the test derives
        item = api.get(f"/api/media/{media_id}").json()
        assert sorted([item["original_key"], *(r["output_key"] for r in item["renditions"])]) == \
            sorted([f"originals/{media_id}", *rendition_keys(media_id, run.accepted[media_id])])
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(lambda media_id: api.delete(f"/api/media/{media_id}").status_code, deleted))
    figures["delete_seconds"] = round(time.monotonic() - started, 1)
    assert answers == [200] * len(deleted)
    time.sleep(2)  # anything still in flight (a late duplicate webhook) would land now

    deleted_keys = [key for media_id in deleted for key in keys[media_id]]
    kept_keys = [key for media_id in kept for key in keys[media_id]]
    with ThreadPoolExecutor(concurrency) as pool:
        gone = dict(zip(deleted_keys, pool.map(lambda key: api.head(f"/files/{key}").status_code, deleted_keys)))
        there = dict(zip(kept_keys, pool.map(lambda key: api.head(f"/files/{key}").status_code, kept_keys)))
        media_answers = list(pool.map(lambda m: api.get(f"/api/media/{m}").status_code, deleted))
        tus_gone = [u for m, u in run.upload_ids.items() if m in set(deleted)]
        upload_answers = list(pool.map(lambda u: api.head(f"/api/uploads/{u}", headers=TUS).status_code, tus_gone))
    assert {k: s for k, s in gone.items() if s != 404} == {}
    assert {k: s for k, s in there.items() if s != 200} == {}
    assert media_answers == [404] * len(deleted)
    assert [s for s in upload_answers if s not in (404, 410)] == []
    figures["r2_checked"] = {"deleted_keys_404": len(gone), "kept_keys_200": len(there),
                             "ladder_keys_deleted": sum(len(ladders.get(m, [])) for m in deleted)}
    # A finished tus upload removes its stashes best effort (R2 may refuse the delete under load,
    # api.resumable_uploads); one left is the hourly sweep's (api.crons): run it as it would run an
    # hour later, and count what it took.
    stashes = [key for key in r2_keys(stack) if key.startswith("tus/")]
    an_hour_on = datetime.now(timezone.utc) + timedelta(hours=1, minutes=5)
    assert trigger_cron(stack.api_url, ORPHAN_SWEEP_CRON, scheduled_time=an_hour_on, timeout=120) == 200
    # The bucket's own listing: no key of a deleted item under any prefix (originals/, renditions/,
    # the uploads/ key it was put at, a tus stash), and nothing left in uploads/ or tus/ at all.
    listing = r2_keys(stack)
    figures["tus_stashes_swept_by_the_hourly_cron"] = len(set(stashes) - set(listing))
    gone_ids = set(deleted)
    gone_uploads = {run.upload_ids[m] for m in deleted if m in run.upload_ids}
    gone_puts = {run.bucket_keys[m] for m in deleted if m in run.bucket_keys}
    left_in_r2 = [key for key in listing if key in gone_puts or any(part in gone_ids | gone_uploads
                                                                    for part in key.split("/"))]
    assert left_in_r2 == [], f"R2 keys of deleted items: {left_in_r2[:10]}"
    unfinished = [key for key in listing if key.startswith(("uploads/", "tus/"))]
    if every_upload_finished:
        assert unfinished == []
    else:  # a crash: uploads cut off by it may have left their bytes; none of an item that exists
        assert [key for key in unfinished if key in set(run.bucket_keys.values())] == []
        figures["r2_unfinished_upload_keys"] = len(unfinished)
    figures["r2_keys_after_delete"] = dict(Counter(key.split("/", 1)[0] for key in listing))

    left: Counter = Counter()
    for quoted in in_chunks(deleted):
        columns = ", ".join(f"(SELECT COUNT(*) FROM {table} WHERE {column} IN ({quoted})) AS {table}"
                            for table, column in MEDIA_TABLES.items())
        row = d1(stack, f"SELECT {columns}")[0]
        left.update({table: int(n) for table, n in row.items() if n})
    for quoted in in_chunks(tus_gone):
        row = d1(stack, f"SELECT (SELECT COUNT(*) FROM uploads WHERE id IN ({quoted})) AS uploads_by_id,"
                        f" (SELECT COUNT(*) FROM upload_tokens WHERE upload_id IN ({quoted})) AS upload_tokens")[0]
        left.update({table: int(n) for table, n in row.items() if n})
    assert dict(left) == {}, f"D1 rows of deleted items: {dict(left)}"
    assert d1(stack, "SELECT COUNT(*) AS n FROM media")[0]["n"] == len(kept)
    figures["d1_tables_checked"] = [*MEDIA_TABLES, "upload_tokens"]

    listed = kv_keys(stack)
    assert sorted(f"media:{m}" for m in deleted if f"media:{m}" in listed) == []
    for media_id in deleted[:3]:
        assert kv_get(stack, f"media:{media_id}") is None
    figures["kv_keys_after_delete"] = len(listed)
    stats = api.get("/api/stats").json()
    assert stats["total"] == len(kept) and stats["completed"] == len(kept)
    return deleted


def event_key(arrival) -> tuple[str, str]:
    """(media id, type[/rendition name]) of a delivery."""
    data = arrival.payload["data"]
    rendition = data.get("rendition")
    return data["id"], arrival.type + (f"/{rendition['name']}" if isinstance(rendition, dict) else "")


def expected_events(kinds: dict[str, str], deleted) -> set[tuple[str, str]]:
    expected = {(m, t) for m in kinds for t in ("media.created", "media.ready")}
    expected |= {(m, f"rendition.ready/{p['name']}") for m, kind in kinds.items() for p in PRESETS[kind]}
    return expected | {(m, "media.deleted") for m in deleted}


def check_events(stack: PipelineStack, receiver, expected: set, deleted, bound: float, figures: dict) -> None:
    """Every expected event arrives (verified, 2xx) at least once, all under one webhook-id per event,
    nothing else arrives; then no delivery of a deleted item's events is left pending in D1."""
    from tests.e2e.conftest import eventually

    def delivered_keys():
        return {event_key(a) for a in receiver.delivered().values()}

    def settled():
        # The cron publishes and resends what a crash left behind (WEBHOOK_*_AFTER_SECONDS).
        trigger_cron(stack.processor_url, RECONCILE_CRON, timeout=120)
        return expected <= delivered_keys()

    eventually(settled, timeout=bound, interval=3)
    delivered = receiver.delivered()
    ok = [a for a in receiver.arrivals if a.verified and a.status == 200]
    ids_per_event: dict = {}
    for arrival in receiver.arrivals:
        if arrival.verified:
            ids_per_event.setdefault(event_key(arrival), set()).add(arrival.webhook_id)
    figures["events_expected"] = len(expected)
    figures["events_delivered"] = len(delivered)
    figures["events_delivered_twice"] = len(ok) - len(delivered)
    figures["events_lost"] = len(expected - delivered_keys())
    figures["delivery_attempts"] = len(receiver.arrivals)
    figures["delivery_attempts_refused_500"] = sum(1 for a in receiver.arrivals if a.status == 500)
    figures["delivery_attempts_unanswered"] = sum(1 for a in receiver.arrivals if a.status == 0)
    assert figures["events_lost"] == 0 and all(a.verified for a in receiver.arrivals)
    assert {k: ids for k, ids in ids_per_event.items() if len(ids) != 1} == {}, "an event under two webhook-ids"
    assert set(delivered_keys()) == expected  # nothing extra either
    assert figures["delivery_attempts_refused_500"] > 0
    pending = 0
    for quoted in in_chunks(deleted):  # one wrangler call per 100 ids, the inbound rows' count with it
        row = d1(stack, "SELECT (SELECT COUNT(*) FROM event_deliveries d JOIN events e ON e.id = d.event_id"
                        f" WHERE e.media_id IN ({quoted}) AND d.status != 'delivered') AS n,"
                        " (SELECT COUNT(*) FROM webhook_deliveries) AS inbound")[0]
        pending += row["n"]
        figures["inbound_webhook_rows_after_delete"] = row["inbound"]
    figures["deliveries_not_delivered_of_deleted"] = pending
    assert pending == 0
