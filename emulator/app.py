"""The emulator as one object: wires the store, faults, counters, webhooks, workers and HTTP server."""

import dataclasses
import os
import shutil
import socket
import tempfile
import threading

from emulator.config import Config
from emulator.counters import Counters
from emulator.faults import Faults
from emulator.jobs import JobStore
from emulator.pipeline import Processor
from emulator.server import Actions, EmulatorHTTPServer, Handler
from emulator.webhooks import Dispatcher

__all__ = ["Emulator"]


class Emulator:
    """``Emulator(Config(port=0)).start()`` serves on a background thread; ``stop()`` ends it."""

    def __init__(self, config: Config | None = None):
        config = dataclasses.replace(config or Config())
        self._own_data_dir = config.data_dir is None
        if self._own_data_dir:
            config.data_dir = tempfile.mkdtemp(prefix="ittybit-emulator-")
        os.makedirs(config.data_dir, exist_ok=True)
        self.config = config
        self.counters = Counters()
        self.faults = Faults(config.switches)
        self.store = JobStore(config.idempotency_ttl_s)
        self.dispatcher = Dispatcher(config.secret_bytes(), self.faults, self.counters)
        self.processor = Processor(config, self.store, self.faults, self.counters, self.dispatcher, lambda: self.base_url)
        self.actions = Actions(self)
        server_class = EmulatorHTTPServer
        if ":" in config.host:
            server_class = type("EmulatorHTTPServer6", (EmulatorHTTPServer,), {"address_family": socket.AF_INET6})
        self.httpd = server_class((config.host, config.port), Handler)
        self.httpd.app = self
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def base_url(self) -> str:
        """Where clients reach this emulator; the base of every output URL."""
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.1)

    def start(self) -> "Emulator":
        """Serve on a daemon thread and return self."""
        self._thread = threading.Thread(target=self.serve_forever, name="ittybit-emulator", daemon=True)
        self._thread.start()
        return self

    def reset(self) -> None:
        """Forget every job, connection, key, counter and held webhook; faults back to the start-up ones."""
        self.store.clear()
        self.dispatcher.clear()
        self.counters.reset()
        self.faults.reset()
        shutil.rmtree(self.processor.files_dir, ignore_errors=True)

    def stop(self) -> None:
        """Stop serving, kill running ffmpeg, stop retries; remove the data dir if it was a temporary one."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()
        self.dispatcher.stop()
        self.processor.stop()
        if self._own_data_dir:
            shutil.rmtree(self.config.data_dir, ignore_errors=True)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
