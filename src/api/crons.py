"""The API worker's crons: CRONS maps each schedule of wrangler.api.toml's [triggers] to its
task: the daily report, and the hourly sweeps of objects in R2 that no D1 record owns, under
originals/, renditions/ and tus/ (with, in the same hourly run, expired resumable uploads and the
retention of history past EVENT_RETENTION_DAYS: api.retention).

Stashes: a tus PATCH leaves the bytes after its last whole part under `tus/<upload id>/`, and
deletes the one it started from; R2 may refuse that delete (the PATCH still succeeds) and the
removal of every stash when the upload ends. A stash whose upload is no longer active is such a
leftover.

Originals: an upload writes R2 first and D1 second (the record must never point at a missing
file), so a Worker stopped between the two (a crash, a deploy, a lost isolate) leaves an object
under `originals/` that nothing refers to and nothing else would ever delete; such a key is no
record's `r2_key`.

Renditions: a rendition copy (the processor's `rendition.store`) can finish its R2 put just after a
`DELETE /api/media/{id}` removed everything under `renditions/<id>/`, and check for the record
just before the delete's D1 batch commits: the file then stays with no row to name it. Any
key `renditions/<id>/...` whose `<id>` has no media row is such a file. A media row, whatever
its status, keeps all its files.

The paging is shared (`sweep_prefix`): list the prefix PAGES_PER_RUN pages of PAGE_SIZE keys,
ask which of them something owns, delete the others once older than `ORPHAN_MIN_AGE_SECONDS`,
and keep the last key looked at in KV (each prefix its own resume key) so the next run goes on
from there (at the end of the prefix it starts over). The age guard keeps a sweep away from
writes whose D1 row is still to come.
"""

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence

from api.settings import settings_from_env
from common import d1
from common.keys import ORIGINALS_PREFIX, RENDITIONS_PREFIX, STASH_PREFIX
from common.media_records import STATS, stats_json

DAILY_REPORT_CRON = "0 9 * * *"
ORPHAN_SWEEP_CRON = "17 * * * *"


async def log_daily_report(env, cron: str, now_ms: int) -> dict:
    """Read the counts and print them as one JSON log line (visible in `wrangler tail`)."""
    counts = stats_json(await d1.first_row(env.DB, STATS))
    print("daily report: " + json.dumps({"cron": cron, **counts}, sort_keys=True))
    return counts


async def sweep_orphans(env, cron: str, now_ms: int) -> dict:
    """The hourly sweep: originals no record owns, renditions of media that are gone, resumable
    uploads past their expiry (their R2 multipart uploads aborted), stashes of uploads that are
    over, and history past the retention window (api.retention)."""
    from api.resumable_uploads import expire_uploads
    from api.retention import apply_retention

    return {
        "originals": await sweep_orphan_originals(env, now_ms),
        "renditions": await sweep_orphan_renditions(env, now_ms),
        "uploads": await expire_uploads(env, now_ms),
        "stashes": await sweep_orphan_stashes(env, now_ms),
        "retention": await apply_retention(env, now_ms),
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


# The hourly sweeps (see above): objects in R2 that no D1 record owns, under originals/ and
# renditions/.

# D1 binds at most 100 parameters per statement.
KEYS_PER_QUERY = 100
PAGE_SIZE = 1000
PAGES_PER_RUN = 5

# (D1 binding, listed keys) -> the keys among them that a record owns
Owned = Callable[[object, Sequence[str]], Awaitable[set[str]]]


def chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def epoch_ms(moment) -> int:
    """An R2 object's `uploaded`: a JS Date, or a datetime once the SDK has converted it."""
    if hasattr(moment, "getTime"):
        return int(moment.getTime())
    return int(moment.timestamp() * 1000)


def orphans(listed: Iterable[tuple[str, int]], owned: set[str], now_ms: int, min_age_s: int) -> list[str]:
    """Keys of listed (key, uploaded epoch ms) objects that no record owns and are old enough."""
    cutoff = now_ms - min_age_s * 1000
    return [key for key, uploaded in listed if key not in owned and uploaded <= cutoff]


async def sweep_prefix(env, now_ms: int, *, label: str, prefix: str, resume_key: str, owned: Owned) -> dict:
    """One run over `prefix`; returns (and logs, as `label: ...`) what it looked at and deleted."""
    min_age = settings_from_env(env).orphan_min_age_seconds
    after = await env.METADATA.get(resume_key)
    examined = 0
    deleted: list[str] = []
    for _ in range(PAGES_PER_RUN):
        options = {"prefix": prefix, "limit": PAGE_SIZE}
        if after:
            options["startAfter"] = after
        listing = await env.MEDIA.list(options)
        listed = [(obj.key, epoch_ms(obj.uploaded)) for obj in listing.objects]
        examined += len(listed)
        keys = [key for key, _ in listed]
        doomed = orphans(listed, await owned(env.DB, keys), now_ms, min_age) if keys else []
        if doomed:
            await env.MEDIA.delete(doomed)
            deleted.extend(doomed)
        if not listing.truncated or not keys:
            after = None  # the end of the prefix: the next run starts over
            break
        after = keys[-1]
    if after:
        await env.METADATA.put(resume_key, after)
    else:
        await env.METADATA.delete(resume_key)
    result = {"examined": examined, "deleted": len(deleted), "resume_after": after}
    for key in deleted:
        print(f"{label}: deleted {key} (no media record)")
    print(f"{label}: examined {examined}, deleted {len(deleted)}")
    return result


ORIGINALS_RESUME_KEY = "sweep:originals:after"


def owners_query(count: int) -> str:
    """The statement that returns which of `count` keys a media record owns."""
    return f"SELECT r2_key FROM media WHERE r2_key IN ({', '.join('?' * count)})"


async def _owned_originals(db, keys: Sequence[str]) -> set[str]:
    owned: set[str] = set()
    for part in chunks(keys, KEYS_PER_QUERY):
        owned.update(row["r2_key"] for row in await d1.all_rows(db, owners_query(len(part)), *part))
    return owned


async def sweep_orphan_originals(env, now_ms: int) -> dict:
    """One run of the sweep of originals; returns (and logs) what it looked at and deleted."""
    return await sweep_prefix(env, now_ms, label="orphan sweep", prefix=ORIGINALS_PREFIX, resume_key=ORIGINALS_RESUME_KEY,
                              owned=_owned_originals)


RENDITIONS_RESUME_KEY = "sweep:renditions:after"


def media_id_of(key: str) -> str:
    """The `<id>` of `renditions/<id>/<name>` (the text up to the next slash)."""
    return key[len(RENDITIONS_PREFIX):].split("/", 1)[0]


def media_query(count: int) -> str:
    """The statement that returns which of `count` media ids have a record."""
    return f"SELECT id FROM media WHERE id IN ({', '.join('?' * count)})"


async def _owned_by_id(db, keys: Sequence[str], id_of: Callable[[str], str], query: Callable[[int], str]) -> set[str]:
    """The keys whose id (`id_of`) is among the ids `query` returns: a key's owner is a row."""
    ids = sorted({id_of(key) for key in keys})
    present: set[str] = set()
    for part in chunks(ids, KEYS_PER_QUERY):
        present.update(row["id"] for row in await d1.all_rows(db, query(len(part)), *part))
    return {key for key in keys if id_of(key) in present}


async def _owned_renditions(db, keys: Sequence[str]) -> set[str]:
    return await _owned_by_id(db, keys, media_id_of, media_query)


async def sweep_orphan_renditions(env, now_ms: int) -> dict:
    """One run of the sweep of renditions; returns (and logs) what it looked at and deleted."""
    return await sweep_prefix(env, now_ms, label="rendition sweep", prefix=RENDITIONS_PREFIX,
                              resume_key=RENDITIONS_RESUME_KEY, owned=_owned_renditions)


STASHES_RESUME_KEY = "sweep:stashes:after"


def upload_id_of(key: str) -> str:
    """The `<upload id>` of `tus/<upload id>/<offset>`."""
    return key[len(STASH_PREFIX):].split("/", 1)[0]


def active_uploads_query(count: int) -> str:
    """The statement that returns which of `count` upload ids are still receiving bytes."""
    return f"SELECT id FROM uploads WHERE status = 'active' AND id IN ({', '.join('?' * count)})"


async def _owned_stashes(db, keys: Sequence[str]) -> set[str]:
    return await _owned_by_id(db, keys, upload_id_of, active_uploads_query)


async def sweep_orphan_stashes(env, now_ms: int) -> dict:
    """One run of the sweep of tus stashes whose upload is over (a delete R2 refused at its end)."""
    return await sweep_prefix(env, now_ms, label="stash sweep", prefix=STASH_PREFIX,
                              resume_key=STASHES_RESUME_KEY, owned=_owned_stashes)
