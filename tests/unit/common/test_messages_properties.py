"""Properties of common.messages.parse_message on R2 notifications: any queue body, any encoding."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.ids import normalise_etag
from common.messages import CREATE_ACTIONS, IgnoredNotification, ObjectCreated, parse_message


def parse_notification(body, prefix):
    """The ObjectCreated common.messages.parse_message finds in a body, or None."""
    message = parse_message(body, prefix)
    return message if isinstance(message, ObjectCreated) else None


def is_notification(body):
    """Whether parse_message reads the body as an R2 notification (acted on or not)."""
    return isinstance(parse_message(body), (ObjectCreated, IgnoredNotification))

PREFIX = "uploads/"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
actions = st.sampled_from([*sorted(CREATE_ACTIONS), "DeleteObject", "LifecycleDeletion", "putobject", ""])
keys = st.one_of(
    st.text(max_size=40),
    st.text(max_size=30).map(lambda t: PREFIX + t),
    st.sampled_from(["uploads/", "originals/x", "renditions/x/web.mp4", "uploads/../originals/x", "uploads/a/"]),
)
events = st.fixed_dictionaries(
    {"action": actions, "bucket": st.one_of(st.just("media-pipeline"), st.text(max_size=10)),
     "object": st.fixed_dictionaries({"key": st.one_of(keys, json_values)},
                                     optional={"size": json_values, "eTag": json_values})},
    optional={"account": st.text(max_size=5), "eventTime": st.text(max_size=5), "type": st.text(max_size=5)},
)


def _encodings(value):
    text = json.dumps(value)
    return [value, text, text.encode()]


@given(st.one_of(events, json_values, st.binary(max_size=80), st.text(max_size=80)))
def test_any_body_is_a_created_object_under_the_prefix_or_none(body):
    for encoded in _encodings(body) if not isinstance(body, (bytes, str)) else [body]:
        found = parse_notification(encoded, PREFIX)
        if found is None:
            continue
        assert isinstance(found, ObjectCreated)
        assert found.action in CREATE_ACTIONS
        assert found.key.startswith(PREFIX) and not found.key.endswith("/")
        assert not found.key.startswith(("originals/", "renditions/"))
        assert found.size is None or (type(found.size) is int and found.size >= 0)
        assert found.etag is None or isinstance(found.etag, str)
        assert is_notification(encoded)


@given(events)
def test_a_dict_its_json_text_and_its_bytes_mean_the_same(event):
    results = {repr(parse_notification(encoded, PREFIX)) for encoded in _encodings(event)}
    assert len(results) == 1


@given(st.sampled_from(sorted(CREATE_ACTIONS)), st.text(min_size=1, max_size=40).filter(lambda t: not t.endswith("/")),
       st.integers(min_value=0, max_value=2**40), st.text(max_size=20))
def test_a_create_event_under_the_prefix_is_reported_exactly(action, name, size, etag):
    event = {"account": "a", "action": action, "bucket": "media-pipeline",
             "object": {"key": PREFIX + name, "size": size, "eTag": etag}}
    # The ETag as R2Object.etag gives it: quotes and W/ dropped, an empty one absent.
    assert parse_notification(event, PREFIX) == ObjectCreated("media-pipeline", PREFIX + name, size, normalise_etag(etag), action)
    if etag.strip().strip('"') and set(etag) <= set("0123456789abcdef-"):
        assert parse_notification(event, PREFIX).etag == etag


def test_deeply_nested_json_text_is_none_not_a_recursion_error():
    assert parse_notification("[" * 100_000 + "]" * 100_000, PREFIX) is None
