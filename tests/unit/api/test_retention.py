"""api.retention: past EVENT_RETENTION_DAYS the hourly cron archives events' data, prunes settled
deliveries with their attempts, and never touches a pending delivery."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from api import retention
from api.crons import ORPHAN_SWEEP_CRON, run_scheduled
from api.retention import DAY_MS, apply_retention
from api.settings import settings_from_env
from common.event_archive import ARCHIVED
from common.events import event_statement
from common.settings import ConfigError
from tests.unit.fakes import FakeD1, FakeKV, FakeTextBucket

NOW_MS = 1_800_000_000_000


def run(coroutine):
    return asyncio.run(coroutine)


class Bucket(FakeTextBucket):
    """Also R2's list, for the orphan sweeps of the same cron run (an empty bucket)."""

    async def list(self, options):
        return SimpleNamespace(objects=[], truncated=False)

    async def delete(self, keys):
        pass


def make_env(**vars_):
    return SimpleNamespace(DB=FakeD1(), MEDIA=Bucket(), METADATA=FakeKV(), **vars_)


def add_delivery(db, delivery: str, status: str, updated_at: int, attempts: int = 2) -> str:
    sql, event_id, *params = event_statement("m_1", "media.ready", {"id": "m_1"}, updated_at, delivery)
    db.conn.execute(sql, (event_id, *params))
    db.conn.execute("UPDATE events SET published_at = created_at WHERE id = ?", (event_id,))
    db.conn.execute("INSERT INTO event_deliveries (id, event_id, endpoint_id, status, attempts, created_at, updated_at)"
                    " VALUES (?, ?, 'ep_1', ?, ?, ?, ?)", (delivery, event_id, status, attempts, updated_at, updated_at))
    for attempt in range(1, attempts + 1):
        db.conn.execute("INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms)"
                        " VALUES (?, ?, ?, 5)", (delivery, attempt, updated_at))
    return event_id


def test_settled_deliveries_and_their_attempts_go_after_the_window_pending_ones_never():
    env = make_env()
    db = env.DB
    add_delivery(db, "dlv_old_ok", "delivered", NOW_MS - 31 * DAY_MS)
    add_delivery(db, "dlv_old_failed", "failed", NOW_MS - 45 * DAY_MS)
    pending_event = add_delivery(db, "dlv_old_pending", "pending", NOW_MS - 40 * DAY_MS)
    add_delivery(db, "dlv_recent", "delivered", NOW_MS - 29 * DAY_MS)
    summary = run(apply_retention(env, NOW_MS, log=lambda line: None))
    assert summary["deliveries_pruned"] == 2 and summary["attempts_pruned"] == 4
    assert summary["retention_days"] == 30
    assert sorted(r["id"] for r in db.rows("SELECT id FROM event_deliveries")) == ["dlv_old_pending", "dlv_recent"]
    assert sorted({r["delivery_id"] for r in db.rows("SELECT delivery_id FROM delivery_attempts")}) == \
        ["dlv_old_pending", "dlv_recent"]
    # The events of the settled old deliveries went to R2; the one still pending kept its data.
    data = {r["id"]: r["data"] for r in db.rows("SELECT id, data FROM events")}
    assert data[pending_event] != ARCHIVED
    assert sum(value == ARCHIVED for value in data.values()) == 2 and summary["archived"]["events"] == 2


def test_pruning_is_bounded_per_run(monkeypatch):
    monkeypatch.setattr(retention, "PRUNE_BATCH", 3)
    monkeypatch.setattr(retention, "PRUNE_ROUNDS", 2)
    env = make_env()
    for n in range(10):
        add_delivery(env.DB, f"dlv_{n}", "delivered", NOW_MS - 40 * DAY_MS + n, attempts=1)
    assert run(apply_retention(env, NOW_MS, log=lambda line: None))["deliveries_pruned"] == 6
    assert run(apply_retention(env, NOW_MS, log=lambda line: None))["deliveries_pruned"] == 4
    assert env.DB.rows("SELECT COUNT(*) AS n FROM delivery_attempts")[0]["n"] == 0


def test_the_window_is_the_var_and_a_bad_value_is_a_config_error():
    env = make_env(EVENT_RETENTION_DAYS="7")
    add_delivery(env.DB, "dlv_8_days", "delivered", NOW_MS - 8 * DAY_MS)
    assert run(apply_retention(env, NOW_MS, log=lambda line: None))["deliveries_pruned"] == 1
    for bad in ("0", "-1", "a month"):
        with pytest.raises(ConfigError, match="EVENT_RETENTION_DAYS"):
            settings_from_env(SimpleNamespace(EVENT_RETENTION_DAYS=bad))


def test_the_hourly_cron_runs_the_retention_and_logs_it(capsys):
    env = make_env(ORPHAN_MIN_AGE_SECONDS="3600")
    add_delivery(env.DB, "dlv_old", "delivered", NOW_MS - 31 * DAY_MS)
    result = run(run_scheduled(env, ORPHAN_SWEEP_CRON, NOW_MS))
    assert result["retention"]["deliveries_pruned"] == 1
    assert "retention: " in capsys.readouterr().out
