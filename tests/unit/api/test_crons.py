"""api.crons: the schedules and their tasks; the hourly sweeps of originals no record owns and of
renditions whose media is gone: which keys, paging, resuming, the age guard."""

import asyncio
import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomllib

from api import crons
from api.crons import (
    DAILY_REPORT_CRON,
    ORIGINALS_RESUME_KEY as RESUME_KEY,
    ORPHAN_SWEEP_CRON,
    epoch_ms,
    media_id_of,
    media_query,
    orphans,
    owners_query,
    run_scheduled,
    sweep_orphan_originals,
    sweep_orphan_renditions,
    sweep_orphan_stashes,
)
from api.settings import min_age_seconds
from tests.unit.fakes import FakeD1, FakeKV

ROOT = Path(__file__).resolve().parents[3]
NOW_MS = 1_800_000_000_000
HOUR_MS = 3_600_000


class FakeBucket:
    """R2's list (prefix, limit, startAfter; keys in order) and delete over {key: uploaded ms}."""

    def __init__(self, objects: dict[str, int]) -> None:
        self.objects = dict(objects)
        self.lists = 0

    async def list(self, options):
        self.lists += 1
        keys = sorted(k for k in self.objects if k.startswith(options.get("prefix", "")))
        if "startAfter" in options:
            keys = [k for k in keys if k > options["startAfter"]]
        page = keys[: options["limit"]]
        when = lambda ms: SimpleNamespace(getTime=lambda: float(ms))  # noqa: E731 - a JS Date
        return SimpleNamespace(
            objects=[SimpleNamespace(key=k, uploaded=when(self.objects[k])) for k in page],
            truncated=len(keys) > len(page),
        )

    async def delete(self, keys):
        for key in keys:
            self.objects.pop(key, None)


def _env(objects: dict[str, int], recorded: list[str], ids: list[str] = (), **vars_):
    """`recorded`: the r2_key of a media row each; `ids`: more media rows, by id."""
    db = FakeD1()
    rows = [(f"m{n}", key) for n, key in enumerate(recorded)] + [(media_id, f"originals/{media_id}") for media_id in ids]
    for media_id, key in rows:
        db.conn.execute(
            "INSERT INTO media (id, r2_key, content_type, kind, size, created_at, updated_at)"
            " VALUES (?, ?, 'video/mp4', 'video', 1, 0, 0)", (media_id, key))
    return SimpleNamespace(DB=db, METADATA=FakeKV(), MEDIA=FakeBucket(objects), **vars_)


def test_orphans_are_old_enough_and_unowned():
    listed = [("originals/a", NOW_MS - 2 * HOUR_MS), ("originals/b", NOW_MS - 2 * HOUR_MS),
              ("originals/c", NOW_MS - 60_000), ("originals/d", NOW_MS - HOUR_MS)]
    assert orphans(listed, {"originals/b"}, NOW_MS, 3600) == ["originals/a", "originals/d"]
    assert orphans(listed, set(), NOW_MS, 0) == [key for key, _ in listed]


@pytest.mark.parametrize("raw, expected", [(None, 3600), ("", 3600), ("0", 0), (" 120 ", 120), ("-5", 3600),
                                           ("1.5", 3600), ("soon", 3600)])
def test_min_age_comes_from_the_var_or_the_default(raw, expected):
    assert min_age_seconds(raw) == expected


def test_epoch_ms_of_a_js_date_and_of_a_datetime():
    assert epoch_ms(SimpleNamespace(getTime=lambda: 1_700_000_000_123.0)) == 1_700_000_000_123
    moment = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.timezone.utc)
    assert epoch_ms(moment) == int(moment.timestamp()) * 1000


def test_owners_query_has_one_placeholder_per_key():
    assert owners_query(3) == "SELECT r2_key FROM media WHERE r2_key IN (?, ?, ?)"


def test_a_sweep_deletes_old_unowned_originals_and_nothing_else():
    old, young = NOW_MS - 2 * HOUR_MS, NOW_MS - 1000
    env = _env({"originals/kept": old, "originals/orphan": old, "originals/young": young,
                "renditions/x/web.mp4": old, "uploads/direct.mp4": old}, recorded=["originals/kept"])
    result = asyncio.run(sweep_orphan_originals(env, NOW_MS))
    assert result == {"examined": 3, "deleted": 1, "resume_after": None}
    assert sorted(env.MEDIA.objects) == ["originals/kept", "originals/young", "renditions/x/web.mp4",
                                         "uploads/direct.mp4"]
    assert RESUME_KEY not in env.METADATA.data


def test_more_than_100_keys_a_page_are_checked_in_statements_of_100():
    old = NOW_MS - 2 * HOUR_MS
    keys = [f"originals/{n:04d}" for n in range(250)]
    env = _env(dict.fromkeys(keys, old), recorded=keys[::2])
    asyncio.run(sweep_orphan_originals(env, NOW_MS))
    assert sorted(env.MEDIA.objects) == keys[::2]


def test_a_long_listing_is_swept_a_few_pages_per_run_resuming_where_it_stopped(monkeypatch):
    monkeypatch.setattr(crons, "PAGE_SIZE", 10)
    monkeypatch.setattr(crons, "PAGES_PER_RUN", 2)
    old = NOW_MS - 2 * HOUR_MS
    keys = [f"originals/{n:03d}" for n in range(45)]
    env = _env(dict.fromkeys(keys, old), recorded=keys[:5])

    first = asyncio.run(sweep_orphan_originals(env, NOW_MS))
    assert first == {"examined": 20, "deleted": 15, "resume_after": "originals/019"}
    assert env.METADATA.data[RESUME_KEY] == "originals/019"
    second = asyncio.run(sweep_orphan_originals(env, NOW_MS))
    assert second == {"examined": 20, "deleted": 20, "resume_after": "originals/039"}
    third = asyncio.run(sweep_orphan_originals(env, NOW_MS))
    assert third == {"examined": 5, "deleted": 5, "resume_after": None}
    assert RESUME_KEY not in env.METADATA.data
    assert sorted(env.MEDIA.objects) == keys[:5]
    # Back at the start: the next run looks at the first page again.
    assert asyncio.run(sweep_orphan_originals(env, NOW_MS))["examined"] == 5


def test_every_cron_of_the_api_config_has_a_task_and_an_unknown_one_is_an_error():
    schedules = tomllib.loads((ROOT / "wrangler.api.toml").read_text())["triggers"]["crons"]
    assert sorted(schedules) == sorted([DAILY_REPORT_CRON, ORPHAN_SWEEP_CRON])
    env = _env({}, recorded=[])
    swept = asyncio.run(run_scheduled(env, ORPHAN_SWEEP_CRON, NOW_MS))
    assert swept["originals"]["examined"] == swept["renditions"]["examined"] == 0
    assert asyncio.run(run_scheduled(env, DAILY_REPORT_CRON, NOW_MS))["total"] == 0
    with pytest.raises(ValueError, match=r"no task for cron '\* \* \* \* \*' \(known: '0 9 \* \* \*', '17 \* \* \* \*'\)"):
        asyncio.run(run_scheduled(env, "* * * * *", NOW_MS))


def test_a_manual_trigger_without_a_cron_runs_every_task():
    env = _env({"originals/orphan": NOW_MS - 2 * HOUR_MS, "renditions/gone/web.mp4": NOW_MS - 2 * HOUR_MS},
               recorded=[])
    result = asyncio.run(run_scheduled(env, "", NOW_MS))
    assert result["report"]["total"] == 0
    assert result["sweep"]["originals"]["deleted"] == result["sweep"]["renditions"]["deleted"] == 1
    assert env.MEDIA.objects == {}


OWNED = "01aaaaaaaaaaaaaaaaaaaaaaaa"
GONE = "01bbbbbbbbbbbbbbbbbbbbbbbb"


def test_media_id_of_a_rendition_key_and_the_media_query():
    assert media_id_of(f"renditions/{OWNED}/web.mp4") == OWNED
    assert media_id_of("renditions/x") == "x" and media_id_of("renditions//a") == ""
    assert media_query(2) == "SELECT id FROM media WHERE id IN (?, ?)"


def test_the_rendition_sweep_deletes_old_renditions_of_media_that_are_gone_and_nothing_else():
    old, young = NOW_MS - 2 * HOUR_MS, NOW_MS - 1000
    objects = {f"renditions/{OWNED}/web.mp4": old, f"renditions/{OWNED}/thumbnail.webp": old,
               f"renditions/{GONE}/web.mp4": old, f"renditions/{GONE}/thumbnail.webp": old,
               "renditions/01cccccccccccccccccccccccc/web.mp4": young,  # a copy racing its record: too young
               f"originals/{GONE}": old, "uploads/x.mp4": old}
    env = _env(objects, recorded=[], ids=[OWNED])
    result = asyncio.run(sweep_orphan_renditions(env, NOW_MS))
    assert result == {"examined": 5, "deleted": 2, "resume_after": None}
    assert sorted(env.MEDIA.objects) == sorted(set(objects) - {f"renditions/{GONE}/web.mp4",
                                                               f"renditions/{GONE}/thumbnail.webp"})
    assert crons.RENDITIONS_RESUME_KEY not in env.METADATA.data


def test_the_rendition_sweep_covers_an_hls_ladder_of_media_that_are_gone():
    old = NOW_MS - 2 * HOUR_MS
    ladder = [f"renditions/{GONE}/hls/master.m3u8", f"renditions/{GONE}/hls/360p/stream.m3u8"] + [
        f"renditions/{GONE}/hls/360p/segment-{n}.ts" for n in range(30)]
    kept = [f"renditions/{OWNED}/hls/master.m3u8", f"renditions/{OWNED}/hls/720p/segment-0.ts"]
    env = _env(dict.fromkeys(ladder + kept, old), recorded=[], ids=[OWNED])
    result = asyncio.run(sweep_orphan_renditions(env, NOW_MS))
    assert result["deleted"] == len(ladder) and sorted(env.MEDIA.objects) == sorted(kept)


def test_the_rendition_sweep_pages_and_resumes_with_its_own_cursor(monkeypatch):
    monkeypatch.setattr(crons, "PAGE_SIZE", 250)  # 125 media ids a page: two statements of ids
    monkeypatch.setattr(crons, "PAGES_PER_RUN", 1)
    old = NOW_MS - 2 * HOUR_MS
    ids = [f"01{n:024d}" for n in range(150)]
    objects = {f"renditions/{media_id}/{name}": old for media_id in ids for name in ("a", "b")}
    objects["originals/elsewhere"] = old
    env = _env(objects, recorded=[], ids=ids[::3])
    env.METADATA.data[RESUME_KEY] = "originals/0"  # the originals' cursor is not the renditions'
    # Run 1: ids 0-124, of which 42 have a record (0, 3, ... 123): 84 keys kept, 166 deleted.
    first = asyncio.run(sweep_orphan_renditions(env, NOW_MS))
    assert first == {"examined": 250, "deleted": 166, "resume_after": f"renditions/{ids[124]}/b"}
    assert env.METADATA.data[crons.RENDITIONS_RESUME_KEY] == f"renditions/{ids[124]}/b"
    assert env.METADATA.data[RESUME_KEY] == "originals/0"
    # Run 2: ids 125-149, of which 8 have a record: 16 kept, 34 deleted; the end, so it starts over.
    assert asyncio.run(sweep_orphan_renditions(env, NOW_MS)) == {"examined": 50, "deleted": 34, "resume_after": None}
    assert crons.RENDITIONS_RESUME_KEY not in env.METADATA.data
    kept = {f"renditions/{media_id}/{name}" for media_id in ids[::3] for name in ("a", "b")}
    assert set(env.MEDIA.objects) == kept | {"originals/elsewhere"}


def test_the_stash_sweep_deletes_old_stashes_of_uploads_that_are_over_and_keeps_active_ones():
    old, young = NOW_MS - 2 * HOUR_MS, NOW_MS - 1000
    env = _env({"tus/u_active/7001": old, "tus/u_done/14002": old, "tus/u_gone/3": old, "tus/u_done/21003": young,
                "originals/x": old}, recorded=[])
    for upload_id, status in (("u_active", "active"), ("u_done", "completed")):
        env.DB.conn.execute(
            "INSERT INTO uploads (id, media_id, owner, max_length, part_size, status, created_at, updated_at, expires_at)"
            " VALUES (?, ?, 'key', 100, 16, ?, 0, 0, ?)", (upload_id, f"m_{upload_id}", status, NOW_MS + HOUR_MS))
    result = asyncio.run(sweep_orphan_stashes(env, NOW_MS))
    assert result == {"examined": 4, "deleted": 2, "resume_after": None}
    assert sorted(env.MEDIA.objects) == ["originals/x", "tus/u_active/7001", "tus/u_done/21003"]
    assert asyncio.run(run_scheduled(env, ORPHAN_SWEEP_CRON, NOW_MS + HOUR_MS))["stashes"]["deleted"] == 1
