"""The API worker's crons, by schedule: each string here is one of wrangler.api.toml's [triggers]."""

from api.daily_report import log_daily_report
from api.orphan_sweep import sweep_orphan_originals
from api.rendition_sweep import sweep_orphan_renditions

DAILY_REPORT_CRON = "0 9 * * *"
ORPHAN_SWEEP_CRON = "17 * * * *"


async def sweep_orphans(env, now_ms: int) -> dict:
    """The hourly sweep: originals no record owns, then renditions of media that are gone."""
    return {
        "originals": await sweep_orphan_originals(env, now_ms),
        "renditions": await sweep_orphan_renditions(env, now_ms),
    }


async def run_scheduled(env, cron: str, now_ms: int) -> dict:
    """Run the task of `cron`; no cron at all (a manual trigger) runs every task.

    An unknown schedule is an error: a trigger was added to the config without its task.
    """
    if cron == DAILY_REPORT_CRON:
        return await log_daily_report(env, cron)
    if cron == ORPHAN_SWEEP_CRON:
        return await sweep_orphans(env, now_ms)
    if not cron:
        return {"report": await log_daily_report(env, cron), "sweep": await sweep_orphans(env, now_ms)}
    known = ", ".join(repr(c) for c in (DAILY_REPORT_CRON, ORPHAN_SWEEP_CRON))
    raise ValueError(f"no task for cron {cron!r} (known: {known}); add it to api/scheduled.py")
