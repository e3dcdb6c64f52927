import json

import pytest

from processor.webhook_handler import MAX_WEBHOOK_BYTES, parse_webhook, read_body
from tests.unit.test_processor_webhook_handler import Stream


def test_limit():
    assert MAX_WEBHOOK_BYTES == 1_048_576


def test_bare_job():
    body = json.dumps({"id": "job_1", "object": "job", "status": "succeeded", "output": "https://cdn.test/a.mp4"}).encode()
    outcome = parse_webhook(body)
    assert (outcome.job_id, outcome.status, outcome.output_url) == ("job_1", "completed", "https://cdn.test/a.mp4")


def test_bare_task():
    body = json.dumps({"id": "task_1", "object": "task", "status": "error", "error": "bad input"}).encode()
    outcome = parse_webhook(body)
    assert (outcome.job_id, outcome.task_id, outcome.status, outcome.error) == ("task_1", "task_1", "failed", "bad input")


def test_event_envelope():
    body = json.dumps({
        "id": "evt_1", "object": "event", "kind": "task.succeeded", "created_at": 1,
        "data": {"id": "task_2", "object": "task", "job_id": "job_2", "status": "succeeded", "output": {"url": "https://cdn.test/t.webp", "width": 640}},
    }).encode()
    outcome = parse_webhook(body)
    assert (outcome.job_id, outcome.status, outcome.width) == ("job_2", "completed", 640)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b"[]", b'"job"', b'{"object": "job"}', b'{"object": "event", "data": {}}'])
def test_invalid_bodies(body):
    with pytest.raises(ValueError):
        parse_webhook(body)


async def test_too_large():
    from common.errors import HttpError

    body = b'{"id": "job_1", "pad": "' + b"x" * MAX_WEBHOOK_BYTES + b'"}'
    with pytest.raises(HttpError) as caught:  # refused while read, before it is parsed
        await read_body(Stream(body), MAX_WEBHOOK_BYTES)
    assert (caught.value.status, caught.value.code) == (413, "too_large")


def test_deeply_nested_json_is_invalid_not_a_recursion_error():
    import pytest

    from processor.webhook_handler import parse_webhook

    with pytest.raises(ValueError, match="not valid JSON"):
        parse_webhook(b"[" * 100_000 + b"]" * 100_000)
