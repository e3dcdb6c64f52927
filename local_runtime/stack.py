"""Start and stop Python workers under stock `wrangler dev`, one process per worker.

One process per worker gives each its own HTTP port (a multi-config `wrangler dev`
only gives the first worker one) and its own cron route; wrangler's dev registry
connects their queues, and `--persist-to` shares KV, D1, R2 and queue state.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from local_runtime.crons import CronScheduler, CronTarget, crons_of, targets_for
from local_runtime.derive import PythonWorker, load_notifications, load_worker
from local_runtime.generate import generate, write_app_zip

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_DIRS = sorted((PROJECT_ROOT / ".tools" / "node" / "node_modules").glob("node-linux-*/bin"))
WRANGLER_JS = PROJECT_ROOT / "node_modules" / "wrangler" / "bin" / "wrangler.js"
PYODIDE_DIR = PROJECT_ROOT / "node_modules" / "pyodide"


class StackError(RuntimeError):
    """The local stack could not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_binary() -> str:
    """Node 22 from .tools when the set-up installed it there, else the one on PATH."""
    for directory in NODE_DIRS:
        if (directory / "node").exists():
            return str(directory / "node")
    found = shutil.which("node")
    if not found:
        raise StackError("node not found: run the set-up (scripts/dev or scripts/test) first")
    return found


def wrangler_command(*args: str) -> list[str]:
    """The command line that runs the project's pinned wrangler."""
    if not WRANGLER_JS.exists():
        raise StackError(f"{WRANGLER_JS} missing: run npm install (the set-up does)")
    return [node_binary(), str(WRANGLER_JS), *args]


# What keeps wrangler 4.164 (and its Miniflare) from reaching the internet, by the names
# its dist reads (node_modules/wrangler/wrangler-dist/cli.js, miniflare/dist/src/index.js).
OFFLINE_ENV = {
    # Telemetry: DO_NOT_TRACK wins over everything, WRANGLER_SEND_METRICS over the config.
    "DO_NOT_TRACK": "1",
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_SEND_ERROR_REPORTS": "false",  # Sentry reports after a crash
    # Miniflare fetches https://workers.cloudflare.com/cf.json at every start for the
    # `request.cf` object; offline that logs `Unable to fetch the Request.cf object` and a
    # `getaddrinfo ENOTFOUND workers.cloudflare.com` stack, twice per worker. With the
    # fetch off it uses the same built-in placeholder it falls back to.
    "CLOUDFLARE_CF_FETCH_ENABLED": "false",
    # The update check (registry.npmjs.org) has no switch; it runs when the banner is
    # printed (hidden here) or for a few warnings, and fails silently.
    "WRANGLER_HIDE_BANNER": "true",
    "WRANGLER_NO_SKILLS_UPDATE_PROMPTS": "true",
    "NO_UPDATE_NOTIFIER": "1",
}


def wrangler_env(registry_dir: Path | None = None) -> dict[str, str]:
    """Environment for wrangler: nothing reaches the internet, an optional private registry."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(node_binary()).parent}{os.pathsep}{env.get('PATH', '')}"
    for name, value in OFFLINE_ENV.items():
        env.setdefault(name, value)
    if registry_dir is not None:
        env["WRANGLER_REGISTRY_PATH"] = str(registry_dir)
    return env


def pump(stream: IO[bytes], sinks: list[IO[str]], prefix: str) -> None:
    """Copy a child process's output, line by line and prefixed, into each sink (until EOF)."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        for sink in sinks:
            try:
                sink.write(f"{prefix}{line}\n")
                sink.flush()
            except ValueError:  # sink closed while stopping
                pass


@dataclass
class WorkerSpec:
    """One worker to run: its wrangler config, port and var overrides."""

    config: Path
    port: int
    vars: Mapping[str, str] = field(default_factory=dict)
    label: str | None = None


@dataclass
class RunningWorker:
    worker: PythonWorker
    spec: WorkerSpec
    derived_config: Path
    process: subprocess.Popen
    log_path: Path
    log_file: IO[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"


class Stack:
    """A set of Python workers sharing local state, started and stopped together."""

    def __init__(
        self,
        specs: list[WorkerSpec],
        *,
        state_dir: Path,
        work_dir: Path,
        registry_dir: Path | None = None,
        dev_vars: Path | None = None,
        pyproject: Path | None = None,
        echo: IO[str] | None = None,
        crons: bool = False,
    ) -> None:
        self.specs = specs
        self.state_dir = state_dir
        self.work_dir = work_dir
        self.registry_dir = registry_dir
        self.dev_vars = dev_vars
        self.notifications = load_notifications(pyproject) if pyproject else []
        self.echo = echo
        # Fire each worker's [triggers] crons on schedule (scripts/dev); off by default so
        # tests trigger them by hand and know exactly when a cron ran.
        self.crons = crons
        self.cron_scheduler: CronScheduler | None = None
        self.workers = [load_worker(spec.config) for spec in specs]
        self.running: list[RunningWorker] = []

    # -- set-up -------------------------------------------------------------------------
    def generate(self) -> list[Path]:
        """(Re)generate every worker's host folder from its wrangler config."""
        return [
            generate(
                worker,
                out_dir=self.work_dir / "runtime",
                pyodide_dir=PYODIDE_DIR,
                notifications=self.notifications,
                dev_vars=self.dev_vars,
            )
            for worker in self.workers
        ]

    def execute_d1_file(self, database: str, sql_file: Path) -> None:
        """Apply an SQL file to a local D1 database in this stack's state."""
        self._d1_execute(database, "--file", str(sql_file.resolve()))

    def d1_query(self, database: str, sql: str) -> list[dict]:
        """Run one SQL statement against the local D1 database; returns its rows. Through a running
        worker's binding (/__local/d1/, milliseconds) when one binds it, else `wrangler d1 execute`."""
        found = self._running_binding("d1_databases", database, ("binding", "database_name"))
        if found is not None:
            url, binding = found
            answer = _state_request("POST", f"{url}/__local/d1/{binding}", json.dumps({"sql": sql}).encode())
            if answer is not None:
                status, body = answer
                if status != 200:
                    raise StackError(f"d1 statement failed ({status}): {body.decode(errors='replace')}\n{sql}")
                return json.loads(body)["results"]
        output = self._d1_execute(database, "--command", sql, "--json")
        return json.loads(output)[0]["results"]

    def kv_keys(self, binding: str, prefix: str = "") -> list[str]:
        """Every key of a local KV namespace under `prefix`."""
        answer = self._kv_route("GET", binding, {"prefix": prefix})
        if answer is not None:
            return json.loads(answer[1])["keys"]
        output = self._kv_command(binding, "list", "--prefix", prefix)
        return [entry["name"] for entry in json.loads(output[output.index("["):])]

    def kv_get(self, binding: str, key: str) -> str | None:
        """A value of a local KV namespace; None when the key is not there."""
        answer = self._kv_route("GET", binding, {"key": key})
        if answer is not None:
            return answer[1].decode() if answer[0] == 200 else None
        text = self._kv_command(binding, "get", key, "--text").strip()
        return None if not text or text == "Value not found" else text

    def _running_binding(self, section: str, name: str, fields: tuple[str, ...]) -> tuple[str, str] | None:
        """(URL, binding name) of a running worker that binds `name` in `section`, or None."""
        for running in self.running:
            if running.process.poll() is not None:
                continue
            for item in running.worker.raw.get(section, []):
                if name in tuple(item.get(field) for field in fields) and item.get("binding"):
                    return running.url, item["binding"]
        return None

    def _kv_route(self, method: str, binding: str, query: dict[str, str], body: bytes | None = None):
        found = self._running_binding("kv_namespaces", binding, ("binding",))
        if found is None:
            return None
        url, name = found
        answer = _state_request(method, f"{url}/__local/kv/{name}?{urllib.parse.urlencode(query)}", body)
        if answer is not None and answer[0] not in (200, 204, 404):
            raise StackError(f"kv {method} {query} failed ({answer[0]}): {answer[1].decode(errors='replace')}")
        return answer

    def _kv_command(self, binding: str, *args: str) -> str:
        config = self._config_binding("kv_namespaces", binding)
        command = wrangler_command(
            "kv", "key", *args, "--binding", binding, "--local", "--persist-to", str(self.state_dir), "-c", str(config),
        )
        returncode, output = run_group(command, env=wrangler_env(self.registry_dir), timeout=120)
        if returncode != 0:
            raise StackError(f"kv key {' '.join(args)} failed ({returncode}):\n{output}")
        return output

    def kv_delete(self, binding: str, key: str) -> None:
        """Delete a key from a local KV namespace, as an expiry would."""
        if self._kv_route("DELETE", binding, {"key": key}) is None:
            self._kv_command(binding, "delete", key)

    def kv_put(self, binding: str, key: str, value: str) -> None:
        """Write a key into a local KV namespace directly (tests of corrupted caches)."""
        if self._kv_route("PUT", binding, {"key": key}, value.encode()) is None:
            self._kv_command(binding, "put", key, value)

    def _config_binding(self, section: str, binding: str) -> Path:
        for worker, path in zip(self.workers, self._derived_configs()):
            if any(item.get("binding") == binding for item in worker.raw.get(section, [])):
                return path
        raise StackError(f"no worker has a {section} binding named {binding}")

    def _d1_execute(self, database: str, *args: str) -> str:
        derived = self._derived_configs()
        config = next(
            (
                path
                for worker, path in zip(self.workers, derived)
                if any(
                    database in (db.get("binding"), db.get("database_name"))
                    for db in worker.raw.get("d1_databases", [])
                )
            ),
            None,
        )
        if config is None:
            raise StackError(f"no worker binds a D1 database named {database}")
        command = wrangler_command(
            "d1", "execute", database, "--local", "--persist-to", str(self.state_dir),
            "-c", str(config), "--yes", *args,
        )
        returncode, output = run_group(command, env=wrangler_env(self.registry_dir), timeout=120)
        if returncode != 0:
            raise StackError(f"d1 execute {' '.join(args)} failed ({returncode}):\n{output}")
        return output

    def _derived_configs(self) -> list[Path]:
        """The derived configs, generated once per stack (generation rewrites files)."""
        folder = self.work_dir / "runtime"
        paths = [folder / worker.name / "wrangler.json" for worker in self.workers]
        if not all(path.exists() for path in paths):
            return self.generate()
        return paths

    # -- life cycle ----------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        """Start every worker and wait until each has booted Python and answers."""
        derived = self.generate()
        log_dir = self.work_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        if self.registry_dir is not None:
            self.registry_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        try:
            # One after the other: two workerds opening the same fresh state at once
            # can fail with SQLITE_BUSY while creating their databases.
            for worker, spec, config in zip(self.workers, self.specs, derived):
                running = self._spawn(worker, spec, config, log_dir)
                self.running.append(running)
                self._wait_ready(running, deadline)
            if self.crons:
                self._start_crons(log_dir)
        except BaseException:
            self.stop()
            raise

    def cron_targets(self) -> list[CronTarget]:
        """Each running worker's `[triggers] crons`, aimed at that worker's own port."""
        return [
            target
            for running in self.running
            for target in targets_for(running.spec.label or running.worker.name, running.url, crons_of(running.worker.raw))
        ]

    def _start_crons(self, log_dir: Path) -> None:
        targets = self.cron_targets()
        log_file = (log_dir / "crons.log").open("a", encoding="utf-8")
        lock = threading.Lock()

        def log(line: str) -> None:
            with lock:
                for sink in [log_file] + ([self.echo] if self.echo else []):
                    try:
                        sink.write(line + "\n")
                        sink.flush()
                    except ValueError:  # sink closed while stopping
                        pass

        self._cron_log = log_file
        self.cron_scheduler = CronScheduler(targets, log=log).start()

    def _stop_crons(self, timeout: float = 10.0) -> None:
        if self.cron_scheduler is not None:
            self.cron_scheduler.stop(timeout)
            self.cron_scheduler = None
            self._cron_log.close()

    def _spawn(self, worker: PythonWorker, spec: WorkerSpec, config: Path, log_dir: Path) -> RunningWorker:
        args = [
            "dev", "-c", str(config),
            "--ip", "127.0.0.1", "--port", str(spec.port),
            "--inspector-port", str(free_port()),
            "--persist-to", str(self.state_dir),
            "--show-interactive-dev-session=false",
            "--log-level", "log",
        ]
        for key, value in spec.vars.items():
            args += ["--var", f"{key}:{value}"]
        log_path = log_dir / f"{worker.name}.log"
        log_file = log_path.open("a", encoding="utf-8")
        process = subprocess.Popen(
            wrangler_command(*args),
            cwd=config.parent,
            env=wrangler_env(self.registry_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches workerd too
        )
        sinks = [log_file] + ([self.echo] if self.echo else [])
        label = spec.label or worker.name
        threading.Thread(target=pump, args=(process.stdout, sinks, f"[{label}] "), daemon=True).start()
        return RunningWorker(worker, spec, config, process, log_path, log_file)

    def _wait_ready(self, running: RunningWorker, deadline: float) -> None:
        probe = f"{running.url}/__local/heap"
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                raise StackError(
                    f"{running.worker.name} exited with {running.process.returncode}; "
                    f"log: {running.log_path}\n{tail(running.log_path)}"
                )
            try:
                with urllib.request.urlopen(probe, timeout=30) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        raise StackError(f"{running.worker.name} not ready in time; log: {running.log_path}\n{tail(running.log_path)}")

    def reload_sources(self) -> None:
        """Rewrite each worker's app.zip from its sources; wrangler reloads on a change."""
        for worker in self.workers:
            write_app_zip(worker, self.work_dir / "runtime")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every worker process (and its workerd) and wait for them to exit."""
        self._stop_crons()
        for running in self.running:
            _signal_group(running.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for running in self.running:
            try:
                running.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(running.process, signal.SIGKILL)
                running.process.wait(5)
            # workerd may outlive wrangler in the same group: make sure it is gone.
            _signal_group(running.process, signal.SIGKILL)
            running.log_file.close()
        self.running = []

    def kill(self) -> None:
        """SIGKILL every process at once, as a crash would."""
        self._stop_crons(timeout=0)
        for running in self.running:
            _signal_group(running.process, signal.SIGKILL)
        for running in self.running:
            running.process.wait(10)
            running.log_file.close()
        self.running = []

    def url(self, name: str) -> str:
        for running in self.running:
            if running.worker.name == name or running.spec.label == name:
                return running.url
        raise KeyError(name)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _state_request(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes] | None:
    """One request to a worker's /__local/d1/ or /__local/kv/ route: (status, body), or None when the
    worker cannot be reached (stopped, or restarting), for the caller to fall back to wrangler."""
    request = urllib.request.Request(url, data=body, method=method, headers={
        "x-local-runtime": "1", "content-type": "application/json" if method == "POST" else "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def run_group(command: list[str], *, env: dict, timeout: float, cwd: Path | None = None) -> tuple[int, str]:
    """Run a command in its own process group; on timeout the whole group is killed
    (wrangler's workerd child would otherwise keep the pipes, and the wait, open)."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return -1, f"timed out after {timeout}s\n{stdout}\n{stderr}"
    return process.returncode, stdout if process.returncode == 0 else f"{stdout}\n{stderr}"


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def get_json(url: str, timeout: float = 30.0) -> dict:
    """GET a JSON document (used for the host's /__local routes)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def trigger_cron(worker_url: str, cron: str, timeout: float = 60.0, scheduled_time: datetime | None = None) -> int:
    """Run a worker's scheduled handler now, as the cron `cron` would; returns the status.
    `scheduled_time` becomes the event's `scheduledTime` (default: now)."""
    params = {"cron": cron}
    if scheduled_time is not None:
        params["time"] = str(int(scheduled_time.timestamp() * 1000))
    query = urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(f"{worker_url}/cdn-cgi/handler/scheduled?{query}", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code
