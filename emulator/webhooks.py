"""Webhook signing (Standard Webhooks) and delivery with retries, backoff and injected faults."""

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field

from emulator import joblog
from emulator.counters import Counters
from emulator.faults import Faults
from emulator.ids import new_id

__all__ = ["Delivery", "Dispatcher", "sign", "signature_headers"]

USER_AGENT = "ittybit-emulator/0.1"


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: bytes, msg_id: str, body: bytes, timestamp: int | None = None) -> dict:
    """The three Standard Webhooks headers for one attempt."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Delay before attempt ``attempt + 1``: base, 2*base, 4*base, ... capped at ``max_s``."""
    return min(max_s, base_s * 2 ** (attempt - 1))


@dataclass
class Delivery:
    """One webhook message; every retry or duplicate of it keeps ``msg_id``."""

    url: str
    body: bytes
    job_id: str
    event: str
    msg_id: str = field(default_factory=lambda: new_id("msg"))
    duplicate: bool = False
    state: str = "pending"  # pending, held, delivered, exhausted, dropped
    attempts: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "webhook_id": self.msg_id,
            "job_id": self.job_id,
            "event": self.event,
            "url": self.url,
            "state": self.state,
            "duplicate": self.duplicate,
            "attempts": list(self.attempts),
        }


def envelope(job: dict, event: str, webhook_format: str) -> bytes:
    """The delivered body: the bare job object, or an event wrapping it."""
    if webhook_format == "event":
        document = {"id": new_id("evt"), "object": "event", "kind": event, "data": job,
                    "created_at": int(time.time() * 1000)}
    else:
        document = job
    return json.dumps(document, separators=(",", ":")).encode()


class Dispatcher:
    """Sends deliveries on background threads; honours drop, duplicate and reorder switches."""

    def __init__(self, secret: bytes, faults: Faults, counters: Counters, log_size: int = 1000):
        self._secret = secret
        self._faults = faults
        self._counters = counters
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._held: list[Delivery] = []
        self._hold_timer: threading.Timer | None = None
        self._log: deque[Delivery] = deque(maxlen=log_size)
        self._by_job: dict[str, Delivery] = {}
        self._chains: dict[str, deque[Delivery]] = {}

    def enqueue(self, job: dict, url: str, event: str) -> Delivery:
        """Queue the webhook for ``job`` (a JSON-ready snapshot) to ``url``."""
        switches = self._faults.current
        delivery = Delivery(url=url, body=envelope(job, event, switches.webhook_format), job_id=job["id"], event=event)
        with self._lock:
            self._log.append(delivery)
            self._by_job[job["id"]] = delivery
        if self._faults.roll(switches.drop_webhook_rate):
            delivery.state = "dropped"
            self._counters.webhook("dropped")
            joblog.step(delivery.job_id, f"webhook {event} dropped (fault drop_webhook_rate): never sent")
            return delivery
        delivery.duplicate = self._faults.roll(switches.duplicate_webhook_rate)
        if switches.reorder_webhooks:
            joblog.step(delivery.job_id, f"webhook {event} held (fault reorder_webhooks)")
            self._hold(delivery, switches.reorder_window, switches.reorder_hold_ms)
        else:
            self._send_in_order(delivery)
        return delivery

    def redeliver(self, job_id: str) -> Delivery | None:
        """Send the latest delivery of a job again, same webhook-id (as a duplicate would)."""
        with self._lock:
            delivery = self._by_job.get(job_id)
        if delivery is not None:
            self._spawn(self._attempt, delivery)
        return delivery

    def deliveries(self) -> list[dict]:
        with self._lock:
            return [d.to_dict() for d in self._log]

    def flush(self) -> int:
        """Release held deliveries newest first; return how many."""
        with self._lock:
            held, self._held = self._held, []
            if self._hold_timer is not None:
                self._hold_timer.cancel()
                self._hold_timer = None
        if held:
            self._counters.webhook("held", -len(held))
            self._spawn(self._release, list(reversed(held)))
        return len(held)

    def clear(self) -> None:
        with self._lock:
            held, self._held = self._held, []
            self._log.clear()
            self._by_job.clear()
            if self._hold_timer is not None:
                self._hold_timer.cancel()
                self._hold_timer = None

    def stop(self) -> None:
        self._stop.set()
        self.clear()

    def _hold(self, delivery: Delivery, window: int, hold_ms: int) -> None:
        delivery.state = "held"
        self._counters.webhook("held")
        with self._lock:
            self._held.append(delivery)
            full = len(self._held) >= window
            if not full and self._hold_timer is None:
                self._hold_timer = threading.Timer(hold_ms / 1000, self.flush)
                self._hold_timer.daemon = True
                self._hold_timer.start()
        if full:
            self.flush()

    def _release(self, deliveries: list[Delivery]) -> None:
        """Send held deliveries one after another so they arrive in this order."""
        for delivery in deliveries:
            delivery.state = "pending"
            self._first_attempt(delivery)

    def _send_in_order(self, delivery: Delivery) -> None:
        """First attempts of one job's deliveries go out in the order they were made (retries may not)."""
        with self._lock:
            queue = self._chains.get(delivery.job_id)
            if queue is not None:
                queue.append(delivery)
                return
            self._chains[delivery.job_id] = deque([delivery])
        self._spawn(self._drain_chain, delivery.job_id)

    def _drain_chain(self, job_id: str) -> None:
        while True:
            with self._lock:
                queue = self._chains.get(job_id)
                if not queue:
                    self._chains.pop(job_id, None)
                    return
                delivery = queue.popleft()
            if not self._stop.is_set():
                self._first_attempt(delivery)

    def _first_attempt(self, delivery: Delivery) -> None:
        """Try once now; on failure, retry with backoff on a thread of its own."""
        if self._attempt(delivery):
            self._after_success(delivery)
        else:
            self._spawn(self._run, delivery, 1)

    def _spawn(self, target, *args) -> None:
        threading.Thread(target=target, args=args, daemon=True, name="webhook").start()

    def _run(self, delivery: Delivery, done_attempts: int) -> None:
        """Attempt until a 2xx or ``webhook_max_attempts``, sleeping with exponential backoff."""
        attempt = done_attempts
        while not self._stop.is_set():
            switches = self._faults.current
            if attempt > 0:
                if attempt >= switches.webhook_max_attempts:
                    delivery.state = "exhausted"
                    self._counters.webhook("exhausted")
                    joblog.step(delivery.job_id, f"webhook {delivery.event} given up after {attempt} attempts")
                    return
                delay = backoff_delay(attempt, switches.webhook_retry_base_s, switches.webhook_retry_max_s)
                if self._stop.wait(delay):
                    return
                self._counters.webhook("retried")
            attempt += 1
            if self._attempt(delivery):
                self._after_success(delivery)
                return

    def _after_success(self, delivery: Delivery) -> None:
        delivery.state = "delivered"
        if delivery.duplicate:
            self._counters.webhook("duplicated")
            self._attempt(delivery, duplicate=True)

    def _attempt(self, delivery: Delivery, duplicate: bool = False) -> bool:
        """One signed POST; True on 2xx."""
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   **signature_headers(self._secret, delivery.msg_id, delivery.body)}
        request = urllib.request.Request(delivery.url, data=delivery.body, headers=headers, method="POST")
        record = {"at": int(time.time() * 1000), "status_code": None, "error": None, "response": None}
        self._counters.webhook("attempted")
        try:
            with urllib.request.urlopen(request, timeout=self._faults.current.webhook_timeout_s) as response:
                record["status_code"] = response.status
                # The receiver's answer, its start kept (tests read what a delivery did).
                record["response"] = response.read(64 * 1024)[:2048].decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            record["status_code"] = error.code
            error.close()
        except (urllib.error.URLError, OSError, ValueError) as error:
            record["error"] = str(getattr(error, "reason", error))
        delivery.attempts.append(record)
        ok = record["status_code"] is not None and 200 <= record["status_code"] < 300
        self._counters.webhook("succeeded" if ok else "failed")
        outcome = f"HTTP {record['status_code']}" if record["status_code"] is not None else record["error"]
        what = "duplicated (fault duplicate_webhook_rate)" if duplicate else ("delivered" if ok else "failed")
        joblog.step(delivery.job_id, f"webhook {delivery.event} {what}: {outcome} (attempt {len(delivery.attempts)})")
        return ok
