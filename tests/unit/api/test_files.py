"""api.files: If-None-Match of GET /files/{key} (etag_matches) and its Range requests (parse_range)."""

import pytest

from api.files import (
    ByteRange,
    RangeNotSatisfiable,
    etag_matches,
    parse_range,
    unsatisfied_content_range,
)

BARE = "a1b2c3"  # R2 `etag`
QUOTED = '"a1b2c3"'  # R2 `httpEtag`


@pytest.mark.parametrize("etag", [BARE, QUOTED])
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("   ", False),
        ("*", True),
        (" * ", True),
        ('"a1b2c3"', True),
        ('W/"a1b2c3"', True),  # weak comparison ignores W/
        ('w/"a1b2c3"', True),
        ("a1b2c3", True),  # bare, as a client copying R2's etag sends it
        ('"x", "a1b2c3"', True),
        ('"x","a1b2c3" , "y"', True),
        ('"x", W/"a1b2c3"', True),
        ('"x"', False),
        ('"a1b2c"', False),
        ('"a1b2c3x"', False),
        ('"A1B2C3"', False),  # opaque: case matters
        ('"a1b2c3', True),  # unterminated, leniently read
        ('"x, a1b2c3"', False),  # the comma is inside one quoted tag
        (",,,", False),
    ],
)
def test_if_none_match(header, etag, expected):
    assert etag_matches(header, etag) is expected


def test_if_none_match_with_weak_current_etag():
    assert etag_matches('"a1"', 'W/"a1"') is True


# Range requests (RFC 9110 section 14): one byte range, or the whole file.


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-499", 1000, ByteRange(0, 500)),
        ("bytes=500-999", 1000, ByteRange(500, 500)),
        ("bytes=500-", 1000, ByteRange(500, 500)),
        ("bytes=999-", 1000, ByteRange(999, 1)),
        ("bytes=0-0", 1000, ByteRange(0, 1)),
        ("bytes=-1", 1000, ByteRange(999, 1)),
        ("bytes=-500", 1000, ByteRange(500, 500)),
        (
            "bytes=-5000",
            1000,
            ByteRange(0, 1000),
        ),  # suffix longer than the file: all of it
        ("bytes=900-5000", 1000, ByteRange(900, 100)),  # end clamped
        ("bytes=0-999999999999999999999", 1000, ByteRange(0, 1000)),
        ("Bytes=1-2", 1000, ByteRange(1, 2)),  # the unit is case-insensitive
        ("  bytes=1-2  ", 1000, ByteRange(1, 2)),
        ("bytes = 1-2", 1000, ByteRange(1, 2)),
        ("bytes=0-", 1, ByteRange(0, 1)),
    ],
)
def test_satisfiable(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "items=0-10",
        "0-10",
        "bytes=a-b",
        "bytes=1-a",
        "bytes=+1-2",
        "bytes=1--2",
        "bytes=-1-2",
        "bytes=1.5-2",
        "bytes=5-4",  # last < first: invalid, ignored
        "bytes=0-1,2-3",  # multi-range: serve the whole file
        "bytes=0-1, 5-",
        "bytes=0-1,",
        "bytes=１-２",  # non-ASCII digits
        "bytes=0x1-2",
    ],
)
def test_ignored_headers_serve_the_whole_file(header):
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),
        ("bytes=1000-2000", 1000),
        ("bytes=5000-5001", 1000),
        ("bytes=-0", 1000),
        ("bytes=0-", 0),
        ("bytes=-1", 0),
        ("bytes=0-0", 0),
    ],
)
def test_unsatisfiable(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def test_content_range_headers():
    assert ByteRange(0, 500).content_range(1000) == "bytes 0-499/1000"
    assert ByteRange(999, 1).content_range(1000) == "bytes 999-999/1000"
    assert ByteRange(10, 5).end == 14
    assert unsatisfied_content_range(1000) == "bytes */1000"
    assert unsatisfied_content_range(0) == "bytes */0"


@pytest.mark.parametrize("size", [1, 2, 7, 40])
def test_every_parsed_range_lies_inside_the_file(size):
    headers = [f"bytes={a}-{b}" for a in range(size + 2) for b in range(a, size + 3)]
    headers += [f"bytes=-{n}" for n in range(1, size + 3)] + [
        f"bytes={a}-" for a in range(size)
    ]
    for header in headers:
        try:
            found = parse_range(header, size)
        except RangeNotSatisfiable:
            continue
        assert found is not None
        assert found.offset >= 0 and found.length >= 1 and found.end <= size - 1
