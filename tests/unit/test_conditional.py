import pytest

from api.conditional import etag_matches, header_etag, if_match_fails

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


@pytest.mark.parametrize("etag", [BARE, QUOTED])
@pytest.mark.parametrize(
    ("header", "fails"),
    [
        (None, False),
        ("", False),
        ("*", False),
        ('"a1b2c3"', False),
        ("a1b2c3", False),
        ('"x", "a1b2c3"', False),
        ('W/"a1b2c3"', True),  # strong comparison: weak tags never match
        ('"x"', True),
        ('"x", W/"a1b2c3"', True),
    ],
)
def test_if_match(header, etag, fails):
    assert if_match_fails(header, etag) is fails


def test_if_match_with_weak_current_etag_always_fails():
    assert if_match_fails('"a1"', 'W/"a1"') is True
    assert if_match_fails("*", 'W/"a1"') is False


@pytest.mark.parametrize(
    ("etag", "header"),
    [
        (BARE, QUOTED),
        (QUOTED, QUOTED),
        (" a1 ", '"a1"'),
        ('W/"a1"', 'W/"a1"'),
        ("W/a1", 'W/"a1"'),
    ],
)
def test_header_etag(etag, header):
    assert header_etag(etag) == header
