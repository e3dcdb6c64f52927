"""Fault and behaviour switches, set at start (CLI/env) or at run time (``PUT /_emulator/faults``).

Every rate is a share between 0 and 1 decided by one seeded random generator,
so a run with ``seed`` set is repeatable.
"""

import dataclasses
import random
import threading
import time
from dataclasses import dataclass, field, fields

__all__ = ["Switches", "Faults", "SWITCH_HELP"]


@dataclass
class Switches:
    """The runtime-tunable knobs; the field names are the JSON keys of the admin API."""

    # API answers (POST/GET /jobs*, /tasks*, /connections*); a faulted answer never creates anything.
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    slow_ms: int = 0
    max_requests_per_second: float = 0.0
    drop_response_rate: float = 0.0
    idempotency_mismatch_status: int = 409
    # Jobs.
    fail_job_rate: float = 0.0
    processing_delay_ms: int = 0
    status_vocabulary: str = "completed"
    # Probe tasks.
    fail_probe_rate: float = 0.0
    probe_delay_ms: int = 0
    # Output files.
    chunked_outputs: bool = False
    fail_segment_requests: int = 0
    # Webhooks.
    webhook_format: str = "job"
    processing_webhooks: bool = False
    drop_webhook_rate: float = 0.0
    duplicate_webhook_rate: float = 0.0
    reorder_webhooks: bool = False
    reorder_window: int = 2
    reorder_hold_ms: int = 2000
    webhook_max_attempts: int = 6
    webhook_retry_base_s: float = 0.5
    webhook_retry_max_s: float = 60.0
    webhook_timeout_s: float = 10.0
    seed: int | None = field(default=None)


SWITCH_HELP = {
    "error_rate": "share of API answers replaced by 500/503 (nothing is created)",
    "rate_limit_rate": "share of API answers replaced by 429 with Retry-After",
    "retry_after": "seconds sent in Retry-After on injected 429s",
    "slow_ms": "delay added before every API answer",
    "max_requests_per_second": "real rate limit on API routes (0 = off); excess gets 429",
    "drop_response_rate": "share of POST /jobs and POST /tasks whose job or task IS created but whose answer is dropped (connection closed)",
    "idempotency_mismatch_status": "status for a reused Idempotency-Key with another body: 409 (conflict), 422 or 400",
    "fail_job_rate": "share of jobs that end failed with an injected error",
    "processing_delay_ms": "extra time each job spends in processing",
    "status_vocabulary": "final success status: completed, succeeded or ready",
    "fail_probe_rate": "share of probe tasks that end failed with an injected error",
    "probe_delay_ms": "answer POST /tasks at once with status processing and finish the probe this long after (0 = probe before answering)",
    "fail_segment_requests": "answer the next N GETs of HLS segments (/files/.../*.ts) with 503, one fewer each time",
    "chunked_outputs": "serve output files chunked, without Content-Length, and report no filesize (outputs of unknown length)",
    "webhook_format": "job (bare job object) or event (envelope {id, object: event, kind, data, created_at})",
    "processing_webhooks": "also send a webhook when a job starts processing",
    "drop_webhook_rate": "share of webhook deliveries never sent",
    "duplicate_webhook_rate": "share of webhook deliveries sent twice (same webhook-id)",
    "reorder_webhooks": "hold deliveries and send them in reverse order",
    "reorder_window": "with reorder_webhooks: release the held deliveries once this many are held",
    "reorder_hold_ms": "with reorder_webhooks: release whatever is held after this long",
    "webhook_max_attempts": "attempts per delivery before giving up",
    "webhook_retry_base_s": "first retry delay; doubles per attempt",
    "webhook_retry_max_s": "cap on the retry delay",
    "webhook_timeout_s": "timeout of one delivery attempt",
    "seed": "seed of the random generator behind every rate (null = random)",
}

_CHOICES = {
    "status_vocabulary": ("completed", "succeeded", "ready"),
    "webhook_format": ("job", "event"),
    "idempotency_mismatch_status": (409, 422, 400),
}
_MINIMUM = {"reorder_window": 1, "webhook_max_attempts": 1, "webhook_timeout_s": 0.1}


def _coerce(name: str, kind: type, value):
    """Check one switch value from JSON, CLI or env; raise ValueError with the reason."""
    if name == "seed":
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ValueError("seed must be an integer or null")
        return int(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ValueError(f"{name} must be a boolean")
    if name in _CHOICES and kind is int:
        if isinstance(value, bool) or str(value) not in {str(choice) for choice in _CHOICES[name]}:
            raise ValueError(f"{name} must be one of {', '.join(map(str, _CHOICES[name]))}")
        return int(value)
    if kind is str:
        if value not in _CHOICES[name]:
            raise ValueError(f"{name} must be one of {', '.join(_CHOICES[name])}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number")
    number = kind(float(value)) if kind is int else float(value)
    if name.endswith("_rate") and not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    if number < _MINIMUM.get(name, 0):
        raise ValueError(f"{name} must be at least {_MINIMUM.get(name, 0)}")
    return number


def switch_types() -> dict[str, type]:
    """Map each switch name to its Python type."""
    return {f.name: f.type if isinstance(f.type, type) else int for f in fields(Switches)}


def parse_switches(values: dict, base: Switches | None = None) -> Switches:
    """Return ``base`` updated with ``values``; unknown names or bad values raise ValueError."""
    types = switch_types()
    current = dataclasses.asdict(base or Switches())
    for name, value in values.items():
        if name not in types:
            raise ValueError(f"unknown switch {name!r}")
        current[name] = _coerce(name, types[name], value)
    return Switches(**current)


class Faults:
    """The live switches plus the seeded dice that decide each fault."""

    def __init__(self, initial: Switches | None = None):
        self._lock = threading.Lock()
        self._initial = initial or Switches()
        self._switches = self._initial
        self._rng = random.Random(self._initial.seed)
        self._window_second = 0
        self._window_count = 0

    @property
    def current(self) -> Switches:
        return self._switches

    def snapshot(self) -> dict:
        return dataclasses.asdict(self._switches)

    def update(self, values: dict) -> dict:
        """Merge ``values`` into the live switches (ValueError on bad input)."""
        with self._lock:
            self._switches = parse_switches(values, self._switches)
            if "seed" in values:
                self._rng.seed(self._switches.seed)
        return self.snapshot()

    def reset(self) -> None:
        """Back to the switches given at start."""
        with self._lock:
            self._switches = self._initial
            self._rng.seed(self._initial.seed)

    def take_segment_failure(self) -> bool:
        """True (and one fewer left) while fail_segment_requests is above zero."""
        with self._lock:
            left = self._switches.fail_segment_requests
            if left <= 0:
                return False
            self._switches = dataclasses.replace(self._switches, fail_segment_requests=left - 1)
            return True

    def roll(self, rate: float) -> bool:
        """True with probability ``rate``."""
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self._lock:
            return self._rng.random() < rate

    def choice(self, options: tuple):
        with self._lock:
            return self._rng.choice(options)

    def over_rate_limit(self) -> bool:
        """Count one API request against ``max_requests_per_second``."""
        limit = self._switches.max_requests_per_second
        if limit <= 0:
            return False
        with self._lock:
            second = int(time.monotonic())
            if second != self._window_second:
                self._window_second, self._window_count = second, 0
            self._window_count += 1
            return self._window_count > limit
