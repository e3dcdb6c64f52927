"""The retention task of the API's hourly cron: what D1 keeps of an item past EVENT_RETENTION_DAYS.

D1 holds 10 GB a database; at 16 KiB an item it was full at about 610,000 items, inside the
range the pipeline is meant for (docs/scale.md, section 4.3). Most of those bytes are history
that matters for a month: events' payloads, webhook deliveries and their attempts (Ittybit's
webhook ids, kept for de-duplication, are the processor's reconcile's to prune: after 24 h).
Past the window (30 days by default, the window in which a delivery can be replayed):

* events' data moves to R2 (common.event_archive): the timeline reads the same afterwards;
* settled deliveries (delivered or failed) and their attempts are deleted: an endpoint's
  delivery history, and what can be replayed, is the window.

Pending deliveries, and events with one, are never touched. Each part is bounded per run
(`MAX_PER_RUN` events, `PRUNE_BATCH` x `PRUNE_ROUNDS` rows), so a run stays well inside one
invocation's limits and a backlog is worked off over the following hours.
"""

from __future__ import annotations

import json

from api.settings import settings_from_env
from common import d1
from common.event_archive import archive_due_events

__all__ = ["DAY_MS", "PRUNE_BATCH", "PRUNE_ROUNDS", "apply_retention", "prune_statements"]

DAY_MS = 86_400_000
PRUNE_BATCH = 2000
PRUNE_ROUNDS = 5

# Parameters (both): cutoff, limit. One batch (one transaction): the attempts of the settled
# deliveries chosen, then those deliveries; the same subquery picks the same rows in both.
_SETTLED = ("SELECT id FROM event_deliveries WHERE status != 'pending' AND updated_at < ?1"
            " ORDER BY updated_at LIMIT ?2")
PRUNE_ATTEMPTS = f"DELETE FROM delivery_attempts WHERE delivery_id IN ({_SETTLED})"
PRUNE_DELIVERIES = f"DELETE FROM event_deliveries WHERE id IN ({_SETTLED})"


def prune_statements(cutoff_ms: int, limit: int = PRUNE_BATCH) -> list[tuple]:
    """The batch that deletes up to `limit` settled deliveries older than `cutoff_ms`, attempts first."""
    return [(PRUNE_ATTEMPTS, cutoff_ms, limit), (PRUNE_DELIVERIES, cutoff_ms, limit)]


async def _prune_deliveries(db, cutoff_ms: int) -> tuple[int, int]:
    attempts = deliveries = 0
    for _ in range(PRUNE_ROUNDS):
        gone_attempts, gone_deliveries = await d1.batch(db, prune_statements(cutoff_ms, PRUNE_BATCH))
        attempts += gone_attempts
        deliveries += gone_deliveries
        if gone_deliveries < PRUNE_BATCH:
            break
    return attempts, deliveries


async def apply_retention(env, now_ms: int, log=print) -> dict:
    """One run: archive due events' data to R2 and prune settled deliveries.
    Returns (and logs, as `retention: ...`) what it did."""
    days = settings_from_env(env).event_retention_days
    cutoff = now_ms - days * DAY_MS
    archived = await archive_due_events(env.DB, env.MEDIA, cutoff, now_ms)
    attempts, deliveries = await _prune_deliveries(env.DB, cutoff)
    summary = {"retention_days": days, "archived": archived.as_dict(), "deliveries_pruned": deliveries,
               "attempts_pruned": attempts}
    log("retention: " + json.dumps(summary, sort_keys=True))
    return summary
