"""Request validation: defaults, accepted values and the 400s."""

import pytest

from emulator.errors import ApiError
from emulator.validation import validate_idempotency_key, validate_job_request, validate_options


def test_defaults_per_kind():
    assert validate_options("video", None) == {"format": "mp4", "codec": "h264"}
    assert validate_options("image", {})["format"] == "webp"
    assert validate_options("audio", {})["format"] == "mp3"
    assert validate_options("video", {"format": "webm"})["codec"] == "vp9"


@pytest.mark.parametrize("kind,options", [
    ("video", {"format": "gif"}),
    ("video", {"quality": 5}),
    ("video", {"width": 0}),
    ("video", {"width": 100.5}),
    ("video", {"width": True}),
    ("video", {"start": 2, "end": 1}),
    ("video", {"format": "webm", "codec": "h264"}),
    ("image", {"fit": "stretch"}),
    ("image", {"quality": 101}),
    ("audio", {"width": 100}),
    ("audio", {"bitrate": "fast"}),
    ("video", "not an object"),
])
def test_bad_options_are_400(kind, options):
    with pytest.raises(ApiError) as raised:
        validate_options(kind, options)
    assert raised.value.status == 400 and raised.value.kind == "invalid_input"


def test_job_request_fields():
    spec = validate_job_request({"kind": "audio", "input": "https://x/a.wav", "metadata": {"a": 1}}, {})
    assert spec["options"] == {} and spec["normalized_options"]["format"] == "mp3" and spec["metadata"] == {"a": 1}
    for body in ([], {"kind": "audio"}, {"kind": "audio", "input": "s3://bucket"},
                 {"kind": "audio", "input": "https://x/a", "metadata": []},
                 {"kind": "audio", "input": "https://x/a", "webhook_url": "mailto:x"}):
        with pytest.raises(ApiError):
            validate_job_request(body, {"con_1": {}})
    assert validate_job_request({"kind": "audio", "input": "s3://b/k", "connection_id": "con_1"}, {"con_1": {}})


def test_idempotency_key_bounds():
    assert validate_idempotency_key(None) is None
    assert validate_idempotency_key("a" * 16) == "a" * 16
    with pytest.raises(ApiError):
        validate_idempotency_key("a" * 33)
    with pytest.raises(ApiError):
        validate_idempotency_key("a" * 15 + "\n")
