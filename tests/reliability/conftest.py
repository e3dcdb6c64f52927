"""Reliability runs: many uploads under injected Ittybit faults, and a crash of the whole stack.

Each test module starts its own PipelineStack (free ports, private state) with a fast reconcile
(RECONCILE_AFTER_SECONDS=3) and small rendition presets (the point is the orchestration, not
ffmpeg's speed on 1920-pixel frames). The quick variant runs by default; the full one with

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
from pathlib import Path

import httpx
import pytest

from local_runtime.stack import run_group, trigger_cron, wrangler_command, wrangler_env
from scripts.pipeline_stack import ROOT, PipelineStack, Ports, read_dev_vars
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
    ],
    "image": [
        {"name": "large", "kind": "image", "options": {"format": "webp", "width": 96}},
        {"name": "thumbnail", "kind": "image", "options": {"format": "webp", "width": 32}},
    ],
    "audio": [{"name": "web", "kind": "audio", "options": {"format": "mp3", "quality": "low"}}],
}
EXTENSIONS = {"mp4": "mp4", "webp": "webp", "mp3": "mp3"}

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
    return [
        f"renditions/{media_id}/{p['name']}.{EXTENSIONS[p['options']['format']]}" for p in PRESETS[kind]
    ]


def make_stack(tmp: Path, ports: Ports | None = None) -> PipelineStack:
    return PipelineStack(
        ports=ports or Ports.free(),
        state_dir=tmp / "state",
        work_dir=tmp / "work",
        registry_dir=tmp / "registry",
        dev_vars=DEV_VARS,
        processor_vars={"RECONCILE_AFTER_SECONDS": "3", "RENDITION_PRESETS": json.dumps(PRESETS),
                        # Outbound webhooks retry within seconds here (hours in production).
                        "WEBHOOK_RETRY_SCHEDULE": "1,1,2,2,3,5,5,10,10,10,10,10"},
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


# -- clients ---------------------------------------------------------------------------------------
# The e2e tests' client of the emulator's admin API serves here too.
EmulatorAdmin = Emulator


def api_client(stack: PipelineStack, concurrency: int = 8) -> httpx.Client:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.Client(base_url=stack.api_url, timeout=120, headers={"X-API-Key": API_KEY}, limits=limits)


UPLOAD_TRIES = 3


@dataclass
class UploadRun:
    accepted: dict[str, str] = field(default_factory=dict)  # media id -> kind
    refused: Counter = field(default_factory=Counter)  # status or exception name -> count
    retried_503: int = 0  # answers "nothing was stored, retry" that the client retried, as clients do
    started: float = 0.0
    finished: float = 0.0


def upload_many(api: httpx.Client, samples: list[Sample], count: int, concurrency: int,
                stop: threading.Event | None = None, on_accept=None) -> UploadRun:
    """`count` uploads cycling through the samples, `concurrency` at a time."""
    run = UploadRun(started=time.monotonic())
    lock = threading.Lock()

    def one(index: int) -> None:
        if stop is not None and stop.is_set():
            return
        sample = samples[index % len(samples)]
        for attempt in range(UPLOAD_TRIES):
            try:
                response = api.post("/api/media", content=sample.data,
                                    headers={"content-type": sample.content_type,
                                             "x-file-name": f"{index}-{sample.name}"})
            except httpx.HTTPError as error:
                with lock:
                    run.refused[type(error).__name__] += 1
                return
            if response.status_code != 503 or attempt == UPLOAD_TRIES - 1:
                break
            with lock:  # 503 means nothing was stored (the API says so): a client tries again
                run.retried_503 += 1
            time.sleep(float(response.headers.get("retry-after", "1")))
        with lock:
            if response.status_code == 202:
                run.accepted[response.json()["id"]] = sample.kind
                if on_accept is not None:
                    on_accept(len(run.accepted))
            else:
                run.refused[str(response.status_code)] += 1

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(count)))
    run.finished = time.monotonic()
    return run


# -- local state ---------------------------------------------------------------------------------
def d1(stack: PipelineStack, sql: str) -> list[dict]:
    return stack.workers.d1_query("DB", sql)


def status_counts(stack: PipelineStack) -> dict[str, int]:
    return {row["status"]: row["n"] for row in d1(stack, "SELECT status, COUNT(*) AS n FROM media GROUP BY status")}


def kv_keys(stack: PipelineStack, prefix: str = "media:") -> set[str]:
    """Every key in the local METADATA namespace under `prefix` (one wrangler call)."""
    config = stack.workers._config_binding("kv_namespaces", "METADATA")
    command = wrangler_command("kv", "key", "list", "--binding", "METADATA", "--prefix", prefix, "--local",
                               "--persist-to", str(stack.state_dir), "-c", str(config))
    code, output = run_group(command, env=wrangler_env(stack.registry_dir), timeout=120)
    assert code == 0, output
    return {entry["name"] for entry in json.loads(output[output.index("["):])}


def kv_get(stack: PipelineStack, key: str) -> str | None:
    """`wrangler kv key get` for one key; None when it is not there."""
    config = stack.workers._config_binding("kv_namespaces", "METADATA")
    command = wrangler_command("kv", "key", "get", key, "--binding", "METADATA", "--local", "--text",
                               "--persist-to", str(stack.state_dir), "-c", str(config))
    code, output = run_group(command, env=wrangler_env(stack.registry_dir), timeout=120)
    assert code == 0, output
    text = output.strip()
    return None if not text or text == "Value not found" else text


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
