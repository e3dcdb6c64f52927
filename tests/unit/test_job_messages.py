import json

import pytest

from common.messages import JobMessage, StoreMessage, job_message, parse_message


def parse_job_message(body):
    """The JobMessage common.messages.parse_message finds in a body, or None."""
    message = parse_message(body)
    return message if isinstance(message, JobMessage) else None


def parse_store_message(body):
    """The StoreMessage common.messages.parse_message finds in a body, or None."""
    message = parse_message(body)
    return message if isinstance(message, StoreMessage) else None


def test_job_message_shape():
    assert job_message("m1", "originals/m1") == {
        "type": "media.process",
        "media_id": "m1",
        "r2_key": "originals/m1",
        "reason": "upload",
    }
    assert job_message("m1", "uploads/a.mp4", reason="r2_event")["reason"] == "r2_event"


def test_round_trip_through_json():
    body = json.loads(json.dumps(job_message("m1", "originals/m1", "reconcile")))
    assert parse_job_message(body) == JobMessage("m1", "originals/m1", "reconcile")


def test_parses_json_text_bodies():
    text = json.dumps(job_message("m1", "originals/m1"))
    assert parse_job_message(text) == JobMessage("m1", "originals/m1", "upload")
    assert parse_job_message(text.encode()) == JobMessage(
        "m1", "originals/m1", "upload"
    )


def test_missing_reason_means_upload():
    body = {"type": "media.process", "media_id": "m1", "r2_key": "originals/m1"}
    assert parse_job_message(body) == JobMessage("m1", "originals/m1", "upload")


@pytest.mark.parametrize(
    "body",
    [
        None,
        42,
        [],
        "not json",
        b"\xff",
        "[1]",
        {},
        {"media_id": "m1", "r2_key": "originals/m1"},  # no type
        {"type": "other", "media_id": "m1", "r2_key": "originals/m1"},
        {"type": "media.process", "r2_key": "originals/m1"},
        {"type": "media.process", "media_id": "m1"},
        {"type": "media.process", "media_id": "", "r2_key": "originals/m1"},
        {"type": "media.process", "media_id": 1, "r2_key": "originals/m1"},
        {"type": "media.process", "media_id": "m1", "r2_key": None},
        {"type": "media.process", "media_id": "m1", "r2_key": "k", "reason": 5},
        {"type": "media.process", "media_id": "m1", "r2_key": "k", "reason": ""},
        # The R2 event notification shape is not a job message.
        {
            "account": "a",
            "action": "PutObject",
            "bucket": "b",
            "object": {"key": "uploads/x"},
        },
    ],
)
def test_rejects_other_shapes(body):
    assert parse_job_message(body) is None


def test_job_message_is_frozen():
    message = JobMessage("m1", "k", "upload")
    with pytest.raises(AttributeError):
        message.media_id = "m2"


def test_deeply_nested_json_text_is_not_a_message_of_any_kind():
    nested = "[" * 100_000 + "]" * 100_000
    assert parse_job_message(nested) is None
    assert parse_job_message(nested.encode()) is None
    assert parse_store_message(nested) is None
    assert parse_message(nested) is None


def test_a_job_message_sent_as_json_bytes_is_read():
    body = job_message("m1", "originals/m1")
    assert parse_job_message(json.dumps(body).encode()) == JobMessage("m1", "originals/m1", "upload")
