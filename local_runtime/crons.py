"""Cron triggers fired on schedule, as Cloudflare fires them in production.

`wrangler dev` never fires a worker's `[triggers] crons` by itself. This module reads them
from each worker's wrangler config (the single source of truth), computes their fire
times in UTC (Cloudflare evaluates cron triggers in UTC) with `croniter`, and at each one
requests that worker's own `/cdn-cgi/handler/scheduled?cron=<expr>&time=<slot ms>` on its
own port (the slot becomes the event's `scheduledTime`, as in production), one log line
per run. `scripts/dev` turns it on (`LOCAL_CRONS=0` turns it off); test stacks
never start it unless asked, so tests keep triggering crons by hand.
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from croniter import croniter

CRONS_ENV = "LOCAL_CRONS"
_ON = {"", "1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


class CronConfigError(ValueError):
    """A cron expression or switch the scheduler cannot use."""


def crons_enabled(environ: Mapping[str, str]) -> bool:
    """Whether `LOCAL_CRONS` (default on) lets crons fire on their own."""
    value = environ.get(CRONS_ENV, "1").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise CronConfigError(f"{CRONS_ENV} must be 1 or 0 (true/false), not {value!r}")


def crons_of(raw_config: Mapping) -> list[str]:
    """The `[triggers] crons` of a parsed wrangler config, each checked."""
    crons = list((raw_config.get("triggers") or {}).get("crons") or [])
    for cron in crons:
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise CronConfigError(f"not a cron expression: {cron!r}")
    return crons


def read_crons(config_path: Path) -> list[str]:
    """The `[triggers] crons` of a wrangler TOML config."""
    with Path(config_path).open("rb") as handle:
        return crons_of(tomllib.load(handle))


def next_fire(cron: str, after: datetime) -> datetime:
    """The first time strictly after `after` at which `cron` fires (UTC, aware)."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    return croniter(cron, after.astimezone(timezone.utc)).get_next(datetime)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CronTarget:
    """One cron of one worker: where its scheduled handler answers."""

    label: str  # the worker's name in the log
    url: str  # the worker's base URL, e.g. http://127.0.0.1:8788
    cron: str


def targets_for(label: str, url: str, crons: Iterable[str]) -> list[CronTarget]:
    return [CronTarget(label, url, cron) for cron in crons]


def advance(schedule: dict[CronTarget, datetime], now: datetime) -> list[tuple[CronTarget, datetime]]:
    """Take the targets due at `now` (with the time each was due) and move each one's next
    time to its first fire time after `now`. Slots missed while the machine slept fire once,
    not once per slot (as a late trigger, not a backlog)."""
    due = [(target, at) for target, at in schedule.items() if at <= now]
    for target, _ in due:
        schedule[target] = next_fire(target.cron, now)
    return due


Trigger = Callable[[str, str, datetime, float], int]


def http_trigger(url: str, cron: str, scheduled_time: datetime, timeout: float) -> int:
    """GET the worker's scheduled route (the slot as `scheduledTime`, as in production);
    returns the HTTP status."""
    from local_runtime.stack import trigger_cron  # stack imports this module

    return trigger_cron(url, cron, timeout=timeout, scheduled_time=scheduled_time)


class CronScheduler:
    """Fires every target's cron on schedule on a background thread; `stop()` ends it.

    Each run has a thread of its own (a long run never delays another cron, as in
    production). `clock` gives the wall-clock time (UTC, aware) and is re-read at least
    every `max_wait` seconds, so a changed clock or a suspended machine is noticed."""

    def __init__(
        self,
        targets: Iterable[CronTarget],
        *,
        log: Callable[[str], None],
        trigger: Trigger = http_trigger,
        clock: Callable[[], datetime] = utc_now,
        max_wait: float = 30.0,
        request_timeout: float = 300.0,
    ) -> None:
        self.targets = list(targets)
        self._log = log
        self._trigger = trigger
        self._clock = clock
        self._max_wait = max_wait
        self._request_timeout = request_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._runs: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self) -> CronScheduler:
        now = self._clock()
        schedule = {target: next_fire(target.cron, now) for target in self.targets}
        for target, at in schedule.items():
            self._log(f"[crons] {target.label} \"{target.cron}\": next run {at:%Y-%m-%d %H:%M} UTC")
        self._thread = threading.Thread(target=self._loop, args=(schedule,), name="local-crons", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop scheduling and wait (bounded) for runs in flight."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.join(max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self, schedule: dict[CronTarget, datetime]) -> None:
        while not self._stop.is_set():
            for target, at in advance(schedule, self._clock()):
                self._spawn(target, at)
            if not schedule:
                self._stop.wait()
                return
            wait = min(at for at in schedule.values()) - self._clock()
            self._stop.wait(min(max(wait.total_seconds(), 0.0), self._max_wait))

    def _spawn(self, target: CronTarget, at: datetime) -> None:
        run = threading.Thread(target=self._run, args=(target, at), name="local-cron-run", daemon=True)
        with self._lock:
            self._runs.add(run)
        run.start()

    def _run(self, target: CronTarget, at: datetime) -> None:
        started = time.monotonic()
        try:
            try:
                outcome = f"HTTP {self._trigger(target.url, target.cron, at, self._request_timeout)}"
            except Exception as error:  # the worker is down or restarting: say so, keep scheduling
                outcome = f"failed ({type(error).__name__}: {error})"
            seconds = time.monotonic() - started
            self._log(f"[crons] {target.label} \"{target.cron}\" (due {at:%H:%M} UTC): {outcome} in {seconds:.2f} s")
        finally:
            with self._lock:
                self._runs.discard(threading.current_thread())
