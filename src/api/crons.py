"""The API worker's crons: CRONS maps each schedule of wrangler.api.toml's [triggers] to its task."""

import json

from api.orphan_sweep import sweep_orphan_originals, sweep_orphan_renditions
from common import d1
from common.media_records import STATS, stats_json

DAILY_REPORT_CRON = "0 9 * * *"
ORPHAN_SWEEP_CRON = "17 * * * *"


async def log_daily_report(env, cron: str, now_ms: int) -> dict:
    """Read the counts and print them as one JSON log line (visible in `wrangler tail`)."""
    counts = stats_json(await d1.first_row(env.DB, STATS))
    print("daily report: " + json.dumps({"cron": cron, **counts}, sort_keys=True))
    return counts


async def sweep_orphans(env, cron: str, now_ms: int) -> dict:
    """The hourly sweep: originals no record owns, renditions of media that are gone, and
    resumable uploads past their expiry (their R2 multipart uploads aborted)."""
    from api.resumable_uploads import expire_uploads

    return {
        "originals": await sweep_orphan_originals(env, now_ms),
        "renditions": await sweep_orphan_renditions(env, now_ms),
        "uploads": await expire_uploads(env, now_ms),
    }


# schedule -> task(env, cron, now_ms); a manual trigger without a cron runs each, under its key.
CRONS = {
    DAILY_REPORT_CRON: log_daily_report,
    ORPHAN_SWEEP_CRON: sweep_orphans,
}
_MANUAL_KEYS = {DAILY_REPORT_CRON: "report", ORPHAN_SWEEP_CRON: "sweep"}


async def run_scheduled(env, cron: str, now_ms: int) -> dict:
    """Run the task of `cron`; no cron at all (a manual trigger) runs every task.

    An unknown schedule is an error: a trigger was added to the config without its task.
    """
    if not cron:
        return {_MANUAL_KEYS[schedule]: await task(env, cron, now_ms) for schedule, task in CRONS.items()}
    task = CRONS.get(cron)
    if task is None:
        known = ", ".join(repr(c) for c in CRONS)
        raise ValueError(f"no task for cron {cron!r} (known: {known}); add it to CRONS in api/crons.py")
    return await task(env, cron, now_ms)
