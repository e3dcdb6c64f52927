"""If-None-Match of GET /files/{key} (api.files.etag_matches)."""

import pytest

from api.files import etag_matches

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
