"""The hourly cron's first task: delete originals in R2 that no D1 record owns.

An upload writes R2 first and D1 second (the record must never point at a missing file),
so a Worker stopped between the two (a crash, a deploy, a lost isolate) leaves an object
under `originals/` that nothing refers to and nothing else would ever delete. The sweep
(api.prefix_sweep: a few pages per run, resuming after the last key it looked at, kept in KV
under RESUME_KEY) deletes the objects older than `ORPHAN_MIN_AGE_SECONDS` whose key is no
record's `r2_key`. The age guard keeps it away from uploads whose D1 insert is still to come.
"""

from collections.abc import Sequence

from api.prefix_sweep import KEYS_PER_QUERY, chunks, sweep_prefix
from common import d1
from common.keys import ORIGINALS_PREFIX

PREFIX = ORIGINALS_PREFIX
RESUME_KEY = "sweep:originals:after"


def owners_query(count: int) -> str:
    """The statement that returns which of `count` keys a media record owns."""
    return f"SELECT r2_key FROM media WHERE r2_key IN ({', '.join('?' * count)})"


async def _owned(db, keys: Sequence[str]) -> set[str]:
    owned: set[str] = set()
    for part in chunks(keys, KEYS_PER_QUERY):
        owned.update(row["r2_key"] for row in await d1.all_rows(db, owners_query(len(part)), *part))
    return owned


async def sweep_orphan_originals(env, now_ms: int) -> dict:
    """One run of the sweep of originals; returns (and logs) what it looked at and deleted."""
    return await sweep_prefix(env, now_ms, label="orphan sweep", prefix=PREFIX, resume_key=RESUME_KEY, owned=_owned)
