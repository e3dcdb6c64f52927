import base64
import json

import pytest

from api.cursors import decode_cursor, encode_cursor


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
