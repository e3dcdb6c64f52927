"""The API worker's crons, by schedule: each string here is one of wrangler.api.toml's [triggers]."""

from api.daily_report import log_daily_report
from api.orphan_sweep import sweep_orphan_originals

DAILY_REPORT_CRON = "0 9 * * *"
ORPHAN_SWEEP_CRON = "17 * * * *"


async def run_scheduled(env, cron: str, now_ms: int) -> dict:
    """Run the task of `cron`; no cron at all (a manual trigger) runs every task.

    An unknown schedule is an error: a trigger was added to the config without its task.
    """
    if cron == DAILY_REPORT_CRON:
        return await log_daily_report(env, cron)
    if cron == ORPHAN_SWEEP_CRON:
        return await sweep_orphan_originals(env, now_ms)
    if not cron:
        return {"report": await log_daily_report(env, cron), "sweep": await sweep_orphan_originals(env, now_ms)}
    known = ", ".join(repr(c) for c in (DAILY_REPORT_CRON, ORPHAN_SWEEP_CRON))
    raise ValueError(f"no task for cron {cron!r} (known: {known}); add it to api/scheduled.py")
