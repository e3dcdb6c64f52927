"""Shared pieces of the benchmarks: the machine, statistics, an API-only stack and the
JavaScript reference worker (bench/reference-worker/, never deployed)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from local_runtime.stack import (  # noqa: I001
    PROJECT_ROOT,
    Stack,
    StackError,
    WorkerSpec,
    free_port,
    node_binary,
    pump,
    wrangler_command,
    wrangler_env,
)

ROOT = PROJECT_ROOT
DEV_VARS = ROOT / ".dev.vars.example"  # benchmarks never depend on a developer's .dev.vars
API_KEY = "local-dev-key"
ITTYBIT_KEY = "local-ittybit-key"
API_CONFIG = ROOT / "wrangler.api.toml"
SCHEMA = ROOT / "schema.sql"
REFERENCE_DIR = Path(__file__).resolve().parent / "reference-worker"


def signing_secret() -> str:
    """URL_SIGNING_SECRET of the benchmark stacks (from .dev.vars.example)."""
    for line in DEV_VARS.read_text().splitlines():
        if line.startswith("URL_SIGNING_SECRET="):
            return line.split("=", 1)[1].strip()
    raise StackError("no URL_SIGNING_SECRET in .dev.vars.example")
MiB = 1024 * 1024
BENCH_MAX_FILE_SIZE = 400 * MiB


# -- the machine ---------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(path: Path) -> str:
    try:
        return json.loads(path.read_text())["version"]
    except (OSError, KeyError, ValueError):
        return "unknown"


def machine() -> dict:
    try:
        node = subprocess.run([node_binary(), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, StackError, subprocess.SubprocessError):
        node = "unknown"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": node,
        "wrangler": _version(ROOT / "node_modules" / "wrangler" / "package.json"),
        "pyodide": _version(ROOT / "node_modules" / "pyodide" / "package.json"),
    }


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def print_machine(title: str) -> dict:
    info = machine()
    print(f"# {title}")
    print("machine: " + ", ".join(f"{key} {value}" for key, value in info.items()))
    print(f"load average at start: {load_average()}")
    return info


# -- statistics ----------------------------------------------------------------------------
def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def percentile(values, fraction: float) -> float:
    """Nearest-rank percentile (p99 of 300 samples is the 297th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (printed, and pasted into docs/benchmarks.md)."""
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# -- stacks --------------------------------------------------------------------------------
def api_stack(tmp: Path, extra_vars: dict | None = None) -> Stack:
    """The API worker alone (no processor, no emulator): nothing else competes for the CPU
    while it is measured. Its queue messages wait unconsumed, which costs nothing."""
    port = free_port()
    api_vars = {
        "PUBLIC_API_URL": f"http://127.0.0.1:{port}",
        "MAX_FILE_SIZE": str(BENCH_MAX_FILE_SIZE),
        **(extra_vars or {}),
    }
    stack = Stack(
        [WorkerSpec(API_CONFIG, port, api_vars, label="api")],
        state_dir=tmp / "state",
        work_dir=tmp / "work",
        registry_dir=tmp / "registry",
        dev_vars=DEV_VARS,
        pyproject=ROOT / "pyproject.toml",
    )
    stack.execute_d1_file("DB", SCHEMA)
    return stack


@contextmanager
def temporary_dir(prefix: str):
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class ReferenceWorker:
    """bench/reference-worker under `wrangler dev`, sharing the stack's persisted state
    (the same KV namespace id, D1 database id and R2 bucket name as the API worker)."""

    def __init__(self, state_dir: Path, work_dir: Path, registry_dir: Path | None = None):
        self.state_dir = state_dir
        self.work_dir = work_dir
        self.registry_dir = registry_dir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        # A private copy, so wrangler's .wrangler/tmp lands outside the repository.
        folder = self.work_dir / "reference-worker"
        shutil.copytree(REFERENCE_DIR, folder, dirs_exist_ok=True)
        self.log = (self.work_dir / "reference-worker.log").open("a")
        # The same flags, log level and log handling (a pump thread in this process, one
        # line per request) as local_runtime.stack gives the Python workers, so neither
        # side pays for logging the other does not.
        command = wrangler_command(
            "dev", "-c", str(folder / "wrangler.toml"), "--ip", "127.0.0.1", "--port", str(self.port),
            "--inspector-port", str(free_port()), "--persist-to", str(self.state_dir),
            "--show-interactive-dev-session=false", "--log-level", "log",
            # The API's signing secret, for the HLS playback tokens it checks as the API does (bench/hls.py).
            "--var", f"URL_SIGNING_SECRET:{signing_secret()}",
        )
        self.process = subprocess.Popen(
            command, cwd=folder, env=wrangler_env(self.registry_dir), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        threading.Thread(target=pump, args=(self.process.stdout, [self.log], "[reference] "), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"reference worker exited; log: {self.work_dir / 'reference-worker.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=10) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise StackError("reference worker not ready in time")

    def stop(self) -> None:
        if self.process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                continue
        # workerd may outlive wrangler in the same group.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process = None


@contextmanager
def api_beside_reference(tmp: Path, with_stack: bool = False):
    """The API worker alone and the JavaScript reference on the same state, both started;
    yields their base URLs (api, reference), and the API's stack after them if `with_stack`
    (for its D1), and stops both after."""
    stack = api_stack(tmp)
    reference = ReferenceWorker(tmp / "state", tmp / "work", tmp / "registry")
    try:
        stack.start()
        reference.start()
        yield (stack.url("api"), reference.url, stack) if with_stack else (stack.url("api"), reference.url)
    finally:
        reference.stop()
        stack.stop()


def heap_bytes(client, url: str) -> int:
    """The API worker's Wasm heap, from GET /healthz."""
    return int(client.get(f"{url}/healthz").json()["memory"]["wasm_heap_bytes"])


def mp4_like(size: int, block: bytes | None = None):
    """A body of `size` bytes that sniffs as MP4 (an ftyp box, then filler), as chunks."""
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 40
    block = block or os.urandom(MiB)
    yield head
    left = size - len(head)
    while left > 0:
        piece = block[: min(len(block), left)]
        left -= len(piece)
        yield piece


def save_json(name: str, data: dict) -> Path:
    """Raw results next to the docs' tables (bench/results/<name>.json, not committed)."""
    folder = Path(__file__).resolve().parent / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    print(f"raw results: {path.relative_to(ROOT)}")
    return path


def argv_flag(name: str) -> bool:
    return name in sys.argv[1:]
