"""A tiny webhook receiver for the dev stack and the tests: it verifies each delivery with the
PyPI `standardwebhooks` package (not our own code), logs one line per delivery and keeps what
arrived.

    .venv/bin/python -m scripts.webhook_receiver --port 8791 --register http://127.0.0.1:8787 local-dev-key

registers itself as an endpoint (or, when one with its URL exists, rotates its secret to learn
one) and prints `[webhook-receiver] media.ready evt_... verified` lines. scripts/dev starts it.
Tests use `Receiver` in-process, with fault switches: answer 500 to every n-th attempt, or to a
deterministic 1 in n of the attempts by hash of webhook-id and attempt number (so a retry of a
refused one usually succeeds, whatever order the deliveries come in), answer late (a timeout), hold
requests open until released, or be down (connections refused) for a while.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["Arrival", "Receiver", "register"]


@dataclass(frozen=True)
class Arrival:
    """One delivery attempt as the receiver saw it."""

    webhook_id: str
    type: str
    payload: dict
    verified: bool
    status: int
    at: float
    signatures: int


class Receiver:
    """An HTTP server on 127.0.0.1:`port` that verifies Standard Webhooks deliveries."""

    def __init__(self, port: int = 0, log=None) -> None:
        self.secrets: list[str] = []
        self.arrivals: list[Arrival] = []
        self.fail_every = 0        # answer 500 to every n-th attempt (0: never)
        self.fail_one_in = 0       # answer 500 when sha256(webhook-id:attempt) % n == 0 (0: never)
        self.delay_seconds = 0.0   # answer this late (longer than the sender's timeout: a timeout)
        self.log = log
        self._count = 0
        self._attempts: dict[str, int] = {}
        self._gate = threading.Event()  # set: requests pass; cleared by hold(): they wait
        self._gate.set()
        self.held = 0              # requests waiting at the gate now
        self._lock = threading.Lock()
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if not receiver._gate.is_set():
                    with receiver._lock:
                        receiver.held += 1
                    receiver._gate.wait(600)
                    with receiver._lock:
                        receiver.held -= 1
                    # Held past the sender's life or its timeout: it never saw an answer, so this
                    # attempt is recorded as not delivered (status 0), and nothing is answered.
                    receiver._receive(dict(self.headers.items()), body, answered=False)
                    self.close_connection = True
                    return
                status = receiver._receive(dict(self.headers.items()), body)
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"ok": false}')

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _verify(self, headers: dict, body: bytes) -> bool:
        for secret in list(self.secrets):
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def hold(self) -> None:
        """Hold every request from now on open, unanswered, until release()."""
        self._gate.clear()

    def release(self) -> None:
        """Let held requests go (each is recorded with status 0: its sender never got an answer)."""
        self._gate.set()

    def _failing(self, webhook_id: str) -> bool:
        with self._lock:
            self._count += 1
            attempt = self._attempts[webhook_id] = self._attempts.get(webhook_id, 0) + 1
            count = self._count
        if self.fail_every and count % self.fail_every == 0:
            return True
        if self.fail_one_in:
            digest = hashlib.sha256(f"{webhook_id}:{attempt}".encode()).digest()
            return int.from_bytes(digest[:8], "big") % self.fail_one_in == 0
        return False

    def _receive(self, headers: dict, body: bytes, answered: bool = True) -> int:
        lowered = {k.lower(): v for k, v in headers.items()}
        verified = self._verify(lowered, body)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        failing = self._failing(lowered.get("webhook-id", ""))
        status = 500 if failing or not verified else 200
        if not answered:
            status = 0
        if self.delay_seconds and status == 200:
            status = 0  # answered after the sender gave up: not a delivery
        arrival = Arrival(lowered.get("webhook-id", ""), str(payload.get("type")), payload, verified, status,
                          time.time(), len(lowered.get("webhook-signature", "").split()))
        with self._lock:
            self.arrivals.append(arrival)
        if self.log:
            data = payload.get("data") or {}
            what = f"{data.get('id')}" + (f"/{data['rendition'].get('name')}" if isinstance(data.get("rendition"), dict) else "")
            self.log(f"[webhook-receiver] {arrival.type} {what} {arrival.webhook_id} "
                     f"{'verified' if verified else 'NOT VERIFIED'} -> {status}")
        return status

    def delivered(self) -> dict[str, Arrival]:
        """The first verified 2xx arrival of each webhook id."""
        found: dict[str, Arrival] = {}
        for arrival in list(self.arrivals):
            if arrival.verified and arrival.status == 200:
                found.setdefault(arrival.webhook_id, arrival)
        return found


def register(api_url: str, api_key: str, url: str) -> str:
    """Make `url` an endpoint of the API (or rotate the secret of the one that has it); its secret."""
    import httpx

    with httpx.Client(base_url=api_url, headers={"X-API-Key": api_key}, timeout=30) as client:
        for endpoint in client.get("/api/webhooks").raise_for_status().json()["items"]:
            if endpoint["url"] == url:
                answer = client.post(f"/api/webhooks/{endpoint['id']}/rotate-secret", json={"overlap_seconds": 0})
                return answer.raise_for_status().json()["secret"]
        answer = client.post("/api/webhooks", json={"url": url, "events": ["*"], "description": "dev receiver"})
        return answer.raise_for_status().json()["secret"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--register", nargs=2, metavar=("API_URL", "API_KEY"))
    parser.add_argument("--secret", action="append", default=[])
    args = parser.parse_args(argv)
    receiver = Receiver(args.port, log=lambda line: print(line, flush=True))
    receiver.secrets.extend(args.secret)
    if args.register:
        receiver.secrets.append(register(args.register[0], args.register[1], receiver.url))
    print(f"[webhook-receiver] listening on {receiver.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
