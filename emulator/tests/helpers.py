"""Test helpers: a webhook receiver, an in-process emulator, polling and probing."""

import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from emulator import Config, Emulator
from emulator.faults import Switches

API_KEY = "test-key-0123456789"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class WebhookReceiver:
    """Records every POST; answers the statuses in ``script`` first, then 200."""

    def __init__(self):
        self.received: list[dict] = []
        self.script: list[int] = []
        self._cond = threading.Condition()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "status": status})
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict]:
        """Block until ``count`` deliveries arrived; return them all."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            assert ok, f"expected {count} webhook deliveries, got {len(self.received)}"
            return list(self.received)

    def json(self, index: int) -> dict:
        return json.loads(self.received[index]["body"])

    def close(self):
        self._server.shutdown()
        self._server.server_close()


def start_emulator(tmp_path, *, workers: int = 2, config: dict | None = None, **switches) -> Emulator:
    """An in-process emulator on a free port; ``config`` overrides Config fields, the rest are switches."""
    defaults = {"webhook_retry_base_s": 0.05, "webhook_max_attempts": 4, "webhook_timeout_s": 30.0}
    config = Config(port=0, api_key=API_KEY, webhook_secret=SECRET, data_dir=str(tmp_path / "emulator"),
                    workers=workers, switches=Switches(**{**defaults, **switches}), **(config or {}))
    return Emulator(config).start()


def wait_final(client: httpx.Client, job_id: str, timeout: float = 90.0) -> dict:
    """Poll GET /jobs/{id} until the job is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("completed", "succeeded", "ready", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def ffprobe(path_or_url: str) -> dict:
    done = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                           path_or_url], capture_output=True, check=True)
    return json.loads(done.stdout)


def eventually(check, timeout: float = 30.0):
    """Retry ``check`` (which asserts) until it passes or ``timeout`` runs out; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def webhook_counts(client: httpx.Client) -> dict:
    return client.get("/_emulator/counters").json()["webhook_deliveries"]



class RangeFileServer:
    """Serves the files of ``root`` with single byte ranges (as the API's /files does), ignoring
    query strings, and records each request's Range header and the bytes it sent."""

    def __init__(self, root):
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server_self = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                name = self.path.split("?", 1)[0].lstrip("/")
                path = os.path.join(str(root), name)
                if "/" in name or not os.path.isfile(path):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                size = os.path.getsize(path)
                wanted = self.headers.get("Range")
                first, last = 0, size - 1
                found = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted or "")
                if found:
                    first = int(found.group(1))
                    last = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(last - first + 1))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                sent = 0
                with open(path, "rb") as source:
                    source.seek(first)
                    try:
                        while sent < last - first + 1:
                            chunk = source.read(min(64 * 1024, last - first + 1 - sent))
                            if not chunk:
                                break
                            self.wfile.write(chunk)
                            sent += len(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                with server_self._lock:
                    server_self.requests.append({"name": name, "range": wanted, "sent": sent})

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def sent(self, name: str) -> int:
        with self._lock:
            return sum(r["sent"] for r in self.requests if r["name"] == name)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
