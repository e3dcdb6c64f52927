"""The hourly cron: delete originals in R2 that no D1 record owns.

An upload writes R2 first and D1 second (the record must never point at a missing file),
so a Worker stopped between the two (a crash, a deploy, a lost isolate) leaves an object
under `originals/` that nothing refers to and nothing else would ever delete. The sweep
lists `originals/` a few pages per run, resuming after the last key it looked at (kept
in KV), and deletes the objects older than `ORPHAN_MIN_AGE_SECONDS` that have no record.
The age guard keeps it away from uploads whose D1 insert is still to come.
"""

from collections.abc import Iterable, Sequence

from common import d1

# D1 binds at most 100 parameters per statement.
KEYS_PER_QUERY = 100
PAGE_SIZE = 1000
PAGES_PER_RUN = 5
DEFAULT_MIN_AGE_SECONDS = 3600
PREFIX = "originals/"
RESUME_KEY = "sweep:originals:after"


def min_age_seconds(raw) -> int:
    """ORPHAN_MIN_AGE_SECONDS, or the default when unset or not a whole number >= 0."""
    text = str(raw).strip() if raw is not None else ""
    return int(text) if text.isdigit() else DEFAULT_MIN_AGE_SECONDS


def owners_query(count: int) -> str:
    """The statement that returns which of `count` keys a media record owns."""
    return f"SELECT r2_key FROM media WHERE r2_key IN ({', '.join('?' * count)})"


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


async def _owned(db, keys: Sequence[str]) -> set[str]:
    owned: set[str] = set()
    for part in chunks(keys, KEYS_PER_QUERY):
        owned.update(row["r2_key"] for row in await d1.all_rows(db, owners_query(len(part)), *part))
    return owned


async def sweep_orphan_originals(env, now_ms: int) -> dict:
    """One run of the sweep; returns (and logs) what it looked at and deleted."""
    min_age = min_age_seconds(getattr(env, "ORPHAN_MIN_AGE_SECONDS", None))
    after = await env.METADATA.get(RESUME_KEY)
    examined = 0
    deleted: list[str] = []
    for _ in range(PAGES_PER_RUN):
        options = {"prefix": PREFIX, "limit": PAGE_SIZE}
        if after:
            options["startAfter"] = after
        listing = await env.MEDIA.list(options)
        listed = [(obj.key, epoch_ms(obj.uploaded)) for obj in listing.objects]
        examined += len(listed)
        keys = [key for key, _ in listed]
        doomed = orphans(listed, await _owned(env.DB, keys), now_ms, min_age) if keys else []
        if doomed:
            await env.MEDIA.delete(doomed)
            deleted.extend(doomed)
        if not listing.truncated or not keys:
            after = None  # the end of the prefix: the next run starts over
            break
        after = keys[-1]
    if after:
        await env.METADATA.put(RESUME_KEY, after)
    else:
        await env.METADATA.delete(RESUME_KEY)
    result = {"examined": examined, "deleted": len(deleted), "resume_after": after}
    for key in deleted:
        print(f"orphan sweep: deleted {key} (no media record)")
    print(f"orphan sweep: examined {examined}, deleted {len(deleted)}")
    return result
