"""The daily cron: one log line with the pipeline's counts."""

import json

from common import d1
from common.media_records import STATS, stats_json


async def log_daily_report(env, cron: str) -> dict:
    """Read the counts and print them as one JSON log line (visible in `wrangler tail`)."""
    counts = stats_json(await d1.first_row(env.DB, STATS))
    print("daily report: " + json.dumps({"cron": cron, **counts}, sort_keys=True))
    return counts
