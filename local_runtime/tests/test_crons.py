"""Crons fired on schedule (local_runtime/crons.py): reading them, fire times, the switch,
and one scheduler run against fake workers. No stack, no real minute: milliseconds."""

from __future__ import annotations

import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from local_runtime.crons import (
    CronConfigError,
    CronScheduler,
    CronTarget,
    advance,
    crons_enabled,
    crons_of,
    next_fire,
    read_crons,
    targets_for,
)
from local_runtime.stack import Stack, WorkerSpec

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- reading the configs ------------------------------------------------------------------

def test_the_project_configs_crons_are_read_and_valid():
    # The configs are the source of truth: whatever they hold must be schedulable.
    api, processor = read_crons(ROOT / "wrangler.api.toml"), read_crons(ROOT / "wrangler.processor.toml")
    assert api and processor
    for cron in api + processor:
        assert next_fire(cron, at("2026-11-05T12:00:00")) > at("2026-11-05T12:00:00")


def test_crons_come_from_the_triggers_section(tmp_path):
    config = tmp_path / "wrangler.toml"
    config.write_text('name = "w"\n[vars]\ncrons = "not these"\n[triggers]\ncrons = ["*/5 * * * *", "0 9 * * *"]\n')
    assert read_crons(config) == ["*/5 * * * *", "0 9 * * *"]
    assert crons_of({"name": "no triggers"}) == []
    assert crons_of({"triggers": {}}) == []


def test_an_invalid_cron_is_refused_with_its_text():
    with pytest.raises(CronConfigError, match="61"):
        crons_of({"triggers": {"crons": ["61 * * * *"]}})


# -- fire times ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("*/5 * * * *", "2026-11-05T12:00:59", "2026-11-05T12:05:00"),
        ("*/5 * * * *", "2026-11-05T12:05:00", "2026-11-05T12:10:00"),  # strictly after
        ("17 * * * *", "2026-11-05T12:17:30", "2026-11-05T13:17:00"),
        ("0 9 * * *", "2026-11-05T09:00:01", "2026-11-06T09:00:00"),
        ("* * * * *", "2026-11-05T23:59:59.900", "2026-11-06T00:00:00"),
    ],
)
def test_next_fire_is_the_first_slot_strictly_after(cron, after, expected):
    assert next_fire(cron, at(after)) == at(expected)


def test_next_fire_is_computed_in_utc_whatever_the_callers_zone():
    # Cloudflare evaluates cron triggers in UTC: 09:00 UTC is 11:00 in UTC+2.
    plus_two = timezone(timedelta(hours=2))
    fired = next_fire("0 9 * * *", datetime(2026, 11, 5, 10, 0, tzinfo=plus_two))
    assert fired == at("2026-11-05T09:00:00") and fired.utcoffset() == timedelta(0)
    with pytest.raises(ValueError):
        next_fire("0 9 * * *", datetime(2026, 11, 5, 10, 0))


def test_advance_fires_due_targets_once_even_after_many_missed_slots():
    five, daily = CronTarget("p", "http://p", "*/5 * * * *"), CronTarget("a", "http://a", "0 9 * * *")
    schedule = {five: at("2026-11-05T12:00:00"), daily: at("2026-11-06T09:00:00")}
    assert advance(schedule, at("2026-11-05T11:59:59")) == []
    # The machine slept three hours: the 5-minute cron runs once, then keeps its rhythm.
    assert advance(schedule, at("2026-11-05T15:07:00")) == [(five, at("2026-11-05T12:00:00"))]
    assert schedule == {five: at("2026-11-05T15:10:00"), daily: at("2026-11-06T09:00:00")}


# -- the switch ---------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("1", True), ("true", True), ("",  True),
                                                ("0", False), ("false", False), ("OFF", False)])
def test_local_crons_variable(value, enabled):
    environ = {} if value is None else {"LOCAL_CRONS": value}
    assert crons_enabled(environ) is enabled


def test_local_crons_variable_with_a_typo_is_an_error_not_a_guess():
    with pytest.raises(CronConfigError, match="LOCAL_CRONS"):
        crons_enabled({"LOCAL_CRONS": "nope"})


def test_stacks_do_not_fire_crons_unless_asked(tmp_path):
    # Tests trigger crons by hand; only scripts/dev asks for the scheduler.
    from scripts.pipeline_stack import PipelineStack, Ports

    stack = PipelineStack(ports=Ports.free(), state_dir=tmp_path, work_dir=tmp_path, dev_vars=tmp_path / "v")
    assert stack.crons is False and stack._worker_stack().crons is False
    config = ROOT / "wrangler.processor.toml"
    assert Stack([WorkerSpec(config, 1)], state_dir=tmp_path, work_dir=tmp_path).crons is False


# -- the scheduler against fake workers ---------------------------------------------------

class FakeWorker:
    """An HTTP server that records the scheduled requests it gets (path, query, port)."""

    def __init__(self, clock):
        self.requests: list[dict] = []
        self.got_one = threading.Event()
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                worker.requests.append({"path": parts.path, "query": urllib.parse.parse_qs(parts.query),
                                        "port": self.server.server_address[1], "clock": clock()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                worker.got_one.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_scheduler_requests_each_workers_own_scheduled_route_when_its_cron_is_due():
    # The injected clock starts 0.2 s before a minute boundary and runs at real speed,
    # so an every-minute cron is due 0.2 s after the start: no real minute is waited.
    started, boundary = time.monotonic(), at("2026-11-05T12:01:00")

    def clock():
        return boundary - timedelta(seconds=0.2) + timedelta(seconds=time.monotonic() - started)

    every_minute, daily = FakeWorker(clock), FakeWorker(clock)
    lines: list[str] = []
    scheduler = CronScheduler(
        targets_for("processor", every_minute.url, ["* * * * *"]) + targets_for("api", daily.url, ["0 9 * * *"]),
        log=lines.append, clock=clock, max_wait=0.05,
    ).start()
    try:
        assert every_minute.got_one.wait(20), lines
        deadline = time.monotonic() + 20
        while not any("HTTP 200" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.stop()
        every_minute.close()
        daily.close()
    assert not scheduler.running
    [request] = every_minute.requests
    assert request["path"] == "/cdn-cgi/handler/scheduled"
    # The slot, not the moment of the request, is the event's scheduledTime (as in production).
    assert request["query"] == {"cron": ["* * * * *"], "time": [str(int(boundary.timestamp() * 1000))]}
    assert request["port"] == every_minute.port
    assert request["clock"] >= boundary  # not before it was due
    assert daily.requests == []  # the other worker's cron is not due: nothing sent to its port
    [run] = [line for line in lines if "HTTP 200" in line]
    assert run.startswith('[crons] processor "* * * * *" (due 12:01 UTC): HTTP 200 in ')
    assert any(line.startswith('[crons] api "0 9 * * *": next run 2026-11-06 09:00 UTC') for line in lines)


def test_a_failing_worker_is_logged_and_scheduling_goes_on():
    calls: list[str] = []

    def trigger(url, cron, scheduled_time, timeout):
        calls.append(url)
        raise ConnectionRefusedError("worker restarting")

    now = [at("2026-11-05T12:00:59.990")]
    lines: list[str] = []
    scheduler = CronScheduler([CronTarget("api", "http://127.0.0.1:1", "* * * * *")], log=lines.append,
                              trigger=trigger, clock=lambda: now[0], max_wait=0.01).start()
    try:
        now[0] = at("2026-11-05T12:01:00")
        deadline = time.monotonic() + 20
        while len([line for line in lines if "failed" in line]) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        now[0] = at("2026-11-05T12:02:00")
        while len([line for line in lines if "failed" in line]) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.stop()
    failures = [line for line in lines if "failed" in line]
    assert len(failures) == 2 and calls == ["http://127.0.0.1:1"] * 2
    assert "ConnectionRefusedError: worker restarting" in failures[0]


def test_stop_ends_the_scheduler_at_once_however_far_the_next_run():
    scheduler = CronScheduler([CronTarget("api", "http://127.0.0.1:1", "0 9 1 1 *")], log=lambda line: None).start()
    started = time.monotonic()
    scheduler.stop()
    assert not scheduler.running and time.monotonic() - started < 5


def test_a_stack_aims_each_workers_crons_at_that_workers_own_port(tmp_path):
    from types import SimpleNamespace

    from local_runtime.derive import load_worker

    api, processor = ROOT / "wrangler.api.toml", ROOT / "wrangler.processor.toml"
    stack = Stack([WorkerSpec(api, 8101, label="api"), WorkerSpec(processor, 8102)],
                  state_dir=tmp_path, work_dir=tmp_path, crons=True)
    stack.running = [
        SimpleNamespace(worker=load_worker(spec.config), spec=spec, url=f"http://127.0.0.1:{spec.port}")
        for spec in stack.specs
    ]
    targets = stack.cron_targets()
    assert [t for t in targets if t.url.endswith(":8101")] == targets_for("api", "http://127.0.0.1:8101", read_crons(api))
    processor_name = load_worker(processor).name  # no label: the worker's name
    assert [t for t in targets if t.url.endswith(":8102")] == targets_for(
        processor_name, "http://127.0.0.1:8102", read_crons(processor))
