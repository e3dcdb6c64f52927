"""Sweeping one R2 prefix for objects no D1 record owns: a few pages per cron run, resuming from KV.

The paging shared by the hourly sweeps (api.orphan_sweep for `originals/`, api.rendition_sweep
for `renditions/`): list the prefix PAGES_PER_RUN pages of PAGE_SIZE keys, ask the sweep which of
them something owns, delete the others once older than `ORPHAN_MIN_AGE_SECONDS`, and keep the last
key looked at in KV so the next run goes on from there (at the end of the prefix it starts over).
The age guard keeps a sweep away from writes whose D1 row is still to come.
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence

# D1 binds at most 100 parameters per statement.
KEYS_PER_QUERY = 100
PAGE_SIZE = 1000
PAGES_PER_RUN = 5
DEFAULT_MIN_AGE_SECONDS = 3600

# (D1 binding, listed keys) -> the keys among them that a record owns
Owned = Callable[[object, Sequence[str]], Awaitable[set[str]]]


def min_age_seconds(raw) -> int:
    """ORPHAN_MIN_AGE_SECONDS, or the default when unset or not a whole number >= 0."""
    text = str(raw).strip() if raw is not None else ""
    return int(text) if text.isdigit() else DEFAULT_MIN_AGE_SECONDS


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
    min_age = min_age_seconds(getattr(env, "ORPHAN_MIN_AGE_SECONDS", None))
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
