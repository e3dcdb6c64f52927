"""The whole media-pipeline on one machine: the Ittybit emulator, the schema applied to
the local D1, and both workers under the local runtime. Used by `scripts/dev` and by
the end-to-end tests (which give it free ports and a private state folder)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from local_runtime.stack import Stack, StackError, WorkerSpec, free_port

ROOT = Path(__file__).resolve().parent.parent
API_CONFIG = ROOT / "wrangler.api.toml"
PROCESSOR_CONFIG = ROOT / "wrangler.processor.toml"
SCHEMA = ROOT / "schema.sql"


@dataclass(frozen=True)
class Ports:
    api: int = 8787
    processor: int = 8788
    emulator: int = 8790

    @classmethod
    def from_env(cls) -> Ports:
        """The default ports, each overridable by an environment variable."""
        return cls(
            api=int(os.environ.get("API_PORT", cls.api)),
            processor=int(os.environ.get("PROCESSOR_PORT", cls.processor)),
            emulator=int(os.environ.get("ITTYBIT_EMULATOR_PORT", cls.emulator)),
        )

    @classmethod
    def free(cls) -> Ports:
        return cls(api=free_port(), processor=free_port(), emulator=free_port())


def read_dev_vars(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .dev.vars file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip('"')
    return values


@dataclass
class PipelineStack:
    """Start and stop everything the pipeline needs, in the right order."""

    ports: Ports
    state_dir: Path
    work_dir: Path
    dev_vars: Path
    registry_dir: Path | None = None
    echo: IO[str] | None = None
    api_vars: dict[str, str] = field(default_factory=dict)
    processor_vars: dict[str, str] = field(default_factory=dict)
    emulator_args: list[str] = field(default_factory=list)
    # Fire each worker's [triggers] crons on schedule (scripts/dev). Off by default: tests
    # trigger crons by hand (/cdn-cgi/handler/scheduled) so they know when one ran.
    crons: bool = False
    emulator: subprocess.Popen | None = None
    workers: Stack | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def processor_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.processor}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.emulator}"

    @property
    def secrets(self) -> dict[str, str]:
        return read_dev_vars(self.dev_vars)

    def start(self, timeout: float = 120.0) -> None:
        """Start the emulator, apply the schema and start both workers (`timeout`: for their boot)."""
        try:
            self._start_emulator()
            self.workers = self._worker_stack()
            self.workers.execute_d1_file("DB", SCHEMA)
            self.workers.start(timeout)
        except BaseException:
            self.stop()
            raise

    def _worker_stack(self) -> Stack:
        # Each worker learns where the others listen, whatever the ports are.
        urls = {
            "PUBLIC_API_URL": self.api_url,
            "PUBLIC_PROCESSOR_URL": self.processor_url,
            "ITTYBIT_BASE_URL": self.emulator_url,
            # The emulator serves outputs over plain http; only hosts named here may be (processor.ittybit_client.OutputPolicy).
            "ITTYBIT_INSECURE_OUTPUT_HOSTS": f"127.0.0.1:{self.ports.emulator}",
        }
        api_vars = {"PUBLIC_API_URL": self.api_url, **self.api_vars}
        processor_vars = {**urls, **self.processor_vars}
        return Stack(
            [
                WorkerSpec(API_CONFIG, self.ports.api, api_vars, label="api"),
                WorkerSpec(PROCESSOR_CONFIG, self.ports.processor, processor_vars, label="processor"),
            ],
            state_dir=self.state_dir,
            work_dir=self.work_dir,
            registry_dir=self.registry_dir,
            dev_vars=self.dev_vars,
            pyproject=ROOT / "pyproject.toml",
            echo=self.echo,
            crons=self.crons,
        )

    def _start_emulator(self) -> None:
        secrets = self.secrets
        log_dir = self.work_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.emulator_log = log_dir / "ittybit-emulator.log"
        command = [
            sys.executable, "-m", "emulator",
            "--host", "127.0.0.1", "--port", str(self.ports.emulator),
            "--api-key", secrets["ITTYBIT_API_KEY"],
            "--webhook-secret", secrets["ITTYBIT_WEBHOOK_SECRET"],
            "--data-dir", str(self.work_dir / "ittybit-emulator"),
            *self.emulator_args,
        ]
        self.emulator = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ready = threading.Event()
        log = self.emulator_log.open("a", encoding="utf-8")

        def pump() -> None:
            for raw in iter(self.emulator.stdout.readline, b""):
                line = raw.decode("utf-8", "replace")
                if "listening on" in line:
                    ready.set()
                for sink in (log, self.echo):
                    if sink is not None:
                        sink.write(f"[ittybit-emulator] {line}")
                        sink.flush()
            log.close()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 30
        while not ready.wait(0.1):
            if self.emulator.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"the Ittybit emulator did not start; log: {self.emulator_log}")

    def stop(self) -> None:
        if self.workers is not None:
            self.workers.stop()
        if self.emulator is not None and self.emulator.poll() is None:
            os.killpg(self.emulator.pid, signal.SIGTERM)
            try:
                self.emulator.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.emulator.pid, signal.SIGKILL)
                self.emulator.wait(5)

    def kill(self) -> None:
        """SIGKILL everything at once, as a crash of the machine would."""
        if self.workers is not None:
            self.workers.kill()
        if self.emulator is not None and self.emulator.poll() is None:
            os.killpg(self.emulator.pid, signal.SIGKILL)
            self.emulator.wait(5)
