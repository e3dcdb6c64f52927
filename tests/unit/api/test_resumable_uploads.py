"""api.resumable_uploads' pure parts: a one-time upload URL's scope, the stash's key."""

import pytest

from api.resumable_uploads import direct_upload_grant, stash_key
from common.errors import HttpError

LIMIT = 30 * 1024**3


def test_a_grant_defaults_to_the_server_limit_an_hour_and_any_kind():
    assert direct_upload_grant({}, LIMIT) == {"max_size": LIMIT, "expires_in": 3600, "allowed_kinds": None,
                                              "metadata": {}}


def test_a_grant_keeps_its_limits():
    grant = direct_upload_grant({"max_size": 10, "expires_in": 60, "allowed_kinds": ["video", "audio", "video"],
                                 "metadata": {"user": "7"}}, LIMIT)
    assert grant == {"max_size": 10, "expires_in": 60, "allowed_kinds": ["audio", "video"], "metadata": {"user": "7"}}


@pytest.mark.parametrize("body", [
    {"max_size": 0}, {"max_size": LIMIT + 1}, {"max_size": "10"}, {"max_size": True},
    {"expires_in": 59}, {"expires_in": 604801}, {"expires_in": 1.5},
    {"allowed_kinds": []}, {"allowed_kinds": ["document"]}, {"allowed_kinds": "video"},
    {"metadata": {"n": 1}}, {"metadata": ["a"]}, {"metadata": {"k": "v" * 5000}},
    {"read": True},  # a grant can only upload: unknown fields are refused, not ignored
])
def test_a_grant_out_of_range_is_400(body):
    with pytest.raises(HttpError) as raised:
        direct_upload_grant(body, LIMIT)
    assert (raised.value.status, raised.value.code) == (400, "invalid_body")


def test_the_stash_is_named_by_the_offset_it_ends_at():
    assert stash_key("u1", 10_485_860) == "tus/u1/10485860"
