"""Counters that tests read from ``GET /_emulator/counters``."""

import threading
from collections import defaultdict

__all__ = ["Counters"]

_WEBHOOK_KEYS = ("attempted", "succeeded", "failed", "retried", "exhausted", "dropped", "duplicated", "held")


class Counters:
    """Thread-safe tallies of jobs, probe tasks, requests, webhook deliveries and ffmpeg time."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero everything."""
        with self._lock:
            self._jobs_created = 0
            self._connections_created = 0
            self._by_key: dict[str, int] = defaultdict(int)
            self._connections_by_key: dict[str, int] = defaultdict(int)
            self._replays_by_key: dict[str, int] = defaultdict(int)
            self._jobs_final: dict[str, int] = defaultdict(int)
            self._probes_created = 0
            self._probes_by_key: dict[str, int] = defaultdict(int)
            self._probes_final: dict[str, int] = defaultdict(int)
            self._requests_total = 0
            self._by_route: dict[str, int] = defaultdict(int)
            self._by_status: dict[str, int] = defaultdict(int)
            self._faults: dict[str, int] = defaultdict(int)
            self._webhooks = dict.fromkeys(_WEBHOOK_KEYS, 0)
            self._ffmpeg_runs = 0
            self._ffmpeg_seconds = 0.0
            self._ffmpeg_peak = 0
            self._ffmpeg_by_job: dict[str, float] = defaultdict(float)

    def job_created(self, idempotency_key: str | None) -> None:
        with self._lock:
            self._jobs_created += 1
            if idempotency_key is not None:
                self._by_key[idempotency_key] += 1

    def connection_created(self, idempotency_key: str | None) -> None:
        with self._lock:
            self._connections_created += 1
            if idempotency_key is not None:
                self._connections_by_key[idempotency_key] += 1

    def replayed(self, idempotency_key: str) -> None:
        with self._lock:
            self._replays_by_key[idempotency_key] += 1

    def probe_created(self, idempotency_key: str | None) -> None:
        with self._lock:
            self._probes_created += 1
            if idempotency_key is not None:
                self._probes_by_key[idempotency_key] += 1

    def probe_final(self, status: str) -> None:
        with self._lock:
            self._probes_final[status] += 1

    def job_final(self, status: str) -> None:
        with self._lock:
            self._jobs_final[status] += 1

    def request(self, route: str, status: int) -> None:
        with self._lock:
            self._requests_total += 1
            self._by_route[route] += 1
            self._by_status[str(status)] += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self._faults[name] += 1

    def webhook(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._webhooks[name] += amount

    def ffmpeg_running(self, count: int) -> None:
        """Note how many ffmpeg processes run at once (the pool bounds it)."""
        with self._lock:
            self._ffmpeg_peak = max(self._ffmpeg_peak, count)

    def ffmpeg(self, seconds: float, job_id: str | None = None) -> None:
        with self._lock:
            self._ffmpeg_runs += 1
            self._ffmpeg_seconds += seconds
            if job_id is not None:
                self._ffmpeg_by_job[job_id] += seconds

    def snapshot(self) -> dict:
        """A JSON-ready copy of every counter."""
        with self._lock:
            return {
                "jobs_created": self._jobs_created,
                "jobs_by_idempotency_key": dict(self._by_key),
                "replays_by_idempotency_key": dict(self._replays_by_key),
                "connections_created": self._connections_created,
                "connections_by_idempotency_key": dict(self._connections_by_key),
                "jobs_finished": dict(self._jobs_final),
                "probes_created": self._probes_created,
                "probes_by_idempotency_key": dict(self._probes_by_key),
                "probes_finished": dict(self._probes_final),
                "requests": {
                    "total": self._requests_total,
                    "by_route": dict(self._by_route),
                    "by_status": dict(self._by_status),
                    "faults": dict(self._faults),
                },
                "webhook_deliveries": dict(self._webhooks),
                "ffmpeg_runs": self._ffmpeg_runs,
                "ffmpeg_seconds": round(self._ffmpeg_seconds, 3),
                "ffmpeg_peak_concurrency": self._ffmpeg_peak,
                "ffmpeg_seconds_by_job": {k: round(v, 3) for k, v in self._ffmpeg_by_job.items()},
            }
