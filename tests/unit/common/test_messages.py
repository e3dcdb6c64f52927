import json

import pytest

from common.ids import media_id_for_key, media_id_for_object, normalise_etag
from common.messages import (
    IgnoredNotification,
    job_message,
    JobMessage,
    ObjectCreated,
    parse_message,
    store_message,
    StoreMessage,
)


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


# R2 event notifications (ObjectCreated / IgnoredNotification).


def parse_notification(body, prefix):
    """The ObjectCreated common.messages.parse_message finds in a body, or None."""
    message = parse_message(body, prefix)
    return message if isinstance(message, ObjectCreated) else None


def is_notification(body):
    """Whether parse_message reads the body as an R2 notification (acted on or not)."""
    return isinstance(parse_message(body), (ObjectCreated, IgnoredNotification))


def event(action="PutObject", key="uploads/clip.mp4", **extra):
    obj = {"key": key}
    if action != "DeleteObject":
        obj.update(size=1234, eTag="abc123")
    return {"account": "acc", "action": action, "bucket": "media", "object": obj, "eventTime": "2026-11-01T00:00:00Z", **extra}


@pytest.mark.parametrize("action", ["PutObject", "CopyObject", "CompleteMultipartUpload"])
def test_create_actions(action):
    assert parse_notification(event(action, copySource={"bucket": "b", "object": "o"}), "uploads/") == ObjectCreated(
        bucket="media", key="uploads/clip.mp4", size=1234, etag="abc123", action=action
    )


def test_json_text_bodies_are_accepted():
    assert parse_notification(json.dumps(event()), "uploads/").key == "uploads/clip.mp4"
    assert parse_notification(json.dumps(event()).encode(), "uploads/").key == "uploads/clip.mp4"


@pytest.mark.parametrize(
    "body",
    [
        event("DeleteObject"),
        event("LifecycleDeletion"),
        event(key="other/clip.mp4"),
        event(key="uploads/"),
        event(key="uploads/folder/"),
        event(key=""),
        {"action": "PutObject", "bucket": "media", "object": "uploads/x"},
        {"action": "PutObject", "object": {"key": "uploads/x"}},
        {"type": "media.process", "media_id": "m1", "r2_key": "originals/m1", "reason": "upload"},
        "not json",
        b"\xff",
        None,
        42,
    ],
)
def test_ignored(body):
    assert parse_notification(body, "uploads/") is None


def test_own_prefixes_are_ignored_even_without_a_prefix():
    assert parse_notification(event(key="renditions/m1/web.mp4"), "") is None
    assert parse_notification(event(key="originals/m1"), "") is None
    assert parse_notification(event(key="clip.mp4"), "").key == "clip.mp4"


def test_a_quoted_etag_is_read_as_r2_objects_give_it():
    body = event()
    body["object"]["eTag"] = '"abc123"'
    assert parse_notification(body, "uploads/").etag == "abc123"
    assert [normalise_etag(v) for v in ('"x-3"', 'W/"x"', "x", '""', "", None, 5)] == ["x-3", "x", "x", None, None, None, None]


def test_missing_or_bad_size_and_etag():
    body = event()
    body["object"] = {"key": "uploads/a", "size": "12", "eTag": 5}
    created = parse_notification(body, "uploads/")
    assert (created.size, created.etag) == (None, None)


def test_is_notification():
    assert is_notification(event())
    assert is_notification(event("DeleteObject"))
    assert not is_notification({"type": "media.process", "media_id": "m1", "r2_key": "originals/m1", "reason": "upload"})
    assert not is_notification({"media_id": "m1"})
    assert not is_notification([])


def test_media_id_for_key_is_deterministic():
    first = media_id_for_key("media", "uploads/clip.mp4")
    assert first == media_id_for_key("media", "uploads/clip.mp4")
    assert len(first) == 26 and first[0] in "01234567"
    assert first != media_id_for_key("media", "uploads/clip2.mp4")
    assert first != media_id_for_key("other", "uploads/clip.mp4")


def test_media_id_for_key_has_the_shape_of_api_ids():
    ids = pytest.importorskip("common.ids")
    for key in ("uploads/a", "uploads/b.mp4", "uploads/ünïcode.wav"):
        assert ids.is_media_id(media_id_for_key("media", key))


def test_the_key_only_id_of_records_made_before_keeps_its_value():
    # Existing direct-upload rows carry this id; code that recognises them must compute it unchanged.
    assert media_id_for_key("media", "uploads/clip.mp4") == "0btptkzjrs265b1pf6hm36wvr0"


def test_the_object_id_changes_with_the_etag_and_only_with_the_object():
    first = media_id_for_object("media", "uploads/clip.mp4", "abc")
    assert first == media_id_for_object("media", "uploads/clip.mp4", "abc")  # a repeated notification
    assert first == media_id_for_object("media", "uploads/clip.mp4", '"abc"')
    assert first != media_id_for_object("media", "uploads/clip.mp4", "abd")  # another object at the key
    assert first != media_id_for_object("media", "uploads/clip.mp4", "abc-2")
    assert first != media_id_for_object("other", "uploads/clip.mp4", "abc")
    assert first != media_id_for_object("media", "uploads/clip2.mp4", "abc")
    assert first != media_id_for_key("media", "uploads/clip.mp4")
    # Parts cannot run into each other.
    assert media_id_for_object("media", "uploads/a", "b/c") != media_id_for_object("media", "uploads/a/b", "c")
    # No ETag: the key-only id.
    assert media_id_for_object("media", "uploads/clip.mp4", None) == media_id_for_key("media", "uploads/clip.mp4")


def test_the_object_id_has_the_shape_of_api_ids():
    ids = pytest.importorskip("common.ids")
    for key in ("uploads/a", "uploads/b.mp4", "uploads/ünïcode.wav"):
        assert ids.is_media_id(media_id_for_object("media", key, "0123456789abcdef0123456789abcdef"))


# Store messages (rendition.store).


def test_store_message_round_trip_and_refusals():
    body = store_message("m1", "web", "job_1", "https://out.test/f.mp4")
    assert parse_store_message(body).output_url == "https://out.test/f.mp4"
    # Any URL parses; processor.ittybit_client.OutputPolicy refuses it when consumed (the rendition fails).
    assert parse_store_message({**body, "output_url": "file:///etc/passwd"}).output_url == "file:///etc/passwd"
    assert parse_store_message({**body, "output_url": ""}) is None
    assert parse_store_message({**body, "job_id": ""}) is None
    assert parse_store_message({"type": "media.process", "media_id": "m1"}) is None
    assert parse_store_message("not json") is None
