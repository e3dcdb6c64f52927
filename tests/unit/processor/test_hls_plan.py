import json

import pytest

from common.messages import parse_message
from processor.hls_plan import (
    MAX_SEGMENTS_PER_MESSAGE,
    copy_message,
    plan_chunks,
    send_groups,
)


def test_chunks_are_bounded_and_cover_everything_once():
    paths = [f"{rung}/segment-{i}.ts" for rung in ("360p", "720p", "1080p") for i in range(1200)]
    chunks = plan_chunks(paths + paths[:10], per_message=20)
    assert all(len(c.paths) <= 20 for c in chunks)
    assert [p for c in chunks for p in c.paths] == paths
    assert [c.index for c in chunks] == list(range(len(chunks))) and len(chunks) == 180


def test_two_hour_film_messages_fit_the_queue_limits():
    paths = [f"1080p/segment-{i}.ts" for i in range(3600)]
    chunks = plan_chunks(paths)
    messages = [copy_message("01HXMEDIAID0000000000000000", "hls", "job_x" * 4, "https://cdn.ittybit.com/a/b/", c,
                             len(chunks)) for c in chunks]
    assert max(len(json.dumps(m)) for m in messages) < 128_000 // 10
    groups = send_groups(messages)
    assert all(len(g) <= 100 and len(json.dumps(g)) < 256_000 for g in groups)
    assert sum(len(g) for g in groups) == len(messages)


def test_per_message_bounds():
    with pytest.raises(ValueError):
        plan_chunks(["a.ts"], 0)
    with pytest.raises(ValueError):
        plan_chunks(["a.ts"], MAX_SEGMENTS_PER_MESSAGE + 1)
    assert plan_chunks([], 5) == []


def test_copy_message_round_trip_and_garbage():
    chunk = plan_chunks(["a/b.ts", "a/c.ts"], 1)[1]
    body = copy_message("m", "hls", "job", "http://x/", chunk, 2)
    parsed = parse_message(json.loads(json.dumps(body)))
    assert parsed.chunk == 1 and parsed.chunks == 2 and parsed.paths == ("a/c.ts",)
    for bad in ({**body, "chunk": 2}, {**body, "chunk": True}, {**body, "paths": []}, {**body, "media_id": ""},
                {**body, "type": "rendition.store"}, {**body, "paths": [1]}, "text", None):
        assert parse_message(bad) is None
