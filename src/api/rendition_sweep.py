"""The hourly cron's second task: delete renditions in R2 whose media record is gone.

A rendition copy (the processor's `rendition.store`) can finish its R2 put just after a
`DELETE /api/media/{id}` removed everything under `renditions/<id>/`, and check for the record
just before the delete's D1 batch commits: the file then stays with no row to name it. Any
key `renditions/<id>/...` whose `<id>` has no media row and that is older than
`ORPHAN_MIN_AGE_SECONDS` is deleted, a few pages per run, resuming from the key kept in KV
under RESUME_KEY (api.prefix_sweep). A media row, whatever its status, keeps all its files.
"""

from collections.abc import Sequence

from api.prefix_sweep import KEYS_PER_QUERY, chunks, sweep_prefix
from common import d1
from common.keys import RENDITIONS_PREFIX

PREFIX = RENDITIONS_PREFIX
RESUME_KEY = "sweep:renditions:after"


def media_id_of(key: str) -> str:
    """The `<id>` of `renditions/<id>/<name>` (the text up to the next slash)."""
    return key[len(PREFIX):].split("/", 1)[0]


def media_query(count: int) -> str:
    """The statement that returns which of `count` media ids have a record."""
    return f"SELECT id FROM media WHERE id IN ({', '.join('?' * count)})"


async def _owned(db, keys: Sequence[str]) -> set[str]:
    ids = sorted({media_id_of(key) for key in keys})
    present: set[str] = set()
    for part in chunks(ids, KEYS_PER_QUERY):
        present.update(row["id"] for row in await d1.all_rows(db, media_query(len(part)), *part))
    return {key for key in keys if media_id_of(key) in present}


async def sweep_orphan_renditions(env, now_ms: int) -> dict:
    """One run of the sweep of renditions; returns (and logs) what it looked at and deleted."""
    return await sweep_prefix(env, now_ms, label="rendition sweep", prefix=PREFIX, resume_key=RESUME_KEY,
                              owned=_owned)
