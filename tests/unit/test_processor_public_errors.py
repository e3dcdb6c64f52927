"""Where Ittybit's (or the network's) words become a stored, public reason, no path or URL query survives."""

import pytest

from common.messages import StoreMessage
from processor.ittybit_client import IttybitClient, RejectedError, RetryableError
from processor.ittybit_client import MockTransport, TransportError, TransportResponse
from processor.job_status import outcome_from_job
from processor.queue_consumer import give_up_reason
from processor.renditions import store_rendition
from tests.unit.processor_fakes import NOW, insert_media, make_context

MEDIA = "01aaaaaaaaaaaaaaaaaaaaaaaa"
LEAKY = "/var/lib/ittybit/inputs/job_1/input: Invalid data found (see https://cdn.test/o/x?signature=abc)"


def _clean(text: str) -> None:
    assert "/var/lib" not in text and "inputs/job_1" not in text
    assert "signature" not in text and "/o/x" not in text


def test_a_failed_job_s_error_is_stored_without_paths():
    outcome = outcome_from_job({"id": "job_1", "object": "job", "status": "failed", "error": {"message": LEAKY}})
    _clean(outcome.error)
    assert outcome.error.startswith("<path>: Invalid data found")
    task = {"id": "job_2", "status": "failed", "tasks": [{"id": "t", "object": "task", "status": "failed", "error": LEAKY}]}
    _clean(outcome_from_job(task).error)


async def test_ittybit_error_bodies_are_cleaned():
    transport = MockTransport(lambda request: TransportResponse.json(400, {"kind": "invalid_input", "message": LEAKY}))
    client = IttybitClient("https://ittybit.test", "k", transport, clock=lambda: NOW)
    with pytest.raises(RejectedError) as refused:
        await client.create_job("video", "https://in.test/x", {}, {}, None, "k" * 32)
    _clean(refused.value.reason)
    assert "Invalid data found" in refused.value.reason


async def test_a_network_error_is_cleaned():
    def broken(request):
        raise TransportError(f"connect to https://ittybit.test/jobs?k=1 failed: [Errno 2] {LEAKY}")

    client = IttybitClient("https://ittybit.test", "k", MockTransport(broken), clock=lambda: NOW)
    with pytest.raises(RetryableError) as retry:
        await client.get_job("job_1")
    _clean(retry.value.message)


def test_the_dead_letter_reason_is_cleaned():
    reason = give_up_reason([{"status": "pending", "error": LEAKY, "attempts": 3, "updated_at": 1}], 6)
    _clean(reason)
    assert reason.startswith("gave up after 6 attempts: <path>: Invalid data found")


async def test_a_failed_copy_note_is_cleaned():
    ctx = make_context()
    insert_media(ctx, MEDIA)
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, job_id, status, output_key, created_at, updated_at)"
        " VALUES (?, 'web', 'video', '{}', 'job_1', 'processing', ?, 1, 1)", (MEDIA, f"renditions/{MEDIA}/web.mp4"))
    ctx.storage.fail_fetch = OSError(f"[Errno 28] No space left on device: '/tmp/spool/{MEDIA}/part-1'")
    with pytest.raises(OSError):
        await store_rendition(ctx, StoreMessage(MEDIA, "web", "job_1", "https://out.test/o/x?signature=abc"))
    (row,) = ctx.db.rows("SELECT error FROM renditions WHERE media_id = ?", MEDIA)
    assert row["error"] == "copying the output into R2 failed: [Errno 28] No space left on device: '<path>'"
