"""The processor survives Ittybit's faults: 429/5xx and lost answers, duplicated and reordered webhooks."""

from __future__ import annotations


import httpx
import pytest

from processor.ittybit_client import idempotency_key
from tests.e2e.conftest import eventually
from tests.e2e.processor_helpers import Emulator, make_audio, make_image, media, rows, upload, wait_final

pytestmark = pytest.mark.stack


@pytest.fixture
def emulator(pipeline):
    admin = Emulator(pipeline.emulator_url)
    admin.reset_faults()
    yield admin
    admin.reset_faults()


def test_uploads_complete_through_429s_5xx_and_lost_answers_with_one_job_each(api, emulator, pipeline, tmp_path):
    emulator.faults(rate_limit_rate=0.4, error_rate=0.3, drop_response_rate=0.5, retry_after=1, seed=11)
    before = emulator.counters()
    ids = [upload(api, make_image(tmp_path / "a.png").read_bytes(), "image/png"),
           upload(api, make_audio(tmp_path / "b.wav", seconds=1).read_bytes(), "audio/wav")]
    # "For a while": until several of the first tries have met the faults.
    fired_before = sum(before["requests"].get("faults", {}).values())
    faults = eventually(lambda: (f := emulator.counters()["requests"].get("faults", {}))
                        and sum(f.values()) >= fired_before + 2 and f, timeout=90)
    emulator.reset_faults()
    for media_id in ids:
        assert wait_final(api, media_id, timeout=120)["status"] == "completed"
    assert sum(faults.values()) > sum(before["requests"].get("faults", {}).values()), "faults were injected"
    counters = emulator.counters()
    names = {ids[0]: ("large", "thumbnail"), ids[1]: ("web",)}
    created = {r["id"]: r["created_at"] for r in rows(pipeline, "SELECT id, created_at FROM media WHERE id IN ('%s', '%s')" % tuple(ids))}
    for media_id, renditions in names.items():
        for name in renditions:
            assert counters["jobs_by_idempotency_key"][idempotency_key(media_id, name, created[media_id])] == 1
    retried = rows(pipeline, "SELECT MAX(attempts) AS n FROM renditions WHERE media_id IN ('%s', '%s')" % tuple(ids))
    assert retried[0]["n"] >= 1, "some submission was retried"


def test_duplicated_and_reordered_webhooks_change_nothing(api, emulator, pipeline, tmp_path):
    emulator.faults(duplicate_webhook_rate=1.0, reorder_webhooks=True, processing_webhooks=True,
                    reorder_window=2, reorder_hold_ms=1500)
    media_id = upload(api, make_audio(tmp_path / "c.wav", seconds=1).read_bytes(), "audio/wav")
    item = wait_final(api, media_id, timeout=90)
    assert item["status"] == "completed"
    job_id = item["renditions"][0]["job_id"]
    deliveries = [d for d in emulator.webhooks() if d["job_id"] == job_id]
    # Held and released newest first: the completion came before the processing report.
    assert {d["event"] for d in deliveries} >= {"job.processing", "job.completed"}
    # Duplicates arrive after each success, with the same webhook-id: answered 2xx (Standard
    # Webhooks senders retry anything else), and (below) nothing changes.
    repeated = eventually(lambda: [d for d in emulator.webhooks() if d["job_id"] == job_id
                                   and d["duplicate"] and len(d["attempts"]) >= 2], timeout=30)
    statuses = [a["status_code"] for d in repeated for a in d["attempts"]]
    assert set(statuses) == {200}, statuses
    before = rows(pipeline, f"SELECT * FROM renditions WHERE media_id = '{media_id}'")
    answered = _answered_attempts(emulator, job_id)
    emulator.redeliver(job_id)
    # Wait until the redelivery has been answered, so the check below sees its effect.
    eventually(lambda: _answered_attempts(emulator, job_id) > answered, timeout=30)
    assert rows(pipeline, f"SELECT * FROM renditions WHERE media_id = '{media_id}'") == before
    assert media(api, media_id)["status"] == "completed"


def test_outputs_of_unknown_length_are_streamed_into_r2_whole(api, emulator, pipeline, tmp_path):
    # No Content-Length on the output and no filesize in the job: the processor's part-by-part path.
    emulator.faults(chunked_outputs=True)
    media_id = upload(api, make_image(tmp_path / "c.png").read_bytes(), "image/png")
    item = wait_final(api, media_id)
    assert item["status"] == "completed", item
    for rendition in item["renditions"]:
        job = emulator.job(rendition["job_id"])
        assert job["tasks"][0]["output"]["filesize"] is None
        original = httpx.get(job["output"])
        assert "content-length" not in original.headers
        stored = api.get(rendition["url"])
        assert stored.status_code == 200 and stored.content == original.content
        assert rendition["size"] == int(stored.headers["content-length"]) == len(original.content) > 0


def _answered_attempts(emulator, job_id: str) -> int:
    return sum(1 for d in emulator.webhooks() if d["job_id"] == job_id
               for a in d["attempts"] if a.get("status_code") is not None)


def _probe_keys(pipeline, media_id: str, count: int) -> list[str]:
    (row,) = rows(pipeline, f"SELECT created_at FROM media WHERE id = '{media_id}'")
    return [idempotency_key(media_id, name, row["created_at"]) for name in ("probe", "probe#2", "probe#3")[:count]]


def test_a_probe_that_fails_for_a_while_is_asked_again_and_the_upload_completes(api, emulator, pipeline, tmp_path):
    # What the quick crash run met: Ittybit could not read the source for a moment (there, the API
    # was killed under five running probes). A failed probe is asked again, as a new task.
    emulator.faults(fail_probe_rate=1.0)
    media_id = upload(api, make_image(tmp_path / "p.png").read_bytes(), "image/png")
    counted = f"SELECT failures FROM probe_failures WHERE media_id = '{media_id}'"
    eventually(lambda: rows(pipeline, counted), timeout=60)  # the first probe failed, and was counted
    emulator.reset_faults()  # the next ask comes at least 2 s later (the message's backoff)
    item = wait_final(api, media_id, timeout=90)
    assert item["status"] == "completed", item
    assert item["width"] and [r["status"] for r in item["renditions"]] == ["completed", "completed"]
    (failures,) = rows(pipeline, counted)
    assert 1 <= failures["failures"] <= 2
    by_key = emulator.counters()["probes_by_idempotency_key"]
    keys = _probe_keys(pipeline, media_id, failures["failures"] + 1)
    assert [by_key.get(key) for key in keys] == [1] * len(keys), by_key  # one task per ask


def test_a_source_no_probe_can_read_fails_after_three_probes_with_the_reason(api, emulator, pipeline, tmp_path):
    emulator.faults(fail_probe_rate=1.0)
    media_id = upload(api, make_audio(tmp_path / "q.wav", seconds=1).read_bytes(), "audio/wav")
    item = wait_final(api, media_id, timeout=90)
    assert item["status"] == "failed" and item["renditions"] == [], item
    assert item["error"] == "the source could not be read: injected failure (fail_probe_rate)", item
    by_key = emulator.counters()["probes_by_idempotency_key"]
    assert [by_key.get(key) for key in _probe_keys(pipeline, media_id, 3)] == [1, 1, 1], by_key
    assert rows(pipeline, f"SELECT failures FROM probe_failures WHERE media_id = '{media_id}'") == [{"failures": 3}]
