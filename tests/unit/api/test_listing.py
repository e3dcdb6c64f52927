import base64
import json

import pytest

from api.listing import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, ListQuery, parse_list_query
from common.errors import HttpError


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


# Cursors: encode_cursor / decode_cursor.


@pytest.mark.parametrize(
    ("created_at", "media_id"),
    [
        (0, "a"),
        (1_760_000_000_123, "01jc5xq7m3r8a9b2c4d6e8f0gh"),
        (5, 'id with spaces/and"quotes'),
        (7, "é"),
    ],
)
def test_round_trip(created_at, media_id):
    token = encode_cursor(created_at, media_id)
    assert decode_cursor(token) == (created_at, media_id)
    assert set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_tokens_differ_by_position():
    assert encode_cursor(1, "a") != encode_cursor(2, "a") != encode_cursor(1, "b")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "!!!",
        "abc=",  # padding is not part of our tokens
        "a b",
        "a" * 1000,
        b64(b"not json"),
        b64(b"\xff\xfe"),
        b64(b"{}"),
        b64(b"[]"),
        b64(b"[1]"),
        b64(b'[1, "a", 3]'),
        b64(b'["1", "a"]'),
        b64(b'[1.5, "a"]'),
        b64(b'[true, "a"]'),
        b64(b'[-1, "a"]'),
        b64(b"[1, 2]"),
        b64(b'[1, ""]'),
        b64(json.dumps([1, "x" * 200]).encode()),
        b64(b'[1, "a"]'),  # readable but not our canonical spelling (spaces)
        b64(b'[01,"a"]'),
        encode_cursor(1, "a") + "A",
        encode_cursor(1, "a")[:-1],
        None,
        42,
    ],
)
def test_decode_rejects_anything_malformed(value):
    with pytest.raises(ValueError):
        decode_cursor(value)


@pytest.mark.parametrize("created_at", [2**48, 2**53, 2**63, 10**30])
def test_a_time_past_48_bits_is_refused(created_at):
    # Canonical (encode_cursor made it), but D1 cannot bind ints of 2**53 and above from
    # Pyodide (they become BigInt): the cursor must be a 400, not reach the query.
    with pytest.raises(ValueError):
        decode_cursor(encode_cursor(created_at, "01"))


def test_the_largest_48_bit_time_is_accepted():
    assert decode_cursor(encode_cursor(2**48 - 1, "01")) == (2**48 - 1, "01")


def test_a_hand_made_huge_cursor_is_a_400_invalid_cursor():
    from common.errors import HttpError
    from api.listing import parse_list_query

    with pytest.raises(HttpError) as error:
        parse_list_query({"cursor": "WzkyMjMzNzIwMzY4NTQ3NzU4MDgsIjAxIl0"})  # [2**63,"01"]
    assert (error.value.status, error.value.code) == (400, "invalid_cursor")
