import pytest

from api.listing import encode_cursor
from common.errors import HttpError
from api.listing import DEFAULT_LIMIT, MAX_LIMIT, ListQuery, parse_list_query


def test_defaults():
    assert parse_list_query({}) == ListQuery(
        status=None, cursor=None, limit=DEFAULT_LIMIT
    )
    assert DEFAULT_LIMIT == 20 and MAX_LIMIT == 100


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("pending", "pending"),
        ("queued", "pending"),
        ("processing", "processing"),
        ("completed", "completed"),
        ("processed", "completed"),
        ("failed", "failed"),
        ("FAILED", "failed"),
        (" Completed ", "completed"),
        ("", None),
    ],
)
def test_status(word, status):
    assert parse_list_query({"status": word}).status == status


@pytest.mark.parametrize(
    ("value", "limit"), [("1", 1), ("20", 20), ("100", 100), (" 7 ", 7), ("", 20)]
)
def test_limit(value, limit):
    assert parse_list_query({"limit": value}).limit == limit


def test_cursor():
    token = encode_cursor(1_760_000_000_000, "01jc5xq7m3r8a9b2c4d6e8f0gh")
    assert parse_list_query({"cursor": token}).cursor == (
        1_760_000_000_000,
        "01jc5xq7m3r8a9b2c4d6e8f0gh",
    )
    assert parse_list_query({"cursor": ""}).cursor is None


@pytest.mark.parametrize(
    ("params", "code", "mentions"),
    [
        ({"status": "done"}, "invalid_status", "pending"),
        ({"status": "pending,failed"}, "invalid_status", "status"),
        ({"limit": "0"}, "invalid_limit", "100"),
        ({"limit": "101"}, "invalid_limit", "100"),
        ({"limit": "-1"}, "invalid_limit", "limit"),
        ({"limit": "ten"}, "invalid_limit", "limit"),
        ({"limit": "1.5"}, "invalid_limit", "limit"),
        ({"limit": "99999999999999999999"}, "invalid_limit", "limit"),
        ({"limit": "２０"}, "invalid_limit", "limit"),
        ({"cursor": "garbage!"}, "invalid_cursor", "cursor"),
        ({"cursor": "eyJhIjoxfQ"}, "invalid_cursor", "cursor"),
    ],
)
def test_bad_values_are_400_with_a_clear_message(params, code, mentions):
    with pytest.raises(HttpError) as caught:
        parse_list_query(params)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert mentions in caught.value.message


def test_unknown_parameters_are_ignored():
    assert parse_list_query({"foo": "bar", "limit": "5"}) == ListQuery(None, None, 5)
