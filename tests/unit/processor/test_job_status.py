"""processor.job_status: Ittybit job and task results in any shape; a media item's status from its
renditions."""

import pytest

from common.media_records import FINAL
from processor.job_status import (
    JobOutcome,
    aggregate_status,
    can_transition,
    failure_reason,
    normalize_status,
    outcome_from_job,
)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("succeeded", "completed"),
        ("completed", "completed"),
        ("ready", "completed"),
        ("READY ", "completed"),
        ("failed", "failed"),
        ("error", "failed"),
        ("cancelled", "failed"),
        ("canceled", "failed"),
        ("processing", "processing"),
        ("running", "processing"),
        ("something_new", "processing"),
        ("waiting", "pending"),
        ("pending", "pending"),
        ("queued", "pending"),
        (None, "pending"),
    ],
)
def test_normalize_status_both_vocabularies(word, expected):
    assert normalize_status(word) == expected


def test_final():
    assert FINAL == {"completed", "failed"}


TASK_FILE = {
    "object": "file", "kind": "video", "url": "https://cdn.test/web.mp4", "format": "mp4",
    "width": 1920, "height": 1080, "duration": 12.5, "filesize": 123456,
}


def test_job_object_with_output_url_and_task_dimensions():
    job = {
        "id": "job_1", "object": "job", "kind": "video", "status": "completed",
        "output": "https://cdn.test/web.mp4", "metadata": {"media_id": "m1", "rendition": "web"},
        "error": None,
        "tasks": [{"id": "task_1", "object": "task", "status": "succeeded", "output": TASK_FILE}],
    }
    assert outcome_from_job(job) == JobOutcome(
        job_id="job_1", status="completed", output_url="https://cdn.test/web.mp4", format="mp4",
        width=1920, height=1080, duration=12.5, filesize=123456, error=None,
        metadata={"media_id": "m1", "rendition": "web"}, task_id=None,
    )


def test_job_object_output_from_first_task_file():
    job = {
        "id": "job_2", "object": "job", "status": "succeeded", "output": None,
        "tasks": [
            {"id": "t0", "object": "task", "status": "succeeded", "output": None},
            {"id": "t1", "object": "task", "status": "succeeded", "output": {**TASK_FILE, "url": "https://cdn.test/t1.webp", "format": "webp"}},
            {"id": "t2", "object": "task", "status": "succeeded", "output": {**TASK_FILE, "url": "https://cdn.test/t2.webp"}},
        ],
    }
    outcome = outcome_from_job(job)
    assert (outcome.output_url, outcome.format, outcome.width) == ("https://cdn.test/t1.webp", "webp", 1920)


def test_failed_job_takes_the_failed_tasks_error():
    job = {
        "id": "job_3", "object": "job", "status": "error",
        "tasks": [{"id": "t", "object": "task", "status": "failed", "error": {"message": "no video stream"}}],
    }
    outcome = outcome_from_job(job)
    assert (outcome.status, outcome.error, outcome.output_url) == ("failed", "no video stream", None)
    assert outcome.is_final


def test_job_without_status_uses_its_tasks():
    job = {"id": "job_4", "object": "job", "tasks": [{"status": "succeeded"}, {"status": "running"}]}
    assert outcome_from_job(job).status == "processing"
    job["tasks"][1]["status"] = "ready"
    assert outcome_from_job(job).status == "completed"


def test_bare_task_object_with_job_id():
    task = {"id": "task_9", "object": "task", "job_id": "job_9", "status": "succeeded", "output": TASK_FILE}
    outcome = outcome_from_job(task)
    assert (outcome.job_id, outcome.task_id, outcome.status, outcome.height) == ("job_9", "task_9", "completed", 1080)


def test_task_without_object_field_is_recognised_by_its_job_id():
    outcome = outcome_from_job({"id": "task_8", "job_id": "job_8", "status": "processing"})
    assert (outcome.job_id, outcome.task_id, outcome.status) == ("job_8", "task_8", "processing")


def test_seed_task_shape_uses_the_task_id_as_job_id():
    seed = {
        "id": "task_abc123", "object": "task", "kind": "video", "status": "succeeded",
        "input": "s3://my-r2-bucket/uploads/video.mov",
        "output": {"url": "https://cdn.ittybit.com/abc123/video.mp4"},
    }
    outcome = outcome_from_job(seed)
    assert (outcome.job_id, outcome.task_id, outcome.status, outcome.output_url) == (
        "task_abc123", "task_abc123", "completed", "https://cdn.ittybit.com/abc123/video.mp4",
    )
    assert outcome.width is None and outcome.metadata == {}


def test_event_envelope_with_job():
    event = {
        "id": "evt_1", "object": "event", "kind": "job.completed", "created_at": 1700000000000,
        "data": {"id": "job_5", "object": "job", "status": "completed", "output": {"url": "https://cdn.test/x.mp4", "width": "640"}},
    }
    outcome = outcome_from_job(event)
    assert (outcome.job_id, outcome.status, outcome.output_url, outcome.width) == ("job_5", "completed", "https://cdn.test/x.mp4", 640)


def test_event_envelope_status_from_event_kind_when_data_has_none():
    event = {"id": "evt_2", "object": "event", "kind": "task.failed", "data": {"id": "task_6", "object": "task", "job_id": "job_6", "error": "boom"}}
    outcome = outcome_from_job(event)
    assert (outcome.job_id, outcome.task_id, outcome.status, outcome.error) == ("job_6", "task_6", "failed", "boom")
    event = {"object": "event", "kind": "task.succeeded", "data": {"task": {"id": "task_7", "object": "task", "job": {"id": "job_7"}}}}
    assert (outcome_from_job(event).job_id, outcome_from_job(event).status) == ("job_7", "completed")


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "job", "status": "completed"},
        {"object": "event", "kind": "job.completed", "data": {"status": "completed"}},
        {"object": "event", "kind": "job.completed"},
        {"id": 7, "status": "completed"},
    ],
)
def test_payload_without_an_id_is_refused(payload):
    with pytest.raises(ValueError):
        outcome_from_job(payload)


def test_non_mapping_is_refused():
    with pytest.raises(ValueError):
        outcome_from_job(["job"])  # type: ignore[arg-type]


def test_odd_numbers_are_dropped_not_trusted():
    job = {"id": "j", "status": "ready", "output": {"url": "u", "width": True, "height": "tall", "duration": "3.5", "size": 10}}
    outcome = outcome_from_job(job)
    assert (outcome.width, outcome.height, outcome.duration, outcome.filesize) == (None, None, 3.5, 10)


# A media item's status from its renditions.


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "pending"),
        (["pending", "pending"], "pending"),
        (["pending", "processing"], "processing"),
        (["completed", "pending"], "processing"),
        (["completed", "failed", "processing"], "processing"),
        (["completed", "completed", "completed"], "completed"),
        (["completed", "failed"], "failed"),
        (["failed"], "failed"),
    ],
)
def test_aggregate_status(statuses, expected):
    assert aggregate_status(statuses) == expected


def test_failure_reason_lists_failed_renditions_in_order():
    renditions = [
        {"name": "web", "status": "completed", "error": None},
        {"name": "thumbnail", "status": "failed", "error": "no video\n stream"},
        {"name": "mobile", "status": "failed", "error": None},
    ]
    assert failure_reason(renditions) == "thumbnail: no video stream; mobile: failed"
    assert failure_reason(renditions[:1]) is None
    assert failure_reason([]) is None


def test_failure_reason_truncates_long_errors():
    reason = failure_reason([{"name": "web", "status": "failed", "error": "x" * 5000}])
    assert reason is not None and len(reason) < 400


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("pending", "processing", True),
        ("pending", "completed", True),
        ("pending", "failed", True),
        ("processing", "completed", True),
        ("processing", "processing", True),
        ("processing", "pending", False),
        ("completed", "completed", True),
        ("completed", "failed", False),
        ("completed", "processing", False),
        ("failed", "completed", False),
        ("failed", "pending", False),
        ("pending", "bogus", False),
    ],
)
def test_can_transition(old, new, allowed):
    assert can_transition(old, new) is allowed
